"""Learner progress as data, the records command, and the cohort report (HTML and PDF)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from generator.cli.common import main
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.ingest import ingest
from generator.content.roles import parse_roles
from generator.records.progress import LearnerProgress, summarise
from generator.records.report import render_report, write_report
from generator.records.store import Definition, FieldValue, IssuedPack, SubmissionRow

SCALE = [{"value": v, "label": l} for v, l in (("very_happy", "Very happy"), ("happy", "Happy"),
                                                ("unsure", "I am unsure"), ("unhappy", "Unhappy"),
                                                ("very_unhappy", "Very unhappy"))]


#: The made-up pack's roles, as its pack.yaml would declare them.
ROLES, PROBLEMS = parse_roles({"progress": {
    "signoff": "competencies.{group}_signoff.signature.{item}",
    "signoff_agreed": "competencies.{group}_signoff.achieved",
    "competency_area": "competencies.{group}.{item}.achieved",
    "values_entry": "values.worksheet.{group}.{item}",
    "case_study": "case_studies.studies.{group}.{item}",
    "initial_signature": "initial_discussion.signatures.{group}.{item}",
    "final_signature": "final_review.signatures.{group}.{item}",
    "feedback_rating": "patient_feedback.ratings.{group}",
}})


def f(fid: str, kind: str, label: str, options=()) -> dict:
    """A field definition as the manifest writes it, with its progress rule."""
    definition = {"id": fid, "kind": kind, "label": label, "options": list(options)}
    if ROLES.progress_of(fid):
        definition["progress"] = ROLES.progress_of(fid)
    return definition


#: A made-up pack: two domains of 3 and 1 areas, two values, two case studies, signatures, a rating.
FIELDS = [
    f("competencies.alpha.one.achieved", "checkbox", "Alpha Skills: One: Achieved"),
    f("competencies.alpha.two.achieved", "checkbox", "Alpha Skills: Two: Achieved"),
    f("competencies.alpha.three.achieved", "checkbox", "Alpha Skills: Three: Achieved"),
    f("competencies.alpha_signoff.signature.name", "signature", "Alpha Skills: Assessor sign-off: signature"),
    f("competencies.alpha_signoff.signature.date", "date", "Alpha Skills: Assessor sign-off: date"),
    f("competencies.alpha_signoff.achieved", "yesno", "Alpha Skills: Assessor sign-off: Achieved",
      [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]),
    f("competencies.beta.only.achieved", "checkbox", "Beta: Only: Achieved"),
    f("competencies.beta_signoff.signature.name", "signature", "Beta: Assessor sign-off: signature"),
    f("competencies.beta_signoff.signature.date", "date", "Beta: Assessor sign-off: date"),
    f("values.worksheet.dignity.what", "longtext", "Values: Dignity: What"),
    f("values.worksheet.dignity.why", "longtext", "Values: Dignity: Why"),
    f("values.worksheet.respect.what", "longtext", "Values: Respect: What"),
    f("values.worksheet.respect.why", "longtext", "Values: Respect: Why"),
    f("case_studies.studies.case_1.overview", "longtext", "Case 1: Overview"),
    f("case_studies.studies.case_1.outcomes", "longtext", "Case 1: Outcomes"),
    f("case_studies.studies.case_2.overview", "longtext", "Case 2: Overview"),
    f("case_studies.studies.case_2.outcomes", "longtext", "Case 2: Outcomes"),
    f("initial_discussion.signatures.care_coordinator.name", "signature", "Initial: Care coordinator: name"),
    f("initial_discussion.signatures.care_coordinator.date", "date", "Initial: Care coordinator: date"),
    f("initial_discussion.signatures.additional.name", "signature", "Initial: Additional (if applicable): name"),
    f("initial_discussion.signatures.additional.date", "date", "Initial: Additional (if applicable): date"),
    f("final_review.signatures.care_coordinator.name", "signature", "Final: Care coordinator: name"),
    f("final_review.signatures.care_coordinator.date", "date", "Final: Care coordinator: date"),
    f("final_review.signatures.facilitator.name", "signature", "Final: Facilitator: name"),
    f("final_review.signatures.facilitator.date", "date", "Final: Facilitator: date"),
    f("patient_feedback.ratings.kind", "choice", "Patient feedback: How happy: Was kind?", SCALE),
]
FEEDBACK_FIELDS = [FIELDS[-1]]
PACK = Definition("p" * 64, "pack", None, "pack", "1.0.0", "h", FIELDS)
FEEDBACK = Definition("f" * 64, "pack", "patient_feedback", "pack", "1.0.0", "h", FEEDBACK_FIELDS)


def sub(sid: int, definition: Definition, key: str = "k-zoe", name: str = "Zoë", superseded_by=None,
        at: str = "2026-10-01") -> SubmissionRow:
    return SubmissionRow(
        id=sid, sha256=f"{sid:064d}", filename=f"{sid}.docx", size=1, format="docx", editor="Word",
        ingested_at=at, instance_id=f"i-{sid}", version=1, supersedes=None, superseded_by=superseded_by,
        pack_id="pack", part=definition.part, content_id="pack", content_version="1.0.0", content_hash="h",
        generator_version="0.1.0", definition_id=definition.id, learner_key=key, learner_name=name,
        practice="Riverside Surgery", pcn="riverside-pcn", pcn_name="Riverside", learner={}, pcn_facts={})


def vals(**values) -> list[FieldValue]:
    out = []
    for fid, value in values.items():
        fid = fid.replace("__", ".")
        position = next((i + 1 for i, o in enumerate(SCALE) if o["value"] == value), None) \
            if fid.startswith("patient_feedback") else None
        out.append(FieldValue(fid, "read", value, position))
    return out


PACK_VALUES = vals(**{
    "competencies.alpha.one.achieved": True, "competencies.alpha.two.achieved": True,
    "competencies.alpha.three.achieved": False, "competencies.beta.only.achieved": True,
    "competencies.alpha_signoff.signature.name": "Dr A", "competencies.alpha_signoff.signature.date": "2026-10-01",
    "competencies.alpha_signoff.achieved": True,
    "competencies.beta_signoff.signature.name": "Dr B", "competencies.beta_signoff.signature.date": None,
    "values.worksheet.dignity.what": "text", "values.worksheet.dignity.why": "text",
    "values.worksheet.respect.what": "text", "values.worksheet.respect.why": "  ",
    "case_studies.studies.case_1.overview": "x", "case_studies.studies.case_1.outcomes": "y",
    "case_studies.studies.case_2.overview": None, "case_studies.studies.case_2.outcomes": None,
    "initial_discussion.signatures.care_coordinator.name": "Zoë",
    "initial_discussion.signatures.care_coordinator.date": "2026-09-01",
    "final_review.signatures.care_coordinator.name": "Zoë", "final_review.signatures.care_coordinator.date": None,
    "patient_feedback.ratings.kind": "happy",
})


def test_progress_is_derived_from_the_field_definitions():
    subs = [sub(1, PACK), sub(2, FEEDBACK), sub(3, FEEDBACK), sub(4, FEEDBACK)]
    values = {1: PACK_VALUES, 2: vals(**{"patient_feedback.ratings.kind": "very_happy"}),
              3: vals(**{"patient_feedback.ratings.kind": "unhappy"}),
              4: vals(**{"patient_feedback.ratings.kind": None})}  # returned blank: not counted as received
    [lp] = summarise(subs, values, {PACK.id: PACK, FEEDBACK.id: FEEDBACK})
    assert [(d.id, d.title, d.achieved, d.total, d.signed_off, d.assessor_achieved) for d in lp.domains] == [
        ("alpha", "Alpha Skills", 2, 3, True, True), ("beta", "Beta", 1, 1, False, None)]
    assert lp.competencies == (3, 4) and lp.signoffs == (1, 2)
    assert (lp.values.done, lp.values.total, lp.values.items) == (1, 2, {"dignity": True, "respect": False})
    assert (lp.case_studies.done, lp.case_studies.total) == (1, 2)
    assert (lp.initial.signed, lp.initial.by, lp.initial.missing) == (True, ["care_coordinator"], [])
    assert (lp.final.signed, lp.final.missing) == (False, ["care_coordinator", "facilitator"])
    assert lp.feedback.forms == 3  # two answered separate forms and the pack's own
    [q] = lp.feedback.questions
    assert (q.id, q.text, q.answers, q.mean, q.counts) == ("kind", "Was kind?", 3, round(7 / 3, 2), [1, 1, 0, 1, 0])
    assert lp.feedback.scale[0] == "Very happy" and lp.pack_submission == 1 and lp.submissions == [1, 2, 3, 4]
    assert json.loads(json.dumps(lp.to_json()))["competencies"] == {"achieved": 3, "total": 4}


def test_a_superseded_pack_does_not_count_and_the_latest_pack_is_used():
    old = sub(1, PACK, superseded_by=2)
    new = sub(2, PACK, at="2026-11-01")
    values = {1: vals(**{"competencies.beta.only.achieved": True}),
              2: vals(**{"competencies.beta.only.achieved": False})}
    [lp] = summarise([old, new], values, {PACK.id: PACK})
    assert lp.pack_submission == 2 and lp.submissions == [2]
    assert next(d for d in lp.domains if d.id == "beta").achieved == 0


def test_issued_learners_without_returns_are_listed_and_sorted():
    issued = [IssuedPack("i-9", "pack", "Aled", "Hill", "riverside-pcn", "", "", "", "", "a.pdf", "pack", "1.0.0",
                         "", "k-aled")]
    learners = summarise([sub(1, PACK)], {1: PACK_VALUES}, {PACK.id: PACK}, issued)
    assert [(lp.name, lp.returned, lp.issued) for lp in learners] == [("Aled", False, 1), ("Zoë", True, 0)]


def test_only_feedback_returned_has_no_pack_figures():
    [lp] = summarise([sub(5, FEEDBACK)], {5: vals(**{"patient_feedback.ratings.kind": "unsure"})},
                     {FEEDBACK.id: FEEDBACK})
    assert lp.pack_submission is None and lp.domains == [] and lp.feedback.forms == 1
    assert lp.feedback.questions[0].mean == 3.0


def test_rules_do_not_mistake_sign_offs_for_competency_areas():
    assert PROBLEMS == []
    assert ROLES.progress_of("competencies.alpha.one.achieved") == {
        "rule": "competency_area", "group": "alpha", "item": "one"}
    assert ROLES.progress_of("competencies.alpha_signoff.achieved") == {
        "rule": "signoff_agreed", "group": "alpha", "item": ""}
    assert ROLES.progress_of("competencies.alpha_signoff.signature.date") == {
        "rule": "signoff", "group": "alpha", "item": "date"}
    assert ROLES.progress_of("competencies.alpha.comments") is None


def test_definitions_without_a_progress_rule_or_with_a_forged_one_count_for_nothing():
    plain = [{k: v for k, v in d.items() if k != "progress"} for d in FIELDS]
    forged = [{**d, "progress": "competency_area"} for d in plain]
    for fields in (plain, forged):
        definition = Definition("q" * 64, "pack", None, "pack", "1.0.0", "h", fields)
        [lp] = summarise([sub(1, definition)], {1: PACK_VALUES}, {definition.id: definition})
        assert lp.domains == [] and lp.values.total == 0 and lp.feedback.forms == 0


# ---------------------------------------------------------------- the report

def learners() -> list[LearnerProgress]:
    subs = [sub(1, PACK, name="Zoë <b>Ł</b>"), sub(2, FEEDBACK, name="Zoë <b>Ł</b>")]
    issued = [IssuedPack("i-9", "pack", "Aled Jones", "Hill", "riverside-pcn", "", "", "", "", "a.pdf", "pack",
                         "1.0.0", "", "k-aled")]
    return summarise(subs, {1: PACK_VALUES, 2: vals(**{"patient_feedback.ratings.kind": "very_happy"})},
                     {PACK.id: PACK, FEEDBACK.id: FEEDBACK}, issued)


def test_report_html_has_a_table_and_charts_per_learner_and_escapes_names():
    html = render_report(learners(), title="Autumn cohort",
                         generated=datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc))
    assert "<title>Autumn cohort</title>" in html and "generated 01/11/2026 09:30 UTC" in html
    assert "Zoë &lt;b&gt;Ł&lt;/b&gt;" in html and "<b>Ł</b>" not in html
    section = html.split('<section class="learner">')[1]
    assert "Alpha Skills</td><td class=\"num\">2/3" in section and "Beta</td><td class=\"num\">1/1" in section
    assert section.count("<svg") >= 2 + 2 + 1  # domains, values and cases, the rating spread
    assert 'aria-label="2 of 3"' in section
    assert "Patient feedback: 2 forms" in section and "1.5" in section  # mean of happy (2) and very happy (1)
    assert "Nothing returned yet" in html and "Aled Jones" in html
    assert "Dr A" not in html  # a value (the assessor's typed name) is not printed


def test_report_is_written_as_html_and_pdf(tmp_path):
    result = write_report(learners(), tmp_path / "out", title="Autumn cohort")
    assert set(result.outputs) == {"html", "pdf", "csv"} and result.learners == 2
    pdf = PdfReader(io.BytesIO(result.outputs["pdf"].read_bytes()))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "Autumn cohort" in text and "Alpha Skills" in text and "Aled Jones" in text
    assert "areas 3/4 (75%)" in text and "sign-offs 1/2" in text  # Zoë's line
    assert "1.5" in text  # the cohort's mean answer: happy (2) and very happy (1)
    html_only = write_report(learners(), tmp_path / "html", formats=("html",))
    assert list(html_only.outputs) == ["html"] and not (tmp_path / "html" / "cohort-progress.pdf").exists()


def test_report_csv_has_every_figure_per_learner(tmp_path):
    result = write_report(learners(), tmp_path / "out", formats=("csv",))
    rows = list(csv.DictReader(io.StringIO(result.outputs["csv"].read_text(encoding="utf-8"))))
    zoe, aled = sorted(rows, key=lambda r: r["learner"], reverse=True)
    assert zoe["learner"] == "Zoë <b>Ł</b>" and zoe["submissions"] == "2"
    assert (zoe["areas_achieved"], zoe["areas"], zoe["signoffs"], zoe["domains"]) == ("3", "4", "1", "2")
    assert (zoe["Alpha Skills: areas achieved"], zoe["Alpha Skills: areas"]) == ("2", "3")
    assert (zoe["Alpha Skills: signed off"], zoe["Beta: signed off"]) == ("yes", "no")
    assert zoe["feedback_forms"] == "2" and zoe["feedback: Was kind?: mean"] == "1.50"
    assert zoe["final_signed"] == "no" and zoe["final_waiting_for"] == "care_coordinator facilitator"
    assert aled["learner"] == "Aled Jones" and aled["submissions"] == "0" and aled["final_signed"] == ""


def test_report_csv_defuses_a_name_a_spreadsheet_would_run(tmp_path):
    from generator.records.report import report_csv
    evil = learners()[0]
    evil.name = '=HYPERLINK("https://example.org","Zoë")'
    evil.practice = "Mill Lane\rSurgery"
    [head, line] = list(csv.reader(io.StringIO(report_csv([evil]), newline="")))
    assert line[0] == '\'=HYPERLINK("https://example.org","Zoë")'  # as every CSV the tool writes
    assert line[2] == "Mill Lane\rSurgery"  # one row, quoted


def test_cohort_figures_sum_the_learners():
    from generator.records.report import cohort
    figures = cohort(learners())
    assert [(d.title, d.achieved, d.total, d.signed_off, d.learners) for d in figures.domains] == [
        ("Alpha Skills", 2, 3, 1, 1), ("Beta", 1, 1, 0, 1)]
    assert [q.counts for q in figures.questions] == [[1, 1, 0, 0, 0]] and figures.questions[0].mean == 1.5
    assert [b["learners"] for b in figures.bands] == [0, 1, 0, 0, 0]  # 3 of 4 areas: 75% or more
    assert figures.with_pack == 1 and [lp.name for lp in figures.waiting] == ["Aled Jones"]


# ---------------------------------------------------------------- commands on a real store

@pytest.fixture(scope="module")
def store_file(tmp_path_factory, form, theme):
    folder = tmp_path_factory.mktemp("in")
    blank = write_docx(form, theme, make_manifest(form))
    ticks = {fld.id: True for fld in form.fields if (form.roles.progress_of(fld.id) or {}).get("rule") ==
             "competency_area" and fld.id.startswith("competencies.personalised_care.")}
    for n, (name, pcn) in enumerate([("Zoë Łukasiewicz", "riverside-pcn"), ("Ngozi Okonkwo", "lakeside-pcn")]):
        manifest = make_manifest(form, instance_id=f"00000000-0000-4000-8000-00000000000{n}",
                                 learner={"name": name, "practice": "Surgery"}, pcn={"slug": pcn, "name": pcn})
        (folder / f"{n}.docx").write_bytes(fill_docx(DocxStamp(blank, []).stamp({}, manifest), ticks))
    path = folder / "records.sqlite"
    with open_store(path) as store:
        assert ingest([folder], store, jobs=1).counts["new"] == 2
    return path


def test_records_command_lists_progress(store_file):
    result = CliRunner().invoke(main, ["records", "--store", str(store_file)])
    assert result.exit_code == 0, result.output
    assert "Zoë Łukasiewicz (Surgery, riverside-pcn)\n  competencies   4/31 areas: Personalised Care 4/4, " \
           "Communication Skills 0/10" in result.output
    assert "  sign-offs      0/5 assessor sign-offs" in result.output
    assert "  values         0/8 worksheet entries complete" in result.output
    assert "  case studies   0/3 complete" in result.output
    assert "  initial        not signed (waiting for: care coordinator, facilitator)" in result.output
    assert "  feedback       0 form(s)" in result.output
    assert result.output.endswith("2 learner(s), 2 with returned copies\n")


def test_records_command_json_and_pcn_filter(store_file):
    result = CliRunner().invoke(main, ["records", "--store", str(store_file), "--json", "--pcn", "lakeside-pcn"])
    assert result.exit_code == 0
    [learner] = json.loads(result.output)
    assert learner["name"] == "Ngozi Okonkwo" and learner["competencies"] == {"achieved": 4, "total": 31}
    assert learner["domains"][0] == {"id": "personalised_care", "title": "Personalised Care", "achieved": 4,
                                     "total": 4, "signed_off": False, "assessor_achieved": None}
    assert learner["key"] == {"pcn": "lakeside-pcn", "practice": "surgery", "name": "ngozi okonkwo"}

    def strings(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, str):
            yield value
    assert not [s for s in strings(learner) if s[:1] in "[{"]  # plain JSON values, no JSON inside strings


def test_report_command_writes_html_and_pdf(store_file, tmp_path):
    result = CliRunner().invoke(main, ["report", "--store", str(store_file), "--out", str(tmp_path),
                                       "--title", "Autumn"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'cohort-progress.html'} (2 learners)" in result.output
    assert (tmp_path / "cohort-progress.pdf").read_bytes().startswith(b"%PDF")
    html = (tmp_path / "cohort-progress.html").read_text(encoding="utf-8")
    assert "Personalised Care</td><td class=\"num\">4/4" in html
    only = CliRunner().invoke(main, ["report", "--store", str(store_file), "--out", str(tmp_path / "h"),
                                     "--format", "html", "--pcn", "riverside-pcn"])
    assert only.exit_code == 0 and "(1 learners)" in only.output


@pytest.mark.parametrize("command", ["records", "report", "export"])
def test_reading_commands_need_an_existing_store(tmp_path, command):
    result = CliRunner().invoke(main, [command, "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1 and "no records store here" in result.output


@pytest.mark.parametrize("command", ["ingest", "records", "export", "report"])
def test_every_records_command_has_help_with_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "Example: portfolio " + command in result.output
    assert "PORTFOLIO_STORE" in result.output


def test_records_and_report_keep_one_cohort(tmp_path):
    from generator.records.register import import_register
    store_path = tmp_path / "records.sqlite"
    for cohort, rows in (("2026-autumn", [("00000000-0000-4000-8000-000000000041", "Zoë Łukasiewicz"),
                                          ("00000000-0000-4000-8000-000000000042", "Siobhán Kelly")]),
                         ("2027-spring", [("00000000-0000-4000-8000-000000000043", "Aled Jones")])):
        folder = tmp_path / "build" / cohort
        folder.mkdir(parents=True)
        (folder / "issued.csv").write_text("instance_id,learner,practice,pcn\n" + "".join(
            f"{i},{name},Riverside Surgery,riverside-pcn\n" for i, name in rows), encoding="utf-8")
        with open_store(store_path) as store:
            import_register(store, folder / "issued.csv")
    runner = CliRunner()
    autumn = runner.invoke(main, ["records", "--store", str(store_path), "--cohort", "2026-autumn"])
    assert autumn.exit_code == 0, autumn.output
    assert [line for line in autumn.output.splitlines() if not line.startswith(" ")] == [
        "Siobhán Kelly (Riverside Surgery, riverside-pcn)", "Zoë Łukasiewicz (Riverside Surgery, riverside-pcn)",
        "2 learner(s), 0 with returned copies"]
    both = runner.invoke(main, ["records", "--store", str(store_path), "--json", "--cohort", "2026-autumn",
                                "--cohort", "2027-spring"])
    assert sorted(lp["name"] for lp in json.loads(both.output)) == ["Aled Jones", "Siobhán Kelly", "Zoë Łukasiewicz"]
    as_issued = runner.invoke(main, ["records", "--store", str(store_path), "--cohort", "2026 Autumn"])
    assert (as_issued.exit_code, as_issued.output) == (0, autumn.output)  # the name given to 'issue' works too
    typo = runner.invoke(main, ["records", "--store", str(store_path), "--cohort", "2026 Autum"])
    assert "no learners in cohort 2026 Autum (cohorts in the store: 2026-autumn, 2027-spring)" in typo.output
    wrong = runner.invoke(main, ["records", "--store", str(store_path), "--cohort", "2026-autum"])
    assert wrong.exit_code == 1
    assert "no learners in cohort 2026-autum (cohorts in the store: 2026-autumn, 2027-spring)" in wrong.output
    report = runner.invoke(main, ["report", "--store", str(store_path), "--cohort", "2027-spring", "--format", "csv",
                                  "--out", str(tmp_path / "out")])
    assert report.exit_code == 0, report.output
    assert "(1 learners)" in report.output
    rows = (tmp_path / "out" / "cohort-progress.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and "Aled Jones" in rows[1]
