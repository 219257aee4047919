"""Untrusted input at the records store: rejected files leave nothing behind; flagged copies are marked.

The file-level cases (messages, limits) are in tests/reading/test_security.py; here each
hostile file goes through 'portfolio ingest' and the store is inspected.
"""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.formats.pdf.fill import fill_pdf
from generator.records.connect import open_store
from tests import hostile


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory, pdf_path, docx_path):
    folder = tmp_path_factory.mktemp("returned")
    pack_pdf, pack_docx = pdf_path.read_bytes(), docx_path.read_bytes()
    files = {
        "empty.pdf": b"",
        "truncated.pdf": pack_pdf[:40_000],
        "renamed.pdf": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
        "encrypted.pdf": hostile.encrypted_pdf(pack_pdf),
        "flattened.pdf": hostile.flattened_pdf(pack_pdf),
        "cyclic.pdf": hostile.cyclic_page_tree_pdf(),
        "bomb.pdf": hostile.decompression_bomb_pdf(pack_pdf),
        "bomb.docx": hostile.docx_zip_bomb(pack_docx),
        "xxe.docx": hostile.docx_xxe(pack_docx),
        "macro.docm": hostile.docm(pack_docx),
        "linked.docx": hostile.docx_external_relationship(pack_docx),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    hostile.big_file(folder / "huge.pdf")
    return folder, sorted([*files, "huge.pdf"])


def test_rejected_files_store_nothing_but_an_audit_entry(hostile_folder, tmp_path):
    folder, names = hostile_folder
    store_file = tmp_path / "records.sqlite"
    result = CliRunner().invoke(main, ["ingest", str(folder), "--store", str(store_file), "--jobs", "2"])
    assert result.exit_code == 1
    # A flattened copy is a printed copy: its pages carry their page codes, so it is read as paper; its
    # copy was never registered here, so its pages are kept as unidentified (with their images), not stored.
    printed = {"flattened.pdf"}
    assert f"0 new, 0 unchanged, 0 superseded, 0 conflicting, {len(names) - len(printed)} rejected" in result.output
    assert "register the cohort first" in result.output
    db = sqlite3.connect(store_file)
    for table in ("submissions", "field_values", "warnings", "definitions", "identifier_flags"):
        assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    rejected = {row[0] for row in db.execute("SELECT filename FROM audit_log WHERE action = 'rejected'")}
    assert rejected == set(names) - printed
    unidentified = {row[0] for row in db.execute("SELECT filename FROM scan_pages WHERE submission_id IS NULL")}
    assert unidentified == printed
    db.close()


def test_flagged_copy_is_stored_marked_for_review_and_shown_by_records(pdf_path, tmp_path):
    number = hostile.valid_nhs_number()
    notes = "final_review.review.self_assessment"
    copy = tmp_path / "zoe.pdf"
    copy.write_bytes(fill_pdf(pdf_path.read_bytes(), {
        "cover.details.name": "Zoë Łukasiewicz", notes: f"Discussed with the patient, NHS no. {number}, at LS1 4AP."}))
    store_file = tmp_path / "records.sqlite"
    ingest = CliRunner().invoke(main, ["ingest", str(copy), "--store", str(store_file)])
    assert ingest.exit_code == 0, ingest.output
    assert number not in ingest.output and "LS1" not in ingest.output
    with open_store(store_file, create=False) as store:
        [submission] = store.submissions()
        assert store.flags() == {submission.id: [(notes, "nhs_number"), (notes, "postcode")]}
    records = CliRunner().invoke(main, ["records", "--store", str(store_file)])
    assert records.exit_code == 0
    assert (f"  REVIEW         zoe.pdf: possible patient identifiers in {notes} (nhs number), {notes} (postcode); "
            "values not shown") in records.output
    assert "1 copy(ies) flagged for review" in records.output
    assert number not in records.output and "LS1" not in records.output
    as_json = CliRunner().invoke(main, ["records", "--store", str(store_file), "--json"])
    assert '"kind": "nhs_number"' in as_json.output and number not in as_json.output


def test_generic_pack_copies_are_told_apart_by_the_cover_name(pdf_path, tmp_path, form, theme):
    """Copies of one 'portfolio build' pack share an instance id; two learners must not conflict."""
    from generator.formats.pdf.write import write_pdf
    from generator.model.manifest import make_manifest
    generic = write_pdf(form, theme, make_manifest(form))  # no learner: a generic pack
    folder = tmp_path / "returned"
    folder.mkdir()
    for name in ("Zoë Łukasiewicz", "Siobhán Kelly"):
        (folder / f"{name.split()[0]}.pdf").write_bytes(fill_pdf(generic, {"cover.details.name": name}))
    (folder / "blank.pdf").write_bytes(generic)
    store_file = tmp_path / "records.sqlite"
    result = CliRunner().invoke(main, ["ingest", str(folder), "--store", str(store_file)])
    assert "2 new, 0 unchanged, 0 superseded, 0 conflicting, 1 rejected" in result.output
    assert "blank.pdf: is a generic pack with no learner name on its cover" in result.output
    with open_store(store_file, create=False) as store:
        assert sorted(s.learner_name for s in store.submissions()) == ["Siobhán Kelly", "Zoë Łukasiewicz"]


def test_review_flags_reach_the_exports_and_the_report(pdf_path, tmp_path):
    import csv
    import json as jsonlib
    notes = "final_review.review.self_assessment"
    copy = tmp_path / "zoe.pdf"
    copy.write_bytes(fill_pdf(pdf_path.read_bytes(), {"cover.details.name": "Zoë Łukasiewicz",
                                                      notes: "Born on 3 March 1948, lives alone."}))
    store = ["--store", str(tmp_path / "records.sqlite")]
    assert CliRunner().invoke(main, ["ingest", str(copy), *store]).exit_code == 0
    rows = list(csv.DictReader(CliRunner().invoke(main, ["export", *store]).stdout.splitlines()))
    assert rows[0]["review_flags"] == f"{notes}:date_of_birth"
    [record] = jsonlib.loads(CliRunner().invoke(main, ["export", "--format", "json", *store]).stdout)["records"]
    assert record["flags"] == [{"field": notes, "kind": "date_of_birth"}]
    bundle = jsonlib.loads(CliRunner().invoke(main, ["export", "--format", "fhir", *store]).stdout)
    [response] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    assert {"url": "urn:portfolio:fhir:identifier-review", "extension": [
        {"url": "linkId", "valueString": notes}, {"url": "kind", "valueCode": "date_of_birth"}]} in response["extension"]
    out = tmp_path / "reports"
    assert CliRunner().invoke(main, ["report", "--format", "html", "--out", str(out), *store]).exit_code == 0
    html = (out / "cohort-progress.html").read_text()
    assert f"zoe.pdf may hold patient identifiers in {notes} (date of birth)" in html and "1948" not in html
