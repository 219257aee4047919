"""Dates as this tool reads and writes them: UK day-first text in, ISO dates stored, DD/MM/YYYY shown.

In: text a person typed (``1/9/2026``, ``01-09-26``, ``1st September 2026``,
``2026-09-01``), a month name, or an ISO date. Out: an ISO date string
(``parse_date``, ``iso_date``), the DD/MM/YYYY text forms show
(``format_date``), a month's index (``month_index``). Every reader, writer,
filler, the roster and the report use these; nothing else parses or formats a
date.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

#: The months, as content and profiles name them (``start_month: September``).
MONTHS = ("January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December")

_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-\s](\d{1,2})[/.\-\s](\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:T.*)?$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WORD_DATE = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})$")


def month_index(name: str) -> int | None:
    """0-based index of a month given by its full name or three-letter abbreviation (or 'Sept'); else None."""
    key = str(name).strip().lower().rstrip(".")
    for i, month in enumerate(MONTHS):
        if key in (month.lower(), month.lower()[:3]) or (i == 8 and key == "sept"):
            return i
    return None


def _parts(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) as written in a date's shape, not yet checked to exist; None for no date shape."""
    if m := _ISO_DATE.match(text):
        return int(m[1]), int(m[2]), int(m[3])
    if m := _NUMERIC_DATE.match(text):
        return int(m[3]) + (2000 if len(m[3]) == 2 else 0), int(m[2]), int(m[1])
    if (m := _WORD_DATE.match(text)) and (index := month_index(m[2])) is not None:
        return int(m[3]), index + 1, int(m[1])
    return None


def parse_date(raw: str) -> str | None:
    """ISO date from UK day-first text (or ISO text), or None when it can't be read unambiguously.

    Two-digit years are 20YY; a month name must be a whole name, its first three
    letters or 'Sept'; an impossible day (31/02) is None.
    """
    parts = _parts(raw.strip())
    if parts is None:
        return None
    try:
        return dt.date(*parts).isoformat()
    except ValueError:
        return None


def impossible_date(raw: str) -> bool:
    """Whether ``raw`` is written as a date but names a day that does not exist (31/02/2026, 2026-13-01)."""
    return _parts(raw.strip()) is not None and parse_date(raw) is None


def iso_date(value: Any) -> str | None:
    """``value`` as YYYY-MM-DD when it is a date or exactly an ISO date's text, else None."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if not _ISO_DAY.match(text):
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def format_date(value: Any) -> str:
    """DD/MM/YYYY, as UK forms show a date, for a date or an ISO date's text (``2026-09-01`` -> ``01/09/2026``).

    Text that is not an ISO date is given back unchanged (a value is never dropped).
    """
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    m = _ISO_DATE.match(str(value))
    if not m:
        return str(value)
    return f"{int(m[3]):02d}/{int(m[2]):02d}/{m[1]}"
