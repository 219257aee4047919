"""Ingest's scan path with known answers, from scan results built in the test.

``scan_outcomes`` stores what ``generator.reading.scan`` read from a scanned file: one submission
per copy found in it (its pages, every mark's ink and decision, every text crop) and every page it
could not identify. Here the scan results (``ScanRead``, ``ScanCopy``, ``PageInfo``, ``Mark``) are
written in the test, so nothing is rendered and no image is decoded: each answer is written here.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from generator.errors import ReadError, StoreError
from generator.reading.scan import NEEDS_REVIEW, NEEDS_TRANSCRIPTION, Known, Mark, PageInfo, ScanCopy, ScanRead
from generator.records import ingest as ingest_module
from generator.records.connect import open_store
from generator.records.ingest import (IngestResult, _page_row, _read_scan, _scan_submission, known_layouts,
                                      scan_outcomes, store_submission, unidentified_reason)
from generator.records.register import learner_key
from generator.records.store import Definition, FieldValue, IssuedPack, ScanField, ScanPage

ONE = "00000000-0000-4000-8000-00000000000a"
TWO = "00000000-0000-4000-8000-00000000000b"
STRAY = "00000000-0000-4000-8000-00000000000c"  # not issued: unknown to the store
SHA = "5" * 64
PAGES = [{"width": 595.0, "height": 842.0}, {"width": 595.0, "height": 842.0}]
FIVE = [{"value": v, "label": v} for v in ("never", "rarely", "sometimes", "often", "always")]
THREE = [{"value": v, "label": v} for v in ("yes", "no", "unsure")]
FIELDS = [{"id": "cover.name", "kind": "text", "label": "Name", "cover": "name"},
          {"id": "review.done", "kind": "checkbox", "label": "Done"},
          {"id": "feedback.respect", "kind": "choice", "label": "Respect", "options": FIVE},
          {"id": "feedback.again", "kind": "choice", "label": "Again", "options": THREE},
          {"id": "review.notes", "kind": "longtext", "label": "Notes"}]
DEFINITION = Definition("d" * 64, "care-pack", None, "care-pack", "1.2.0", "c" * 64, FIELDS)
FORM = Definition("e" * 64, "care-pack", "patient_feedback", "care-pack", "1.2.0", "f" * 64, FIELDS[2:4])
ISSUED = IssuedPack(ONE, "pack", "Zoë Łukasiewicz", "Riverside Surgery", "riverside-pcn", "Dr A", "Ms B",
                    "2026-09-01", "", "zoe.pdf", "care-pack", "1.2.0", "2026-08-01T09:00:00Z",
                    learner_key("riverside-pcn", "Riverside Surgery", "Zoë Łukasiewicz"), "cohort-a/issued.csv")


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "records.sqlite") as s:
        with s.transaction():
            s.add_issued([ISSUED], "cohort-a/issued.csv")
            s.add_issued_definition(ONE, DEFINITION, PAGES)
            s.add_issued_definition(TWO, FORM, PAGES[:1])
        yield s


def page(index, instance=ONE, number=1, reason="", image=None, dpi=300.0, residual=0.25) -> PageInfo:
    return PageInfo(index, instance, number, "care-pack", "1.2.0", dpi, residual, reason, image)


def zoe_copy(*pages: PageInfo) -> ScanCopy:
    return ScanCopy(
        ONE, list(pages or [page(1), page(2, number=2)]),
        values={"cover.name": "Zoë Łukasiewicz", "review.done": True, "feedback.respect": "often",
                "feedback.again": "no", "review.notes": None},
        states={"cover.name": "read", "review.done": "read", "feedback.respect": "read",
                "feedback.again": NEEDS_REVIEW, "review.notes": NEEDS_TRANSCRIPTION},
        marks=[Mark("cover.name", "", 1, 0.031, "written"), Mark("review.done", "", 1, 0.214, "ticked"),
               Mark("feedback.respect", "often", 2, 0.402, "ticked"),
               Mark("feedback.respect", "never", 2, 0.011, "empty"),
               Mark("review.notes", "", 2, 0.052, "written")],
        crops={"cover.name": b"PNG-name", "review.notes": b"PNG-notes", "feedback.respect": b"never-kept"},
        warnings=["feedback.again: two bubbles are marked; a person must choose", "page 2 was scanned skewed"])


def form_copy(*pages: PageInfo) -> ScanCopy:
    return ScanCopy(TWO, list(pages), values={"feedback.respect": "always"}, states={"feedback.respect": "read"},
                    marks=[Mark("feedback.respect", "always", 1, 0.3, "ticked")])


def audit(store) -> list[tuple[str, str | None, str | None, str | None, int | None, str]]:
    return [(e.action, e.filename, e.sha256, e.instance_id, e.submission_id, e.detail) for e in store.audit()]


# ---------------------------------------------------------------- what one copy becomes

def test_a_scanned_copy_becomes_one_submission_with_its_values_positions_and_warnings():
    copy = zoe_copy()
    copy.pages[1].reason = "the page did not align (3.1 mm off)"
    new = _scan_submission(Path("scans") / "stack.png", SHA, 4321, copy, DEFINITION, ISSUED, b"PNG")
    assert (new.sha256, new.filename, new.size, new.format, new.editor, new.instance_id) == (
        SHA, "stack.png", 4321, "scan", "paper", ONE)
    assert (new.pack_id, new.part, new.content_id, new.content_version, new.content_hash, new.generator_version) == (
        "care-pack", None, "care-pack", "1.2.0", "c" * 64, "")
    assert new.definition is DEFINITION and new.data == b"PNG"
    assert (new.learner_name, new.practice, new.pcn, new.pcn_name) == (
        "Zoë Łukasiewicz", "Riverside Surgery", "riverside-pcn", "riverside-pcn")
    assert new.learner == {"name": "Zoë Łukasiewicz", "practice": "Riverside Surgery"}
    assert new.pcn_facts == {"slug": "riverside-pcn"}
    assert new.learner_key == ISSUED.learner_key
    # every field of the definition, in its order; a five-option choice carries its position (1-based)
    assert new.values == [FieldValue("cover.name", "read", "Zoë Łukasiewicz"), FieldValue("review.done", "read", True),
                          FieldValue("feedback.respect", "read", "often", 4), FieldValue("feedback.again", "read", "no"),
                          FieldValue("review.notes", "read", None)]
    assert new.warnings == [
        ("review.notes", "review.notes: handwriting on a scanned page needs transcription (portfolio review)"),
        ("feedback.again", "feedback.again: two bubbles are marked; a person must choose"),
        (None, "page 2 was scanned skewed"),
        (None, "scanned page 2 (page 2 of the copy) was not read: the page did not align (3.1 mm off); "
               "its image is kept")]
    assert new.flags == []


def test_a_field_the_scan_did_not_reach_is_missing_and_a_value_off_the_options_has_no_position():
    copy = ScanCopy(ONE, [page(3)], values={"feedback.respect": "loudly", "cover.name": "Zoë"},
                    states={"feedback.respect": "read", "cover.name": "read"})
    new = _scan_submission(Path("a.png"), SHA, 1, copy, DEFINITION, ISSUED, None)
    assert new.values == [FieldValue("cover.name", "read", "Zoë"), FieldValue("review.done", "missing", None),
                          FieldValue("feedback.respect", "read", "loudly"),
                          FieldValue("feedback.again", "missing", None), FieldValue("review.notes", "missing", None)]
    assert new.warnings == [] and new.data is None
    first = ScanCopy(ONE, [page(1)], values={"feedback.respect": "never"}, states={"feedback.respect": "read"})
    assert _scan_submission(Path("a.png"), SHA, 1, first, DEFINITION, ISSUED, None).values[2] == FieldValue(
        "feedback.respect", "read", "never", 1)
    last = ScanCopy(ONE, [page(1)], values={"feedback.respect": "always"}, states={"feedback.respect": "read"})
    assert _scan_submission(Path("a.png"), SHA, 1, last, DEFINITION, ISSUED, None).values[2] == FieldValue(
        "feedback.respect", "read", "always", 5)
    # a state other than read or missing (needs review) keeps the value read, without a transcription warning
    review = ScanCopy(ONE, [page(1)], values={"review.done": False}, states={"review.done": NEEDS_REVIEW})
    new = _scan_submission(Path("a.png"), SHA, 1, review, DEFINITION, ISSUED, None)
    assert new.values[1] == FieldValue("review.done", "read", False) and new.warnings == []


def test_a_copy_not_in_the_register_is_named_by_its_instance():
    copy = form_copy(page(1, TWO))
    new = _scan_submission(Path("form.png"), SHA, 9, copy, FORM, None, None)
    assert (new.learner_name, new.practice, new.pcn, new.pcn_name, new.learner, new.pcn_facts) == (
        "(unnamed copy 00000000)", "", "", "", {}, {})
    assert new.learner_key == learner_key("", "", "(unnamed copy 00000000)")
    assert new.learner_key == '["", "", "(unnamed copy 00000000)"]'
    assert (new.part, new.pack_id) == ("patient_feedback", "care-pack")
    assert new.values == [FieldValue("feedback.respect", "read", "always", 5),
                          FieldValue("feedback.again", "missing", None)]


def test_a_warning_names_its_field_only_when_the_field_is_in_the_definition():
    copy = ScanCopy(ONE, [page(1)], warnings=["review.done: a faint mark", "cover: torn", "no colon here",
                                              "review.notes: x: y"])
    new = _scan_submission(Path("a.png"), SHA, 1, copy, DEFINITION, ISSUED, None)
    assert new.warnings == [("review.done", "review.done: a faint mark"), (None, "cover: torn"),
                            (None, "no colon here"), ("review.notes", "review.notes: x: y")]


def test_a_page_row_carries_every_fact_of_the_page():
    info = page(4, number=2, reason="blurred", image=b"IMG", dpi=200.0, residual=1.5)
    assert _page_row(SHA, "stack.png", info, 7) == ScanPage(SHA, 4, "stack.png", 7, ONE, 2, 200.0, 1.5, "blurred",
                                                            b"IMG")
    bare = PageInfo(2)
    assert _page_row(SHA, "b.png", bare, None) == ScanPage(SHA, 2, "b.png", None, None, None, None, None, "", None)


# ---------------------------------------------------------------- storing a scanned file

def test_a_scan_of_two_copies_and_an_unknown_page_stores_each(store):
    scan = ScanRead(copies=[form_copy(page(3, TWO)), zoe_copy()],
                    unidentified=[page(4, None, None, "no QR code of this tool was found on the page", b"IMG4")],
                    pages=4, scanned=4)
    data = b"PNG-the-scanned-file"
    outcomes = scan_outcomes(store, Path("scans") / "stack.png", SHA, data, scan, False)
    second = hashlib.sha256(f"{SHA}:{TWO}".encode()).hexdigest()
    assert second == hashlib.sha256(("5" * 64 + ":" + TWO).encode()).hexdigest()
    # copies in the order of their first page; the file's own hash and bytes go with the first
    assert [(o.path, o.status, o.reason, o.sha256, o.instance_id, o.submission_id, o.previous_id, o.code)
            for o in outcomes] == [
        ("scans/stack.png", "new", "scanned pages 1, 2", SHA, ONE, 1, None, ""),
        ("scans/stack.png", "new", "scanned page 3", SHA, TWO, 2, None, ""),
        ("scans/stack.png", "unidentified",
         "scanned page 4 not identified: no QR code of this tool was found on the page; its image is kept "
         "(portfolio review pages)", SHA, None, None, None, "E-READ")]
    assert outcomes[2].pages == [{"page": 4, "reason": "no QR code of this tool was found on the page",
                                  "instance_id": None}]
    assert outcomes[0].missing == [] and outcomes[1].missing == ["feedback.again"]
    assert outcomes[0].warnings == [
        "review.notes: handwriting on a scanned page needs transcription (portfolio review)",
        "feedback.again: two bubbles are marked; a person must choose", "page 2 was scanned skewed"]
    assert outcomes[1].warnings == [] and outcomes[2].warnings == []
    [zoe, form] = store.submissions()
    assert (zoe.sha256, zoe.filename, zoe.size, zoe.format, zoe.editor, zoe.instance_id, zoe.version) == (
        SHA, "stack.png", len(data), "scan", "paper", ONE, 1)
    assert (form.sha256, form.size, form.instance_id, form.part, form.learner_name) == (
        second, len(data), TWO, "patient_feedback", "(unnamed copy 00000000)")
    assert store.original(SHA) == data and store.original(second) is None
    assert [(p.source_sha256, p.page_index, p.filename, p.submission_id, p.instance_id, p.page, p.dpi, p.reason,
             p.image) for p in store.scan_pages()] == [
        (SHA, 1, "stack.png", 1, ONE, 1, 300.0, "", None), (SHA, 2, "stack.png", 1, ONE, 2, 300.0, "", None),
        (SHA, 3, "stack.png", 2, TWO, 1, 300.0, "", None),
        (SHA, 4, "stack.png", None, None, None, 300.0, "no QR code of this tool was found on the page", b"IMG4")]
    # every mark, with its state; a text field's crop is kept, a bubble's never
    assert [(f.submission_id, f.field_id, f.option, f.page, f.ink, f.decision, f.status, f.crop)
            for f in store.scan_fields()] == [
        (1, "cover.name", "", 1, 0.031, "written", "read", b"PNG-name"),
        (1, "review.done", "", 1, 0.214, "ticked", "read", None),
        (1, "feedback.respect", "never", 2, 0.011, "empty", "read", None),
        (1, "feedback.respect", "often", 2, 0.402, "ticked", "read", None),
        (1, "review.notes", "", 2, 0.052, "written", NEEDS_TRANSCRIPTION, b"PNG-notes"),
        (2, "feedback.respect", "always", 1, 0.3, "ticked", "read", None)]
    assert audit(store) == [("ingested", "stack.png", SHA, ONE, 1, "new copy"),
                            ("ingested", "stack.png", second, TWO, 2, "new copy"),
                            ("unidentified", "stack.png", SHA, None, None,
                             "page 4: no QR code of this tool was found on the page")]
    assert store.warnings([1]) == {1: [
        "review.notes: handwriting on a scanned page needs transcription (portfolio review)",
        "feedback.again: two bubbles are marked; a person must choose", "page 2 was scanned skewed"]}


def test_a_mark_of_a_field_without_a_state_is_stored_as_read(store):
    copy = ScanCopy(ONE, [page(1)], marks=[Mark("review.done", "", 1, 0.2, "ticked")])
    [outcome] = scan_outcomes(store, Path("one.png"), SHA, b"X", ScanRead([copy], pages=1, scanned=1), False)
    assert (outcome.status, outcome.reason) == ("new", "scanned page 1")
    [row] = store.scan_fields()
    assert (row.field_id, row.status, row.crop) == ("review.done", "read", None)


def test_a_scan_offered_again_is_unchanged_and_its_unknown_page_is_not_stored_twice(store):
    scan = ScanRead(copies=[zoe_copy()], unidentified=[page(3, STRAY, 1, "not issued by this store")], pages=3)
    scan_outcomes(store, Path("stack.png"), SHA, b"DATA", scan, False)
    again = scan_outcomes(store, Path("again.png"), SHA, b"DATA", scan, False)
    assert [(o.status, o.reason, o.submission_id, o.previous_id) for o in again] == [
        ("unchanged", "scanned pages 1, 2: already ingested (submission 1)", None, 1),
        ("unidentified", "scanned page 3 not identified: not issued by this store; its image is kept "
                         "(portfolio review pages)", None, None)]
    assert audit(store) == [  # the page's entry is written once, with the instance its page code names
        ("ingested", "stack.png", SHA, ONE, 1, "new copy"),
        ("unidentified", "stack.png", SHA, STRAY, None, "page 3: not issued by this store")]
    assert [(p.page_index, p.instance_id, p.filename) for p in store.scan_pages(unidentified=True)] == [
        (3, STRAY, "stack.png")]


def test_a_stacks_unidentified_pages_are_one_outcome_naming_them_and_every_page_is_kept(store):
    """A printed stack of many pages listed a line per page; each page is still stored and audited."""
    no_code = "no QR code of this tool was found on the page"
    scan = ScanRead(copies=[zoe_copy()], pages=9, unidentified=[
        page(3, None, None, no_code, b"IMG3"), page(4, None, None, no_code, b"IMG4"),
        page(7, None, None, no_code, b"IMG7"), page(9, STRAY, 1, "not issued by this store", b"IMG9")])
    outcomes = scan_outcomes(store, Path("stack.pdf"), SHA, b"DATA", scan, False)
    assert [(o.status, o.instance_id) for o in outcomes] == [("new", ONE), ("unidentified", None)]
    lost = outcomes[1]
    assert lost.reason == ("scanned pages 3, 4, 7 and 9 not identified (pages 3, 4 and 7: no QR code of this tool was "
                           "found on the page; page 9: not issued by this store); their images are kept "
                           "(portfolio review pages)")
    assert lost.pages == [{"page": 3, "reason": no_code, "instance_id": None},
                          {"page": 4, "reason": no_code, "instance_id": None},
                          {"page": 7, "reason": no_code, "instance_id": None},
                          {"page": 9, "reason": "not issued by this store", "instance_id": STRAY}]
    assert (lost.sha256, lost.code) == (SHA, "E-READ")
    assert [(p.page_index, p.instance_id, p.image) for p in store.scan_pages(unidentified=True)] == [
        (3, None, b"IMG3"), (4, None, b"IMG4"), (7, None, b"IMG7"), (9, STRAY, b"IMG9")]
    assert [a[5] for a in audit(store) if a[0] == "unidentified"] == [
        f"page 3: {no_code}", f"page 4: {no_code}", f"page 7: {no_code}", "page 9: not issued by this store"]
    result = IngestResult(store=store.path, files=outcomes)
    assert result.counts["unidentified"] == 4 and not result.ok  # the summary counts pages


def test_the_pages_of_one_reason_are_named_with_and():
    def pages(*indexes, reason="blank"):
        return [{"page": i, "reason": reason, "instance_id": None} for i in indexes]

    assert unidentified_reason(pages(5)) == ("scanned page 5 not identified: blank; its image is kept "
                                             "(portfolio review pages)")
    assert unidentified_reason(pages(5, 6)) == ("scanned pages 5 and 6 not identified: blank; their images are kept "
                                                "(portfolio review pages)")
    assert unidentified_reason(pages(1, 2, 3)).startswith("scanned pages 1, 2 and 3 not identified: blank; their")


def test_a_changed_copy_scanned_again_is_a_conflict_or_with_supersede_the_next_version(store):
    scan_outcomes(store, Path("first.png"), SHA, b"ONE", ScanRead([zoe_copy(page(1))]), False)
    changed = zoe_copy(page(1))
    changed.values["review.done"] = False
    [conflict] = scan_outcomes(store, Path("second.png"), "6" * 64, b"TWO", ScanRead([changed]), False)
    assert (conflict.status, conflict.submission_id, conflict.previous_id) == ("conflict", None, 1)
    assert conflict.reason.startswith("scanned page 1: ")
    [superseded] = scan_outcomes(store, Path("second.png"), "6" * 64, b"TWO", ScanRead([changed]), True)
    assert (superseded.status, superseded.submission_id, superseded.previous_id) == ("superseded", 2, 1)
    assert [(s.id, s.version, s.supersedes) for s in store.submissions(current_only=False)] == [
        (1, 1, None), (2, 2, 1)]
    assert [p.submission_id for p in store.scan_pages()] == [1, 2]


def typed_copy(notes: str, name: str = "Zoë Łukasiewicz") -> ScanCopy:
    """A copy printed to PDF: its text read from its pages, its white space collapsed as read."""
    return ScanCopy(ONE, [page(1)], values={"cover.name": name, "review.done": True, "review.notes": notes},
                    states={"cover.name": "read", "review.done": "read", "review.notes": "read"})


def test_a_printed_copy_whose_text_differs_only_in_white_space_is_the_copy_stored_from_its_fields(store):
    """The fillable copy keeps its answers' line breaks and trailing spaces; the same copy printed to PDF
    gives the words with single spaces, as they are read from a page: the same answers, not a conflict."""
    typed = typed_copy("Agreed a plan.\n\nReviewed it  in March. \n", "Zoë Łukasiewicz ")
    fillable = replace(_scan_submission(Path("zoe.pdf"), "7" * 64, 1, typed, DEFINITION, ISSUED, None),
                       format="pdf", editor="portfolio fill")
    assert store_submission(store, fillable, False)[0] == "new"
    same = typed_copy("Agreed a plan. Reviewed it in March.")
    [unchanged] = scan_outcomes(store, Path("printed.pdf"), SHA, b"PDF", ScanRead([same]), False)
    assert (unchanged.status, unchanged.previous_id) == ("unchanged", 1)
    other = typed_copy("Agreed a plan. Reviewed it in April.")
    [conflict] = scan_outcomes(store, Path("printed.pdf"), "6" * 64, b"PDF", ScanRead([other]), False)
    assert conflict.status == "conflict"
    assert "other answers in 1 field(s): review.notes;" in conflict.reason
    # two copies read from their fields are compared as they are: white space is part of a typed answer
    spaced = replace(fillable, sha256="8" * 64, values=[
        FieldValue(v.field_id, v.state, "Agreed a plan. Reviewed it in March." if v.field_id == "review.notes"
                   else v.value) for v in fillable.values])
    status, reason, _, _ = store_submission(store, spaced, False)
    assert status == "conflict" and "other answers in 1 field(s): review.notes;" in reason


def test_a_fillable_copy_after_its_printed_copy_is_compared_by_its_words_too(store):
    [printed] = scan_outcomes(store, Path("printed.pdf"), SHA, b"PDF", ScanRead([typed_copy("Agreed a plan.")]),
                              False)
    assert printed.status == "new"
    fillable = replace(_scan_submission(Path("zoe.pdf"), "7" * 64, 1, typed_copy("Agreed a plan.\n"), DEFINITION,
                                        ISSUED, None), format="pdf", editor="portfolio fill")
    assert store_submission(store, fillable, False)[:2] == ("unchanged",
                                                            "same answers as submission 1 (a re-saved copy)")


def test_a_scan_of_another_pcns_copy_is_refused_for_a_pcn_manager(store):
    [outcome] = scan_outcomes(store, Path("stack.png"), SHA, b"DATA", ScanRead([zoe_copy(page(1))]), False,
                              only_pcn="hill-pcn")
    assert (outcome.status, outcome.submission_id) == ("rejected", None)
    assert outcome.reason.startswith("scanned page 1: is not a copy of a learner of your PCN (hill-pcn)")
    assert store.submissions() == [] and store.scan_pages() == [] and store.scan_fields() == []
    [ok] = scan_outcomes(store, Path("stack.png"), SHA, b"DATA", ScanRead([zoe_copy(page(1))]), False,
                         only_pcn="riverside-pcn")
    assert ok.status == "new"


def test_a_scan_with_no_pages_is_rejected(tmp_path):
    with open_store(tmp_path / "empty.sqlite") as store:
        [outcome] = scan_outcomes(store, Path("empty.tif"), SHA, b"", ScanRead(), False)
        assert (outcome.path, outcome.status, outcome.reason, outcome.sha256, outcome.code) == (
            "empty.tif", "rejected", "has no pages", SHA, "E-READ")
        assert store.audit() == []


def test_a_copy_whose_storing_fails_is_failed_and_the_rest_go_on(store, monkeypatch):
    real = store.add_scan_fields

    def refuse(rows):
        rows = list(rows)
        if any(r.field_id == "review.done" for r in rows):  # Zoë's copy, not the feedback form
            raise StoreError("disk full at 'scan_fields'")
        real(rows)

    monkeypatch.setattr(store, "add_scan_fields", refuse)
    scan = ScanRead(copies=[zoe_copy(page(1)), form_copy(page(2, TWO))], unidentified=[page(3, None, None, "blank")])
    outcomes = scan_outcomes(store, Path("stack.png"), SHA, b"DATA", scan, False)
    assert [(o.status, o.code, o.instance_id, o.submission_id) for o in outcomes] == [
        ("failed", "E-STORE", ONE, None), ("new", "", TWO, 1), ("unidentified", "E-READ", None, None)]
    assert outcomes[0].reason == "could not be stored (disk full at '…'); nothing of it was kept"
    assert outcomes[0].missing == [] and len(outcomes[0].warnings) == 3
    # the failed copy's transaction left nothing: not its submission, pages or original
    [form] = store.submissions()
    assert (form.instance_id, form.sha256) == (TWO, hashlib.sha256(f"{SHA}:{TWO}".encode()).hexdigest())
    assert [p.page_index for p in store.scan_pages()] == [2, 3] and store.original(SHA) is None


def test_an_unknown_page_whose_storing_fails_is_failed(store, monkeypatch):
    def refuse(row):
        raise StoreError("the store is read-only ('records.sqlite')")

    monkeypatch.setattr(store, "add_scan_page", refuse)
    scan = ScanRead(unidentified=[page(5, None, None, "blank"), page(6, None, None, "blank")])
    outcomes = scan_outcomes(store, Path("stack.png"), SHA, b"DATA", scan, False)
    assert [(o.path, o.status, o.reason, o.sha256, o.code) for o in outcomes] == [
        ("stack.png", "failed", "page 5 could not be stored (the store is read-only ('…'))", SHA, "E-STORE"),
        ("stack.png", "failed", "page 6 could not be stored (the store is read-only ('…'))", SHA, "E-STORE")]
    assert store.audit() == []


# ---------------------------------------------------------------- what the scan reader is given

def test_known_layouts_maps_each_issued_instance_to_its_definitions_fields_and_pages(store):
    layouts = known_layouts(store)
    assert layouts == {ONE: Known(FIELDS, PAGES), TWO: Known(FIELDS[2:4], PAGES[:1])}
    with store.transaction():
        store.add_issued_definition(STRAY, DEFINITION, [{"width": 1.0, "height": 2.0}])
    layouts = known_layouts(store)
    # instances of one definition share one Known (the first one's pages)
    assert layouts[STRAY] is layouts[ONE] and layouts[STRAY].pages == PAGES


def test_known_layouts_of_a_store_without_layouts_is_empty(tmp_path):
    with open_store(tmp_path / "empty.sqlite") as empty:
        assert known_layouts(empty) == {}


def test_known_layouts_leaves_out_an_instance_whose_definition_is_not_stored(store, monkeypatch):
    monkeypatch.setattr(store, "definitions", lambda: {DEFINITION.id: DEFINITION})
    assert known_layouts(store) == {ONE: Known(FIELDS, PAGES)}


def _scan(copies=(), unidentified=(), scanned=0) -> ScanRead:
    return ScanRead(list(copies), list(unidentified), len(copies) + len(unidentified), scanned)


@pytest.mark.parametrize("scan, refused", [
    (_scan(unidentified=[PageInfo(1, None, reason="no QR code")]), True),  # nothing of ours, no scanner's image
    (_scan(unidentified=[PageInfo(1, STRAY, reason="not issued")]), False),  # a page code of ours
    (_scan(unidentified=[PageInfo(1, None), PageInfo(2, STRAY)]), False),
    (_scan(unidentified=[PageInfo(1, None)], scanned=1), False),  # a scanner's image
    (_scan(copies=[ScanCopy(ONE, [PageInfo(1, ONE)])]), False),  # a copy
    (_scan(), True),
])
def test_a_pdf_without_fields_is_a_scan_only_when_a_page_is_ours_or_a_scanners_image(monkeypatch, scan, refused):
    seen = []
    monkeypatch.setattr(ingest_module, "read_scan", lambda data, name, lookup: seen.append((data, name, lookup)) or scan)
    unless = ReadError("flat.pdf", "has no form fields: it was flattened", code="E-READ-DAMAGED")
    known = {ONE: Known(FIELDS, PAGES)}
    out = _read_scan(b"%PDF-1.7", "flat.pdf", known, unless=unless)
    assert (seen[0][0], seen[0][1], seen[0][2](ONE), seen[0][2](TWO)) == (b"%PDF-1.7", "flat.pdf", known[ONE], None)
    if refused:
        assert (out.error, out.code, out.scan) == ("has no form fields: it was flattened", "E-READ-DAMAGED", None)
    else:
        assert (out.error, out.scan) == (None, scan)
    # without ``unless`` (an image) the scan is always the answer
    plain = _read_scan(b"II*\0", "a.tif", known)
    assert (plain.error, plain.scan) == (None, scan)


def test_a_scan_the_reader_refuses_keeps_the_readers_reason_and_code(monkeypatch):
    def refuse(data, name, lookup):
        raise ReadError(name, "is a truncated image", code="E-READ-DAMAGED")

    monkeypatch.setattr(ingest_module, "read_scan", refuse)
    out = _read_scan(b"\x89PNG", "a.png", {}, unless=ReadError("a.png", "other", code="E-READ"))
    assert (out.error, out.code, out.scan, out.record) == ("is a truncated image", "E-READ-DAMAGED", None, None)


def test_text_read_from_a_printed_page_is_checked_for_patient_identifiers_like_a_fillable_copys(store):
    """A copy printed or flattened to PDF keeps its typed answers as text: an NHS number in one was stored unflagged."""
    copy = ScanCopy(ONE, [page(1)],
                    values={"cover.name": "Zoë Łukasiewicz", "review.notes": "Patient 999 000 0018 was seen at SW1A 1AA",
                            "feedback.again": "no"},
                    states={"cover.name": "read", "review.notes": "read", "feedback.again": "read"})
    new = _scan_submission(Path("printed.pdf"), SHA, 1, copy, DEFINITION, ISSUED, None)
    # 999 000 0018: 9*10 + 9*9 + 9*8 = 243, + 1*2 = 245 = 22*11 + 3, check 11 - 3 = 8
    assert new.flags == [("review.notes", "nhs_number"), ("review.notes", "postcode")]
    advice = ("portfolios must not hold patient identifiers: ask the learner to remove it and return the copy again")
    assert new.warnings == [
        ("review.notes", f"review.notes: possible nhs number (value not shown); {advice}"),
        ("review.notes", f"review.notes: possible postcode (value not shown); {advice}")]
    outcomes = scan_outcomes(store, Path("printed.pdf"), SHA, b"%PDF-", ScanRead([copy], []), False)
    assert [o.status for o in outcomes] == ["new"]
    sid = outcomes[0].submission_id
    assert store.flags([sid]) == {sid: [("review.notes", "nhs_number"), ("review.notes", "postcode")]}


def test_a_run_passes_supersede_and_the_pcn_scope_on_to_a_scans_copies(store, tmp_path, monkeypatch):
    # the scan reader's answer is written here (forked readers inherit it); what is tested is what the run passes on
    def read(data, name, memory, known):
        copy = zoe_copy(page(1))
        copy.values["review.done"] = name == "first.png"
        return ingest_module.ReadOutcome(scan=ScanRead([copy], pages=1, scanned=1))

    monkeypatch.setattr(ingest_module, "read_copy", read)
    for name in ("first.png", "second.png", "third.png"):
        (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    run = ingest_module.ingest
    assert [o.status for o in run([tmp_path / "first.png"], store, jobs=1).files] == ["new"]
    assert [o.status for o in run([tmp_path / "second.png"], store, jobs=1).files] == ["conflict"]
    assert [o.status for o in run([tmp_path / "second.png"], store, jobs=1, supersede=True).files] == ["superseded"]
    [refused] = run([tmp_path / "third.png"], store, jobs=1, supersede=True, only_pcn="hill-pcn").files
    assert (refused.status, refused.submission_id) == ("rejected", None)
    [ok] = run([tmp_path / "third.png"], store, jobs=1, supersede=True, only_pcn="riverside-pcn").files
    assert ok.status == "unchanged"  # the same answers as the current version


def test_a_stacks_conflicting_copy_is_stored_by_the_rerun_with_supersede_its_conflict_asks_for(store, tmp_path,
                                                                                                monkeypatch):
    """A stack's first copy carries the file's hash: a rerun with --supersede took the file as 'already
    ingested' unread, so the conflict of its second copy, whose advice is that rerun, could never be stored."""
    def read(data, name, memory, known):
        zoe = zoe_copy(page(2))
        if name == "zoe.png":
            return ingest_module.ReadOutcome(scan=ScanRead([zoe], pages=1, scanned=1))
        zoe.values["review.done"] = False
        return ingest_module.ReadOutcome(scan=ScanRead([form_copy(page(1, TWO)), zoe], pages=2, scanned=2))

    monkeypatch.setattr(ingest_module, "read_copy", read)
    for name in ("zoe.png", "stack.png"):
        (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    run = ingest_module.ingest
    assert [o.status for o in run([tmp_path / "zoe.png"], store, jobs=1).files] == ["new"]
    first = run([tmp_path / "stack.png"], store, jobs=1).files
    assert [o.status for o in first] == ["new", "conflict"] and "rerun with --supersede" in first[1].reason
    again = run([tmp_path / "stack.png"], store, jobs=1).files  # without --supersede: not read again
    assert [(o.status, o.reason) for o in again] == [("unchanged", "already ingested (submission 2)")]
    stored = run([tmp_path / "stack.png"], store, jobs=1, supersede=True).files
    assert [(o.status, o.reason) for o in stored] == [
        ("unchanged", "scanned page 1: already ingested (submission 2)"),
        ("superseded", "scanned page 2: version 2, replaces submission 1 (kept)")]
    current = {s.instance_id: s.id for s in store.submissions()}
    assert current == {TWO: 2, ONE: 3}
    assert {v.field_id: v.value for v in store.values([3])[3]}["review.done"] is False
    assert [(p.page_index, p.submission_id) for p in store.scan_pages([3])] == [(2, 3)]
