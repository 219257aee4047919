"""Cohort rosters: who gets a personalised pack.

In: a CSV file (comma, semicolon or tab separated, as spreadsheets in
different locales save it) or an Excel ``.xlsx`` workbook (its first sheet),
one row per learner (name, practice, pcn, supervisor, facilitator, start_date,
optional email). Out: ``Learner``s, checked as a whole: every bad row (missing
name, unknown PCN, duplicate learner, unreadable date, unknown column) is
reported together with its line number before anything is written.

Rosters are forgiving the way people make them: a header is matched whatever
its case, spaces, underscores and punctuation ("Start date", "START_DATE"),
and by the labels on the pack's own cover ("Learning Facilitator (LF)",
"Workplace supervisor/mentor"); dates may be DD/MM/YYYY or YYYY-MM-DD (or an
Excel date); a PCN may be given by its profile slug in any case or by its full
or short name. What is still unknown is answered with the closest match.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from generator.dates import format_date, parse_date
from generator.errors import Problem, RosterError


def roster_problem(file: str, path: str, message: str) -> Problem:
    """A roster problem (code E-ROSTER)."""
    return Problem(file, path, message, "E-ROSTER")


REQUIRED = ("name", "practice", "pcn", "supervisor", "facilitator", "start_date")
OPTIONAL = ("email",)
MAX_ROWS = 10_000
#: Other names people give the columns (compared after ``header_key``).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("learner", "learner name", "full name", "care coordinator", "care coordinator name"),
    "practice": ("practice name", "surgery"),
    "pcn": ("primary care network", "pcn slug", "pcn name"),
    "supervisor": ("workplace supervisor", "mentor", "supervisor mentor"),
    "facilitator": ("learning facilitator", "lf"),
    "start_date": ("start", "starting date", "date started"),
    "email": ("email address", "e mail", "mail"),
}
#: The largest roster file read (a roster of 10,000 learners is well under 5 MB).
MAX_BYTES = 20_000_000
#: Limits on an .xlsx workbook, checked before it is opened (a zip bomb costs nothing).
XLSX_MAX_ENTRIES = 500
XLSX_MAX_UNCOMPRESSED = 100_000_000
XLSX_MAX_RATIO = 200
#: Separators a CSV roster may use: comma, semicolon (Excel in many locales), tab.
DELIMITERS = ",;\t"


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


def header_key(text: str) -> str:
    """A header cell reduced to lower-case letters and digits: "Start date", "START_DATE" -> "startdate"."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().casefold()
    return re.sub(r"[^a-z0-9]+", "", plain)


def cover_labels(content: Any) -> dict[str, str]:
    """Roster column -> the label the pack's cover gives that field ("Learning Facilitator (LF)"), found
    through the cover roles pack.yaml declares (``generator.content.roles``)."""
    from generator.content.roles import roles_of
    by_id: dict[str, str] = {}
    for sid, section in content.sections.items():
        for block in section.get("blocks", ()):
            if block.get("type") == "fields":
                for fld in block.get("fields", ()):
                    if isinstance(fld, dict) and fld.get("label"):
                        by_id[f"{sid}.{block.get('id')}.{fld.get('id')}"] = str(fld["label"])
    cover = roles_of(content.pack).cover
    return {role: by_id[fid] for role, fid in cover.items() if role in REQUIRED + OPTIONAL and fid in by_id}


