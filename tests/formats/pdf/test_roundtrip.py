"""Property: whatever values of every kind are filled into a PDF pack, reading the copy gives them back.

The small second pack (tests/packs/mentoring) has a field of every kind, so each
example fills every field of it at once.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import api
from generator.formats.fill import fill_bytes
from generator.kinds import FIELD_KINDS
from generator.reading.read import read_bytes
from tests.conftest import ROOT

PACK = ROOT / "tests" / "packs" / "mentoring"
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])

#: Letters, digits, punctuation and spaces from Latin, Greek, Cyrillic and Welsh/Irish/Polish names.
LETTERS = st.characters(min_codepoint=0x20, max_codepoint=0x52F, blacklist_categories=("Cc", "Cs", "Co", "Cn",
                                                                                          "Mn", "Me", "Zl", "Zp"))
LINE = st.text(LETTERS, min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    out = tmp_path_factory.mktemp("roundtrip")
    result = api.build(out, content_dir=PACK, formats=["pdf"])
    return result.outputs["pdf"].read_bytes(), api.fields(content_dir=PACK)


def value_for(definition: dict) -> st.SearchStrategy:
    kind = definition["kind"]
    if kind in ("text", "signature"):
        return LINE
    if kind == "longtext":
        return st.lists(LINE, min_size=1, max_size=4).map("\n".join)
    if kind == "date":
        return st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)).map(date.isoformat)
    if kind in ("checkbox", "yesno"):
        return st.booleans()
    return st.sampled_from([o["value"] for o in definition["options"]])


def test_the_pack_has_a_field_of_every_kind(pack):
    assert {d["kind"] for d in pack[1]} == set(FIELD_KINDS)


@SETTINGS
@given(data=st.data())
def test_fill_then_read_gives_back_every_value_of_every_kind(pack, data):
    blank, definitions = pack
    values = {d["id"]: data.draw(st.one_of(st.none(), value_for(d)) if d["kind"] != "checkbox" else value_for(d),
                                 label=d["id"]) for d in definitions}
    filled, fmt = fill_bytes(blank, values, "pack.pdf")
    assert fmt == "pdf"
    record = read_bytes(filled, "copy.pdf")
    expected = {fid: (False if value is None and kind == "checkbox" else value)
                for fid, value, kind in ((d["id"], values[d["id"]], d["kind"]) for d in definitions)}
    assert record.fields == expected
    assert record.unmapped == {}
