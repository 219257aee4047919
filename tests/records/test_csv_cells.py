"""CSV cells with known answers: formulas defused, ticks and empties written one way, text kept exactly.

Values go into a real store and come out through ``export``; the expected cells are written here.
"""

from __future__ import annotations

import csv
import io

import pytest

from generator.records.connect import open_store
from generator.records.export import export
from generator.records.store import Definition, FieldValue, NewSubmission

CASES = {  # field id -> (stored value, the cell a spreadsheet gets)
    "f.equals": ("=1+1", "'=1+1"),
    "f.plus": ("+44 7700 900123", "'+44 7700 900123"),
    "f.minus": ("-2+3", "'-2+3"),
    "f.at": ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    "f.tab": ("\t=cmd", "'\t=cmd"),
    "f.hyperlink": ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    "f.plain": ("Riverside Surgery", "Riverside Surgery"),
    "f.inner": ("a = b + c", "a = b + c"),  # only a leading sign is dangerous
    "f.quotes": ('She said "fine", then left', 'She said "fine", then left'),
    "f.lines": ("one\ntwo", "one\ntwo"),
    "f.unicode": ("Zoë Łukasiewicz", "Zoë Łukasiewicz"),
    "f.apostrophe": ("'quoted already", "'quoted already"),
}
TICKS = {"f.ticked": (True, "true"), "f.unticked": (False, "false"), "f.empty": (None, "")}
FIELDS = ([{"id": fid, "kind": "longtext", "label": fid, "options": []} for fid in CASES]
          + [{"id": fid, "kind": "checkbox" if fid != "f.empty" else "text", "label": fid, "options": []}
             for fid in TICKS])
DEFINITION = Definition("d" * 64, "pack", None, "pack", "1.0.0", "h" * 64, FIELDS)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict[str, str]:
    values = [FieldValue(fid, "read", stored) for fid, (stored, _) in {**CASES, **TICKS}.items()]
    new = NewSubmission(
        sha256="a" * 64, filename="=evil.pdf", size=1, format="pdf", editor="unknown", instance_id="i-1",
        pack_id="pack", part=None, content_id="pack", content_version="1.0.0", content_hash="h" * 64,
        generator_version="0", definition=DEFINITION, learner_key="k", learner_name="-Zoë", practice="@Home",
        pcn="p", pcn_name="P", learner={"name": "-Zoë"}, pcn_facts={}, values=values, warnings=[])
    with open_store(tmp_path_factory.mktemp("csv") / "r.sqlite") as store:
        with store.transaction():
            store.add_submission(new, 1, None)
        text = export(store, "csv")
    [row] = list(csv.DictReader(io.StringIO(text)))
    return row


@pytest.mark.parametrize("fid", CASES)
def test_text_cells(table, fid):
    assert table[fid] == CASES[fid][1]


@pytest.mark.parametrize("fid", TICKS)
def test_tick_and_empty_cells(table, fid):
    assert table[fid] == TICKS[fid][1]


def test_submission_facts_are_defused_too(table):
    assert (table["filename"], table["learner"], table["practice"]) == ("'=evil.pdf", "'-Zoë", "'@Home")
    assert (table["version"], table["current"], table["supersedes"]) == ("1", "true", "")
