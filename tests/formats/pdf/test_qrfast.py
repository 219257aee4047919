"""The fast page-code encoder makes exactly segno's symbols (segno is the reference here)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.formats.pdf import qrfast
from generator.model.pagecode import PageCode, symbol


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9-]{0,39}", fullmatch=True), st.uuids(), st.integers(0, 9999),
       st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True))
def test_same_modules_as_segno(pack_id, instance, page, version):
    code = PageCode(pack_id, str(instance), page, version)
    assert qrfast.matrix(code) == tuple(symbol(code).matrix)


def test_the_default_pack_code_takes_the_fast_path():
    code = PageCode("care-coordination-portfolio", "00000000-0000-4000-8000-000000000001", 12, "1.0.0")
    rows = qrfast.matrix(code)
    assert len(rows) == 37  # version 5
    assert qrfast._TRUSTED[5] is True  # checked against segno on first use, and equal
    # A finder pattern's top row: seven dark modules, then a light separator.
    assert bytes(rows[0][:8]) == b"\x01" * 7 + b"\x00"
