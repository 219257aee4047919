"""Dates parsed and formatted in one place (generator.dates): known answers and round trips."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.dates import MONTHS, format_date, impossible_date, iso_date, month_index, parse_date

DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31))


@pytest.mark.parametrize("value, shown", [
    ("2026-09-01", "01/09/2026"), ("2026-9-1", "01/09/2026"), ("2026-12-31T00:00:00Z", "31/12/2026"),
    (date(2027, 2, 3), "03/02/2027"), (datetime(2027, 2, 3, 14, 5), "03/02/2027"),
    ("1 September 2026", "1 September 2026"), ("", ""),  # not ISO: given back as it is
])
def test_format_date_known_answers(value, shown):
    assert format_date(value) == shown


@pytest.mark.parametrize("value, iso", [
    ("2026-09-01", "2026-09-01"), (date(2026, 9, 1), "2026-09-01"), (datetime(2026, 9, 1, 8), "2026-09-01"),
    ("2026-9-1", None), ("01/09/2026", None), ("2026-02-30", None), ("", None), (None, None),
])
def test_iso_date_accepts_only_a_real_iso_day(value, iso):
    assert iso_date(value) == iso


@pytest.mark.parametrize("name, index", [
    ("January", 0), ("january", 0), ("Jan", 0), ("Sept", 8), ("sept.", 8), ("Sep", 8), (" December ", 11),
    ("Septem", None), ("Janu", None), ("", None), ("13", None),
])
def test_month_index_known_answers(name, index):
    assert month_index(name) == index


def test_months_are_the_twelve_english_names():
    assert len(MONTHS) == 12 and MONTHS[0] == "January" and MONTHS[8] == "September" and MONTHS[11] == "December"


@given(DAYS)
def test_what_format_date_shows_parses_back_to_the_same_day(day):
    shown = format_date(day.isoformat())
    assert len(shown) == 10 and shown[2] == shown[5] == "/"
    assert parse_date(shown) == day.isoformat() == iso_date(day.isoformat())


@given(DAYS, st.booleans())
def test_a_day_written_with_a_month_name_parses(day, short):
    name = MONTHS[day.month - 1][:3] if short else MONTHS[day.month - 1]
    assert parse_date(f"{day.day} {name} {day.year}") == day.isoformat()


@given(st.text(max_size=30))
def test_parse_date_gives_an_iso_day_or_none_for_any_text(text):
    parsed = parse_date(text)
    assert parsed is None or iso_date(parsed) == parsed


@pytest.mark.parametrize("text, impossible", [
    ("31/02/2026", True), ("29/02/2025", True), ("2026-13-01", True), ("00/01/2026", True), ("31 June 2026", True),
    ("29/02/2028", False), ("01/09/2026", False), ("2026-09-01", False),  # real days
    ("next Tuesday", False), ("31 Febtember 2026", False), ("", False), ("31/02", False),  # not a date's shape
])
def test_an_impossible_date_is_one_written_as_a_date_that_does_not_exist(text, impossible):
    assert impossible_date(text) is impossible
