"""Flagged patient identifiers are withheld from every export until a reviewer clears the copy."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest

from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.export import export, export_records
from generator.records.ingest import ingest
from generator.records.review import CLEARED, ReviewError, clear, marker

PCN = {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
NHS = "999 000 0018"  # passes the Modulus 11 check
SENTENCE = f"I supported patient {NHS} with a referral."
FLAGGED = "final_review.review.self_assessment"
POSTCODE_FIELD = "case_studies.studies.case_1.overview"


def _copy(form, blank, n: int, name: str, values: dict) -> bytes:
    manifest = make_manifest(form, instance_id=f"00000000-0000-4000-8000-{n:012d}", pcn=PCN,
                             learner={"name": name, "practice": "Riverside Surgery"},
                             created=datetime(2026, 9, 1, 10, 0))
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), values)


@pytest.fixture()
def flagged_store(tmp_path, form, theme):
    blank = write_docx(form, theme, make_manifest(form))
    folder = tmp_path / "returned"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(_copy(form, blank, 1, "Zoë Łukasiewicz", {
        FLAGGED: SENTENCE, POSTCODE_FIELD: "Met her at home in LS1 4AP.", "cover.details.name": "Zoë Łukasiewicz"}))
    (folder / "kai.docx").write_bytes(_copy(form, blank, 2, "Kai Jensen", {FLAGGED: "All went well."}))
    path = tmp_path / "records.sqlite"
    with open_store(path) as store:
        assert ingest([folder], store, jobs=1).ok
    return {"path": path, "zoe": folder / "zoe.docx", "kai": folder / "kai.docx"}


def test_marker_names_the_kinds():
    assert marker(["nhs_number"]) == "[withheld: possible NHS number]"
    assert marker(["postcode", "phone_number", "postcode"]) == "[withheld: possible postcode, phone number]"


@pytest.mark.parametrize("fmt", ["csv", "csv-long", "json", "fhir"])
def test_a_flagged_value_is_withheld_in_every_export(flagged_store, fmt):
    with open_store(flagged_store["path"]) as store:
        result = export_records(store, fmt)
    assert NHS not in result.text and "LS1 4AP" not in result.text
    assert "[withheld: possible NHS number]" in result.text and "[withheld: possible postcode]" in result.text
    assert FLAGGED in result.text  # the field id is kept
    assert "All went well." in result.text  # an unflagged copy is exported as it is
    assert (result.withheld, result.included, result.cleared) == (2, 0, 0)


def test_the_wide_csv_names_the_withheld_fields_and_keeps_the_flags(flagged_store):
    with open_store(flagged_store["path"]) as store:
        table = list(csv.DictReader(io.StringIO(export(store, "csv"))))
    zoe = next(r for r in table if r["filename"] == "zoe.docx")
    assert zoe[FLAGGED] == "[withheld: possible NHS number]"
    assert zoe["withheld_fields"] == f"{POSTCODE_FIELD} {FLAGGED}"  # in document order
    assert zoe["review_flags"] == f"{POSTCODE_FIELD}:postcode {FLAGGED}:nhs_number"
    assert zoe["cover.details.name"] == "Zoë Łukasiewicz"


def test_json_and_fhir_keep_the_field_and_kind(flagged_store):
    with open_store(flagged_store["path"]) as store:
        records = json.loads(export(store, "json"))["records"]
        bundle = json.loads(export(store, "fhir"))
    zoe = next(r for r in records if r["submission"]["filename"] == "zoe.docx")
    assert zoe["fields"][FLAGGED] == "[withheld: possible NHS number]"
    assert zoe["withheld"] == [POSTCODE_FIELD, FLAGGED]
    assert {"field": FLAGGED, "kind": "nhs_number"} in zoe["flags"]
    response = next(e["resource"] for e in bundle["entry"]
                    if e["resource"].get("author", {}).get("display") == "Zoë Łukasiewicz")
    answers = {i["linkId"]: i["answer"][0] for g in response["item"] for i in g["item"]}
    assert answers[FLAGGED] == {"valueString": "[withheld: possible NHS number]"}
    review = [e for e in response["extension"] if e["url"] == "urn:portfolio:fhir:identifier-review"]
    assert {"url": "linkId", "valueString": FLAGGED} in [x for e in review for x in e["extension"]]


def test_include_flagged_puts_the_values_in_and_counts_them(flagged_store):
    with open_store(flagged_store["path"]) as store:
        result = export_records(store, "csv", include_flagged=True)
    assert SENTENCE in result.text and "LS1 4AP" in result.text
    assert (result.withheld, result.included) == (0, 2)


def test_clearing_a_copy_appends_an_audit_entry_and_its_values_export_normally(flagged_store):
    with open_store(flagged_store["path"]) as store:
        before = store.counts()
        done = clear(store, flagged_store["zoe"], "the number is the learner's course code")
        after = store.counts()
        entry = store.audit()[-1]
        result = export_records(store, "json")
    assert done.already is None and done.filename == "zoe.docx"
    assert after["audit_log"] == before["audit_log"] + 1
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items()
                                                                    if k != "audit_log"}
    assert (entry.action, entry.submission_id, entry.filename) == (CLEARED, done.submission_id, "zoe.docx")
    assert "reason: the number is the learner's course code" in entry.detail
    assert SENTENCE in result.text and (result.withheld, result.cleared) == (0, 1)


def test_clearing_by_submission_id_and_twice(flagged_store):
    with open_store(flagged_store["path"]) as store:
        sid = clear(store, flagged_store["zoe"], "checked").submission_id
        audit = len(store.audit())
        again = clear(store, str(sid), "checked again")
        assert again.already is not None and again.already.submission_id == sid
        assert len(store.audit()) == audit  # nothing new written


@pytest.mark.parametrize("target, reason, message", [
    ("kai", "checked", "kai.docx (submission 1): has no identifier flags; nothing to clear"),
    ("zoe", "  ", "give the reason with --reason"),
    ("99", "checked", "submission 99: not in the records store"),
    ("nowhere.pdf", "checked", "nowhere.pdf: no such file, and not a submission id"),
])
def test_clearing_what_cannot_be_cleared_says_why(flagged_store, target, reason, message):
    given = flagged_store.get(target, target)
    with open_store(flagged_store["path"]) as store:
        audit = len(store.audit())
        with pytest.raises(ReviewError, match=message.replace("(", r"\(").replace(")", r"\)")):
            clear(store, given, reason)
        assert len(store.audit()) == audit
