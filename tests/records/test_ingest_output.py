"""Ingest output a person can read at a thousand files; --quiet and --json for scripts; review and export."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.ingest import IngestResult, FileOutcome, summarise, warning_kind

PCN = {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
NHS = "999 000 0018"
TEXT_FIELDS = ["case_studies.studies.case_1.overview", "case_studies.studies.case_2.overview",
               "case_studies.studies.case_3.overview", "final_review.review.self_assessment",
               "values.worksheet.individuality.what"]


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def blank(form, theme):
    return write_docx(form, theme, make_manifest(form))


def copy(form, blank, n: int, values: dict, name: str = "Kai Jensen") -> bytes:
    manifest = make_manifest(form, instance_id=iid(n), pcn=PCN, learner={"name": name, "practice": "Riverside"},
                             created=datetime(2026, 9, 1, 10, 0))
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), values)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_warnings_are_grouped_per_file_with_a_summary_per_kind(tmp_path, form, blank):
    assert set(TEXT_FIELDS) <= {f.id for f in form.fields}
    folder = tmp_path / "returned"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(copy(form, blank, 1, {fid: f"Patient {NHS} was seen." for fid in TEXT_FIELDS},
                                           name="Zoë Ł"))
    (folder / "kai.docx").write_bytes(copy(form, blank, 2, {TEXT_FIELDS[0]: "Seen at LS1 4AP."}))
    for n in range(3, 7):
        (folder / f"quiet-{n}.docx").write_bytes(copy(form, blank, n, {TEXT_FIELDS[0]: "All went well."},
                                                      name=f"Learner {n}"))
    store = tmp_path / "records.sqlite"
    result = run("ingest", str(folder), "--store", str(store), "--jobs", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    zoe = lines.index(f"warning    {folder / 'zoe.docx'} (5 warnings):")
    assert lines[zoe + 1].startswith("            values.worksheet.individuality.what: possible nhs number "
                                     "(value not shown)")  # in document order
    assert lines[zoe + 4] == f"            and 2 more; portfolio records --warnings {folder / 'zoe.docx'}"
    assert f"warning    {folder / 'kai.docx'} (1 warning):" in lines
    assert not any("quiet-" in line for line in lines)  # files without warnings are not listed
    assert lines[-2] == "warnings: 6 possible patient identifier (in 2 files)"
    assert lines[-1].startswith("6 file(s) in ") and lines[-1].endswith(
        f"6 new, 0 unchanged, 0 superseded, 0 conflicting, 0 rejected; store {store.resolve()}")
    listed = run("records", "--store", str(store), "--warnings", str(folder / "zoe.docx"))
    assert listed.exit_code == 0
    assert listed.output.splitlines()[0] == "zoe.docx (submission 6): 5 warnings"  # read in name order
    assert NHS not in listed.output and len(listed.output.splitlines()) == 6


def test_summary_counts_per_kind():
    outcomes = [FileOutcome("a.pdf", "new", warnings=["x.y: possible postcode (value not shown); advice",
                                                      "x.z: date not understood (expected DD/MM/YYYY); kept as written"],
                            missing=["m.1", "m.2"]),
                FileOutcome("d.pdf", "new", warnings=["2 field(s) of the pack are missing from the copy: m.1, m.2"]),
                FileOutcome("b.pdf", "new", warnings=["q: possible nhs number (value not shown); advice"]),
                FileOutcome("c.pdf", "rejected", reason="is not a PDF or Word (.docx) file")]
    summary = summarise(IngestResult("records.sqlite", outcomes), shown=1)
    assert summary.kinds == {"possible patient identifier": (2, 2), "date not understood": (1, 1),
                             "fields missing from the copy": (1, 1)}
    assert [(f.path, f.more) for f in summary.files] == [("a.pdf", 1), ("d.pdf", 0), ("b.pdf", 0)]
    assert [o.path for o in summary.listed] == ["c.pdf"]
    assert warning_kind("something new") == "other"


def test_quiet_prints_the_summary_line_only_and_json_is_plain_data(tmp_path, form, blank):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(copy(form, blank, 1, {TEXT_FIELDS[0]: f"NHS {NHS}"}))
    (folder / "note.txt").write_text("not a copy")
    store = tmp_path / "records.sqlite"
    quiet = run("ingest", str(folder), "--store", str(store), "--quiet", "--jobs", "1")
    assert quiet.exit_code == 1  # note.txt was rejected
    [line] = quiet.output.splitlines()
    assert line.endswith(f"1 new, 0 unchanged, 0 superseded, 0 conflicting, 1 rejected; store {store.resolve()}")
    as_json = run("ingest", str(folder), "--store", str(store), "--json", "--jobs", "1")
    data = json.loads(as_json.output)
    assert data["counts"]["unchanged"] == 1 and data["counts"]["rejected"] == 1 and data["ok"] is False
    assert data["store"] == str(store.resolve())
    assert {f["path"]: f["status"] for f in data["files"]} == {str(folder / "note.txt"): "rejected",
                                                               str(folder / "zoe.docx"): "unchanged"}
    assert NHS not in as_json.output


@pytest.mark.parametrize("make", ["empty", "only-notes"])
def test_an_empty_folder_or_one_without_copies_says_so(tmp_path, make):
    folder = tmp_path / "returned"
    folder.mkdir()
    if make == "only-notes":
        (folder / "notes.txt").write_text("not a copy", encoding="utf-8")
    store = tmp_path / "records.sqlite"
    result = run("ingest", str(folder), "--store", str(store))
    assert result.exit_code == 1
    assert f"{folder}: no PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file here" in result.output
    assert "nothing was ingested" in result.output
    assert not store.exists()  # nothing half-written


def test_a_conflict_names_the_fields_that_differ_never_the_values(tmp_path, form, blank):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "kai.docx").write_bytes(copy(form, blank, 9, {TEXT_FIELDS[0]: "First answer.",
                                                           TEXT_FIELDS[1]: "Same."}))
    (second / "kai-again.docx").write_bytes(copy(form, blank, 9, {TEXT_FIELDS[0]: "Second answer.",
                                                                  TEXT_FIELDS[1]: "Same.",
                                                                  TEXT_FIELDS[3]: "Added later."}))
    store = tmp_path / "records.sqlite"
    assert run("ingest", str(first), "--store", str(store), "--jobs", "1").exit_code == 0
    result = run("ingest", str(second), "--store", str(store), "--jobs", "1")
    assert result.exit_code == 1
    assert (f"conflict   {second / 'kai-again.docx'}: this copy was ingested before (submission 1) with other "
            f"answers in 2 field(s): {TEXT_FIELDS[0]}, {TEXT_FIELDS[3]}; nothing was stored") in result.output
    assert "answer." not in result.output and "Added later" not in result.output
    with open_store(store) as opened:
        assert f"in {TEXT_FIELDS[0]}, {TEXT_FIELDS[3]}" in opened.audit()[-1].detail


def test_review_clear_and_export_include_flagged_from_the_command_line(tmp_path, form, blank):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(copy(form, blank, 1, {TEXT_FIELDS[3]: f"Supported patient {NHS}."}))
    store = tmp_path / "records.sqlite"
    assert run("ingest", str(folder), "--store", str(store), "--jobs", "1").exit_code == 0
    withheld = run("export", "--store", str(store))
    assert NHS not in withheld.output and "[withheld: possible NHS number]" in withheld.output
    assert "1 flagged value(s) withheld" in withheld.output
    full = run("export", "--store", str(store), "--include-flagged", "-o", str(tmp_path / "all.csv"))
    assert full.exit_code == 0
    assert "warning: 1 value(s) flagged as possible patient identifiers are written in full" in full.output
    assert f"wrote {tmp_path / 'all.csv'}" in full.output and NHS in (tmp_path / "all.csv").read_text()
    missing = run("review", "clear", str(folder / "zoe.docx"), "--store", str(store))
    assert missing.exit_code == 2 and "--reason" in missing.output
    cleared = run("review", "clear", str(folder / "zoe.docx"), "--store", str(store), "--reason", "a course code")
    assert cleared.exit_code == 0, cleared.output
    assert cleared.output == (f"cleared zoe.docx (submission 1): {TEXT_FIELDS[3]} (nhs number); recorded in the "
                              f"audit log of {store.resolve()}\n")
    after = run("export", "--store", str(store), "--format", "json")
    assert f"Supported patient {NHS}." in after.output and "withheld" not in after.output.split("\n")[-1]
    listing = run("records", "--store", str(store))
    assert "REVIEW" not in listing.output  # a cleared copy is no longer marked for review
    unknown = run("review", "clear", "77", "--store", str(store), "--reason", "x")
    assert unknown.exit_code == 1 and "submission 77: not in the records store" in unknown.output


def test_the_summary_counts_files_not_outcomes_so_a_scanned_stack_is_one_file(monkeypatch, tmp_path):
    """A printed copy of 26 pages made '27 file(s)' of two files."""
    from generator import api
    from generator.records.ingest import IngestResult

    def ingested(*args, **kwargs):
        result = IngestResult(store=str(tmp_path / "r.sqlite"))
        result.files = [FileOutcome("in/zoe.pdf", "new"), FileOutcome(
            "in/stack.pdf", "unidentified", reason="scanned pages 1, 2 and 3 not identified: no page code",
            pages=[{"page": n, "reason": "no page code", "instance_id": None} for n in (1, 2, 3)])]
        result.seconds, result.jobs = 2.0, 2
        return result

    monkeypatch.setattr(api, "ingest", ingested)
    result = run("ingest", str(tmp_path), "--store", str(tmp_path / "r.sqlite"), "-q")
    assert result.output.splitlines()[-1] == (
        f"2 file(s) in 2.0 s (2 reader(s), 1.0 files/s): 1 new, 0 unchanged, 0 superseded, 0 conflicting, "
        f"0 rejected, 3 unidentified (scanned pages); store {(tmp_path / 'r.sqlite').resolve()}")
    assert result.exit_code == 1  # pages to look at
    listed = run("ingest", str(tmp_path), "--store", str(tmp_path / "r.sqlite"))
    assert [line for line in listed.output.splitlines() if "in/stack.pdf" in line] == [
        "unidentified in/stack.pdf: scanned pages 1, 2 and 3 not identified: no page code"]
    as_json = json.loads(run("ingest", str(tmp_path), "--store", str(tmp_path / "r.sqlite"), "--json").output)
    assert [(f["path"], f["status"], f["pages"]) for f in as_json["files"]] == [
        ("in/zoe.pdf", "new", []),
        ("in/stack.pdf", "unidentified", [{"page": n, "reason": "no page code", "instance_id": None} for n in (1, 2, 3)])]
    assert as_json["counts"]["unidentified"] == 3 and as_json["ok"] is False


def test_ingest_help_says_unidentified_pages_exit_with_1():
    text = " ".join(run("ingest", "--help").output.split())
    assert ("Exits with 1 when any file was rejected, conflicting or failed, or left a scanned page unidentified "
            "(the others are stored all the same); 2 for a usage mistake; 130 when interrupted.") in text