def column_names(labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every accepted header (as ``header_key``) -> the roster column it names."""
    out: dict[str, str] = {}
    for column in REQUIRED + OPTIONAL:
        names = [column, *ALIASES.get(column, ())]
        label = (labels or {}).get(column)
        if label:
            names += [label, re.sub(r"\([^)]*\)", "", label)]  # "Learning Facilitator (LF)" and without "(LF)"
        for name in names:
            out.setdefault(header_key(name), column)
    return out


def closest(given: str, choices: Iterable[str], key=lambda s: s.casefold()) -> str | None:
    """The choice most like ``given`` (difflib's ratio of at least 0.6), or None."""
    options = {key(c): c for c in choices}
    match = difflib.get_close_matches(key(given), list(options), n=1, cutoff=0.6)
    return options[match[0]] if match else None


def _mean(suggestion: str | None) -> str:
    return f" — did you mean {suggestion}?" if suggestion else ""


def pcn_lookup(known_pcns: Iterable[str] | Mapping[str, Iterable[str]]) -> dict[str, str]:
    """What a roster may write for a PCN (slug in any case, full or short name, casefolded) -> the slug."""
    names = known_pcns if isinstance(known_pcns, Mapping) else {slug: () for slug in known_pcns}
    out: dict[str, str] = {}
    for slug, aliases in names.items():
        out.setdefault(slug.casefold(), slug)
        for alias in aliases:
            if alias:
                out.setdefault(" ".join(str(alias).split()).casefold(), slug)
    return out


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as text: dates as ISO, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_rows(path: Path, raw: bytes) -> list[tuple[int, list[str]]]:
    """The first sheet's rows as (row number, cells), after checking the package's sizes."""
    name = path.name
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise RosterError([roster_problem(name, "", "is not an Excel .xlsx workbook (save it as .xlsx or CSV UTF-8)")]) \
            from None
    total = sum(i.file_size for i in infos)
    if (len(infos) > XLSX_MAX_ENTRIES or total > XLSX_MAX_UNCOMPRESSED
            or any(i.file_size > XLSX_MAX_RATIO * max(i.compress_size, 1) for i in infos if i.file_size > 1_000_000)):
        raise RosterError([roster_problem(name, "", "is too large or too compressed to be a roster; save it as CSV UTF-8")])
    import openpyxl
    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged package
        raise RosterError([roster_problem(name, "", f"cannot be read as an Excel workbook ({type(exc).__name__}); "
                                              "save it again as .xlsx or as CSV UTF-8")]) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            if number > MAX_ROWS + 1:
                rows.append((number, ["…"]))
                break
            rows.append((number, [_cell_text(v) for v in row]))
    finally:
        book.close()
    while rows and rows[0][1] and not any(c.strip() for c in rows[0][1]):
        rows.pop(0)  # blank rows above the header
    return rows


def _csv_rows(path: Path, raw: bytes) -> list[tuple[int, list[str]]]:
    """The rows of a CSV roster as (line number, cells), its separator detected from the header line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError([roster_problem(path.name, "", "is not UTF-8 text; save the spreadsheet as 'CSV UTF-8'")]) \
            from None
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=lambda d: (first.count(d), d == ","))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error as exc:
        raise RosterError([roster_problem(path.name, f"line {reader.line_num}", f"is not valid CSV ({exc})")]) from None
    return rows


def is_workbook(path: Path) -> bool:
    """Whether ``read_roster`` reads ``path`` as an .xlsx workbook (its rows numbered as rows, not lines)."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04" or path.suffix.lower() == ".xlsx"
    except OSError:
        return path.suffix.lower() == ".xlsx"


def read_roster(path: Path, known_pcns: Iterable[str] | Mapping[str, Iterable[str]],
                labels: Mapping[str, str] | None = None, warnings: list[str] | None = None) -> list[Learner]:
    """Parse and check a roster (CSV or .xlsx); RosterError (a ContentError) lists every problem with its line,
    the header's and the rows' together.

    ``known_pcns`` are the profile slugs, or slug -> other names (full and short name)
    a roster may use for it; ``labels`` are the cover's labels of the roster's columns
    (``cover_labels``), accepted as headers too. A column the roster does not use (a
    spreadsheet's phone numbers, notes) is ignored, with a line added to ``warnings``;
    it is a problem only when a required column is missing and it looks like that one.
    """
    name = path.name
    try:
        if path.stat().st_size > MAX_BYTES:
            raise RosterError([roster_problem(name, "", f"is over {MAX_BYTES // 1_000_000} MB; a roster is far smaller: "
                                                    "check that this is the roster (one row per learner), "
                                                    "or split the cohort into several rosters")])
        raw = path.read_bytes()
    except OSError as exc:
        raise RosterError([roster_problem(name, "", f"cannot be read ({exc.strerror})")]) from None
    if raw.startswith(b"%PDF-") or raw.lstrip()[:1] in (b"{", b"["):
        what = "a PDF" if raw.startswith(b"%PDF-") else "JSON"
        raise RosterError([roster_problem(name, "", f"is {what}, not a roster: a roster is a CSV file or an .xlsx "
                                                    "workbook with a row per learner (a returned copy is read with "
                                                    "'portfolio ingest')")])
    xlsx = raw[:4] == b"PK\x03\x04" or path.suffix.lower() == ".xlsx"
    rows = _xlsx_rows(path, raw) if xlsx else _csv_rows(path, raw)
    where_word = "row" if xlsx else "line"
    if not rows:
        raise RosterError([roster_problem(name, "", "has no learners")])
    header_line, header = rows[0]
    names = column_names(labels)
    problems: list[Problem] = []
    columns: list[str | None] = []
    unknown: list[str] = []
    for cell in header:
        column = names.get(header_key(cell))
        if column is None and cell.strip():
            unknown.append(cell.strip())
        columns.append(column)
    at = f"{where_word} {header_line}"
    present = [c for c in columns if c]
    doubled = sorted({c for c in present if present.count(c) > 1}, key=(REQUIRED + OPTIONAL).index)
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        problems.append(roster_problem(name, at, f"missing column(s): {', '.join(missing)} "
                                          f"(the header needs: {', '.join(REQUIRED)}; optional: email)"))
    meant = {}
    for cell in unknown:
        suggestion = closest(header_key(cell), names, key=lambda s: s)
        meant[cell] = names[suggestion] if suggestion else None
    resembling = [cell for cell in unknown if meant[cell] in missing]
    for cell in unknown:
        if cell in resembling:  # a misspelt required column
            problems.append(roster_problem(name, at, f"unknown column '{cell}'" + _mean(meant[cell])))
        elif missing and not resembling:  # perhaps the missing one under another name
            problems.append(roster_problem(name, at, f"unknown column '{cell}'" + (
                f" (if it holds {missing[0]}, name it so)" if len(missing) == 1 else "")))
        elif warnings is not None:
            warnings.append(f"{name}: {at}: column '{cell}' is not one a roster uses; ignored "
                            f"(the columns: {', '.join(REQUIRED + OPTIONAL)})")
    for column in doubled:
        problems.append(roster_problem(name, at, f"two columns are {column} (keep one)"))
    lookup = pcn_lookup(known_pcns)
    slugs = sorted(set(lookup.values()))
    learners: list[Learner] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows[1:]:
        where = f"{where_word} {line}"
        if len(learners) >= MAX_ROWS:
            problems.append(roster_problem(name, where, f"more than {MAX_ROWS} learners; split the roster"))
            break
        extra = [v for v in row[len(columns):] if v.strip()]
        if extra:
            problems.append(roster_problem(name, where, "has more cells than the header"))
            continue
        cells = {c: (v or "").strip() for c, v in zip(columns, row) if c}
        if not any(cells.values()):
            continue  # blank line
        before = len(problems)
        for column in REQUIRED:
            if column in present and not cells.get(column):  # a column missing altogether is said once, above
                problems.append(roster_problem(name, where, f"missing {column.replace('_', ' ')}"))
        pcn = ""
        if cells.get("pcn"):
            pcn = lookup.get(" ".join(cells["pcn"].split()).casefold(), "")
            if not pcn:
                suggestion = closest(cells["pcn"], list(lookup), key=lambda s: s.casefold())
                problems.append(roster_problem(name, where, f"unknown PCN '{cells['pcn']}'"
                                        + (_mean(lookup[suggestion]) if suggestion else
                                           f" (profiles: {', '.join(slugs) or 'none'}; "
                                           "create one with 'portfolio profile new')")))
        start = parse_date(cells["start_date"]) if cells.get("start_date") else None
        if cells.get("start_date") and start is None:
            problems.append(roster_problem(name, where, f"start date '{cells['start_date']}' is not a date "
                                                 "(use DD/MM/YYYY or YYYY-MM-DD)"))
        key = (cells.get("name", "").casefold(), pcn or cells.get("pcn", ""))
        if cells.get("name"):
            if key in seen:
                problems.append(roster_problem(name, where, f"duplicate learner '{cells['name']}' in "
                                                     f"{pcn or cells['pcn']} (first on {where_word} {seen[key]})"))
            else:
                seen[key] = line
        if cells.get("email") and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", cells["email"]):
            problems.append(roster_problem(name, where, f"email '{cells['email']}' is not an email address"))
        if len(problems) == before and not missing:
            learners.append(Learner(line, cells["name"], cells["practice"], pcn, cells["supervisor"],
                                    cells["facilitator"], start or "", cells.get("email", "")))
    if problems:
        raise RosterError(problems)
    if not learners:
        raise RosterError([roster_problem(name, "", "has no learners")])
    return learners
