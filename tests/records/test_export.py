"""Exports: wide and long CSV, JSON records, and FHIR R4 checked against the R4 structure."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from generator.cli.common import main
from generator.content.layout import Layout
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.form import build_form
from generator.model.manifest import make_manifest
from generator.reading.read import read_bytes
from generator.records.connect import open_store
from generator.records.export import (
    EXPORTERS,
    FHIR_ITEM_TYPES,
    LONG_COLUMNS,
    SUBMISSION_COLUMNS,
    StoredRecord,
    export,
    load_records,
    merge_order,
    to_fhir,
)
from generator.records.ingest import ingest
from generator.records.store import Definition, FieldValue, SubmissionRow
from tests.samples import expected_record, sample_values

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
PCN = {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
ZOE = {"name": "Zoë Łukasiewicz", "practice": "Riverside Surgery"}
FORMULA = "=HYPERLINK(\"http://x\")"


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def copy(form, blank: bytes, instance: str, values: dict, learner=ZOE, part=None, day=1) -> bytes:
    manifest = make_manifest(form, instance_id=instance, learner=learner, pcn=PCN,
                             created=datetime(2026, 9, day, 10, 0))
    if part:
        manifest["part"] = part
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), values)


def with_unknown_control(data: bytes, field_id: str, new_tag: str) -> bytes:
    """The copy with one control's tag renamed: its value is unmapped, the field missing."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    root = etree.fromstring(files["word/document.xml"])
    for tag in root.iter(f"{W}tag"):
        if tag.get(f"{W}val") == field_id:
            tag.set(f"{W}val", new_tag)
    files["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return out.getvalue()


@pytest.fixture(scope="module")
def stored(tmp_path_factory, form, content, theme):
    """A store with two packs (one superseded once, one with an unknown control), three feedback forms."""
    folder = tmp_path_factory.mktemp("returned")
    blank = write_docx(form, theme, make_manifest(form))
    feedback_form = build_form(content, Layout(only_sections=("patient_feedback",)))
    blank_feedback = write_docx(feedback_form, theme, make_manifest(feedback_form))
    values = sample_values(form)
    values["final_review.review.self_assessment"] = FORMULA
    values["cover.details.start_date"] = "2026-09-01"
    (folder / "zoe.docx").write_bytes(copy(form, blank, iid(1), values))
    dafydd = {**sample_values(form, seed=3, empty_every=2), "cover.details.practice": "Hill Practice"}
    (folder / "dafydd.docx").write_bytes(with_unknown_control(
        copy(form, blank, iid(2), dafydd, learner={"name": "Dafydd ap Gruffudd", "practice": "Hill"}),
        "cover.details.practice", "cover.details.extra_note"))
    for n, rating in enumerate(["very_happy", "unsure", "happy"]):
        (folder / f"zoe-feedback-{n}.docx").write_bytes(copy(
            feedback_form, blank_feedback, iid(3), {"patient_feedback.ratings.respect": rating,
                                                     "patient_feedback.respondent.respondent": "carer"},
            part="patient_feedback", day=n + 1))
    path = folder / "records.sqlite"
    with open_store(path) as store:
        assert ingest([folder], store, jobs=2).ok
        changed = dict(values, **{"cover.details.name": "Zoë Ł."})
        (folder / "later" / "zoe-v2.docx").parent.mkdir()
        (folder / "later" / "zoe-v2.docx").write_bytes(copy(form, blank, iid(1), changed, day=9))
        assert ingest([folder / "later"], store, supersede=True, jobs=1).counts["superseded"] == 1
    return {"path": path, "form": form, "feedback_form": feedback_form, "values": changed, "folder": folder}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------- CSV

def test_wide_csv_has_a_row_per_submission_and_a_column_per_field_id(stored):
    with open_store(stored["path"]) as store:
        text = export(store, "csv")
    header = next(csv.reader(io.StringIO(text)))
    ids = [f.id for f in stored["form"].fields]
    assert header == SUBMISSION_COLUMNS + ids + ["unmapped:cover.details.extra_note"]
    table = rows(text)
    assert [r["filename"] for r in table] == ["dafydd.docx", "zoe-feedback-0.docx", "zoe-feedback-1.docx",
                                              "zoe-feedback-2.docx", "zoe-v2.docx"]
    zoe = table[-1]
    assert (zoe["version"], zoe["supersedes"], zoe["current"]) == ("2", "5", "true")  # zoe.docx was the 5th file
    assert zoe["cover.details.name"] == "Zoë Ł."
    assert zoe["final_review.review.self_assessment"] == "'" + FORMULA  # a spreadsheet will not run it
    tick = "competencies.personalised_care.focus_on_what_matters.achieved"
    assert zoe[tick] == ("true" if stored["values"][tick] else "false")
    dafydd = table[0]
    assert dafydd["unmapped:cover.details.extra_note"] == "Hill Practice"
    assert dafydd["missing_fields"] == "cover.details.practice" and dafydd["cover.details.practice"] == ""
    feedback = table[1]
    assert feedback["part"] == "patient_feedback" and feedback["patient_feedback.ratings.respect"] == "very_happy"
    assert zoe["part"] == dafydd["part"] == "pack"  # as 'portfolio read' says
    assert feedback["cover.details.name"] == ""  # not a field of the feedback form


def test_wide_csv_with_all_versions_keeps_the_superseded_one(stored):
    with open_store(stored["path"]) as store:
        table = rows(export(store, "csv", all_versions=True))
    first = next(r for r in table if r["filename"] == "zoe.docx")
    assert (first["version"], first["current"], first["cover.details.name"]) == ("1", "false", "Zoë Łukasiewicz")


def test_long_csv_has_a_row_per_submission_and_field_with_its_state(stored):
    with open_store(stored["path"]) as store:
        text = export(store, "csv-long")
        values = store.values([s.id for s in store.submissions()])
    table = rows(text)
    assert list(table[0]) == LONG_COLUMNS
    assert len(table) == sum(len(v) for v in values.values())
    states = {(r["field_id"], r["state"]) for r in table if r["learner"] == "Dafydd ap Gruffudd"}
    assert ("cover.details.extra_note", "unmapped") in states and ("cover.details.practice", "missing") in states
    rating = next(r for r in table if r["field_id"] == "patient_feedback.ratings.respect"
                  and r["part"] == "patient_feedback")
    assert rating["kind"] == "choice" and rating["position"] in {"1", "2", "3"}
    assert {r["part"] for r in table} == {"pack", "patient_feedback"}  # named as 'portfolio read' names them


# ---------------------------------------------------------------- JSON

def test_json_records_match_what_read_gives(stored):
    with open_store(stored["path"]) as store:
        data = json.loads(export(store, "json"))
    assert data["format"] == "portfolio-records/1" and len(data["records"]) == 5
    zoe = next(r for r in data["records"] if r["submission"]["filename"] == "zoe-v2.docx")
    record = read_bytes((stored["folder"] / "later" / "zoe-v2.docx").read_bytes(), "zoe-v2.docx")
    assert zoe["fields"] == record.fields == expected_record(stored["form"], stored["values"])
    assert zoe["positions"] == record.positions
    assert zoe["pack"]["instance_id"] == iid(1) and zoe["pack"]["learner"] == ZOE
    assert zoe["submission"]["supersedes"] is not None and zoe["missing"] == [] and zoe["unmapped"] == {}
    assert zoe["pack"]["part"] == record.pack["part"] == "pack"
    dafydd = next(r for r in data["records"] if r["submission"]["learner"] == "Dafydd ap Gruffudd")
    assert dafydd["unmapped"] == {"cover.details.extra_note": "Hill Practice"}
    assert dafydd["missing"] == ["cover.details.practice"] and dafydd["warnings"]


# ---------------------------------------------------------------- FHIR R4

QUESTIONNAIRE_STATUS = {"draft", "active", "retired", "unknown"}
RESPONSE_STATUS = {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string", "text",
              "url", "choice", "open-choice", "attachment", "reference", "quantity"}
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
FHIR_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
ANSWER_KEYS = {"boolean": "valueBoolean", "date": "valueDate", "string": "valueString", "text": "valueString",
               "choice": "valueCoding"}


def check_questionnaire(q: dict) -> dict[str, dict]:
    """R4 Questionnaire rules we rely on; returns linkId -> item."""
    assert q["resourceType"] == "Questionnaire"
    assert q["status"] in QUESTIONNAIRE_STATUS and FHIR_ID.match(q["id"])
    assert q["url"] and q["version"] and re.match(r"^[A-Z]([A-Za-z0-9_]){0,254}$", q["name"])  # que-0
    items: dict[str, dict] = {}

    def walk(item: dict, parent: str | None) -> None:
        assert item["linkId"] not in items, f"duplicate linkId {item['linkId']}"
        assert item["type"] in ITEM_TYPES
        items[item["linkId"]] = {**item, "parent": parent}
        if item["type"] == "group":
            assert item.get("item"), "que-1: a group has items"
            assert "answerOption" not in item
        else:
            assert "text" in item
        if item["type"] == "choice":
            assert item["answerOption"], "a choice item lists its options"
            for option in item["answerOption"]:
                assert set(option) == {"valueCoding"} and option["valueCoding"]["code"]
        else:
            assert "answerOption" not in item  # que-5
        for child in item.get("item", ()):
            walk(child, item["linkId"])

    for item in q["item"]:
        walk(item, None)
    return items


def check_response(r: dict, questionnaires: dict[str, dict], items_by_url: dict[str, dict[str, dict]]) -> None:
    assert r["resourceType"] == "QuestionnaireResponse"
    assert r["status"] in RESPONSE_STATUS and FHIR_ID.match(r["id"])
    url, _, version = r["questionnaire"].partition("|")
    q = questionnaires[url]
    assert version == q["version"]
    items = items_by_url[url]

    def walk(item: dict, parent: str | None) -> None:
        assert item["linkId"] in items, f"{item['linkId']} is not in the Questionnaire"
        definition = items[item["linkId"]]
        assert definition["parent"] == parent, "items nest as in the Questionnaire"
        assert not ("answer" in item and "item" in item)  # qrs-1
        for answer in item.get("answer", ()):
            [(key, value)] = answer.items()
            assert key == ANSWER_KEYS[definition["type"]], f"{item['linkId']}: {key} for {definition['type']}"
            if key == "valueDate":
                assert FHIR_DATE.match(value)
            if key == "valueBoolean":
                assert isinstance(value, bool)
            if key == "valueCoding":
                assert value in [o["valueCoding"] for o in definition["answerOption"]]
        for child in item.get("item", ()):
            walk(child, item["linkId"])

    for item in r["item"]:
        walk(item, None)


def check_r4_schema(bundle: dict) -> None:
    """Every resource, and the Bundle, parse as FHIR R4 (4.0.1) models: types, required elements, no
    unknown elements, primitive formats (ids, dates, dateTimes)."""
    import fhir.resources
    from fhir.resources import construct_fhir_element
    assert fhir.resources.__fhir_version__ == "4.0.1"
    construct_fhir_element("Bundle", bundle)
    for entry in bundle["entry"]:
        construct_fhir_element(entry["resource"]["resourceType"], entry["resource"])


def test_the_r4_schema_check_refuses_what_r4_does_not_allow():
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [{"linkId": "a"}]}
    check_r4_schema({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": response}]})
    for bad in ({**response, "authored": "21/11/2026"}, {**response, "reviewFlags": []},
                {**response, "item": [{"answer": [{"valueString": "x"}]}]}):
        with pytest.raises(ValueError):
            check_r4_schema({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bad}]})


