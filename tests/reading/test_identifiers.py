"""Identifier checks with known answers: NHS numbers (Modulus 11), postcodes, phone numbers, dates of birth.

Every number here is written out, its check digit worked by hand in a comment (weights 10..2 on the
first nine digits; remainder r of the sum by 11; check digit 11 - r, where 11 means 0 and 10 means
no valid number). None is produced by the code under test. The properties at the end compare the
check with an oracle written differently (the weighted sum of all ten digits, check digit weight 1,
must be divisible by 11).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.reading.identifiers import Flag, nhs_number_valid, scan_record_values, scan_text

VALID = {
    # NHS Digital's published test number: 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2
    # = 90+36+24+28+42+30+20+27+2 = 299 = 27*11 + 2, check 11 - 2 = 9.
    "9434765919": "published, check 9",
    # NHS Digital's published test number: 90+36+24+28+42+30+20 + 8*3 + 7*2 = 308 = 28*11 + 0,
    # check 11 - 0 = 11, which is written 0 (the "11 means 0" rule).
    "9434765870": "published, remainder 0 so check 0",
    # 999 range: 9*10 + 9*9 + 9*8 = 243, + 1*2 = 245 = 22*11 + 3, check 8.
    "9990000018": "999 range, check 8",
    # 243 + 2*2 = 247 = 22*11 + 5, check 6.
    "9990000026": "999 range, check 6",
    # 243 + 4*2 = 251 = 22*11 + 9, check 2.
    "9990000042": "999 range, check 2",
    # 243 + 2*3 + 2*2 = 253 = 23*11 + 0, check 0 (the "11 means 0" rule again).
    "9990000220": "999 range, remainder 0 so check 0",
    # 9*10 + 9*9 + 9*8 + 9*7 + 9*6 + 9*5 + 9*4 + 9*3 + 9*2 = 9*54 = 486 = 44*11 + 2, check 9.
    "9999999999": "999 range, all nines",
}

INVALID = {
    "9434765918": "published number with its check digit changed (9 expected)",
    "9434765871": "published number with its check digit changed (0 expected)",
    "9434765911": "check digit 1 where 9 is due",
    "9990000019": "check digit 9 where 8 is due",
    "9990000221": "check digit 1 where the 11-means-0 rule gives 0",
    "9990000261": "check digit 1 where 243 + 2*3 + 6*2 = 261 = 23*11 + 8 gives 3",
    # 243 = 22*11 + 1: check 11 - 1 = 10, so no ten-digit number 999000000x is valid.
    **{f"999000000{d}": "remainder 1: check would be 10, never valid" for d in range(10)},
    # 90+81+72+7+12+15+16+15+12 = 320 = 29*11 + 1: check 10 again.
    "9991234560": "remainder 1: check would be 10",
    "9991234561": "remainder 1: check would be 10",
    "4943765919": "first two digits swapped (a transposition)",
    "943476591": "nine digits",
    "94347659190": "eleven digits",
    "943476591a": "a letter",
    "943 476 5919": "spaces: the check takes bare digits only",
    "": "empty",
}


@pytest.mark.parametrize("number", VALID, ids=VALID.values())
def test_valid_nhs_numbers_pass_modulus_11(number):
    assert nhs_number_valid(number) is True


@pytest.mark.parametrize("number", INVALID, ids=INVALID.values())
def test_invalid_nhs_numbers_fail_modulus_11(number):
    assert nhs_number_valid(number) is False


# ---------------------------------------------------------------- finding identifiers in text

@pytest.mark.parametrize("text, kinds", [
    ("NHS no. 943 476 5919 seen today", ["nhs_number"]),
    ("ref 943-476-5919", ["nhs_number"]),
    ("9434765870", ["nhs_number"]),
    ("patient 999 000 0018", ["nhs_number"]),
    ("ref 943 476 5918", []),  # fails the check: not flagged
    ("ref 999 000 0000", []),  # check would be 10
    ("19434765919", []),  # eleven digits: not an NHS number
    ("9434765919-2", []),  # part of a longer dashed reference
    ("Visited at SW1A 1AA", ["postcode"]),
    ("lives near ls1 4ap", ["postcode"]),
    ("M1 1AE", ["postcode"]),
    ("B33 8TH", ["postcode"]),
    ("DN551PT", ["postcode"]),
    ("GIR 0AA", ["postcode"]),
    ("QA1 1AA", []),  # Q never starts a postcode
    ("SW1A 1CA", []),  # C never appears in the inward code's letters
    ("call 01632 960123", ["phone_number"]),  # Ofcom's drama range
    ("020 7946 0018", ["phone_number"]),
    ("mobile 07700 900123", ["phone_number"]),
    ("+44 7700 900123", ["phone_number"]),
    ("(01632) 960123", ["phone_number"]),
    ("extension 4567", []),
    ("DOB: 12/03/1950", ["date_of_birth"]),
    ("d.o.b. 1/2/1960", ["date_of_birth"]),
    ("date of birth 12 March 1950", ["date_of_birth"]),
    ("born on 3rd May 1948", ["date_of_birth"]),
    ("12/03/1950 (DOB)", ["date_of_birth"]),
    ("Meeting on 12/03/2026 went well", []),  # a date with no word for birth
    ("Reviewed the care plan with the team.", []),
    ("NHS 943 476 5919, SW1A 1AA, 01632 960123, DOB 12/03/1950",
     ["nhs_number", "postcode", "date_of_birth", "phone_number"]),
])
def test_scan_text_finds_each_kind(text, kinds):
    assert scan_text(text) == kinds


def test_each_field_is_flagged_for_what_it_holds_and_blank_ones_skipped():
    definitions = [{"id": "a", "kind": "text"}, {"id": "d", "kind": "text"}, {"id": "e", "kind": "checkbox"},
                   {"id": "f", "kind": "longtext"}, {"id": "g", "kind": "signature"}]
    values = {"a": "NHS 943 476 5919", "d": "   ", "e": True, "f": "SW1A 1AA", "g": "born on 1/2/1960"}
    assert scan_record_values(definitions, values) == [Flag("a", "nhs_number"), Flag("f", "postcode"),
                                                       Flag("g", "date_of_birth")]


def test_unmapped_values_are_scanned_as_text():
    definitions = [{"id": "notes", "kind": "longtext"}, {"id": "when", "kind": "date"}]
    flags = scan_record_values(definitions, {"notes": "fine", "when": "2026-09-14"},
                               extra={"old.field": "NHS 9434765919", "old.tick": True})
    assert flags == [Flag("old.field", "nhs_number")]


def test_a_flag_names_the_field_and_kind_never_the_value():
    flag = Flag("final_review.notes", "nhs_number")
    assert str(flag) == "final_review.notes: possible nhs number (value not shown)"
    assert flag.to_json() == {"field": "final_review.notes", "kind": "nhs_number"}


# ---------------------------------------------------------------- properties

def oracle_valid(number: str) -> bool:
    """Modulus 11 said another way: with the check digit weighted 1, the sum of all ten is 0 mod 11."""
    return len(number) == 10 and number.isascii() and number.isdigit() and \
        sum(int(d) * w for d, w in zip(number, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])) % 11 == 0


def with_check_digit(nine: str) -> str | None:
    """The ten-digit number for nine digits, or None when no check digit fits (it would be 10)."""
    for check in "0123456789":
        if oracle_valid(nine + check):
            return nine + check
    return None


nine_digits = st.text("0123456789", min_size=9, max_size=9)


@given(nine_digits)
def test_every_valid_number_is_accepted_and_no_other_check_digit(nine):
    number = with_check_digit(nine)
    accepted = [d for d in "0123456789" if nhs_number_valid(nine + d)]
    assert accepted == ([] if number is None else [number[-1]])


@given(nine_digits, st.integers(0, 9), st.integers(1, 9))
def test_every_single_digit_change_is_rejected(nine, position, delta):
    number = with_check_digit(nine)
    if number is None:
        number = with_check_digit(nine[:8] + str((int(nine[8]) + 1) % 10))
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    assert nhs_number_valid(number) and not nhs_number_valid(changed)


@given(nine_digits, st.integers(0, 8))
def test_every_swap_of_two_different_neighbours_is_rejected(nine, position):
    number = with_check_digit(nine) or with_check_digit(nine[:8] + str((int(nine[8]) + 1) % 10))
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2:]
    assert nhs_number_valid(swapped) is (swapped == number)


@given(nine_digits, st.sampled_from([" ", "-", ""]))
def test_a_valid_number_is_found_in_text_in_its_usual_groups(nine, gap):
    number = with_check_digit(nine)
    text = f"seen {number[:3]}{gap}{number[3:6]}{gap}{number[6:]} today" if number else f"seen {nine}0 today"
    assert ("nhs_number" in scan_text(text)) is (number is not None)


# ---------------------------------------------------------------- the scan's character budget, at its edges

def test_the_scan_budget_is_counted_after_normalising_and_holds_exactly():
    from generator.reading.identifiers import Flag, _Budget, scan_fields, scan_value
    budget = _Budget(8)
    assert scan_value("f", "SW1A 1AA", budget) == [Flag("f", "postcode")] and budget.left == 0
    assert scan_value("f", "SW1A 1AA", _Budget(7)) == [Flag("f", "unchecked")]
    # a text up to ten times the budget is normalised first (white space runs count once) ...
    assert scan_value("f", "a" + " " * 19, _Budget(2)) == []
    # ... a longer one is skipped whole, unread
    assert scan_value("f", "a" + " " * 20, _Budget(2)) == [Flag("f", "unchecked")]
    # what was found before the budget ran out is kept; blank texts are passed over, not an end
    assert scan_value("f", [" ", "SW1A 1AA", "x" * 50], _Budget(20)) == [Flag("f", "postcode"), Flag("f", "unchecked")]
    assert scan_value("f", "Call 020 7946 0000 from SW1A 1AA") == [Flag("f", "postcode"), Flag("f", "phone_number")]
    assert scan_fields({"a": "Call 020 7946 0000", "b": "fine", "c": "SW1A 1AA"}) == [
        Flag("a", "phone_number"), Flag("c", "postcode")]
    assert scan_fields({"a": "SW1A 1AA", "b": "SW1A 1AA"}, budget=10) == [Flag("a", "postcode"), Flag("b", "unchecked")]


def test_option_values_are_not_typed_text_and_raw_text_is_scanned_once_where_it_differs():
    from generator.reading.identifiers import Flag, scan_value
    choice = [{"id": "q", "kind": "choice", "options": [{"value": "SW1A 1AA"}, {"value": "no"}]},
              {"id": "t", "kind": "text"}]
    assert scan_record_values(choice, {"q": "SW1A 1AA"}) == []  # an option's value, chosen, is not typed text
    assert scan_record_values(choice, {"q": None}, raw={"q": "SW1A 1AA"}) == []  # nor read as raw text
    assert scan_record_values(choice, {"q": None}, raw={"q": "call 020 7946 0000"}) == [Flag("q", "phone_number")]
    # raw text the same as the value is scanned once: the budget is spent once
    assert scan_record_values(choice, {"t": "SW1A 1AA"}, raw={"t": "SW1A 1AA"}, budget=8) == [Flag("t", "postcode")]
    # every text of a value adds its kinds
    assert scan_value("f", ["SW1A 1AA", "020 7946 0000"]) == [Flag("f", "postcode"), Flag("f", "phone_number")]


@pytest.mark.parametrize("text, found", [
    ("01/02/1980 DOB", True), ("01/02/1980 ( DOB", True), ("01/02/1980 (DOB)", True), ("01/02/1980  (DOB", True),
    ("01/02/1980   (DOB", False),  # a date before the word counts with at most three spaces or brackets between
    ("01/02/1980X DOB", False), ("01/02/1980 X DOB", False),
])
def test_a_date_before_the_word_is_a_date_of_birth_only_close_up(text, found):
    from generator.reading.identifiers import _date_of_birth
    assert _date_of_birth(text) is found


# ---------------------------------------------------------------- text without digits

from generator.reading.identifiers import DETECTORS, normalise, scan_value  # noqa: E402

WORDS_ONLY = [
    "date of birth: first of March nineteen sixty", "born on the fifth of May", "DOB: March the first",
    "GIR OAA", "SW A AA", "ring oh seven seven double oh", "nine nine nine, zero zero zero",
    "Zoë Łukasiewicz met the practice nurse", "",
]


@pytest.mark.parametrize("text", WORDS_ONLY)
def test_no_detector_finds_anything_in_text_without_a_digit(text):
    # every pattern needs a digit: scan_value skips the detectors for such text, so this must hold
    assert [kind for kind, found in DETECTORS.items() if found(normalise(text))] == []


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=80))
def test_no_detector_fires_on_any_text_without_a_decimal_digit(text):
    assert not any(found(normalise(text)) for found in DETECTORS.values())


@pytest.mark.parametrize("text, kinds", [
    ("date of birth: 1st March 1960", ["date_of_birth"]),
    ("NHS ٩٤٣ ٤٧٦ ٥٩١٩", ["nhs_number"]),  # Arabic-Indic digits are digits too (9434765919, check 9)
    ("call 07700 900123", ["phone_number"]),
    ("lives at SW1A 1AA", ["postcode"]),
])
def test_a_text_with_a_digit_in_any_script_is_still_run_through_every_detector(text, kinds):
    assert [flag.kind for flag in scan_value("review.notes", text)] == kinds
