"""One CSV escaping function (generator.files.csv_cell), used by every CSV the tool writes:
the wide and long exports (header cells included) and the issue register."""

from __future__ import annotations

import csv
import io

import pytest

from generator.files import csv_cell, csv_value
from generator.issuing.issue import IssueResult, _write_register
from generator.records.connect import open_store
from generator.records.export import export
from generator.records.register import REGISTER_COLUMNS, read_register
from generator.records.store import Definition, FieldValue
from tests.records.test_store import submission


@pytest.mark.parametrize(("text", "cell"), [
    ("=1+1", "'=1+1"),
    ("+cmd", "'+cmd"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("\n=1", "'\n=1"),  # what a stored '\r=' became when the reader made CR a line end
    ("  =1", "'  =1"),
    ("\u00a0=1", "'\u00a0=1"),
    ("\u200b=1", "'\u200b=1"),
    ("＝HYPERLINK(\"x\")", "'＝HYPERLINK(\"x\")"),  # full-width equals sign: '=' under NFKC
    ("＋cmd", "'＋cmd"),
    ("＋1", "＋1"),  # a plain number under NFKC
    ("'=1", "''=1"),  # an apostrophe written by the learner survives a round trip
    ("-3", "-3"),  # plain numbers are left alone
    ("+4.5", "+4.5"),
    ("-1,000.25", "-1,000.25"),
    ("a=b", "a=b"),
    ("'quoted'", "'quoted'"),
    ("", ""),
])
def test_csv_cell_defuses_formulas_and_round_trips(text, cell):
    assert csv_cell(text) == cell
    assert csv_value(cell) == text


def test_csv_cell_of_other_values():
    assert [csv_cell(v) for v in (None, True, False, 7, 2.5)] == ["", "true", "false", "7", "2.5"]


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


HOSTILE_ID = "=HYPERLINK(\"http://attacker.invalid\")"
FIELDS = [{"id": HOSTILE_ID, "kind": "text", "label": "evil", "options": []},
          {"id": "notes", "kind": "longtext", "label": "Notes", "options": []}]


@pytest.fixture
def hostile_store(tmp_path):
    definition = Definition("e" * 64, "care-coordination-portfolio", "+part", "care-coordination-portfolio", "1.0.0",
                            "h" * 64, FIELDS)
    with open_store(tmp_path / "r.sqlite") as store:
        with store.transaction():
            store.add_submission(submission(
                instance="@instance", definition=definition, part="+part", learner_name="-Mallory+1",
                pcn="=pcn", values=[FieldValue(HOSTILE_ID, "read", " =1+1"), FieldValue("notes", "read", "\n=2"),
                                    FieldValue("-unmapped", "unmapped", "＝3")]), 1, None)
        yield store


def test_every_cell_of_the_wide_csv_is_escaped_header_included(hostile_store):
    header, row = cells(export(hostile_store, "csv"))
    assert header[-3:] == ["'=HYPERLINK(\"http://attacker.invalid\")", "notes", "unmapped:-unmapped"]
    assert row[1] == "'@instance" and row[5] == "'-Mallory+1" and row[7] == "'=pcn" and row[8] == "'+part"
    assert row[-3:] == ["' =1+1", "'\n=2", "'＝3"]


def test_every_cell_of_the_long_csv_is_escaped(hostile_store):
    header, *rows = cells(export(hostile_store, "csv-long"))
    assert header == ["submission_id", "instance_id", "learner", "pcn", "part", "field_id", "kind", "state", "value",
                      "position"]
    assert [r[1:6] + [r[8]] for r in rows] == [
        ["'@instance", "'-Mallory+1", "'=pcn", "'+part", "'=HYPERLINK(\"http://attacker.invalid\")", "' =1+1"],
        ["'@instance", "'-Mallory+1", "'=pcn", "'+part", "notes", "'\n=2"],
        ["'@instance", "'-Mallory+1", "'=pcn", "'+part", "'-unmapped", "'＝3"]]


def test_the_issue_register_escapes_roster_names_and_reads_them_back_as_written(tmp_path):
    row = dict.fromkeys(REGISTER_COLUMNS, "")
    row.update(instance_id="i-1", document="pack", learner="=cmd|' /C calc'!A0", practice="\t@practice",
               pcn="riverside-pcn", file="riverside-pcn/x.pdf")
    result = IssueResult(cohort_dir=tmp_path)
    _write_register(result, [row])
    _write_register(result, [{**row, "instance_id": "i-2", "file": "riverside-pcn/y.pdf"}])  # a second run appends
    lines = cells(result.register.read_text(encoding="utf-8"))
    assert lines[0] == REGISTER_COLUMNS
    assert [(r[0], r[2], r[3]) for r in lines[1:]] == [("i-1", "'=cmd|' /C calc'!A0", "'\t@practice"),
                                                      ("i-2", "'=cmd|' /C calc'!A0", "'\t@practice")]
    packs = read_register(result.register)
    assert [(p.instance_id, p.learner, p.practice) for p in packs] == [("i-1", "=cmd|' /C calc'!A0", "@practice"),
                                                                      ("i-2", "=cmd|' /C calc'!A0", "@practice")]


def test_a_cell_with_a_lone_carriage_return_is_quoted():
    import csv
    import io

    from generator.files import csv_text
    text = csv_text([["id", "notes"], ["1", "first\rsecond"], ["2", "a\nb"], ["3", "a\r\nb"]])
    assert text == 'id,notes\n1,"first\rsecond"\n2,"a\nb"\n3,"a\r\nb"\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["id", "notes"], ["1", "first\rsecond"], ["2", "a\nb"], ["3", "a\r\nb"]]  # three rows, not five
    assert csv_text([["a", "b"]], lineterminator="\r\n") == "a,b\r\n"