def check_bundle(bundle: dict) -> tuple[list[dict], list[dict]]:
    check_r4_schema(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    resources = []
    for entry in bundle["entry"]:
        assert re.match(r"^(urn:uuid:[0-9a-f-]{36}|https?://\S+)$", entry["fullUrl"])
        resources.append(entry["resource"])
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])
    questionnaires = [r for r in resources if r["resourceType"] == "Questionnaire"]
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    by_url = {q["url"]: q for q in questionnaires}
    items_by_url = {q["url"]: check_questionnaire(q) for q in questionnaires}
    for response in responses:
        check_response(response, by_url, items_by_url)
    return questionnaires, responses


def test_fhir_bundle_is_valid_r4_with_matching_link_ids(stored):
    with open_store(stored["path"]) as store:
        bundle = json.loads(export(store, "fhir"))
    questionnaires, responses = check_bundle(bundle)
    assert [q["url"] for q in questionnaires] == [
        "urn:portfolio:questionnaire:care-coordination-portfolio",
        "urn:portfolio:questionnaire:care-coordination-portfolio-patient-feedback"]
    pack = questionnaires[0]
    questions = [i for group in pack["item"] for i in group["item"]]
    assert [i["linkId"] for i in questions] == [f.id for f in stored["form"].fields]  # linkId = field id
    assert [g["linkId"] for g in pack["item"]][:3] == ["cover", "schedule", "competencies"]
    kinds = {f.id: f.kind for f in stored["form"].fields}
    assert all(i["type"] == FHIR_ITEM_TYPES[kinds[i["linkId"]]] for i in questions)
    rating = next(i for i in questions if i["linkId"] == "patient_feedback.ratings.respect")
    assert rating["answerOption"][0] == {"valueCoding": {"code": "very_happy", "display": "Very happy"}}
    assert len(responses) == 5
    assert {r["questionnaire"] for r in responses} == {f"{q['url']}|1.0.0" for q in questionnaires}


