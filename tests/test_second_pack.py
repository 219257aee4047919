"""A second pack with other ids (tests/packs/mentoring) goes through every stage with no code change.

Its pack.yaml declares its own cover fields, separately issued part and progress
rules; build, issue, fill, ingest, records, export and report read them from there.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from generator import api
from generator.cli.common import main
from generator.errors import ContentError
from tests.conftest import ROOT, need_tool

PACK = ROOT / "tests" / "packs" / "mentoring"
ROSTER = ("name,practice,pcn,supervisor,facilitator,start_date\n"
          "Åsa Øberg,Hillside Surgery,hillside-pcn,Dr Idris Khan,Mo Fadel,03/02/2027\n"
          "Dafydd ap Gruffudd,Hillside Surgery,hillside-pcn,Dr Idris Khan,Mo Fadel,2027-02-10\n")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("mentoring")
    roster = out / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    run("issue", str(roster), "--content", str(PACK), "--cohort", "Spring", "--out", str(out),
        "--feedback-forms", "2", "--jobs", "1", "--store", str(out / "none.sqlite"))
    return out


def test_check_and_build_the_second_pack(tmp_path):
    output = run("check", "--content", str(PACK))
    assert output.splitlines() == ["content OK: mentoring-log 0.3.0, 5 sections, 22 fields (optional forms included)",
                                   "profiles OK: 1 (hillside-pcn)"]
    result = api.build(tmp_path, content_dir=PACK, formats=["pdf"])
    assert result.outputs == {"pdf": tmp_path / "mentoring-log.pdf"}
    need_tool("qpdf")
    subprocess.run(["qpdf", "--check", str(result.outputs["pdf"])], check=True, capture_output=True)


def test_issue_fills_the_declared_cover_fields_and_issues_the_declared_part(issued):
    cohort = issued / "spring"
    rows = list(csv.DictReader(io.StringIO((cohort / "issued.csv").read_text(encoding="utf-8"))))
    assert sorted((r["learner"], r["document"]) for r in rows) == sorted(
        [(name, doc) for name in ("Åsa Øberg", "Dafydd ap Gruffudd")
         for doc in ("pack", "pack", "visitor_survey", "visitor_survey")])
    record = api.read(cohort / "hillside-pcn" / "asa-oberg.pdf").record
    assert {k: v for k, v in record.fields.items() if k.startswith("front.")} == {
        "front.about.trainee": "Åsa Øberg", "front.about.site": "Hillside Surgery",
        "front.about.network": "Hillside Primary Care Network", "front.about.mentor": "Dr Idris Khan",
        "front.about.lead": "Mo Fadel", "front.about.began": "2027-02-03"}
    assert record.warnings == ["content version '0.3.0' of pack 'mentoring-log' is not known to this version of "
                               "the tool; read from the definitions embedded in the copy"]
    survey = api.read(cohort / "hillside-pcn" / "asa-oberg-feedback-01.pdf").record
    assert survey.pack["part"] == "visitor_survey"
    assert sorted(survey.fields) == ["visitor_survey.notes.remarks", "visitor_survey.scores.clarity",
                                     "visitor_survey.scores.welcome"]


def test_filled_copies_ingest_and_report_progress_by_the_declared_rules(issued, tmp_path):
    folder = issued / "spring" / "hillside-pcn"
    returned = tmp_path / "returned"
    returned.mkdir()
    api.fill(folder / "asa-oberg.pdf", {
        "skills.listening.attends.met": True, "skills.listening.summarises.met": False,
        "skills.listening_check.mentor.name": "Dr Idris Khan", "skills.listening_check.mentor.date": "2027-03-01",
        "skills.listening_check.met_overall": True,
        "reflections.entries.first.happened": "A long call.", "reflections.entries.first.learned": "Pause more.",
        "reflections.entries.second.happened": "A visit.",
        "closing.sign.trainee.name": "Åsa Øberg", "closing.sign.trainee.date": "2027-04-01",
    }, returned / "asa.pdf")
    api.fill(folder / "asa-oberg-feedback-01.pdf", {"visitor_survey.scores.welcome": "five",
                                                     "visitor_survey.scores.clarity": "four"}, returned / "s1.pdf")
    api.fill(folder / "asa-oberg-feedback-02.pdf", {"visitor_survey.scores.welcome": "three"}, returned / "s2.pdf")
    store = tmp_path / "records.sqlite"
    result = api.ingest([returned], store=store, registers=[issued / "spring" / "issued.csv"], jobs=1)
    assert sorted(o.status for o in result.files) == ["new", "new", "new"]

    learners = {lp.name: lp for lp in api.records(store)}
    assert set(learners) == {"Åsa Øberg", "Dafydd ap Gruffudd"}
    asa = learners["Åsa Øberg"]
    assert [(d.id, d.achieved, d.total, d.signed_off, d.assessor_achieved) for d in asa.domains] == [
        ("listening", 1, 2, True, True)]
    assert (asa.case_studies.done, asa.case_studies.total) == (1, 2)
    assert (asa.values.done, asa.values.total) == (0, 0)  # this pack declares no values worksheet
    assert (asa.final.signed, asa.final.by, asa.final.missing) == (False, ["trainee"], ["mentor"])
    assert asa.feedback.forms == 2
    assert {q.id: q.mean for q in asa.feedback.questions} == {"welcome": 2.0, "clarity": 2.0}
    assert not learners["Dafydd ap Gruffudd"].returned

    text = run("records", "--store", str(store))
    assert "  competencies   1/2 areas: Listening 1/2" in text
    exported = json.loads(api.export(store, "json").text)["records"]
    assert sorted(str(r["pack"]["part"]) for r in exported) == ["pack", "visitor_survey", "visitor_survey"]
    [pack] = [r for r in exported if r["pack"]["part"] == "pack"]
    assert pack["fields"]["reflections.entries.first.learned"] == "Pause more."
    long_csv = api.export(store, "csv-long").text
    assert "skills.listening_check.met_overall" in long_csv and "visitor_survey.scores.welcome" in long_csv
    report = api.report(store, tmp_path / "report", formats=["html"], title="Spring mentoring")
    html = report.outputs["html"].read_text(encoding="utf-8")
    assert "Spring mentoring" in html and "Åsa Øberg" in html and "Listening" in html


def test_roles_that_name_no_field_are_reported_by_check(tmp_path):
    content = tmp_path / "pack"
    shutil.copytree(PACK, content)
    pack = content / "pack.yaml"
    text = pack.read_text(encoding="utf-8")
    text = text.replace("name: front.about.trainee", "name: front.about.learner")
    text = text.replace('"closing.sign.{group}.{item}"', '"closing.signatures.{group}.{item}"')
    text = text.replace("separate_part: visitor_survey", "separate_part: survey")
    pack.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        api.check(content)
    assert [(p.path, p.code) for p in caught.value.problems] == [
        ("roles.cover.name", "E-CONTENT-ROLE"), ("roles.separate_part", "E-CONTENT-ROLE"),
        ("roles.progress.final_signature", "E-CONTENT-ROLE")]
    pack.write_text(text.replace("roles:\n", "roles:\n  colour: blue\n").replace(
        '"skills.{group}.{item}.met"', '"skills.*.met"'), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        api.check(content)
    assert [(p.path, p.code) for p in caught.value.problems] == [
        ("roles.colour", "E-CONTENT-KEY"), ("roles.progress.competency_area", "E-CONTENT-ROLE")]
