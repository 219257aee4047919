"""Issuing a cohort: roster checks, stamped copies that read back, unique instance ids."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.loader import load_content
from generator.errors import ContentError
from generator.issuing.issue import issue_cohort
from generator.issuing.roster import read_roster, safe_name
from generator.reading.read import read_file
from tests.conftest import need_tool

HEADER = "name,practice,pcn,supervisor,facilitator,start_date,email\n"
ROWS = [
    "Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr Amara Okafor,Jo Bennett,01/09/2026,zoe@example.nhs.uk",
    "Siobhán Kelly,Mill Lane Medical Centre,riverside-pcn,Dr Tom Hughes,Jo Bennett,2026-09-15,",
    "Ngozi Okonkwo-Smith,Northgate Health Centre,riverside-pcn,Dr Amara Okafor,Sam Hart,1 October 2026,",
]


def register_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def roster(tmp_path: Path, rows: list[str], name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("issued")
    path = roster(out, ROWS)
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "2026 Autumn", "--out", str(out),
                                       "--feedback-forms", "2", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    return out / "2026-autumn", result.output


def test_every_learner_gets_both_formats_and_their_feedback_forms(issued):
    cohort, output = issued
    files = sorted(p.relative_to(cohort).as_posix() for p in cohort.rglob("*") if p.is_file())
    stems = ["ngozi-okonkwo-smith", "siobhan-kelly", "zoe-lukasiewicz"]
    expected = ["issued.csv"] + sorted(
        f"riverside-pcn/{s}{suffix}" for s in stems
        for suffix in (".pdf", ".docx", "-feedback-01.pdf", "-feedback-02.pdf"))
    assert files == sorted(expected)
    assert "issued 3 learners, 12 files" in output


def test_stamped_copies_read_back_with_cover_values_and_their_own_instance_id(issued):
    cohort, _ = issued
    register = register_rows(cohort / "issued.csv")
    by_file = {row["file"]: row for row in register}
    for fmt in ("pdf", "docx"):
        record = read_file(cohort / f"riverside-pcn/zoe-lukasiewicz.{fmt}")
        assert record.fields["cover.details.name"] == "Zoë Łukasiewicz"
        assert record.fields["cover.details.practice"] == "Riverside Surgery"
        assert record.fields["cover.details.pcn"] == "Riverside Primary Care Network"
        assert record.fields["cover.details.supervisor"] == "Dr Amara Okafor"
        assert record.fields["cover.details.start_date"] == "2026-09-01"
        assert record.pack["learner"]["name"] == "Zoë Łukasiewicz"
        assert record.pack["pcn"] == {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
        assert record.pack["instance_id"] == by_file[f"riverside-pcn/zoe-lukasiewicz.{fmt}"]["instance_id"]
        assert record.warnings == []
        others = {k: v for k, v in record.fields.items() if not k.startswith("cover.")}
        assert all(v in (None, False) for v in others.values())
    feedback = read_file(cohort / "riverside-pcn/zoe-lukasiewicz-feedback-02.pdf")
    assert feedback.pack["part"] == "patient_feedback"
    assert all(k.startswith("patient_feedback.") for k in feedback.fields)
    assert feedback.pack["instance_id"] == by_file["riverside-pcn/zoe-lukasiewicz-feedback-02.pdf"]["instance_id"]


def test_instance_ids_are_unique_per_pack_and_per_feedback_form(issued):
    cohort, _ = issued
    register = register_rows(cohort / "issued.csv")
    packs = {(r["learner"], r["instance_id"]) for r in register if r["document"] == "pack"}
    assert len(packs) == 3 and len({i for _, i in packs}) == 3  # one id per learner's pack (PDF and DOCX share it)
    forms = [r["instance_id"] for r in register if r["document"] == "patient_feedback"]
    assert len(forms) == 6 and len(set(forms)) == 6
    assert not set(forms) & {i for _, i in packs}
    assert {r["email"] for r in register if r["learner"] == "Zoë Łukasiewicz"} == {"zoe@example.nhs.uk"}


def test_stamped_pdf_is_valid_and_keeps_the_rendered_pages(issued):
    need_tool("qpdf")
    cohort, _ = issued
    path = cohort / "riverside-pcn/siobhan-kelly.pdf"
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "No syntax or stream encoding errors" in result.stdout
    other = (cohort / "riverside-pcn/zoe-lukasiewicz.pdf").read_bytes()
    shared = path.read_bytes()
    blank_length = next(i for i in range(min(len(shared), len(other))) if shared[i] != other[i])
    # The copies differ only in the appended update (cover values, manifest, each page's QR code).
    assert blank_length > 0.85 * len(shared)


def test_pdftk_reads_the_stamped_values(issued):
    need_tool("pdftk")
    cohort, _ = issued
    out = subprocess.run(["pdftk", str(cohort / "riverside-pcn/siobhan-kelly.pdf"), "dump_data_fields_utf8"],
                         capture_output=True, text=True, check=True).stdout
    assert "FieldName: cover.details.name\nFieldNameAlt: Cover: Name\nFieldFlags: 0\nFieldValue: Siobhán Kelly" in out


def test_a_second_run_keeps_earlier_instance_ids_on_record(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    content = load_content()
    learners = read_roster(path, {"riverside-pcn"})
    first = issue_cohort(learners, "Spring", tmp_path, content, ("pdf",), jobs=1)
    second = issue_cohort(learners, "Spring", tmp_path, content, ("pdf",), jobs=1, replace=True)
    rows = register_rows(second.register)
    assert first.register == second.register and len(rows) == 2
    assert rows[0]["instance_id"] != rows[1]["instance_id"]


def test_bad_rows_are_all_reported_with_line_numbers_before_anything_is_written(tmp_path):
    path = roster(tmp_path, [
        ROWS[0],
        "Priya Natarajan,High Street Practice,,Dr Li,Sam Hart,2026-09-01,",
        ROWS[0],
        ",Riverside Surgery,nowhere-pcn,Dr X,Y,31/02/2026,not-an-email",
    ])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "x", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "roster.csv: line 3: missing pcn",
        "roster.csv: line 4: duplicate learner 'Zoë Łukasiewicz' in riverside-pcn (first on line 2)",
        "roster.csv: line 5: missing name",
        "roster.csv: line 5: unknown PCN 'nowhere-pcn' (profiles: riverside-pcn; create one with "
        "'portfolio profile new')",
        "roster.csv: line 5: start date '31/02/2026' is not a date (use DD/MM/YYYY or YYYY-MM-DD)",
        "roster.csv: line 5: email 'not-an-email' is not an email address",
        "Error: 6 problems in roster.csv; nothing was issued",
    ]
    assert not (tmp_path / "out").exists()


def test_roster_header_and_encoding_problems(tmp_path):
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("name,practice,team\nA,B,C\n")
    with pytest.raises(ContentError) as info:
        read_roster(bad_header, {"riverside-pcn"})
    assert [str(p) for p in info.value.problems] == [
        "bad.csv: line 1: missing column(s): pcn, supervisor, facilitator, start_date (the header needs: name, "
        "practice, pcn, supervisor, facilitator, start_date; optional: email)",
        "bad.csv: line 1: unknown column 'team'"]
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + ROWS[1]).encode("latin-1"))
    with pytest.raises(ContentError, match="is not UTF-8 text; save the spreadsheet as 'CSV UTF-8'"):
        read_roster(latin1, {"riverside-pcn"})


def test_spreadsheet_bom_and_blank_lines_are_fine(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(("\ufeff" + HEADER + ROWS[0] + "\n\n,,,,,,\n" + ROWS[1] + "\n").encode("utf-8"))
    assert [l.name for l in read_roster(path, {"riverside-pcn"})] == ["Zoë Łukasiewicz", "Siobhán Kelly"]


@pytest.mark.parametrize("name, expected", [
    ("Zoë Łukasiewicz", "zoe-lukasiewicz"), ("Siobhán Ní Bhriain", "siobhan-ni-bhriain"),
    ("Åsa Øberg", "asa-oberg"), ("O'Neill/../../etc", "o-neill-etc"), ("李小龙", "learner")])
def test_safe_file_names(name, expected):
    assert safe_name(name) == expected


def test_same_file_name_for_two_learners_gets_a_suffix(tmp_path):
    path = roster(tmp_path, [ROWS[0], "Zoe Lukasiewicz,Mill Lane Medical Centre,riverside-pcn,Dr T,Jo,01/09/2026,"])
    result = issue_cohort(read_roster(path, {"riverside-pcn"}), "c", tmp_path, load_content(), ("docx",), jobs=1)
    names = sorted(p.name for p in (result.cohort_dir / "riverside-pcn").iterdir())
    assert names == ["zoe-lukasiewicz-2.docx", "zoe-lukasiewicz.docx"]


def test_issued_packs_are_recorded_in_an_existing_records_store(tmp_path):
    from generator.records.connect import open_store
    store_file = tmp_path / "records.sqlite"
    open_store(store_file).close()
    path = roster(tmp_path, ROWS[:2])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"),
                                       "--format", "pdf", "--store", str(store_file), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert f"and in the records store {store_file} (2 new of 2 issued files)" in result.output
    with open_store(store_file, create=False) as store:
        assert sorted(p.learner for p in store.issued()) == ["Siobhán Kelly", "Zoë Łukasiewicz"]


def test_without_a_records_store_the_register_alone_holds_the_ids(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"),
                                       "--format", "docx", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 0 and "and in the records store" not in result.output
    store = tmp_path / "none.sqlite"
    assert (f"not recorded in a records store: {store} does not exist yet; to create it and record them: "
            f"portfolio ingest --register {tmp_path / 'out' / 'c' / 'issued.csv'} --store {store}") in result.output
    assert not (tmp_path / "none.sqlite").exists()


def test_stamped_values_carry_their_own_appearance(issued):
    """Viewers that do not build appearances (NeedAppearances is off) still show the cover values."""
    from pypdf import PdfReader
    cohort, _ = issued
    reader = PdfReader(cohort / "riverside-pcn/zoe-lukasiewicz.pdf")
    assert reader.trailer["/Root"]["/AcroForm"]["/NeedAppearances"] == False  # noqa: E712 (a pypdf BooleanObject)
    name = reader.get_fields()["cover.details.name"].indirect_reference.get_object()
    stream = name["/AP"]["/N"].get_object()
    assert b"(Zo\xeb \xffukasiewicz) Tj" in stream.get_data()
    font = stream["/Resources"]["/Font"]["/Helv"]
    assert list(font["/Encoding"]["/Differences"]) == [255, "/Lslash"]


def test_issuing_again_never_overwrites_a_copy_already_handed_out(tmp_path):
    path = roster(tmp_path, ROWS[:2])
    args = ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"), "--jobs", "1"]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.pdf")}
    again = CliRunner().invoke(main, [*args, "--format", "pdf"])
    assert again.exit_code == 1
    assert again.output.startswith("Error: 2 file(s) were issued before in ")
    assert "(riverside-pcn/zoe-lukasiewicz.pdf, riverside-pcn/siobhan-kelly.pdf); nothing was written." in again.output
    assert {p: p.read_bytes() for p in before} == before
    replaced = CliRunner().invoke(main, [*args, "--format", "pdf", "--replace"])
    assert replaced.exit_code == 0 and "issued 2 learners, 2 files" in replaced.output


def test_a_cohort_name_needs_letters_or_digits(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "   ", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == "Error: cohort name '   ' needs letters or digits (e.g. '2026 autumn')\n"


def test_near_duplicate_names_never_share_a_file(tmp_path):
    from generator.issuing.issue import _file_names
    from generator.issuing.roster import Learner
    people = [Learner(n, name, "P", "riverside-pcn", "S", "F", "2026-09-01")
              for n, name in enumerate(["Jo Smith", "Jo-Smith", "Jo Smith 2", "jo smith"], 2)]
    assert list(_file_names(people).values()) == ["jo-smith", "jo-smith-2", "jo-smith-2-2", "jo-smith-3"]


def test_a_failure_midway_still_records_every_copy_written(tmp_path, monkeypatch):
    import generator.issuing.issue as issue_module
    real = issue_module._issue_one

    def failing(learner, *args):
        if learner.name == "Siobhán Kelly":
            raise OSError(28, "No space left on device")
        return real(learner, *args)
    monkeypatch.setattr(issue_module, "_issue_one", failing)
    path = roster(tmp_path, ROWS)
    with pytest.raises(issue_module.IssueError, match=r"1 batch\(es\) stopped \(roster line 3: .*No space left"):
        issue_cohort(read_roster(path, {"riverside-pcn"}), "c", tmp_path, load_content(), ("pdf",), jobs=1)
    register = register_rows(tmp_path / "c" / "issued.csv")
    written = sorted(p.name for p in (tmp_path / "c" / "riverside-pcn").iterdir())
    assert sorted(r["file"].split("/")[1] for r in register) == written
    assert "siobhan-kelly.pdf" not in written and "zoe-lukasiewicz.pdf" in written


def test_a_practice_the_profile_does_not_list_gets_a_warning(tmp_path):
    path = roster(tmp_path, ["Ngozi Okonkwo-Smith,High Street Practice,riverside-pcn,Dr A,Sam Hart,01/10/2026,"])
    result = CliRunner().invoke(main, ["issue", str(path), "--cohort", "c", "--out", str(tmp_path / "out"),
                                       "--format", "docx", "--jobs", "1"])
    assert result.exit_code == 0
    assert ("warning: roster.csv: line 2: practice 'High Street Practice' is not among riverside-pcn's practices "
            "(Mill Lane Medical Centre, Northgate Health Centre, Riverside Surgery)") in result.output


def test_a_second_issue_with_nothing_changed_renders_nothing(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    content = load_content()
    learners = read_roster(path, {"riverside-pcn"})
    first = issue_cohort(learners, "Spring", tmp_path, content, ("pdf", "docx"), jobs=1)
    assert first.reused == []
    kept = sorted(p.name.rsplit("-", 1)[0] + "." + p.suffix[1:] for p in (tmp_path / ".render-cache").iterdir())
    assert kept == ["riverside-pcn.docx", "riverside-pcn.pdf"]
    second = issue_cohort(learners, "Autumn", tmp_path, content, ("pdf", "docx"), jobs=1)
    assert second.reused == ["riverside-pcn.pdf", "riverside-pcn.docx"]
    copy = read_file(second.cohort_dir / "riverside-pcn" / f"{safe_name(learners[0].name)}.pdf")
    assert copy.fields["cover.details.name"] == learners[0].name
    assert copy.pack["instance_id"] == register_rows(second.register)[0]["instance_id"]
    # without the cache, it renders again (and the kept blanks stay one per PCN and format)
    third = issue_cohort(learners, "Winter", tmp_path, content, ("pdf",), jobs=1, cache=False)
    assert third.reused == [] and len(list((tmp_path / ".render-cache").iterdir())) == 2


def test_issue_says_when_it_rendered_nothing(tmp_path):
    path = roster(tmp_path, ROWS[:1])
    args = ["issue", str(path), "--format", "pdf", "--out", str(tmp_path / "out"), "--store", str(tmp_path / "r.sqlite")]
    first = CliRunner().invoke(main, [*args, "--cohort", "one"])
    assert first.exit_code == 0, first.output
    assert "rendered nothing" not in first.output
    second = CliRunner().invoke(main, [*args, "--cohort", "two"])
    assert second.exit_code == 0, second.output
    assert ("rendered nothing for riverside-pcn.pdf: nothing changed since it was rendered (--rebuild renders again)"
            in second.output)
    third = CliRunner().invoke(main, [*args, "--cohort", "three", "--rebuild"])
    assert third.exit_code == 0 and "rendered nothing" not in third.output
