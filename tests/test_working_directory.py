"""Where commands read and write, whatever the working directory; every written path printed absolute."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.loader import DEFAULT_CONTENT_DIR
from generator.records.connect import open_store
from generator.records.register import issue_store

ROSTER = ("name,practice,pcn,supervisor,facilitator,start_date\n"
          "Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr Amara Okafor,Jo Bennett,01/09/2026\n")


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory of its own, with a records store in it."""
    here = tmp_path / "here"
    here.mkdir()
    open_store(here / "records.sqlite").close()
    (here / "cohort.csv").write_text(ROSTER, encoding="utf-8")
    monkeypatch.chdir(here)
    monkeypatch.delenv("PORTFOLIO_STORE", raising=False)
    return here


def test_profile_new_says_which_content_folder_and_build_reads_it(tmp_path, monkeypatch):
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    monkeypatch.chdir(tmp_path)
    made = run("profile", "new", "hillside-pcn", "--content", "content")
    assert made.exit_code == 0, made.output
    path = content / "pcns" / "hillside-pcn" / "profile.yaml"
    assert made.output.splitlines() == [
        f"wrote {path}",
        f"(in the content folder {content}, which build, check and issue read when given --content {content})",
        f"Edit it, add a logo beside it, then run: portfolio check --content {content}"]
    built = run("build", "--content", "content", "--profile", "hillside-pcn", "--format", "docx", "--out", "out")
    assert built.exit_code == 0, built.output
    written = tmp_path / "out" / "hillside-pcn" / "care-coordination-portfolio.docx"
    assert written.is_file() and built.output.startswith(f"wrote {written} (")  # absolute


def test_issue_out_elsewhere_is_not_recorded_in_the_store_of_the_current_folder(elsewhere, tmp_path):
    out = tmp_path / "shared-drive"
    result = run("issue", "cohort.csv", "--cohort", "Spring", "--out", str(out), "--format", "docx", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert f"issued 1 learners, 1 files in {out / 'spring'} (" in result.output
    assert f"instance ids recorded in {out / 'spring' / 'issued.csv'}" in result.output
    assert "not recorded in a records store" in result.output
    with open_store(elsewhere / "records.sqlite", create=False) as store:
        assert store.issued() == []
    named = run("issue", "cohort.csv", "--cohort", "Spring", "--out", str(out), "--format", "docx", "--jobs", "1",
                "--replace", "--store", "records.sqlite")
    assert named.exit_code == 0, named.output
    assert f"and in the records store {elsewhere / 'records.sqlite'} (2 new of 2 issued files)" in named.output


def test_issue_into_the_working_directory_records_in_its_store(elsewhere):
    result = run("issue", "cohort.csv", "--cohort", "Spring", "--format", "docx", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert f"issued 1 learners, 1 files in {elsewhere / 'build' / 'spring'} (" in result.output
    assert f"and in the records store {elsewhere / 'records.sqlite'} (1 new of 1 issued files)" in result.output


def test_issue_store_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTFOLIO_STORE", raising=False)
    (tmp_path / "records.sqlite").write_bytes(b"")
    assert issue_store(None, tmp_path / "build", cwd=tmp_path) == tmp_path / "records.sqlite"
    assert issue_store(None, tmp_path.parent / "elsewhere", cwd=tmp_path) is None
    assert issue_store(tmp_path / "records.sqlite", tmp_path.parent / "elsewhere", cwd=tmp_path) == \
        tmp_path / "records.sqlite"
    assert issue_store(tmp_path / "none.sqlite", tmp_path / "build", cwd=tmp_path) is None
    monkeypatch.setenv("PORTFOLIO_STORE", str(tmp_path / "records.sqlite"))
    assert issue_store(None, tmp_path.parent / "elsewhere", cwd=tmp_path) == tmp_path / "records.sqlite"


def test_report_read_and_fill_print_absolute_paths(tmp_path, monkeypatch, docx_path):
    monkeypatch.chdir(tmp_path)
    shutil.copy(docx_path, tmp_path / "pack.docx")
    (tmp_path / "answers.json").write_text('{"cover.details.name": "Kai Jensen"}', encoding="utf-8")
    filled = run("fill", "pack.docx", "answers.json", "-o", "kai.docx")
    assert filled.exit_code == 0 and filled.output == f"wrote {tmp_path / 'kai.docx'} (1 values)\n"
    read = run("read", "kai.docx", "-o", "kai.json")
    assert read.exit_code == 0 and f"wrote {tmp_path / 'kai.json'} (" in read.output
    assert run("ingest", "kai.docx", "--jobs", "1").exit_code == 0
    report = run("report", "--format", "html", "--out", "reports")
    assert report.exit_code == 0 and report.output == f"wrote {tmp_path / 'reports' / 'cohort-progress.html'} " \
                                                      "(1 learners)\n"
    export = run("export", "-o", "records.csv")
    assert export.exit_code == 0 and f"wrote {tmp_path / 'records.csv'}" in export.output


def test_issue_records_into_a_postgresql_store_named_by_url(tmp_path, pg_url):
    from generator.records.connect import open_store
    open_store(pg_url).close()  # the store exists
    assert issue_store(pg_url, tmp_path / "build", cwd=tmp_path) == pg_url
    roster = tmp_path / "roster.csv"
    roster.write_text("name,practice,pcn,supervisor,facilitator,start_date\n"
                      "Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr Ann Li,Sam Hart,01/09/2026\n",
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["issue", str(roster), "--cohort", "spring", "--format", "pdf",
                                       "--out", str(tmp_path / "build"), "--store", pg_url])
    assert result.exit_code == 0, result.output
    assert "(1 new of 1 issued files)" in result.output
    with open_store(pg_url, create=False) as store:
        assert [p.learner for p in store.issued()] == ["Zoë Łukasiewicz"]


def test_issue_says_when_the_named_store_does_not_exist_yet(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,practice,pcn,supervisor,facilitator,start_date\n"
                      "Kai Jensen,Riverside Surgery,riverside-pcn,Dr Ann Li,Sam Hart,01/09/2026\n", encoding="utf-8")
    store = tmp_path / "new.sqlite"
    result = CliRunner().invoke(main, ["issue", str(roster), "--cohort", "spring", "--format", "pdf",
                                       "--out", str(tmp_path / "build"), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert f"not recorded in a records store: {store} does not exist yet; to create it and record them: " \
           f"portfolio ingest --register {tmp_path / 'build' / 'spring' / 'issued.csv'} --store {store}" in result.output
