"""Find likely patient identifiers in free-text answers.

In: field values keyed by field id (only text kinds are scanned). Out: flags
naming the field and the kind of identifier (``nhs_number``, ``postcode``,
``date_of_birth``, ``phone_number``), never the value itself, so a flag can be
logged, printed and stored without repeating what it found.

NHS numbers are 10 digits (spaces or dashes allowed in the usual 3-3-4 groups)
that pass the Modulus 11 check digit; a number that fails it is not flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from generator.kinds import FREE_TEXT_KINDS

TEXT_KINDS = FREE_TEXT_KINDS

_NHS = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\d+])(?:\+44[ -]?\(?0?\)?|\(?0)\d{2,4}\)?(?:[ -]?\d){6,8}(?!\d)")
_DATE = (r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"
         r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{2,4})")
_DOB = re.compile(rf"\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|born(?:\s+on)?)\W{{0,3}}\s*{_DATE}"
                  rf"|{_DATE}\s*\(?\s*(?:d\.?o\.?b\.?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Flag:
    field: str
    kind: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind}

    def __str__(self) -> str:
        return f"{self.field}: possible {self.kind.replace('_', ' ')} (value not shown)"


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


DETECTORS: dict[str, Any] = {
    "nhs_number": _nhs_numbers,
    "postcode": lambda text: _POSTCODE.search(text) is not None,
    "date_of_birth": lambda text: _DOB.search(text) is not None,
    "phone_number": lambda text: _PHONE.search(text) is not None,
}


def scan_text(text: str) -> list[str]:
    """Kinds of identifier that ``text`` seems to hold."""
    return [kind for kind, found in DETECTORS.items() if found(text)]


def scan_fields(values: Mapping[str, Any], kinds: Mapping[str, str]) -> list[Flag]:
    """Flags for every text field whose value looks like it holds an identifier."""
    flags = []
    for fid, value in values.items():
        if kinds.get(fid) in TEXT_KINDS and isinstance(value, str) and value.strip():
            flags.extend(Flag(fid, kind) for kind in scan_text(value))
    return flags


def scan_record_values(definitions: Iterable[Mapping[str, Any]], values: Mapping[str, Any],
                       extra: Mapping[str, Any] | None = None) -> list[Flag]:
    """Scan a record's values (and values the manifest did not know, as text)."""
    kinds = {d["id"]: d["kind"] for d in definitions}
    flags = scan_fields(values, kinds)
    for fid, value in (extra or {}).items():
        if isinstance(value, str):
            flags.extend(Flag(fid, kind) for kind in scan_text(value))
    return flags
