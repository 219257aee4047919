"""Identifiers written to slip past the checks, in values of every kind, and patterns that
cannot take more than linear time (issue: hostile returns)."""

from __future__ import annotations

import re

import pytest

from generator.reading.identifiers import (
    MAX_WIDTH,
    PATTERNS,
    SCAN_BUDGET,
    Flag,
    normalise,
    scan_record_values,
    scan_text,
)

# 9990000018 passes Modulus 11: 9*10 + 9*9 + 9*8 + 1*2 = 245 = 22*11 + 3, check 11 - 3 = 8.
NHS = "9990000018"


@pytest.mark.parametrize("text", [
    "patient 999\u00a0000\u00a00018 seen",  # non-breaking spaces
    "patient 999\u202f000\u202f0018 seen",  # narrow non-breaking spaces
    "patient 999\u200b000\u200b0018 seen",  # zero-width spaces
    "patient 9\u200b9\u200b9\u200b0\u200b0\u200b0\u200b0\u200b0\u200b1\u200b8 seen",
    "patient 999\u2013000\u20130018 seen",  # en dashes
    "patient 999\u2014000\u20140018 seen",  # em dashes
    "patient 999.000.0018 seen",  # dots
    "patient 999 - 000 - 0018 seen",  # spaced dashes
    "patient ９９９ ０００ ００１８ seen",  # full-width digits
    "patient 999\u00ad000\u00ad0018 seen",  # soft hyphens
])
def test_nhs_numbers_with_disguised_separators_are_found(text):
    assert scan_text(text) == ["nhs_number"]


@pytest.mark.parametrize(("text", "kind"), [
    ("DOB 1941-07-04", "date_of_birth"),
    ("dob: 1941-07-04, lives alone", "date_of_birth"),
    ("D.O.B. 4 July 1941", "date_of_birth"),
    ("born July 4, 1941", "date_of_birth"),
    ("date of birth\u00a0\u00a004/07/1941", "date_of_birth"),
    ("04/07/1941 (DOB)", "date_of_birth"),
    ("seen 04/07/1941 dob", "date_of_birth"),
    ("call +44 (0) 20 7946 0018 today", "phone_number"),
    ("call +44 (0)20 7946 0018 today", "phone_number"),
    ("call 0044 20 7946 0018 today", "phone_number"),
    ("call 0044 7700 900123 today", "phone_number"),
    ("call 020.7946.0018 today", "phone_number"),
    ("near LS1  4AP today", "postcode"),
    ("near LS1\u00a04AP today", "postcode"),
    ("near ＬＳ１ ４ＡＰ today", "postcode"),
])
def test_other_identifiers_written_unusually_are_found(text, kind):
    assert scan_text(text) == [kind]


@pytest.mark.parametrize("text", [
    "Met on 01.09.2026; 12 actions agreed, 3 completed by week 10.",
    "Meeting on 2026-03-12 went well",
    "Adobe Reader 2024-01-02 was used",  # 'dob' inside a word is not 'DOB'
    "reference 9434765919-2",
    "scored 4/5 on 12/12/2025",
])
def test_ordinary_text_is_not_flagged(text):
    assert scan_text(text) == []


def test_normalise_makes_one_kind_of_space_and_dash():
    assert normalise("a\u00a0\u00a0b\u200bc\u2013d\n\t e") == "a bc-d e"


def test_every_field_kind_is_checked_and_option_values_are_not():
    definitions = [{"id": "when", "kind": "date"}, {"id": "name", "kind": "text"},
                   {"id": "rating", "kind": "choice", "options": [{"value": "happy"}, {"value": "unsure"}]},
                   {"id": "agreed", "kind": "yesno"}, {"id": "done", "kind": "checkbox"}]
    values = {"when": "DOB 04/07/1941", "name": "Zoë, tel 020 7946 0018", "rating": None, "agreed": None,
              "done": True}
    raw = {"when": "DOB 04/07/1941", "name": "Zoë, tel 020 7946 0018", "rating": f"NHS {NHS}",
           "agreed": "LS1 4AP", "done": "/Yes"}
    assert scan_record_values(definitions, values, raw=raw) == [
        Flag("when", "date_of_birth"), Flag("name", "phone_number"), Flag("rating", "nhs_number"),
        Flag("agreed", "postcode")]
    assert scan_record_values(definitions, {"rating": "unsure", "when": "2026-01-01"},
                              raw={"rating": "/unsure", "when": "01/01/2026"}) == []


def test_rows_of_a_repeating_table_are_checked():
    definitions = [{"id": "log", "kind": "rows"}]
    assert scan_record_values(definitions, {"log": [{"who": "carer", "notes": f"NHS {NHS}"}]}) == [
        Flag("log", "nhs_number")]


def test_text_past_the_budget_is_flagged_for_review_and_smaller_values_still_checked():
    definitions = [{"id": "huge", "kind": "longtext"}, {"id": "small", "kind": "text"}]
    flags = scan_record_values(definitions, {"huge": "x" * (SCAN_BUDGET + 1), "small": "LS1 4AP"})
    assert flags == [Flag("huge", "unchecked"), Flag("small", "postcode")]
    assert str(flags[0]) == ("huge: too much text to check for patient identifiers (over 100,000 characters in "
                             "the copy); review it by hand (value not shown)")


@pytest.mark.parametrize("name", PATTERNS)
def test_every_pattern_matches_a_bounded_width_so_scanning_is_linear(name):
    """A pattern whose matches are at most w characters long costs O(w) per start position:
    no text (100,000 spaces after a date included) can make it quadratic."""
    pattern = PATTERNS[name]
    low, high = re._parser.parse(pattern.pattern, pattern.flags).getwidth()
    assert 0 < low <= high <= MAX_WIDTH, (name, low, high)


def test_a_date_followed_by_a_hundred_thousand_spaces_is_still_read():
    """This took the old date-of-birth pattern quadratic time (past the 20 s read time-out);
    white space is one space to the patterns now."""
    assert scan_text("DOB 04/07/1941" + " " * 100_000 + "(end)") == ["date_of_birth"]
    assert scan_text("04/07/1941" + " " * 100_000 + "x") == []
