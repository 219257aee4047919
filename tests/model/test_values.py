"""Typed values with known answers: date parsing and formatting, coercion per field kind, fill checks."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.errors import FillError
from generator.model.values import (
    check_fill_values,
    coerce,
    normalise_text,
    parse_date,
    to_document,
    value_problem,
)

# ---------------------------------------------------------------- dates


@pytest.mark.parametrize("text, iso", [
    ("2026-09-14", "2026-09-14"),
    ("2026-9-4", "2026-09-04"),
    ("2026-09-14T10:30:00Z", "2026-09-14"),  # a Word date picker's full timestamp
    ("14/09/2026", "2026-09-14"),
    ("14.09.2026", "2026-09-14"),
    ("14-09-2026", "2026-09-14"),
    ("14 09 2026", "2026-09-14"),
    ("4/9/2026", "2026-09-04"),  # day first: 4 September, never 9 April
    ("01/02/26", "2026-02-01"),  # two-digit years are this century
    ("  14/09/2026 ", "2026-09-14"),
    ("29/02/2028", "2028-02-29"),
    ("14 September 2026", "2026-09-14"),
    ("14th September 2026", "2026-09-14"),
    ("1st Jan. 2026", "2026-01-01"),
    ("2nd feb 2026", "2026-02-02"),
    ("3rd MARCH 2026", "2026-03-03"),
    ("3 May, 2026", "2026-05-03"),
    ("14 Sept 2026", "2026-09-14"),
    ("14 Sep 2026", "2026-09-14"),
    ("30 June 2026", "2026-06-30"),
])
def test_dates_people_write_are_read_day_first(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize("text", [
    "31/02/2026",  # no such day
    "29/02/2027",  # not a leap year
    "00/01/2026",
    "14/13/2026",
    "14/09/202",  # three-digit year
    "2026/09/14",  # year first with slashes: ambiguous, refused
    "September 14, 2026",  # month first
    "14 Septober 2026",  # starts like a month, is not one
    "14 Janu 2026",
    "14 Smarch 2026",
    "14th of September 2026",
    "next Tuesday",
    "",
    "14/09",
])
def test_dates_that_cannot_be_read_unambiguously_give_none(text):
    assert parse_date(text) is None


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)))
def test_parse_of_format_is_identity(day):
    iso = day.isoformat()
    written = to_document({"kind": "date"}, iso)
    assert written == f"{day.day:02d}/{day.month:02d}/{day.year}"
    assert parse_date(written) == iso
    assert coerce({"kind": "date"}, written) == (iso, None)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from("/.- "),
       st.booleans(), st.booleans())
def test_every_separator_and_padding_reads_the_same_date(day, sep, pad, short_year):
    d, m = (f"{day.day:02d}", f"{day.month:02d}") if pad else (str(day.day), str(day.month))
    y = f"{day.year % 100:02d}" if short_year else str(day.year)
    assert parse_date(f"{d}{sep}{m}{sep}{y}") == day.isoformat()


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month_name_in_full_and_short(month):
    name = MONTHS[month - 1]
    iso = f"2026-{month:02d}-01"
    assert (parse_date(f"1 {name} 2026"), parse_date(f"1st {name[:3]} 2026"),
            parse_date(f"1 {name.upper()} 2026")) == (iso, iso, iso)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)), st.booleans(), st.booleans())
def test_month_names_in_full_or_short_read_the_same_date(day, short, ordinal):
    name = MONTHS[day.month - 1]
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
    text = f"{day.day}{suffix if ordinal else ''} {name[:3] if short else name} {day.year}"
    assert parse_date(text) == day.isoformat()


# ---------------------------------------------------------------- coercion per field kind

DATE_WARNING = "date not understood (expected DD/MM/YYYY); kept as written"
NO_SUCH_DAY = "date not understood (no such day: its day or month is out of range); kept as written"
FEELINGS = {"kind": "choice", "options": [{"value": "happy"}, {"value": "unsure"}]}


@pytest.mark.parametrize("definition, raw, expected", [
    ({"kind": "text"}, "Zoë", ("Zoë", None)),
    ({"kind": "text"}, "a\r\nb\rc", ("a\nb\nc", None)),
    ({"kind": "longtext"}, "  first\n\nsecond  ", ("  first\n\nsecond  ", None)),  # kept as typed
    ({"kind": "signature"}, " \n\t ", (None, None)),
    ({"kind": "text"}, None, (None, None)),
    ({"kind": "text"}, "", (None, None)),
    ({"kind": "date"}, "14/09/2026", ("2026-09-14", None)),
    ({"kind": "date"}, " 31/02/2026 ", ("31/02/2026", NO_SUCH_DAY)),
    ({"kind": "date"}, "2026-13-01", ("2026-13-01", NO_SUCH_DAY)),
    ({"kind": "date"}, "next Tuesday", ("next Tuesday", DATE_WARNING)),
    ({"kind": "date"}, "31 Febtember 2026", ("31 Febtember 2026", DATE_WARNING)),
    ({"kind": "date"}, "   ", (None, None)),
    ({"kind": "date"}, None, (None, None)),
    ({"kind": "checkbox"}, True, (True, None)),
    ({"kind": "checkbox"}, False, (False, None)),
    ({"kind": "checkbox"}, "/Yes", (True, None)),
    ({"kind": "checkbox"}, "/on", (True, None)),
    ({"kind": "checkbox"}, "X", (True, None)),
    ({"kind": "checkbox"}, "☒", (True, None)),
    ({"kind": "checkbox"}, "✓", (True, None)),
    ({"kind": "checkbox"}, "/Off", (False, None)),
    ({"kind": "checkbox"}, "☐", (False, None)),
    ({"kind": "checkbox"}, "0", (False, None)),
    ({"kind": "checkbox"}, "", (False, None)),
    ({"kind": "checkbox"}, None, (False, None)),
    ({"kind": "yesno"}, "/yes", (True, None)),
    ({"kind": "yesno"}, "Y", (True, None)),
    ({"kind": "yesno"}, "true", (True, None)),
    ({"kind": "yesno"}, "/no", (False, None)),
    ({"kind": "yesno"}, "N", (False, None)),
    ({"kind": "yesno"}, "false", (False, None)),
    ({"kind": "yesno"}, False, (False, None)),
    ({"kind": "yesno"}, "/Off", (None, None)),
    ({"kind": "yesno"}, "", (None, None)),
    ({"kind": "yesno"}, None, (None, None)),
    (FEELINGS, "/happy", ("happy", None)),
    (FEELINGS, "unsure", ("unsure", None)),
    (FEELINGS, "/Off", (None, None)),
    (FEELINGS, "", (None, None)),
    (FEELINGS, None, (None, None)),
])
def test_coerce_gives_the_typed_value_and_warning(definition, raw, expected):
    assert coerce(definition, raw) == expected


# What a warning says about the odd value itself may change (it must not repeat a patient identifier):
# the start, the end and the options listed are the known part.
@pytest.mark.parametrize("definition, raw, value, start, end", [
    ({"kind": "checkbox"}, "/Maybe", True, "unexpected tick state ", ": read as ticked"),
    ({"kind": "yesno"}, "maybe", None, "unexpected yes/no value ", ": left empty"),
    (FEELINGS, "Happy", None, "", "expected one of: happy, unsure): left empty"),
    ({"kind": "choice"}, "happy", None, "", "expected one of: ): left empty"),
    ({"kind": "yesno"}, "X", None, "unexpected yes/no value ", ": left empty"),  # only a leading / is dropped
    (FEELINGS, "Xhappy", None, "", "expected one of: happy, unsure): left empty"),
])
def test_an_odd_value_gives_a_warning(definition, raw, value, start, end):
    typed, warning = coerce(definition, raw)
    assert typed == value
    assert warning.startswith(start) and warning.endswith(end), warning


@pytest.mark.parametrize("raw", ["yes", "Y", "TRUE", "1", "On", "x", "✓", "✔", "☒", "checked", "/Yes", " yes "])
def test_every_tick_word_reads_as_ticked(raw):
    assert coerce({"kind": "checkbox"}, raw) == (True, None)


@pytest.mark.parametrize("raw", ["no", "N", "False", "0", "OFF", "", "☐", "unchecked", "/Off", " "])
def test_every_untick_word_reads_as_not_ticked(raw):
    assert coerce({"kind": "checkbox"}, raw) == (False, None)


def test_normalise_text_blank_is_none():
    assert normalise_text(None) is None
    assert normalise_text(" \r\n ") is None
    assert normalise_text(12) == "12"


@pytest.mark.parametrize("kind, value, written", [
    ("text", "Zoë", "Zoë"),
    ("date", "2026-09-04", "04/09/2026"),
    ("date", "2026-09-04T10:30:00", "04/09/2026"),
    ("date", "2026-9-4", "04/09/2026"),  # unpadded ISO: written padded, day first
    ("date", "sometime in May", "sometime in May"),  # kept as written
    ("checkbox", True, True),
    ("checkbox", False, False),
    ("yesno", True, "yes"),
    ("yesno", False, "no"),
    ("yesno", "no", "no"),  # the option value 'portfolio fields' lists: a non-empty string, yet not yes
    ("yesno", "yes", "yes"),
    ("choice", "happy", "happy"),
    ("text", None, None),
    ("checkbox", None, None),
])
def test_to_document_writes_what_a_reader_reads_back(kind, value, written):
    assert to_document({"kind": kind}, value) == written


@given(st.sampled_from(["text", "longtext", "signature", "date", "checkbox", "yesno", "choice"]), st.data())
def test_coerce_of_to_document_is_identity(kind, data):
    definition = FEELINGS if kind == "choice" else {"kind": kind}
    value = data.draw({
        "text": st.text(min_size=1).filter(lambda t: t.strip() and "\r" not in t),
        "longtext": st.text(min_size=1).filter(lambda t: t.strip() and "\r" not in t),
        "signature": st.text(min_size=1).filter(lambda t: t.strip() and "\r" not in t),
        "date": st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)).map(date.isoformat),
        "checkbox": st.booleans(),
        "yesno": st.booleans(),
        "choice": st.sampled_from(["happy", "unsure"]),
    }[kind])
    assert coerce(definition, to_document(definition, value)) == (value, None)


# ---------------------------------------------------------------- what fill accepts

@pytest.mark.parametrize("definition, value, problem", [
    ({"kind": "checkbox"}, "yes", "expected true or false"),
    ({"kind": "checkbox"}, 1, "expected true or false"),
    ({"kind": "yesno"}, "maybe", 'expected true or false (or "yes" / "no")'),
    (FEELINGS, "sad", "expected one of: happy, unsure"),
    ({"kind": "text"}, 5, "expected text"),
    ({"kind": "longtext"}, ["a"], "expected text"),
    ({"kind": "signature"}, True, "expected text"),
    ({"kind": "date"}, 20260914, "expected text (a date as YYYY-MM-DD or DD/MM/YYYY)"),
    ({"kind": "date"}, "31/02/2026", "no such day (its day or month is out of range)"),
    ({"kind": "date"}, "2026-02-30", "no such day (its day or month is out of range)"),
])
def test_values_that_do_not_fit_are_named(definition, value, problem):
    assert value_problem(definition, value) == problem


@pytest.mark.parametrize("definition, value", [
    ({"kind": "checkbox"}, True), ({"kind": "yesno"}, False), ({"kind": "yesno"}, "yes"), ({"kind": "yesno"}, "no"),
    (FEELINGS, "happy"), ({"kind": "text"}, "x"), ({"kind": "date"}, "2026-09-14"), ({"kind": "checkbox"}, None),
    ({"kind": "date"}, "sometime in spring"),  # not a date's shape: written as given, and read back with a warning
    (FEELINGS, None),
])
def test_values_that_fit_have_no_problem(definition, value):
    assert value_problem(definition, value) is None


MANIFEST = {"fields": [{"id": "a", "kind": "text"}, {"id": "b", "kind": "checkbox"}, FEELINGS | {"id": "c"}]}


def test_fill_check_lists_every_value_that_does_not_fit():
    with pytest.raises(FillError) as caught:
        check_fill_values(MANIFEST, {"a": 5, "b": "yes", "c": "happy"}, "pack.pdf")
    assert str(caught.value) == ("pack.pdf: 2 value(s) do not fit their fields; nothing was written:\n"
                                 "  a: expected text, not 5\n"
                                 "  b: expected true or false, not 'yes'")


def test_fill_check_names_unknown_ids_five_at_most():
    with pytest.raises(FillError) as caught:
        check_fill_values(MANIFEST, {f"x{i}": "v" for i in range(7)} | {"a": "fine"}, "pack.docx")
    assert str(caught.value) == ("pack.docx: the pack has no field(s) x0, x1, x2, x3, x4 and 2 more "
                                 "(check the ids with 'portfolio fields')")


def test_fill_check_counts_the_sixth_unknown_id():
    with pytest.raises(FillError) as caught:
        check_fill_values(MANIFEST, {f"x{i}": "v" for i in range(6)}, "pack.pdf")
    assert str(caught.value) == ("pack.pdf: the pack has no field(s) x0, x1, x2, x3, x4 and 1 more "
                                 "(check the ids with 'portfolio fields')")


def test_fill_check_points_a_pcns_pack_to_its_own_field_list():
    with pytest.raises(FillError) as caught:
        check_fill_values(MANIFEST | {"pcn": {"slug": "riverside-pcn", "name": "Riverside PCN"}}, {"x": "v"}, "zoe.pdf")
    assert str(caught.value) == ("zoe.pdf: the pack has no field(s) x "
                                 "(check the ids with 'portfolio fields --profile riverside-pcn')")


def test_a_choice_without_options_accepts_nothing():
    assert value_problem({"kind": "choice"}, "happy") == "expected one of: "


def test_fill_check_names_five_unknown_ids_without_more():
    with pytest.raises(FillError) as caught:
        check_fill_values(MANIFEST, {f"x{i}": "v" for i in range(5)}, "pack.pdf")
    assert str(caught.value) == ("pack.pdf: the pack has no field(s) x0, x1, x2, x3, x4 "
                                 "(check the ids with 'portfolio fields')")


def test_fill_check_gives_the_definitions_when_all_fit():
    assert check_fill_values(MANIFEST, {"a": "x", "c": None}, "pack.pdf") == {
        "a": {"id": "a", "kind": "text"}, "b": {"id": "b", "kind": "checkbox"}, "c": FEELINGS | {"id": "c"}}


def test_a_warning_gives_an_unreadable_values_length_never_the_value():
    from generator.model.values import _shape
    assert _shape("x") == "1 character, value not shown"
    assert _shape("ab") == "2 characters, value not shown"
    assert _shape("abcdefghij") == "10 characters, value not shown"
    assert _shape("") == "0 characters, value not shown"
