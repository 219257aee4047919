"""Page codes: the QR payload of a printed page, with known answers written here."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.errors import PageCodeError
from generator.model.pagecode import MARK_CENTRES_MM, PAGE_SIZE_MM, QR_BOX_MM, WORD_PAGE, PageCode, decode

INSTANCE = "00000000-0000-4000-8000-000000000001"


def test_known_payload():
    code = PageCode("care-coordinator-portfolio", INSTANCE, 12, "2.1")
    # 16 bytes (00 x6, 40, 00, 80, 00 x6, 01) in base32 by hand: AAAAAAAA ABAABAAA AAAAAAAA AE
    assert code.encode() == "PF1|care-coordinator-portfolio|AAAAAAAAABAABAAAAAAAAAAAAE|12|2.1"
    assert decode("PF1|care-coordinator-portfolio|AAAAAAAAABAABAAAAAAAAAAAAE|12|2.1") == code


def test_a_word_page_is_page_0():
    code = PageCode("care-coordinator-portfolio", INSTANCE, WORD_PAGE, "2.1")
    assert WORD_PAGE == 0
    assert code.encode() == "PF1|care-coordinator-portfolio|AAAAAAAAABAABAAAAAAAAAAAAE|0|2.1"
    assert decode("PF1|care-coordinator-portfolio|AAAAAAAAABAABAAAAAAAAAAAAE|0|2.1").page == 0


@pytest.mark.parametrize("payload", [
    "https://example.org/not-ours",
    "PF2|pack|AAAAAAAAABAABAAAAAAAAAAAAE|1|1",
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAAE|00|1",      # page 0 (a Word page) is written "0"
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAAE|-1|1",
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAAE|10000|1",
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAA|1|1",        # instance one character short
    "PF1|pack|aaaaaaaaabaabaaaaaaaaaaaae|1|1",       # base32 is upper case
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAAE|1",
    "PF1|pack|AAAAAAAAABAABAAAAAAAAAAAAE|01|1",
    "PF1|" + "p" * 90 + "|AAAAAAAAABAABAAAAAAAAAAAAE|1|1",
])
def test_foreign_or_damaged_payloads_are_refused(payload):
    with pytest.raises(PageCodeError):
        decode(payload)


@pytest.mark.parametrize("code", [
    PageCode("pack|x", INSTANCE, 1, "1"),
    PageCode("pack", "not-a-uuid", 1, "1"),
    PageCode("pack", INSTANCE, -1, "1"),
    PageCode("pack", INSTANCE, 10000, "1"),
    PageCode("pack", INSTANCE, 1, "1 0"),
])
def test_codes_that_cannot_be_made(code):
    with pytest.raises(PageCodeError):
        code.encode()


@given(st.from_regex(r"[a-z][a-z0-9-]{0,39}", fullmatch=True), st.uuids(),
       st.integers(1, 9999), st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True))
def test_round_trip_and_fits_a_version_5_symbol(pack_id, instance, page, version):
    code = PageCode(pack_id, str(instance), page, version)
    payload = code.encode()
    assert decode(payload) == code
    assert len(payload.encode("ascii")) <= 84


def test_geometry_survives_a_turned_and_shifted_sheet():
    """The code and the marks sit where a sheet turned by 3 degrees about its centre and shifted by
    5 mm keeps them on an A4 scan (the middles of the edges), clear of the body (22 mm head,
    16 mm sides, 25 mm foot)."""
    import math
    width, height = PAGE_SIZE_MM
    left, top, size = QR_BOX_MM
    assert size >= 15 and top + size <= height - 7 and top - 4 * size / 37 >= height - 25
    assert left <= 105 - size / 2 + 0.5 and left + size >= 105 + size / 2 - 0.5  # centred at the foot
    turn = math.radians(3)

    def moved(x, y):  # the furthest a point goes towards the nearest edge under a 3-degree turn
        dx, dy = x - width / 2, y - height / 2
        return [(dx * math.cos(a) - dy * math.sin(a) + width / 2, dx * math.sin(a) + dy * math.cos(a) + height / 2)
                for a in (-turn, turn)]

    corners = [(left, top), (left + size, top), (left, top + size), (left + size, top + size)]
    for x, y in corners:
        for mx, my in moved(x, y):
            assert 5.5 <= mx <= width - 5.5 and 5.5 <= my <= height - 5.5, (x, y, mx, my)
    assert len(MARK_CENTRES_MM) == 4
    half = 2.5
    for cx, cy in MARK_CENTRES_MM:
        for x, y in ((cx - half, cy - half), (cx + half, cy + half), (cx - half, cy + half), (cx + half, cy - half)):
            for mx, my in moved(x, y):
                assert 5.5 <= mx <= width - 5.5 and 5.5 <= my <= height - 5.5, (x, y, mx, my)
        assert cx <= 16 or cx >= 194 or cy <= 22 or cy >= 272  # in the margins, clear of the body
