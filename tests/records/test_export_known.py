"""Exports from records built by hand: every writer's output known cell by cell, written in the test.

No copy is read or ingested here (``test_export.py`` does that end to end): the records are
``StoredRecord``s typed below, or stored in a fresh SQLite store with ``add_submission``, so each
answer is the one a reader of this file can work out from the records above it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest

from generator.records.connect import open_store
from generator.records.export import (
    LONG_COLUMNS,
    load_records,
    SUBMISSION_COLUMNS,
    StoredRecord,
    authored,
    canonical_url,
    export,
    export_records,
    merge_order,
    questionnaire,
    questionnaire_id,
    questionnaire_response,
    record_json,
    signoff_dates,
    to_csv,
    to_csv_long,
    to_fhir,
    to_json,
)
from generator.records.store import Definition, FieldValue, NewSubmission, SubmissionRow

RESPECT_OPTIONS = [{"value": "very_happy", "label": "Very happy"}, {"value": "unsure", "label": "Unsure"}]
PACK_FIELDS = [
    {"id": "cover.details.name", "kind": "text", "label": "Cover: Name", "options": []},
    {"id": "cover.details.practice", "kind": "text", "label": "Cover: Practice", "options": []},
    {"id": "cover.details.start_date", "kind": "date", "label": "Cover: Start date", "options": []},
    {"id": "review.sign.name", "kind": "signature", "label": "Review: Signed by", "options": []},
    {"id": "review.sign.date", "kind": "date", "label": "Review: Date", "options": []},
    {"id": "review.done", "kind": "checkbox", "label": "Review: Done", "options": []},
    {"id": "feedback.respect", "kind": "choice", "label": "Feedback: Respect", "options": RESPECT_OPTIONS},
]
FEEDBACK_FIELDS = [
    {"id": "feedback.respect", "kind": "choice", "label": "Feedback: Respect", "options": RESPECT_OPTIONS},
    {"id": "feedback.who", "kind": "text", "label": "Feedback: Who answered", "options": []},
]
PACK = Definition("1" * 64, "care-pack", None, "care-pack", "1.0.0", "h1", PACK_FIELDS)
FEEDBACK = Definition("2" * 64, "care-pack", "patient_feedback", "care-pack", "1.0.0", "h2", FEEDBACK_FIELDS)
DEFINITIONS = {PACK.id: PACK, FEEDBACK.id: FEEDBACK}
ZOE = "Zoë Łukasiewicz"


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def sub(sid: int, definition: Definition, **changes) -> SubmissionRow:
    facts = dict(
        id=sid, sha256=f"{sid:x}" * 64, filename=f"copy-{sid}.pdf", size=100 + sid, format="pdf", editor="Acrobat",
        ingested_at="2026-12-01T09:30:00+00:00", instance_id=iid(sid), version=1, supersedes=None,
        superseded_by=None, pack_id=definition.pack_id, part=definition.part, content_id=definition.content_id,
        content_version=definition.content_version, content_hash=definition.content_hash,
        generator_version="0.1.0", definition_id=definition.id, learner_key="zoe", learner_name=ZOE,
        practice="Riverside Surgery", pcn="riverside-pcn", pcn_name="Riverside PCN",
        learner={"name": ZOE}, pcn_facts={"slug": "riverside-pcn"})
    facts.update(changes)
    return SubmissionRow(**facts)


def zoe_pack() -> StoredRecord:
    """A whole pack: a formula in the name, the practice missing, a note the pack does not know."""
    return StoredRecord(sub(1, PACK, version=2, supersedes=4), [
        FieldValue("cover.details.name", "read", "=1+1"),
        FieldValue("cover.details.practice", "missing", None),
        FieldValue("cover.details.start_date", "read", "2026-09-01"),
        FieldValue("review.sign.name", "read", "Jo Bennett"),
        FieldValue("review.sign.date", "read", "2026-11-20"),
        FieldValue("review.done", "read", True),
        FieldValue("feedback.respect", "read", "unsure", 2),
        FieldValue("cover.details.extra", "unmapped", "left over"),
    ], warnings=["first", "second"], flags=[("cover.details.start_date", "date_of_birth"),
                                            ("cover.details.name", "nhs_number")],
        withheld=["cover.details.start_date"])


def zoe_feedback() -> StoredRecord:
    """A separately issued feedback form: a rating, who answered left empty, a name it does not know."""
    return StoredRecord(sub(2, FEEDBACK, superseded_by=9), [
        FieldValue("feedback.respect", "read", "very_happy", 1),
        FieldValue("feedback.who", "read", None),
        FieldValue("cover.details.name", "unmapped", "Zoë"),
    ])


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# ---------------------------------------------------------------- CSV

def test_wide_csv_known_cells():
    text = to_csv([zoe_pack(), zoe_feedback()], DEFINITIONS)
    header, pack, feedback = table(text)
    fields = ["cover.details.name", "cover.details.practice", "cover.details.start_date", "review.sign.name",
              "review.sign.date", "review.done", "feedback.respect", "feedback.who"]
    assert header == SUBMISSION_COLUMNS + fields + ["unmapped:cover.details.extra", "unmapped:cover.details.name"]
    assert pack == ["1", iid(1), "2", "4", "true", ZOE, "Riverside Surgery", "riverside-pcn", "pack", "care-pack",
                    "1.0.0", "pdf", "Acrobat", "copy-1.pdf", "1" * 64, "2026-12-01T09:30:00+00:00",
                    "cover.details.practice", "2",
                    "cover.details.start_date:date_of_birth cover.details.name:nhs_number", "cover.details.start_date",
                    "'=1+1", "", "2026-09-01", "Jo Bennett", "2026-11-20", "true", "unsure", "",
                    "left over", ""]
    assert feedback == ["2", iid(2), "1", "", "false", ZOE, "Riverside Surgery", "riverside-pcn", "patient_feedback",
                        "care-pack", "1.0.0", "pdf", "Acrobat", "copy-2.pdf", "2" * 64, "2026-12-01T09:30:00+00:00",
                        "", "0", "", "",
                        "", "", "", "", "", "", "very_happy", "",
                        "", "Zoë"]  # an unmapped name is not the field's value
    assert text.endswith("very_happy,,,Zoë\n") and "\r" not in text


def test_missing_fields_are_listed_with_spaces():
    record = StoredRecord(sub(3, PACK), [FieldValue("cover.details.name", "missing", None),
                                         FieldValue("review.done", "missing", None)])
    [row] = list(csv.DictReader(io.StringIO(to_csv([record], DEFINITIONS))))
    assert row["missing_fields"] == "cover.details.name review.done"


def test_wide_csv_of_no_records_is_the_header_alone():
    assert to_csv([], DEFINITIONS) == ",".join(SUBMISSION_COLUMNS) + "\n"


def test_long_csv_known_rows():
    header, *rows = table(to_csv_long([zoe_pack(), zoe_feedback()], DEFINITIONS))
    assert header == LONG_COLUMNS
    assert rows == [
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "cover.details.name", "text", "read", "'=1+1", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "cover.details.practice", "text", "missing", "", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "cover.details.start_date", "date", "read", "2026-09-01", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "review.sign.name", "signature", "read", "Jo Bennett", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "review.sign.date", "date", "read", "2026-11-20", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "review.done", "checkbox", "read", "true", ""],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "feedback.respect", "choice", "read", "unsure", "2"],
        ["1", iid(1), ZOE, "riverside-pcn", "pack", "cover.details.extra", "", "unmapped", "left over", ""],
        ["2", iid(2), ZOE, "riverside-pcn", "patient_feedback", "feedback.respect", "choice", "read", "very_happy",
         "1"],
        ["2", iid(2), ZOE, "riverside-pcn", "patient_feedback", "feedback.who", "text", "read", "", ""],
        ["2", iid(2), ZOE, "riverside-pcn", "patient_feedback", "cover.details.name", "", "unmapped", "Zoë", ""],
    ]


# ---------------------------------------------------------------- JSON

def test_record_json_known_answer():
    assert record_json(zoe_pack()) == {
        "submission": {"submission_id": 1, "instance_id": iid(1), "version": 2, "supersedes": 4, "current": True,
                       "learner": ZOE, "practice": "Riverside Surgery", "pcn": "riverside-pcn", "part": "pack",
                       "pack_id": "care-pack", "content_version": "1.0.0", "format": "pdf", "editor": "Acrobat",
                       "filename": "copy-1.pdf", "sha256": "1" * 64, "ingested_at": "2026-12-01T09:30:00+00:00"},
        "pack": {"pack_id": "care-pack", "part": "pack", "instance_id": iid(1), "content_id": "care-pack",
                 "content_version": "1.0.0", "content_hash": "h1", "generator_version": "0.1.0",
                 "learner": {"name": ZOE}, "pcn": {"slug": "riverside-pcn"}, "format": "pdf", "editor": "Acrobat"},
        "fields": {"cover.details.name": "=1+1", "cover.details.start_date": "2026-09-01",
                   "review.sign.name": "Jo Bennett", "review.sign.date": "2026-11-20", "review.done": True,
                   "feedback.respect": "unsure"},
        "positions": {"feedback.respect": 2},
        "missing": ["cover.details.practice"],
        "unmapped": {"cover.details.extra": "left over"},
        "flags": [{"field": "cover.details.start_date", "kind": "date_of_birth"},
                  {"field": "cover.details.name", "kind": "nhs_number"}],
        "withheld": ["cover.details.start_date"],
        "warnings": ["first", "second"],
    }


def test_json_export_known_answer():
    data = json.loads(to_json([zoe_feedback()], DEFINITIONS))
    assert list(data) == ["format", "exported_at", "records"]
    assert data["format"] == "portfolio-records/1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["exported_at"])  # UTC, whole seconds
    [record] = data["records"]
    assert record["submission"]["current"] is False and record["submission"]["part"] == "patient_feedback"
    assert record["fields"] == {"feedback.respect": "very_happy", "feedback.who": None}
    assert record["unmapped"] == {"cover.details.name": "Zoë"} and record["missing"] == []
    text = to_json([zoe_feedback()], DEFINITIONS)
    assert "Zoë" in text and text.endswith("}\n") and '\n "records": [' in text  # UTF-8 kept, indented by one


# ---------------------------------------------------------------- FHIR pieces

def test_signoff_dates_are_dates_beside_a_signature():
    assert signoff_dates(PACK_FIELDS) == ["review.sign.date"]
    assert signoff_dates([{"id": "a.date", "kind": "date"}, {"id": "a.name", "kind": "text"},  # not a signature
                          {"id": "b.when", "kind": "date"}, {"id": "b.name", "kind": "signature"},  # not ….date
                          {"id": "c.date", "kind": "text"}, {"id": "c.name", "kind": "signature"},  # not a date
                          {"id": "d.date", "kind": "date"}, {"id": "d.name", "kind": "signature"}]) == ["d.date"]


def test_authored_is_the_latest_iso_sign_off_else_the_ingest_time():
    two = [{"id": "a.name", "kind": "signature"}, {"id": "a.date", "kind": "date"},
           {"id": "b.name", "kind": "signature"}, {"id": "b.date", "kind": "date"}]
    record = StoredRecord(sub(3, PACK), [FieldValue("a.date", "read", "2026-10-02"),
                                         FieldValue("b.date", "read", "2026-11-20")])
    assert authored(record, two) == ("2026-11-20", "b.date")
    record = StoredRecord(sub(3, PACK), [FieldValue("a.date", "read", "2026-12-25"),
                                         FieldValue("b.date", "missing", "2027-01-01")])  # not read
    assert authored(record, two) == ("2026-12-25", "a.date")
    record = StoredRecord(sub(3, PACK), [FieldValue("a.date", "read", "20/11/2026"),  # not ISO
                                         FieldValue("b.date", "read", None), FieldValue("c.date", "read", "2026-01-01")])
    assert authored(record, two) == ("2026-12-01T09:30:00+00:00", "ingested")
    record = StoredRecord(sub(3, PACK), [FieldValue("a.date", "read", "2026-11-20 later")])  # ISO, then text
    assert authored(record, two) == ("2026-12-01T09:30:00+00:00", "ingested")


@pytest.mark.parametrize("pack_id, part, qid", [
    ("care-pack", None, "care-pack"),
    ("care-pack", "patient_feedback", "care-pack-patient-feedback"),
    ("Care Pack v2.0", None, "Care-Pack-v2.0"),
    ("--care--", None, "care"),
    ("___", None, "portfolio"),
    ("a" * 70, None, "a" * 64),
    ("x", "", "x"),
    ("X-ray pack X", None, "X-ray-pack-X"),
])
def test_questionnaire_ids(pack_id, part, qid):
    assert questionnaire_id(pack_id, part) == qid


@pytest.mark.parametrize("base, url", [
    ("urn:portfolio:questionnaire", "urn:portfolio:questionnaire:care-pack"),
    ("https://fhir.example.org/r4/", "https://fhir.example.org/r4/Questionnaire/care-pack"),
    ("https://fhir.example.org/r4", "https://fhir.example.org/r4/Questionnaire/care-pack"),
    ("https://fhir.example.org/FHIRX//", "https://fhir.example.org/FHIRX/Questionnaire/care-pack"),
])
def test_canonical_urls(base, url):
    assert canonical_url(base, "care-pack") == url


def test_questionnaire_known_answer():
    fields = [PACK_FIELDS[0], PACK_FIELDS[5], {"id": "plan_ahead.goal", "kind": "longtext", "label": "Goal",
                                              "options": []}, PACK_FIELDS[6]]
    assert questionnaire(("care_pack", "patient_feedback", "1.0.0"), fields, "urn:q") == {
        "resourceType": "Questionnaire",
        "id": "care-pack-patient-feedback",
        "url": "urn:q:care-pack-patient-feedback",
        "version": "1.0.0",
        "name": "CarePackPatientFeedback",
        "title": "Care pack: Patient feedback",
        "status": "active",
        "item": [
            {"linkId": "cover", "text": "Cover", "type": "group", "item": [
                {"linkId": "cover.details.name", "text": "Cover: Name", "type": "string"}]},
            {"linkId": "review", "text": "Review", "type": "group", "item": [
                {"linkId": "review.done", "text": "Review: Done", "type": "boolean"}]},
            {"linkId": "plan_ahead", "text": "Goal", "type": "group", "item": [
                {"linkId": "plan_ahead.goal", "text": "Goal", "type": "text"}]},
            {"linkId": "feedback", "text": "Feedback", "type": "group", "item": [
                {"linkId": "feedback.respect", "text": "Feedback: Respect", "type": "choice", "answerOption": [
                    {"valueCoding": {"code": "very_happy", "display": "Very happy"}},
                    {"valueCoding": {"code": "unsure", "display": "Unsure"}}]}]},
        ],
    }


def test_a_section_is_named_from_the_first_part_of_its_labels():
    fields = [{"id": "plan.a", "kind": "text", "label": "Plan: Goals: first", "options": []},
              {"id": "plan.b", "kind": "text", "label": "Plan: Goals: second", "options": []}]
    q = questionnaire(("Care Pack v2.0", None, "2"), fields, "urn:q")
    assert q["item"][0]["text"] == "Plan"
    assert (q["id"], q["name"]) == ("Care-Pack-v2.0", "CarePackV20")


def test_a_section_whose_labels_disagree_is_named_from_its_id():
    fields = [{"id": "plan_ahead-now.a", "kind": "text", "label": "Plan: A", "options": []},
              {"id": "plan_ahead-now.b", "kind": "date", "label": "Later: B", "options": []}]
    q = questionnaire(("...", None, "2"), fields, "https://x.org")
    assert q["item"][0]["text"] == "Plan ahead now"
    assert (q["id"], q["name"], q["title"], q["url"]) == ("...", "Portfolio", "...", "https://x.org/Questionnaire/...")


def test_questionnaire_response_known_answer():
    record = zoe_pack()
    q = questionnaire(("care-pack", None, "1.0.0"), PACK_FIELDS, "urn:q")
    assert questionnaire_response(record, q, PACK_FIELDS) == {
        "resourceType": "QuestionnaireResponse",
        "id": "submission-1",
        "identifier": {"system": "urn:portfolio:instance-id", "value": iid(1)},
        "questionnaire": "urn:q:care-pack|1.0.0",
        "status": "amended",
        "authored": "2026-11-20",
        "_authored": {"extension": [{"url": "urn:portfolio:fhir:authored-from", "valueString": "review.sign.date"}]},
        "author": {"display": ZOE},
        "item": [
            {"linkId": "cover", "item": [
                {"linkId": "cover.details.name", "answer": [{"valueString": "=1+1"}]},
                {"linkId": "cover.details.start_date", "answer": [{"valueDate": "2026-09-01"}]}]},
            {"linkId": "review", "item": [
                {"linkId": "review.sign.name", "answer": [{"valueString": "Jo Bennett"}]},
                {"linkId": "review.sign.date", "answer": [{"valueDate": "2026-11-20"}]},
                {"linkId": "review.done", "answer": [{"valueBoolean": True}]}]},
            {"linkId": "feedback", "item": [
                {"linkId": "feedback.respect", "answer": [{"valueCoding": {"code": "unsure", "display": "Unsure"}}]}]},
        ],
        "extension": [
            {"url": "urn:portfolio:fhir:unmapped-value", "extension": [
                {"url": "id", "valueString": "cover.details.extra"}, {"url": "value", "valueString": "left over"}]},
            {"url": "urn:portfolio:fhir:identifier-review", "extension": [
                {"url": "linkId", "valueString": "cover.details.start_date"}, {"url": "kind", "valueCode": "date_of_birth"}]},
            {"url": "urn:portfolio:fhir:identifier-review", "extension": [
                {"url": "linkId", "valueString": "cover.details.name"}, {"url": "kind", "valueCode": "nhs_number"}]},
        ],
    }


def test_answers_that_do_not_fit_their_type_are_kept_as_written():
    record = StoredRecord(sub(5, PACK), [
        FieldValue("cover.details.start_date", "read", "early September"),  # a date that is not ISO
        FieldValue("review.sign.date", "read", "2026-11-20T10:00"),  # ISO, then more
        FieldValue("review.done", "read", "yes"),  # a tick that is not a bool
        FieldValue("feedback.respect", "read", "delighted"),  # not one of the options
        FieldValue("cover.details.name", "read", 0),  # falsy, but a value
    ])
    q = questionnaire(("care-pack", None, "1.0.0"), PACK_FIELDS, "urn:q")
    response = questionnaire_response(record, q, PACK_FIELDS)

    def written(value):
        return {"extension": [{"url": "urn:portfolio:fhir:answer-as-written", "valueString": value}]}
    assert response["item"] == [
        {"linkId": "cover", "item": [{"linkId": "cover.details.name", "answer": [{"valueString": "0"}]},
                                     {"linkId": "cover.details.start_date", **written("early September")}]},
        {"linkId": "review", "item": [{"linkId": "review.sign.date", **written("2026-11-20T10:00")},
                                      {"linkId": "review.done", **written("yes")}]},
        {"linkId": "feedback", "item": [{"linkId": "feedback.respect", **written("delighted")}]},
    ]
    assert response["status"] == "completed" and "extension" not in response
    assert response["authored"] == "2026-12-01T09:30:00+00:00"


def test_a_choice_defined_without_options():
    """A definition written before options were listed (no 'options' key) answers as written."""
    bare = {"id": "feedback.respect", "kind": "choice", "label": "Feedback: Respect"}
    q = questionnaire(("care-pack", None, "1.0.0"), [bare], "urn:q")
    assert q["item"][0]["item"][0]["answerOption"] == []
    record = StoredRecord(sub(8, PACK), [FieldValue("feedback.respect", "read", "happy")])
    assert questionnaire_response(record, q, [bare])["item"] == [{"linkId": "feedback", "item": [
        {"linkId": "feedback.respect", "extension": [
            {"url": "urn:portfolio:fhir:answer-as-written", "valueString": "happy"}]}]}]
    # a value the response's own definition does not define: as written too
    q = questionnaire(("care-pack", None, "1.0.0"), PACK_FIELDS, "urn:q")
    assert questionnaire_response(record, q, [])["item"][0]["item"][0]["extension"][0]["valueString"] == "happy"


def test_a_response_with_nothing_answered_has_no_groups():
    record = StoredRecord(sub(6, FEEDBACK), [FieldValue("feedback.respect", "missing", None),
                                             FieldValue("feedback.who", "read", None)])
    q = questionnaire(("care-pack", "patient_feedback", "1.0.0"), FEEDBACK_FIELDS, "urn:q")
    assert questionnaire_response(record, q, FEEDBACK_FIELDS)["item"] == []


# ---------------------------------------------------------------- the FHIR bundle

def test_fhir_bundle_known_entries():
    later = Definition("3" * 64, "care-pack", None, "care-pack", "1.0.0", "h3",
                       [PACK_FIELDS[0], {"id": "cover.details.email", "kind": "text", "label": "Cover: Email",
                                         "options": []}, *PACK_FIELDS[1:]])
    defs = {FEEDBACK.id: FEEDBACK, PACK.id: PACK, later.id: later}
    other = StoredRecord(sub(7, later), [FieldValue("cover.details.email", "read", "zoe@example.org")])
    bundle = json.loads(to_fhir([zoe_feedback(), zoe_pack(), other], defs))
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", bundle["timestamp"])
    resources = [e["resource"] for e in bundle["entry"]]
    assert [(r["resourceType"], r["id"]) for r in resources] == [
        ("Questionnaire", "care-pack"), ("Questionnaire", "care-pack-patient-feedback"),  # the whole pack first
        ("QuestionnaireResponse", "submission-2"), ("QuestionnaireResponse", "submission-1"),
        ("QuestionnaireResponse", "submission-7")]
    pack = resources[0]
    assert [i["linkId"] for g in pack["item"] for i in g["item"]] == [  # both definitions of one version merged
        "cover.details.name", "cover.details.email", "cover.details.practice", "cover.details.start_date",
        "review.sign.name", "review.sign.date", "review.done", "feedback.respect"]
    assert [r.get("questionnaire") for r in resources[2:]] == [
        "urn:portfolio:questionnaire:care-pack-patient-feedback|1.0.0", "urn:portfolio:questionnaire:care-pack|1.0.0",
        "urn:portfolio:questionnaire:care-pack|1.0.0"]
    assert resources[2]["item"] == [{"linkId": "feedback", "item": [{"linkId": "feedback.respect", "answer": [
        {"valueCoding": {"code": "very_happy", "display": "Very happy"}}]}]}]
    expected = [uuid.uuid5(uuid.NAMESPACE_URL, name) for name in (
        "Questionnaire/care-pack/1.0.0", "Questionnaire/care-pack-patient-feedback/1.0.0",
        "QuestionnaireResponse/submission-2/", "QuestionnaireResponse/submission-1/",
        "QuestionnaireResponse/submission-7/")]
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:uuid:{u}" for u in expected]
    assert '"Zoë' in to_fhir([zoe_pack()], defs)
    assert to_fhir([], defs).startswith('{\n "resourceType": "Bundle",\n "type": "collection",\n "timestamp": "')
    assert to_fhir([], defs).endswith('",\n "entry": []\n}\n')  # indented by one, a line per key


def test_fhir_bundle_under_an_https_base_uses_the_canonical_url():
    bundle = json.loads(to_fhir([zoe_feedback()], DEFINITIONS, fhir_base="https://fhir.example.org/r4"))
    assert bundle["entry"][0]["fullUrl"] == \
        "https://fhir.example.org/r4/Questionnaire/care-pack-patient-feedback"
    assert bundle["entry"][1]["fullUrl"] == \
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'QuestionnaireResponse/submission-2/')}"


def test_fhir_orders_parts_and_versions():
    defs = {}
    records = []
    for n, (part, version) in enumerate([("zeta", "1.0.0"), (None, "2.0.0"), ("alpha", "1.0.0"), (None, "1.0.0")]):
        d = Definition(f"{n}" * 64, "care-pack", part, "care-pack", version, "h", FEEDBACK_FIELDS)
        defs[d.id] = d
        records.append(StoredRecord(sub(n + 1, d), []))
    bundle = json.loads(to_fhir(records, defs))
    assert [(e["resource"]["id"], e["resource"].get("version")) for e in bundle["entry"][:4]] == [
        ("care-pack", "1.0.0"), ("care-pack", "2.0.0"), ("care-pack-alpha", "1.0.0"), ("care-pack-zeta", "1.0.0")]


# ---------------------------------------------------------------- merging field orders

@pytest.mark.parametrize("lists, merged", [
    ([], []),
    ([["a", "b"]], ["a", "b"]),
    ([["a", "b"], ["b", "c"]], ["a", "b", "c"]),
    ([["a", "c"], ["a", "b", "c"]], ["a", "b", "c"]),  # a new id right after the one it follows
    ([["b", "c"], ["a", "b"]], ["a", "b", "c"]),  # at a list's start: before the first id already placed
    ([["c", "d"], ["a", "b", "d"]], ["c", "a", "b", "d"]),
    ([["a", "b", "c"], ["x", "c", "y"]], ["a", "b", "x", "c", "y"]),
    ([["a", "b"], ["b", "x", "y"], ["y", "z"]], ["a", "b", "x", "y", "z"]),
    ([["a", "b", "c"], ["c", "x", "b", "y"]], ["a", "b", "y", "c", "x"]),  # anchors follow the latest seen
    ([["a", "x"], ["a", "b", "c"]], ["a", "b", "c", "x"]),  # after a new id, the next goes after it
])
def test_merge_order_known_answers(lists, merged):
    assert merge_order(lists) == merged


# ---------------------------------------------------------------- from a store

def _new(definition: Definition, sha: str, values: list[FieldValue], flags=(), instance=1,
         warnings=True) -> NewSubmission:
    return NewSubmission(
        sha256=sha * 64, filename=f"{sha}.pdf", size=10, format="pdf", editor="pdftk", instance_id=iid(instance),
        pack_id=definition.pack_id, part=definition.part, content_id=definition.content_id,
        content_version=definition.content_version, content_hash=definition.content_hash,
        generator_version="0.1.0", definition=definition, learner_key="zoe", learner_name=ZOE,
        practice="Riverside Surgery", pcn="riverside-pcn", pcn_name="Riverside PCN", learner={"name": ZOE},
        pcn_facts={}, values=values,
        warnings=[("cover.details.name", "Cover: Name: '943 476 5919' looks like one")] if warnings else [],
        flags=list(flags))


@pytest.fixture
def store(tmp_path):
    nhs = "943 476 5919"  # 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299 = 27*11+2; 11-2 = 9
    with open_store(tmp_path / "records.sqlite") as store:
        with store.transaction():
            first = store.add_submission(_new(PACK, "a", [FieldValue("cover.details.name", "read", nhs)],
                                              flags=[("cover.details.name", "nhs_number")]), 1, None)
            store.add_submission(_new(PACK, "b", [FieldValue("cover.details.name", "read", nhs),
                                                  FieldValue("cover.details.practice", "read", nhs)],
                                      flags=[("cover.details.name", "nhs_number"),
                                             ("cover.details.practice", "nhs_number")], instance=2), 1, None)
            third = store.add_submission(_new(PACK, "c", [FieldValue("cover.details.name", "read", "Zoe")], instance=3),
                                         1, None)
            store.add_submission(_new(PACK, "d", [FieldValue("cover.details.name", "read", "Zoë")], instance=3),
                                 2, third)
            store.add_submission(_new(FEEDBACK, "e", [], instance=4, warnings=False), 1, None)
        with store.transaction():
            store.add_audit("review_cleared", submission_id=first, detail="checked by hand")
        yield store


def test_export_records_withholds_flagged_values_of_uncleared_copies(store):
    result = export_records(store, "csv")
    assert (result.records, result.withheld, result.included, result.cleared) == (4, 2, 0, 1)
    rows = {r["filename"]: r for r in csv.DictReader(io.StringIO(result.text))}
    assert list(rows) == ["a.pdf", "b.pdf", "d.pdf", "e.pdf"]  # the current versions
    assert rows["a.pdf"]["cover.details.name"] == "943 476 5919"  # cleared by a reviewer
    assert rows["b.pdf"]["cover.details.name"] == "[withheld: possible NHS number]"
    assert rows["b.pdf"]["withheld_fields"] == "cover.details.name cover.details.practice"
    assert (rows["d.pdf"]["cover.details.name"], rows["d.pdf"]["version"], rows["d.pdf"]["warnings"]) == ("Zoë", "2", "1")
    assert (rows["e.pdf"]["part"], rows["e.pdf"]["warnings"], rows["e.pdf"]["missing_fields"]) == (
        "patient_feedback", "0", "")
    assert export(store, "csv") == result.text


def test_export_of_every_version(store):
    result = export_records(store, "csv", all_versions=True)
    assert result.records == 5
    rows = list(csv.DictReader(io.StringIO(result.text)))
    assert [(r["filename"], r["current"], r["cover.details.name"]) for r in rows][2:4] == [
        ("c.pdf", "false", "Zoe"), ("d.pdf", "true", "Zoë")]
    assert export(store, "csv", all_versions=True) == result.text
    assert [r.submission.filename for r in load_records(store)[0]] == ["a.pdf", "b.pdf", "d.pdf", "e.pdf"]
    assert [r.warnings for r in load_records(store)[0]][3] == []


def test_export_records_include_flagged_and_formats(store):
    result = export_records(store, "json", include_flagged=True)
    assert (result.records, result.withheld, result.included, result.cleared) == (4, 0, 2, 1)
    names = [r["fields"].get("cover.details.name") for r in json.loads(result.text)["records"]]
    assert names == ["943 476 5919", "943 476 5919", "Zoë", None]
    shown = '"cover.details.practice": "943 476 5919"'
    assert shown in export(store, "json", include_flagged=True) and shown not in export(store, "json")
    bundle = json.loads(export(store, "fhir", fhir_base="https://fhir.example.org"))
    assert bundle["entry"][0]["fullUrl"] == "https://fhir.example.org/Questionnaire/care-pack"
    withheld = json.loads(export(store, "fhir"))["entry"][3]["resource"]["item"][0]["item"][0]  # b.pdf
    assert withheld == {"linkId": "cover.details.name", "answer": [{"valueString": "[withheld: possible NHS number]"}]}
    assert table(export(store, "csv-long"))[1][5:9] == ["cover.details.name", "text", "read", "943 476 5919"]
