"""Rosters as people make them: forgiving headers, separators, dates, PCN names; .xlsx; closest matches."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from generator.content.loader import load_content
from generator.content.profile import profile_names
from generator.errors import ContentError
from generator.issuing.roster import cover_labels, header_key, read_roster

PCNS = {"riverside-pcn": ("Riverside Primary Care Network", "Riverside PCN")}
ZOE = ["Zoë Łukasiewicz", "Riverside Surgery", "riverside-pcn", "Dr Amara Okafor", "Jo Bennett", "01/09/2026",
       "zoe@example.nhs.uk"]


def write(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, pcns=PCNS, labels=None) -> list[str]:
    with pytest.raises(ContentError) as info:
        read_roster(path, pcns, labels)
    return [str(p) for p in info.value.problems]


def test_header_key_ignores_case_spaces_underscores_and_punctuation():
    assert header_key("Start date") == header_key("START_DATE") == header_key(" start-date. ") == "startdate"


def test_the_covers_own_labels_name_the_columns(tmp_path, content):
    labels = cover_labels(content)
    assert labels["facilitator"] == "Learning Facilitator (LF)"
    assert labels["supervisor"] == "Workplace supervisor/mentor" and labels["start_date"] == "Start date"
    path = write(tmp_path, "Name,Practice,Primary care network (PCN),Workplace supervisor/mentor,"
                           "Learning Facilitator (LF),Start date,E-mail\n" + ",".join(ZOE) + "\n")
    [zoe] = read_roster(path, PCNS, labels)
    assert (zoe.supervisor, zoe.facilitator, zoe.start_date, zoe.email) == (
        "Dr Amara Okafor", "Jo Bennett", "2026-09-01", "zoe@example.nhs.uk")


@pytest.mark.parametrize("separator", [";", "\t", ","])
def test_semicolon_and_tab_separated_rosters_are_read(tmp_path, separator):
    header = separator.join(["NAME", "Practice", "pcn", "Supervisor", "Facilitator", "Start_Date", "Email"])
    rows = [separator.join(ZOE), separator.join(["Siobhán Kelly", "Mill Lane, Medical Centre" if separator != ","
                                                 else "Mill Lane Medical Centre", "riverside-pcn", "Dr Tom Hughes",
                                                 "Jo Bennett", "2026-09-15", ""])]
    learners = read_roster(write(tmp_path, header + "\n" + "\n".join(rows) + "\n"), PCNS)
    assert [(l.name, l.start_date) for l in learners] == [("Zoë Łukasiewicz", "2026-09-01"),
                                                        ("Siobhán Kelly", "2026-09-15")]


@pytest.mark.parametrize("given", ["riverside-pcn", "Riverside-PCN", "RIVERSIDE-PCN", "Riverside PCN",
                                   "riverside primary care network", "Riverside  Primary Care Network"])
def test_a_pcn_by_its_slug_in_any_case_or_its_full_or_short_name(tmp_path, given):
    row = ZOE[:2] + [given] + ZOE[3:]
    [zoe] = read_roster(write(tmp_path, "name,practice,pcn,supervisor,facilitator,start_date,email\n"
                                        + ",".join(row) + "\n"), PCNS)
    assert zoe.pcn == "riverside-pcn"


def test_columns_a_roster_does_not_use_are_ignored_with_a_warning(tmp_path):
    path = write(tmp_path, "name,practice,pcn,supervisor,facilitator,start_date,mobile,emial\n"
                           + ",".join(ZOE[:6]) + ",07700 900000,zoe@example.org\n")
    warnings: list[str] = []
    [zoe] = read_roster(path, PCNS, warnings=warnings)
    assert (zoe.name, zoe.email) == ("Zoë Łukasiewicz", "")
    columns = "(the columns: name, practice, pcn, supervisor, facilitator, start_date, email)"
    assert warnings == [f"roster.csv: line 1: column 'mobile' is not one a roster uses; ignored {columns}",
                        f"roster.csv: line 1: column 'emial' is not one a roster uses; ignored {columns}"]


def test_the_headers_problems_and_the_rows_come_together(tmp_path):
    path = write(tmp_path, "name,practise,pcn,supervisor,facilitator,start_date,notes\n"
                           "Zoë Łukasiewicz,Riverside Surgery,Riversyde PCN,Dr A,Ms B,31/02/2026,\n"
                           "Siobhán Kelly,Riverside Surgery,riverside-pcn,Dr A,Ms B,01/09/2026,\n"
                           "Siobhán Kelly,Riverside Surgery,riverside-pcn,Dr A,,01/09/2026,\n")
    assert problems(path) == [
        "roster.csv: line 1: missing column(s): practice (the header needs: name, practice, pcn, supervisor, "
        "facilitator, start_date; optional: email)",
        "roster.csv: line 1: unknown column 'practise' — did you mean practice?",
        "roster.csv: line 2: unknown PCN 'Riversyde PCN' — did you mean riverside-pcn?",
        "roster.csv: line 2: start date '31/02/2026' is not a date (use DD/MM/YYYY or YYYY-MM-DD)",
        "roster.csv: line 4: missing facilitator",
        "roster.csv: line 4: duplicate learner 'Siobhán Kelly' in riverside-pcn (first on line 3)"]


@pytest.mark.parametrize("data, what", [(b"%PDF-1.7\n%\xe2\xe3\n", "a PDF"), (b'  {"name": "Zo\xc3\xab"}', "JSON"),
                                        (b"[1, 2]", "JSON")])
def test_a_returned_copy_or_a_record_given_as_the_roster_is_named(tmp_path, data, what):
    path = tmp_path / "roster.csv"
    path.write_bytes(data)
    assert problems(path) == [f"roster.csv: is {what}, not a roster: a roster is a CSV file or an .xlsx workbook "
                              "with a row per learner (a returned copy is read with 'portfolio ingest')"]


def test_profile_names_come_from_the_profiles():
    assert profile_names()["riverside-pcn"] == ("Riverside Primary Care Network", "Riverside PCN")


def test_an_unknown_pcn_or_column_gets_the_closest_match(tmp_path):
    path = write(tmp_path, "name,practice,pcn,supervisor,facilitater,start date,emial\n")
    assert problems(path) == [
        "roster.csv: line 1: missing column(s): facilitator (the header needs: name, practice, pcn, supervisor, "
        "facilitator, start_date; optional: email)",
        "roster.csv: line 1: unknown column 'facilitater' — did you mean facilitator?"]
    path = write(tmp_path, "name,practice,pcn,supervisor,facilitator,start_date\n"
                           "Zoë,Riverside Surgery,riverside-pc,Dr A,Jo,2026-09-01\n"
                           "Kai,Riverside Surgery,Riversyde PCN,Dr A,Jo,2026-09-01\n"
                           "Ola,Riverside Surgery,nowhere,Dr A,Jo,2026-09-01\n")
    assert problems(path) == [
        "roster.csv: line 2: unknown PCN 'riverside-pc' — did you mean riverside-pcn?",
        "roster.csv: line 3: unknown PCN 'Riversyde PCN' — did you mean riverside-pcn?",
        "roster.csv: line 4: unknown PCN 'nowhere' (profiles: riverside-pcn; create one with "
        "'portfolio profile new')"]


def test_a_column_given_twice_is_an_error(tmp_path):
    path = write(tmp_path, "name,practice,pcn,supervisor,facilitator,Learning facilitator,start_date\n")
    assert problems(path, labels={"facilitator": "Learning Facilitator (LF)"}) == [
        "roster.csv: line 1: two columns are facilitator (keep one)"]


def xlsx(rows: list[list]) -> bytes:
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_roster_is_read_directly_with_excel_dates(tmp_path, content):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(xlsx([
        ["Name", "Practice", "PCN", "Workplace supervisor/mentor", "Learning Facilitator (LF)", "Start date"],
        ["Zoë Łukasiewicz", "Riverside Surgery", "Riverside PCN", "Dr Amara Okafor", "Jo Bennett",
         datetime(2026, 9, 1)],
        [None, None, None, None, None, None],
        ["Siobhán Kelly", "Mill Lane Medical Centre", "riverside-pcn", "Dr Tom Hughes", "Jo Bennett", "15/09/2026"],
    ]))
    learners = read_roster(path, PCNS, cover_labels(content))
    assert [(l.line, l.name, l.pcn, l.start_date) for l in learners] == [
        (2, "Zoë Łukasiewicz", "riverside-pcn", "2026-09-01"), (4, "Siobhán Kelly", "riverside-pcn", "2026-09-15")]


def test_xlsx_problems_name_the_row(tmp_path):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(xlsx([["name", "practice", "pcn", "supervisor", "facilitator", "start_date"],
                           ["Zoë", "Riverside Surgery", "Hillside", "Dr A", "Jo", "31/02/2026"]]))
    assert problems(path) == [
        "cohort.xlsx: row 2: unknown PCN 'Hillside' (profiles: riverside-pcn; create one with 'portfolio profile new')",
        "cohort.xlsx: row 2: start date '31/02/2026' is not a date (use DD/MM/YYYY or YYYY-MM-DD)"]


def test_a_damaged_or_bomb_xlsx_is_refused_with_one_line(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert problems(broken) == ["broken.xlsx: is not an Excel .xlsx workbook (save it as .xlsx or CSV UTF-8)"]
    bomb = tmp_path / "bomb.xlsx"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 150_000_000)
    bomb.write_bytes(out.getvalue())
    assert problems(bomb) == ["bomb.xlsx: is too large or too compressed to be a roster; save it as CSV UTF-8"]
    fake = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("hello.txt", "hi")
    [message] = problems(fake)
    assert message.startswith("fake.xlsx: cannot be read as an Excel workbook (")


def test_the_shipped_content_gives_cover_labels_for_every_required_column():
    assert set(cover_labels(load_content())) == {"name", "practice", "pcn", "supervisor", "facilitator",
                                                  "start_date"}


def test_a_file_too_big_to_be_a_roster_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "roster.csv"
    with path.open("wb") as handle:  # 20 MB and a byte, sparse: never read
        handle.truncate(20_000_001)
    assert problems(path) == ["roster.csv: is over 20 MB; a roster is far smaller: check that this is the roster (one "
                              "row per learner), or split the cohort into several rosters"]