def test_fhir_answers_are_typed_and_complete(stored):
    with open_store(stored["path"]) as store:
        bundle = json.loads(export(store, "fhir"))
    zoe = next(e["resource"] for e in bundle["entry"] if e["resource"].get("author", {}).get("display") ==
               "Zoë Łukasiewicz" and e["resource"]["status"] == "amended")
    answers = {i["linkId"]: i["answer"][0] for g in zoe["item"] for i in g["item"]}
    assert answers["cover.details.name"] == {"valueString": "Zoë Ł."}
    assert answers["cover.details.start_date"] == {"valueDate": "2026-09-01"}
    tick = "competencies.personalised_care.focus_on_what_matters.achieved"
    assert answers[tick] == {"valueBoolean": stored["values"][tick]}
    answered = {fid for fid, v in expected_record(stored["form"], stored["values"]).items() if v is not None}
    assert set(answers) == answered
    assert zoe["identifier"] == {"system": "urn:portfolio:instance-id", "value": iid(1)}
    dafydd = next(e["resource"] for e in bundle["entry"] if e["resource"].get("author", {}).get("display") ==
                  "Dafydd ap Gruffudd")
    assert dafydd["extension"] == [{"url": "urn:portfolio:fhir:unmapped-value", "extension": [
        {"url": "id", "valueString": "cover.details.extra_note"}, {"url": "value", "valueString": "Hill Practice"}]}]
    feedback = [e["resource"] for e in bundle["entry"] if "patient-feedback|" in e["resource"].get("questionnaire", "")]
    codes = sorted(i["answer"][0]["valueCoding"]["code"] for r in feedback for g in r["item"] for i in g["item"]
                   if i["linkId"] == "patient_feedback.ratings.respect")
    assert codes == ["happy", "unsure", "very_happy"]


