"""Cohort rosters: who gets a personalised pack.

In: a CSV file, one row per learner (name, practice, pcn, supervisor,
facilitator, start_date, optional email). Out: ``Learner``s, checked as a whole:
every bad row (missing name, unknown PCN, duplicate learner, unreadable date,
unknown column) is reported together with its line number before anything is
written.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from generator.dates import format_date, parse_date
from generator.errors import Problem, RosterError


def roster_problem(file: str, path: str, message: str) -> Problem:
    """A roster problem (code E-ROSTER)."""
    return Problem(file, path, message, "E-ROSTER")


REQUIRED = ("name", "practice", "pcn", "supervisor", "facilitator", "start_date")
OPTIONAL = ("email",)
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Learner:
    line: int
    name: str
    practice: str
    pcn: str  # profile slug
    supervisor: str
    facilitator: str
    start_date: str  # ISO
    email: str = ""

    def cover(self, pcn_name: str) -> dict[str, str]:
        """What a stamped copy's cover says, by cover role (``generator.content.roles.COVER_ROLES``)."""
        return {"name": self.name, "practice": self.practice, "pcn": pcn_name, "supervisor": self.supervisor,
                "facilitator": self.facilitator, "start_date": format_date(self.start_date)}

    def manifest_facts(self) -> dict[str, str]:
        return {"name": self.name, "practice": self.practice, "supervisor": self.supervisor,
                "facilitator": self.facilitator, "start_date": self.start_date}


#: Letters NFKD does not split into a base letter and a mark.
_TRANSLITERATE = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "ß": "ss",
                                "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th"})


def safe_name(text: str) -> str:
    """A file name from a person's name: ASCII letters, digits and '-' only."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()
    return slug[:60] or "learner"


def read_roster(path: Path, known_pcns: set[str]) -> list[Learner]:
    """Parse and check a roster; RosterError (a ContentError) lists every problem with its line."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError([roster_problem(name, "", f"cannot be read ({exc.strerror})")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError([roster_problem(name, "", "is not UTF-8 text; save the spreadsheet as 'CSV UTF-8'")]) \
            from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing:
        problems.append(roster_problem(name, "line 1", f"missing column(s): {', '.join(missing)} "
                                                       f"(the header needs: {', '.join(REQUIRED)}; optional: email)"))
    if unknown:
        problems.append(roster_problem(name, "line 1", f"unknown column(s): {', '.join(unknown)}"))
    if problems:
        raise RosterError(problems)
    reader.fieldnames = header
    learners: list[Learner] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        line = reader.line_num
        if len(learners) >= MAX_ROWS:
            problems.append(roster_problem(name, f"line {line}", f"more than {MAX_ROWS} learners; split the roster"))
            break
        if None in row:
            problems.append(roster_problem(name, f"line {line}", "has more cells than the header"))
            continue
        cells = {k: (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue  # blank line
        where = f"line {line}"
        for column in REQUIRED:
            if not cells.get(column):
                problems.append(roster_problem(name, where, f"missing {column.replace('_', ' ')}"))
        if cells.get("pcn") and cells["pcn"] not in known_pcns:
            problems.append(roster_problem(name, where, f"unknown PCN '{cells['pcn']}' (profiles: "
                                                        f"{', '.join(sorted(known_pcns)) or 'none'}; "
                                                        "create one with 'portfolio profile new')"))
        start = parse_date(cells["start_date"]) if cells.get("start_date") else None
        if cells.get("start_date") and start is None:
            problems.append(roster_problem(name, where, f"start date '{cells['start_date']}' is not a date "
                                                        "(use DD/MM/YYYY)"))
        key = (cells.get("name", "").casefold(), cells.get("pcn", ""))
        if cells.get("name"):
            if key in seen:
                problems.append(roster_problem(name, where, f"duplicate learner '{cells['name']}' in {cells['pcn']} "
                                                            f"(first on line {seen[key]})"))
            else:
                seen[key] = line
        if cells.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cells["email"]):
            problems.append(roster_problem(name, where, f"email '{cells['email']}' is not an email address"))
        if not problems or problems[-1].path != where:
            learners.append(Learner(line, cells["name"], cells["practice"], cells["pcn"], cells["supervisor"],
                                    cells["facilitator"], start or "", cells.get("email", "")))
    if problems:
        raise RosterError(problems)
    if not learners:
        raise RosterError([roster_problem(name, "", "has no learners")])
    return learners
