"""Find likely patient identifiers in the values of a returned copy.

In: field values keyed by field id (every value that holds text, of every field
kind: free text, dates kept as written, the raw text of unreadable choices).
Out: flags naming the field and the kind of identifier (``nhs_number``,
``postcode``, ``date_of_birth``, ``phone_number``), never the value itself, so
a flag can be logged, printed and stored without repeating what it found.

Text is normalised first (``normalise``): Unicode NFKC (full-width digits and
letters, non-breaking spaces), invisible format characters (zero-width spaces,
soft hyphens) removed, every dash made ``-`` and every run of white space one
space. So ``999 000 1234`` written with non-breaking spaces, zero-width
spaces, en dashes or dots is still found.

Every pattern matches at most ``MAX_WIDTH`` characters (no unbounded
repetition, checked by a test), so scanning costs time linear in the length of
the text whatever it holds: a date followed by 100,000 spaces is no slower than
any other text of that length.

NHS numbers are 10 digits (in the usual 3-3-4 groups, or run together) that
pass the Modulus 11 check digit; a number that fails it is not flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

#: The longest text any pattern below can match (a test checks every pattern against it).
MAX_WIDTH = 64
#: Characters of one copy's values that are checked, after ``normalise`` (a filled portfolio
#: holds far fewer). Text past it is flagged ``unchecked`` for a person to review, so a huge copy costs bounded time.
SCAN_BUDGET = 100_000

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_SPACES = re.compile(r"\s+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # format characters are all outside ASCII

_SEP = r"(?: ?[.-] ?| )?"  # between digit groups: nothing, a space, a dot or a dash (spaced or not)
_NHS = re.compile(rf"(?<![\d-])(\d{{3}}){_SEP}(\d{{3}}){_SEP}(\d{{4}})(?![\d-])")
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+ ?|00)44 ?(?:\( ?0 ?\) ?|0 ?)?|\(?0)\d{2,4}\)?(?:[ .-]?\d){6,8}(?!\d)")
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?"
_DATE = (rf"(?:\d{{1,2}} ?[/.-] ?\d{{1,2}} ?[/.-] ?\d{{2,4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th)? ?(?:of )?{_MONTHS},? ?\d{{2,4}}|{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? ?\d{{4}})")
#: A date of birth is a date next to a word for birth: the words are found first (they are rare),
#: then a date is looked for in the few characters after or before each.
_DOB_WORD = re.compile(r"\b(?:d\.? ?o\.? ?b\.?|date of birth|birth ?date|born(?: on)?)(?!\w)", re.IGNORECASE)
_DATE_AFTER = re.compile(rf"\W{{0,3}} ?{_DATE}", re.IGNORECASE)
_DATE_ANY = re.compile(_DATE, re.IGNORECASE)

#: Every pattern above holds a digit (``\d``: any Unicode decimal digit) that must match: a text
#: without one holds none of them, and is not run through them (most answers are words).
_DIGIT = re.compile(r"\d")

#: The compiled patterns, for the test that checks their width.
PATTERNS = {"nhs_number": _NHS, "postcode": _POSTCODE, "date_of_birth": _DOB_WORD, "date_after": _DATE_AFTER,
            "date": _DATE_ANY, "phone_number": _PHONE}


@dataclass(frozen=True)
class Flag:
    field: str
    kind: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind}

    def __str__(self) -> str:
        if self.kind == "unchecked":
            return (f"{self.field}: too much text to check for patient identifiers (over {SCAN_BUDGET:,} "
                    "characters in the copy); review it by hand (value not shown)")
        return f"{self.field}: possible {self.kind.replace('_', ' ')} (value not shown)"


def normalise(text: str) -> str:
    """The text the patterns look at: NFKC, no format characters, one kind of dash, single spaces."""
    if not text.isascii():  # ASCII is its own NFKC form and holds no format characters
        text = unicodedata.normalize("NFKC", text)
        if any(unicodedata.category(ch) == "Cf" for ch in set(_NON_ASCII.findall(text))):
            text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
        text = text.translate(_DASHES)
    return _SPACES.sub(" ", text)


def nhs_number_valid(digits: str) -> bool:
    """True when ten digits pass the NHS Modulus 11 check."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _nhs_numbers(text: str) -> bool:
    return any(nhs_number_valid("".join(m.groups())) for m in _NHS.finditer(text))