def test_fhir_with_an_https_base_and_all_versions(stored):
    with open_store(stored["path"]) as store:
        bundle = json.loads(export(store, "fhir", all_versions=True, fhir_base="https://fhir.example.org/r4/"))
    questionnaires, responses = check_bundle(bundle)
    assert questionnaires[0]["url"] == "https://fhir.example.org/r4/Questionnaire/care-coordination-portfolio"
    assert bundle["entry"][0]["fullUrl"] == questionnaires[0]["url"]
    assert sorted(r["status"] for r in responses) == ["amended"] + ["completed"] * 5


def _record(fields: list[dict], values: list[FieldValue], ingested_at="2026-12-01T09:30:00.000000+00:00"):
    definition = Definition("d" * 64, "pack", None, "pack", "2.0.0", "h", fields)
    sub = SubmissionRow(
        id=7, sha256="s" * 64, filename="a.pdf", size=1, format="pdf", editor="x", ingested_at=ingested_at,
        instance_id=iid(7), version=1, supersedes=None, superseded_by=None, pack_id="pack", part=None,
        content_id="pack", content_version="2.0.0", content_hash="h", generator_version="0.1.0",
        definition_id=definition.id, learner_key="k", learner_name="Zoë", practice="", pcn="", pcn_name="",
        learner={}, pcn_facts={})
    return StoredRecord(sub, values), definition


SIGNED = [{"id": "review.signatures.assessor.name", "kind": "signature", "label": "Review: Assessor", "options": []},
          {"id": "review.signatures.assessor.date", "kind": "date", "label": "Review: Date", "options": []},
          {"id": "review.signatures.learner.name", "kind": "signature", "label": "Review: Learner", "options": []},
          {"id": "review.signatures.learner.date", "kind": "date", "label": "Review: Date", "options": []},
          {"id": "plan.tasks.row1.target", "kind": "date", "label": "Plan: Target date", "options": []}]


def test_fhir_authored_is_the_latest_sign_off_date_and_says_so():
    record, definition = _record(SIGNED, [
        FieldValue("review.signatures.assessor.name", "read", "Jo Bennett"),
        FieldValue("review.signatures.assessor.date", "read", "2026-11-20"),
        FieldValue("review.signatures.learner.date", "read", "2026-10-02"),
        FieldValue("plan.tasks.row1.target", "read", "2027-03-31")])  # a target date is not a sign-off
    bundle = json.loads(to_fhir([record], {definition.id: definition}))
    check_bundle(bundle)
    response = bundle["entry"][1]["resource"]
    assert response["authored"] == "2026-11-20"
    assert response["_authored"] == {"extension": [{"url": "urn:portfolio:fhir:authored-from",
                                                    "valueString": "review.signatures.assessor.date"}]}


def test_fhir_authored_is_the_ingest_time_when_no_sign_off_is_dated():
    record, definition = _record(SIGNED, [FieldValue("review.signatures.assessor.date", "read", "late November"),
                                          FieldValue("plan.tasks.row1.target", "read", "2027-03-31")])
    bundle = json.loads(to_fhir([record], {definition.id: definition}))
    check_bundle(bundle)
    response = bundle["entry"][1]["resource"]
    assert response["authored"] == "2026-12-01T09:30:00.000000+00:00"
    assert response["_authored"]["extension"][0]["valueString"] == "ingested"


def test_a_date_written_as_text_is_kept_as_written_not_as_a_wrong_type():
    fields = [{"id": "cover.details.start_date", "kind": "date", "label": "Cover: Start date", "options": []},
              {"id": "cover.details.name", "kind": "text", "label": "Cover: Name", "options": []}]
    definition = Definition("d" * 64, "pack", None, "pack", "2.0.0", "h", fields)
    sub = SubmissionRow(
        id=7, sha256="s" * 64, filename="a.pdf", size=1, format="pdf", editor="x", ingested_at="2026-01-01",
        instance_id=iid(7), version=1, supersedes=None, superseded_by=None, pack_id="pack", part=None,
        content_id="pack", content_version="2.0.0", content_hash="h", generator_version="0.1.0",
        definition_id=definition.id, learner_key="k", learner_name="Zoë", practice="", pcn="", pcn_name="",
        learner={}, pcn_facts={})
    record = StoredRecord(sub, [FieldValue("cover.details.start_date", "read", "early September"),
                                FieldValue("cover.details.name", "missing", None)])
    bundle = json.loads(to_fhir([record], {definition.id: definition}))
    check_bundle(bundle)
    response = bundle["entry"][1]["resource"]
    assert response["questionnaire"] == "urn:portfolio:questionnaire:pack|2.0.0"
    assert response["item"] == [{"linkId": "cover", "item": [{"linkId": "cover.details.start_date", "extension": [
        {"url": "urn:portfolio:fhir:answer-as-written", "valueString": "early September"}]}]}]