def _date_of_birth(text: str) -> bool:
    ends: set[int] | None = None  # where the dates in the text end, found once if needed
    for word in _DOB_WORD.finditer(text):
        if _DATE_AFTER.match(text, word.end()):
            return True
        i = word.start()
        while i > 0 and word.start() - i < 3 and text[i - 1] in " (":
            i -= 1
        if i > 0 and text[i - 1].isdigit():  # a date before the word ends with its year
            if ends is None:
                ends = {m.end() for m in _DATE_ANY.finditer(text)}
            if i in ends:
                return True
    return False


DETECTORS: dict[str, Callable[[str], bool]] = {
    "nhs_number": _nhs_numbers,
    "postcode": lambda text: _POSTCODE.search(text) is not None,
    "date_of_birth": _date_of_birth,
    "phone_number": lambda text: _PHONE.search(text) is not None,
}


def scan_text(text: str) -> list[str]:
    """Kinds of identifier that ``text`` seems to hold (after ``normalise``)."""
    clean = normalise(text)
    return [kind for kind, found in DETECTORS.items() if found(clean)]


def _texts(value: Any) -> Iterable[str]:
    """The text in a value of any kind (a row of a repeating table may be a list or a mapping)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


class _Budget:
    def __init__(self, chars: int):
        self.left = chars


def scan_value(fid: str, value: Any, budget: _Budget | None = None) -> list[Flag]:
    """Flags for one value of any kind; past the budget (counted after ``normalise``, so runs of
    white space count once), an ``unchecked`` flag."""
    kinds: list[str] = []
    for text in _texts(value):
        if not text.strip():
            continue
        if budget is not None:
            clean = normalise(text) if len(text) <= 10 * budget.left else None
            if clean is None or len(clean) > budget.left:  # skipped whole; smaller texts are still checked
                return [Flag(fid, kind) for kind in kinds] + [Flag(fid, "unchecked")]
            budget.left -= len(clean)
        else:
            clean = normalise(text)
        if _DIGIT.search(clean):
            kinds += [k for k, found in DETECTORS.items() if k not in kinds and found(clean)]
    return [Flag(fid, kind) for kind in kinds]


def scan_fields(values: Mapping[str, Any], budget: int = SCAN_BUDGET) -> list[Flag]:
    """Flags for every value, of any field kind, that looks like it holds an identifier."""
    left = _Budget(budget)
    return [flag for fid, value in values.items() for flag in scan_value(fid, value, left)]


def scan_record_values(definitions: Iterable[Mapping[str, Any]], values: Mapping[str, Any],
                       extra: Mapping[str, Any] | None = None, *, raw: Mapping[str, Any] | None = None,
                       budget: int = SCAN_BUDGET) -> list[Flag]:
    """Scan a record's values of every kind, the raw text they were read from where it differs
    (a choice or yes/no field leaves unreadable text out of its value) and the values the
    manifest did not know; within ``budget`` characters in all."""
    definitions = list(definitions)
    ids = [d["id"] for d in definitions]
    options = {d["id"]: {o["value"] for o in d.get("options") or ()} for d in definitions}
    texts: list[tuple[str, Any]] = [(fid, values.get(fid)) for fid in ids
                                    if not (isinstance(values.get(fid), str) and values.get(fid) in options[fid])]
    texts += [(fid, (raw or {}).get(fid)) for fid in ids
              if (raw or {}).get(fid) != values.get(fid) and (raw or {}).get(fid) not in options[fid]]
    texts += list((extra or {}).items())
    left = _Budget(budget)
    flags: list[Flag] = []
    for fid, value in texts:
        for flag in scan_value(fid, value, left):
            if flag not in flags:
                flags.append(flag)
    return flags