# ---------------------------------------------------------------- merging field orders

def test_merge_order_keeps_each_list_in_order():
    assert merge_order([["a", "b", "c"], ["a", "x", "b", "y", "c", "z"], ["q", "a"]]) == \
        ["q", "a", "x", "b", "y", "c", "z"]


@given(st.lists(st.lists(st.sampled_from("abcdefghij"), unique=True), max_size=5))
def test_merge_order_has_every_id_once_and_the_first_list_in_order(lists):
    merged = merge_order(lists)
    assert sorted(merged) == sorted({i for ids in lists for i in ids})
    if lists:
        assert [i for i in merged if i in lists[0]] == lists[0]


# ---------------------------------------------------------------- the command

def test_export_command_formats_and_output_file(stored, tmp_path):
    """Known answers from the stored fixture, not a second call of export()."""
    runner = CliRunner()
    store = str(stored["path"])
    result = runner.invoke(main, ["export", "--store", store])
    assert result.exit_code == 0
    table = rows(result.output)
    assert [r["filename"] for r in table] == ["dafydd.docx", "zoe-feedback-0.docx", "zoe-feedback-1.docx",
                                              "zoe-feedback-2.docx", "zoe-v2.docx"]
    assert table[-1]["cover.details.name"] == "Zoë Ł."
    assert table[-1]["final_review.review.self_assessment"] == "'" + FORMULA
    result = runner.invoke(main, ["export", "--store", store, "--format", "json"])
    data = json.loads(result.output)
    assert data["format"] == "portfolio-records/1"
    assert sorted(r["submission"]["filename"] for r in data["records"]) == [
        "dafydd.docx", "zoe-feedback-0.docx", "zoe-feedback-1.docx", "zoe-feedback-2.docx", "zoe-v2.docx"]
    zoe = next(r for r in data["records"] if r["submission"]["filename"] == "zoe-v2.docx")
    assert zoe["fields"] == expected_record(stored["form"], stored["values"])
    result = runner.invoke(main, ["export", "--store", store, "--format", "fhir"])
    check_bundle(json.loads(result.output))
    long = runner.invoke(main, ["export", "--store", store, "--long"])
    assert long.output.startswith(",".join(LONG_COLUMNS))
    result = runner.invoke(main, ["export", "--store", store, "--format", "fhir", "--fhir-base",
                                  "https://fhir.example.org", "-o", str(tmp_path / "out.json")])
    assert result.exit_code == 0 and f"wrote {tmp_path / 'out.json'}" in result.output
    check_bundle(json.loads((tmp_path / "out.json").read_text(encoding="utf-8")))
    assert set(EXPORTERS) == {"csv", "csv-long", "json", "fhir"}


@pytest.mark.parametrize("args, message", [
    (["--format", "json", "--long"], "--long applies to --format csv only"),
    (["--format", "csv", "--fhir-base", "urn:x"], "--fhir-base applies to --format fhir only"),
    (["--format", "fhir", "--fhir-base", "ftp://x"], "give a URN (urn:…) or an http(s) URL"),
])
def test_export_command_refuses_options_that_do_not_fit(stored, args, message):
    result = CliRunner().invoke(main, ["export", "--store", str(stored["path"]), *args])
    assert result.exit_code == 2 and message in result.output


def test_export_without_a_store_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(main, ["export", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1 and "no records store here; run 'portfolio ingest' first" in result.output
    assert not (tmp_path / "none.sqlite").exists()


def test_load_records_gives_plain_data(stored):
    with open_store(stored["path"]) as store:
        records, definitions = load_records(store)
    assert len(records) == 5 and len(definitions) == 2
    assert all(r.submission.definition_id in definitions for r in records)
