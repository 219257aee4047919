"""Ingest's decisions with known answers, from records and submissions built in the test.

What to store for a read copy, when a copy is new, unchanged, superseded or a conflict, whose copy
it is, what a summary counts and which files a folder holds: each answer is written here. The
readers are not run, except by the last tests, which ingest copies of a few objects each (built
as ``tests/formats/pdf/test_read_raw.py`` does) through the real reader processes.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from pathlib import Path

import pytest

from generator.errors import IngestError, ReadError, StoreError
from generator.reading.identifiers import Flag
from generator.reading.read import Record
from generator.reading.sandbox import Isolated, Limits
from generator.records import ingest as ingest_module
from generator.records.connect import open_store
from generator.records.ingest import (
    FileOutcome,
    IngestResult,
    ReadOutcome,
    _Item,
    _outcome,
    _read_outcome,
    cover_value,
    definition_of,
    differing_fields,
    find_files,
    ingest,
    learner_changes,
    new_submission,
    read_copy,
    redact,
    result_json,
    store_submission,
    summarise,
    warning_kind,
)
from generator.records import register
from generator.records.register import definitions_id, learner_key
from generator.records.store import FieldValue, IssuedPack

ZOE = "Zoë Łukasiewicz"
IID = "00000000-0000-4000-8000-000000000001"
FIELDS = [{"id": "cover.name", "kind": "text", "label": "Cover: Name", "cover": "name"},
          {"id": "cover.practice", "kind": "text", "label": "Cover: Practice", "cover": "practice"},
          {"id": "cover.pcn", "kind": "text", "label": "Cover: PCN", "cover": "pcn"},
          {"id": "review.notes", "kind": "longtext", "label": "Review: Notes"}]


def record(values=None, *, pack=None, unmapped=None, warnings=(), flags=(), missing=(), positions=None) -> Record:
    facts = {"pack_id": "care-pack", "instance_id": IID, "content_id": "care-pack", "content_version": "1.0.0",
             "content_hash": "h" * 64, "generator_version": "0.1.0", "format": "pdf", "editor": "pdftk",
             "learner": {"name": ZOE, "practice": "Riverside Surgery"},
             "pcn": {"slug": "riverside-pcn", "name": "Riverside PCN"}, "part": "pack"}
    facts.update(pack or {})
    fields = {"cover.name": ZOE, "cover.practice": "Riverside Surgery", "cover.pcn": "Riverside PCN",
              "review.notes": "Went well"}
    fields.update(values or {})
    return Record(facts, fields, positions or {}, unmapped or {}, list(warnings), list(flags), list(missing), FIELDS)


def outcome_of(rec: Record, part: str | None = None) -> ReadOutcome:
    return ReadOutcome(rec, part, rec.definitions, rec.missing)


def new(rec: Record | None = None, sha: str = "a", part: str | None = None, name: str = "zoe.pdf"):
    return new_submission(Path("returns") / name, sha * 64, 1234, outcome_of(rec or record(), part), b"%PDF-")


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "records.sqlite") as s:
        yield s


# ---------------------------------------------------------------- warnings and summaries

@pytest.mark.parametrize("message, kind", [
    ("cover.name: possible nhs number (value not shown)", "possible patient identifier"),
    ("cover.start: date not understood ('…')", "date not understood"),
    ("review.done: unexpected tick state '…'", "unexpected answer"),
    ("review.agree: unexpected yes/no value", "unexpected answer"),
    ("feedback.respect: unknown option '…'", "unexpected answer"),
    ("3 control(s) had lost their field ids (the editor dropped the tags); matched 3 by title", "field ids lost by the editor"),
    ("2 field(s) of the pack are missing from the copy: a, b", "fields missing from the copy"),
    ("x.y: not in the pack's field definitions", "value for an unknown field"),
    ("content version 9.9.9 is not known to this version of the tool", "unknown content version"),
    ("a generic pack (not issued to one learner)", "generic pack"),
    ("something else", "other"),
])
def test_warning_kinds(message, kind):
    assert warning_kind(message) == kind


def test_summary_groups_per_file_and_counts_per_kind():
    files = [
        FileOutcome("a.pdf", "new", warnings=["x: date not understood", "y: date not understood",
                                              "z: possible postcode (value not shown)", "odd", "odder"]),
        FileOutcome("b.pdf", "superseded", reason="version 2"),
        FileOutcome("c.pdf", "conflict", warnings=["w: date not understood"]),
        FileOutcome("d.pdf", "rejected"), FileOutcome("e.pdf", "failed"), FileOutcome("f.pdf", "unchanged"),
    ]
    summary = summarise(IngestResult("records.sqlite", files))
    assert summary.counts == {"new": 1, "unchanged": 1, "superseded": 1, "conflict": 1, "rejected": 1, "failed": 1,
                              "unidentified": 0}
    assert list(summary.kinds.items()) == [("date not understood", (3, 2)), ("other", (2, 1)),
                                           ("possible patient identifier", (1, 1))]
    assert [(f.path, f.shown, f.more) for f in summary.files] == [
        ("a.pdf", ["x: date not understood", "y: date not understood", "z: possible postcode (value not shown)"], 2),
        ("c.pdf", ["w: date not understood"], 0)]
    assert [o.path for o in summary.listed] == ["b.pdf", "c.pdf", "d.pdf", "e.pdf"]
    shorter = summarise(IngestResult("records.sqlite", files), shown=1, always=("new",))
    assert [(f.shown, f.more) for f in shorter.files] == [(["x: date not understood"], 4),
                                                          (["w: date not understood"], 0)]
    assert [o.path for o in shorter.listed] == ["a.pdf"]


def test_kinds_of_equal_count_are_in_alphabetical_order():
    files = [FileOutcome("a.pdf", "new", warnings=["odd", "p: possible postcode (value not shown)",
                                                   "d: date not understood"])]
    assert list(summarise(IngestResult("s", files)).kinds) == ["date not understood", "other",
                                                               "possible patient identifier"]


def test_result_counts_and_ok():
    assert IngestResult("s", [FileOutcome("a", "new"), FileOutcome("b", "unchanged"),
                              FileOutcome("c", "superseded")]).ok is True
    for status in ("conflict", "rejected", "failed"):
        assert IngestResult("s", [FileOutcome("a", "new"), FileOutcome("b", status)]).ok is False
    assert FileOutcome("returns/2026/zoe.pdf", "new").name == "zoe.pdf"


def test_result_json_known_answer(tmp_path):
    path = tmp_path / "records.sqlite"
    register = tmp_path / "issued.csv"
    result = IngestResult(str(path), [
        FileOutcome("zoe.pdf", "new", "", "a" * 64, IID, 1, None, ["review.notes"], ["x.y"],
                    ["x: date not understood"]),
        FileOutcome("bad.pdf", "rejected", "is damaged", "b" * 64, code="E-READ-DAMAGED")],
        {str(register): (3, 2)}, 1.23456, 2)
    assert result_json(result) == {
        "store": str(path.resolve()), "seconds": 1.235, "readers": 2, "ok": False,
        "counts": {"new": 1, "unchanged": 0, "superseded": 0, "conflict": 0, "rejected": 1, "failed": 0,
                   "unidentified": 0},
        "warning_kinds": {"date not understood": {"warnings": 1, "files": 1}},
        "registers": {str(register.resolve()): {"rows": 3, "new": 2}},
        "files": [
            {"path": "zoe.pdf", "status": "new", "reason": "", "sha256": "a" * 64, "instance_id": IID,
             "submission_id": 1, "previous_id": None, "missing": ["review.notes"], "unmapped": ["x.y"],
             "warnings": ["x: date not understood"], "pages": []},
            {"path": "bad.pdf", "status": "rejected", "reason": "is damaged", "sha256": "b" * 64, "instance_id": None,
             "submission_id": None, "previous_id": None, "missing": [], "unmapped": [], "warnings": [], "pages": []}],
    }


@pytest.mark.parametrize("message, redacted", [
    ("cover.name: 'Zoë' looks like a name", "cover.name: '…' looks like a name"),
    ('cover.name: "943 476 5919" here', "cover.name: '…' here"),
    ("the pack's cover: fine", "the pack's cover: fine"),  # an apostrophe is not a quote
    ("'a' and 'b'", "'…' and '…'"),
    ("no quotes", "no quotes"),
])
def test_redact(message, redacted):
    assert redact(message) == redacted


# ---------------------------------------------------------------- finding files

def test_find_files_walks_folders_sorted_and_skips_hidden_and_lock_files(tmp_path):
    for name in ["b/z.pdf", "b/a.docx", "a.pdf", ".hidden.pdf", "~$zoe.docx", ".~lock.zoe.docx#", "Thumbs.db",
                 "desktop.ini", ".git/x.pdf", "c/.d/y.pdf", "notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = find_files([tmp_path, tmp_path / "a.pdf", tmp_path / ".hidden.pdf"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.pdf", "notes.txt", "b/a.docx", "b/z.pdf",
                                                                   ".hidden.pdf"]  # named: taken, once each


def test_find_files_refuses_a_missing_path_and_a_folder_without_copies(tmp_path):
    with pytest.raises(IngestError) as caught:
        find_files([tmp_path / "nowhere"])
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: no such file or folder"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(IngestError) as caught:
        find_files([tmp_path])
    assert str(caught.value) == (f"{tmp_path}: no PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file "
                                 "here (1 other file(s), e.g. notes.txt); "
                                 "nothing was ingested (name the folder the returned copies are in)")
    folders = []
    for n in range(4):
        (tmp_path / f"e{n}").mkdir()
        folders.append(tmp_path / f"e{n}")
    with pytest.raises(IngestError) as caught:
        find_files(folders)
    assert str(caught.value).startswith(f"{folders[0]}, {folders[1]}, {folders[2]} and 1 more: no PDF, Word (.docx) "
                                        "or scanned (PNG, JPEG, TIFF) file here; nothing")
    (tmp_path / "e0" / "ZOE.PDF").write_bytes(b"x")  # the suffix in any case
    assert find_files(folders) == [tmp_path / "e0" / "ZOE.PDF"]
    assert find_files([]) == []


# ---------------------------------------------------------------- what is stored for a read copy

def test_definition_id_is_the_hash_of_the_canonical_fields():
    fields = [{"kind": "text", "id": "a.b", "label": "Zoë"}]
    canonical = '[{"id":"a.b","kind":"text","label":"Zoë"}]'  # keys sorted, no spaces, UTF-8 kept
    d = definition_of(record(), "patient_feedback", fields)
    assert d.id == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert (d.pack_id, d.part, d.content_id, d.content_version, d.content_hash, d.fields) == (
        "care-pack", "patient_feedback", "care-pack", "1.0.0", "h" * 64, fields)
    bare = definition_of(Record({}, {}), None, [])
    assert (bare.pack_id, bare.content_id, bare.content_version, bare.content_hash) == ("", "", "", "")


def test_the_definitions_id_is_remembered_for_the_same_values_of_the_same_types_only(monkeypatch):
    monkeypatch.setattr(register, "_DEFINITION_IDS", {})
    ticked = [{"id": "a", "kind": "checkbox", "required": True}]
    one = [{"id": "a", "kind": "checkbox", "required": 1}]  # equal in Python, not in JSON
    assert definitions_id(ticked) == hashlib.sha256(b'[{"id":"a","kind":"checkbox","required":true}]').hexdigest()
    assert definitions_id(one) == hashlib.sha256(b'[{"id":"a","kind":"checkbox","required":1}]').hexdigest()
    reordered = [{"kind": "checkbox", "required": True, "id": "a"}]  # another pickle, the same canonical JSON
    assert definitions_id(reordered) == definitions_id(ticked)
    assert len(register._DEFINITION_IDS) == 3
    assert definitions_id(json.loads(json.dumps(ticked))) == definitions_id(ticked)  # a copy: found again
    assert len(register._DEFINITION_IDS) == 3


def test_the_definitions_ids_remembered_are_the_last_few_and_not_the_largest(monkeypatch):
    monkeypatch.setattr(register, "_DEFINITION_IDS", {})
    assert register.DEFINITION_IDS_KEPT == 4 and register.DEFINITION_KEY_MAX == 1_000_000
    lists = [[{"id": f"f{n}", "kind": "text"}] for n in range(6)]
    ids = [definitions_id(fields) for fields in lists]
    assert ids[5] == hashlib.sha256(b'[{"id":"f5","kind":"text"}]').hexdigest()
    assert list(register._DEFINITION_IDS.values()) == ids[2:]  # the oldest two made room
    small, big = [{"id": "s", "kind": "text"}], [{"id": "st", "kind": "text"}]
    monkeypatch.setattr(register, "DEFINITION_KEY_MAX", len(pickle.dumps(small, protocol=pickle.HIGHEST_PROTOCOL)))
    assert definitions_id(big) == hashlib.sha256(b'[{"id":"st","kind":"text"}]').hexdigest()
    assert list(register._DEFINITION_IDS.values()) == ids[2:]  # a byte too large to keep
    assert definitions_id(small) == hashlib.sha256(b'[{"id":"s","kind":"text"}]').hexdigest()
    assert list(register._DEFINITION_IDS.values()) == ids[3:] + [definitions_id(small)]  # just small enough


def test_cover_value_is_the_field_with_that_role():
    assert cover_value(FIELDS, {"cover.name": ZOE, "cover.practice": 3}, "name") == ZOE
    assert cover_value(FIELDS, {"cover.name": ZOE, "cover.practice": 3}, "practice") == ""  # not text
    assert cover_value(FIELDS, {}, "name") == ""
    assert cover_value(FIELDS, {"cover.name": ZOE}, "supervisor") == ""


def test_new_submission_known_answer():
    rec = record({"review.notes": None}, unmapped={"extra.note": "left over"}, missing=["cover.pcn"],
                 positions={"review.notes": 2},
                 warnings=["review.notes: date not understood", "extra.note: odd", "2 field(s) of the pack …"],
                 flags=[Flag("cover.name", "nhs_number")])
    sub = new(rec)
    assert (sub.sha256, sub.filename, sub.size, sub.format, sub.editor, sub.instance_id, sub.pack_id, sub.part) == (
        "a" * 64, "zoe.pdf", 1234, "pdf", "pdftk", IID, "care-pack", None)
    assert (sub.content_id, sub.content_version, sub.content_hash, sub.generator_version) == (
        "care-pack", "1.0.0", "h" * 64, "0.1.0")
    assert sub.values == [FieldValue("cover.name", "read", ZOE), FieldValue("cover.practice", "read", "Riverside Surgery"),
                          FieldValue("cover.pcn", "missing", None), FieldValue("review.notes", "read", None, 2),
                          FieldValue("extra.note", "unmapped", "left over")]
    assert sub.warnings == [
        ("review.notes", "review.notes: date not understood"), ("extra.note", "extra.note: odd"),
        (None, "2 field(s) of the pack …"),
        ("cover.name", "cover.name: possible nhs number (value not shown); portfolios must not hold patient "
                       "identifiers: ask the learner to remove it and return the copy again")]
    assert sub.flags == [("cover.name", "nhs_number")]
    assert (sub.learner_name, sub.practice, sub.pcn, sub.pcn_name) == (ZOE, "Riverside Surgery", "riverside-pcn",
                                                                       "Riverside PCN")
    assert sub.learner_key == learner_key("riverside-pcn", "Riverside Surgery", ZOE)
    assert sub.learner == {"name": ZOE, "practice": "Riverside Surgery"} and sub.data == b"%PDF-"
    assert sub.definition.fields == FIELDS


def test_new_submission_of_a_generic_copy_takes_the_cover():
    rec = record({"cover.name": "Dafydd ap Gruffudd", "cover.practice": "Hill Practice"},
                 pack={"learner": {}, "pcn": {"name": "Hill PCN"}, "editor": None})
    sub = new(rec)
    assert (sub.learner_name, sub.practice, sub.pcn, sub.pcn_name, sub.editor) == (
        "Dafydd ap Gruffudd", "Hill Practice", "Hill PCN", "Hill PCN", "unknown")
    nameless = new(record({"cover.name": None, "cover.practice": None}, pack={"learner": {}, "pcn": {}}))
    assert (nameless.learner_name, nameless.practice, nameless.pcn, nameless.pcn_name) == (
        "(unnamed copy 00000000)", "", "", "")


# ---------------------------------------------------------------- comparing copies

def test_differing_fields_in_the_new_copys_order_then_the_old_ones():
    old = [FieldValue("a", "read", 1), FieldValue("b", "read", 2), FieldValue("gone", "read", 3),
           FieldValue("c", "missing", None)]
    now = [FieldValue("c", "read", None), FieldValue("b", "read", 2), FieldValue("a", "read", 9),
           FieldValue("fresh", "unmapped", "x")]
    assert differing_fields(old, now, False) == ["c", "a", "fresh", "gone"]
    assert differing_fields(old, old, False) == []


def test_differing_fields_by_words_collapse_the_white_space_of_both_copies():
    old = [FieldValue("a", "read", "Booked  a\nfollow-up "), FieldValue("b", "read", "x"), FieldValue("c", "read", 2)]
    now = [FieldValue("a", "read", " Booked a follow-up"), FieldValue("b", "read", "x y"), FieldValue("c", "read", 2)]
    assert differing_fields(old, now, True) == ["b"]
    assert differing_fields(now, old, True) == ["b"]
    assert differing_fields(old, now, False) == ["a", "b"]


def test_an_initial_is_one_letter_with_or_without_its_full_stop():
    assert ingest_module._initial_of("X.", "Xavier") and ingest_module._initial_of("X", "Xavier")
    assert not ingest_module._initial_of("Xa.", "Xavier") and not ingest_module._initial_of("Y.", "Xavier")
    assert not ingest_module._initial_of(".", "Xavier")


@pytest.mark.parametrize("cover, known, same", [
    (ZOE, ZOE, True), ("zoë  łukasiewicz", ZOE, True), ("Zoë", ZOE, True), (ZOE, "Zoë", True),
    ("Zoë Ł.", ZOE, True), ("Zoë Ł", ZOE, True), ("Z. Łukasiewicz", ZOE, True), ("Zoë K.", ZOE, False),
    ("Zo Łukasiewicz", ZOE, False), ("Dafydd", ZOE, False), ("", ZOE, True), (None, None, True), ("ZŁ", ZOE, False),
    ("Zoë Łukasiewicz-Jones", ZOE, False),
    # initials on the known side too: the register or the first copy may hold the short form
    (ZOE, "Zoë Ł.", True), (ZOE, "Zoë Ł", True), (ZOE, "Z. Łukasiewicz", True), ("Zoe Lukasiewicz", "Zoe L.", True),
    ("Z. Łukasiewicz", "Zoë Ł.", True), (ZOE, "Zoë K.", False), (ZOE, "Z. Kowalska", False), (ZOE, "ZŁ", False),
])
def test_the_same_learner_as_a_cover_can_say(cover, known, same):
    """Initials are allowed on either side, in either order of the arguments."""
    assert ingest_module._same(cover, known) is same
    assert ingest_module._same(known, cover) is same


def test_a_register_naming_the_learner_by_initial_is_not_contradicted_by_the_full_name():
    # "Zoe L." in the register, the whole name on the cover and in the manifest: no learner conflict
    assert learner_changes(new(), [issued(learner="Zoë Ł.")], None, []) == []
    assert learner_changes(new(), [issued(learner="Zoë K.")], None, []) == [
        "learner.name in the manifest", "cover.name"]


def issued(learner=ZOE, practice="Riverside Surgery") -> IssuedPack:
    return IssuedPack(IID, "pack.pdf", learner, practice, "riverside-pcn", "", "", "", "", "zoe.pdf", "care-pack",
                      "1.0.0", "2026-09-01", learner_key("riverside-pcn", practice, learner))


def test_learner_changes_against_the_register():
    assert learner_changes(new(), [issued()], None, []) == []
    forged = new(record({"cover.name": "Dafydd ap Gruffudd"}, pack={"learner": {"name": "Dafydd ap Gruffudd",
                                                                                "practice": "Hill"}}))
    assert learner_changes(forged, [issued()], None, []) == [
        "learner.name in the manifest", "learner.practice in the manifest", "cover.name"]
    blank = new(record({"cover.name": None}, pack={"learner": {}}))
    assert learner_changes(blank, [issued()], None, []) == []  # nothing said: nothing contradicted


def test_learner_changes_against_the_first_stored_copy(store):
    first = new()
    with store.transaction():
        store.add_submission(first, 1, None)
    [row] = store.instance_submissions(IID)
    stored = store.values([row.id])[row.id]
    other = new(record({"cover.practice": "Hill Practice"}), sha="b")
    assert learner_changes(other, [], row, stored) == ["cover.practice"]
    renamed = new(record(pack={"learner": {"name": "Dafydd", "practice": "Riverside Surgery"}}), sha="c")
    assert learner_changes(renamed, [], row, stored) == ["learner.name in the manifest"]
    assert learner_changes(other, [], None, []) == []


# ---------------------------------------------------------------- storing

def audit(store) -> list[tuple[str, str | None, int | None, str]]:
    return [(e.action, e.filename, e.submission_id, e.detail) for e in store.audit()]


def test_store_new_unchanged_and_resaved(store):
    assert store_submission(store, new(), False) == ("new", "", 1, None)
    assert store_submission(store, new(), False) == ("unchanged", "already ingested (submission 1)", None, 1)
    resaved = new(sha="b", name="zoe-resaved.pdf")
    assert store_submission(store, resaved, False) == (
        "unchanged", "same answers as submission 1 (a re-saved copy)", None, 1)
    assert audit(store) == [("ingested", "zoe.pdf", 1, "new copy")]


def test_store_conflict_then_supersede(store):
    store_submission(store, new(), False)
    changed = new(record({"review.notes": "Went better", "cover.pcn": "Other"}), sha="b", name="zoe-2.pdf")
    reason = ("this copy was ingested before (submission 1) with other answers in 2 field(s): cover.pcn, "
              "review.notes; nothing was stored: rerun with --supersede to store it as a new version")
    assert store_submission(store, changed, False) == ("conflict", reason, None, 1)
    assert store_submission(store, changed, False) == ("conflict", reason, None, 1)  # audited once
    assert store_submission(store, changed, True) == (
        "superseded", "version 2, replaces submission 1 (kept)", 2, 1)
    third = new(record({"review.notes": "Third"}), sha="c", name="zoe-3.pdf")
    assert store_submission(store, third, True) == ("superseded", "version 3, replaces submission 2 (kept)", 3, 2)
    assert audit(store) == [
        ("ingested", "zoe.pdf", 1, "new copy"),
        ("conflict", "zoe-2.pdf", 1, "answers differ from submission 1 in cover.pcn, review.notes; nothing stored"),
        ("superseded", "zoe-2.pdf", 2, "version 2 supersedes submission 1"),
        ("superseded", "zoe-3.pdf", 3, "version 3 supersedes submission 2")]
    assert [(s.id, s.version, s.supersedes, s.current) for s in store.submissions(current_only=False)] == [
        (1, 1, None, False), (2, 2, 1, False), (3, 3, 2, True)]


def test_a_filled_copy_after_a_blank_one_says_the_stored_one_is_blank(store):
    # the blank copy was sent first (only its stamped cover, an unticked box): the filled one is a conflict
    # whose reason says so, instead of listing every answer as "other answers"
    blank = new(record({"review.notes": None}), name="zoe-blank.pdf")
    assert store_submission(store, blank, False)[0] == "new"
    filled = new(record({"review.notes": "Went well"}), sha="b", name="zoe.pdf")
    assert store_submission(store, filled, False) == (
        "conflict", "this copy was ingested before (submission 1) blank, with nothing filled in beyond its cover; "
                    "nothing was stored: rerun with --supersede to store this one as a new version", None, 1)
    assert store_submission(store, filled, True)[:2] == ("superseded", "version 2, replaces submission 1 (kept)")


def test_a_conflict_lists_five_fields_and_how_many_more(store):
    fields = [{"id": f"s.f{n}", "kind": "text", "label": str(n)} for n in range(1, 9)]
    first = Record(record().pack, {f["id"]: "a" for f in fields}, definitions=fields)
    store_submission(store, new(first), False)
    second = Record(record().pack, {f["id"]: "b" for f in fields}, definitions=fields)
    status, reason, _, _ = store_submission(store, new(second, sha="b"), False)
    assert status == "conflict" and "in 8 field(s): s.f1, s.f2, s.f3, s.f4, s.f5 and 3 more; nothing" in reason


def test_a_separately_issued_part_keeps_every_distinct_file(store):
    part = record(pack={"part": "patient_feedback"})
    assert store_submission(store, new(part, part="patient_feedback"), False) == ("new", "", 1, None)
    same_answers = new(part, sha="b", part="patient_feedback", name="feedback-2.pdf")
    assert store_submission(store, same_answers, False) == (
        "new", "copy 2 of the same patient_feedback form", 2, None)
    assert audit(store)[-1] == ("ingested", "feedback-2.pdf", 2, "copy 2 of a separately issued patient_feedback form")
    assert [(s.version, s.supersedes, s.current) for s in store.submissions()] == [(1, None, True), (2, None, True)]


def test_a_copy_naming_another_learner_is_a_conflict_unless_accepted(store):
    with store.transaction():
        store.add_issued([issued()], "issued.csv")
    forged = new(record({"cover.name": "Dafydd ap Gruffudd"}), sha="b", name="forged.pdf")
    reason = ("names another learner than the one this copy was issued to (cover.name differs); nothing was stored: "
              "if the learner really changed, rerun with --accept-changed-learner")
    assert store_submission(store, forged, True) == ("conflict", reason, None, None)
    assert store_submission(store, forged, True) == ("conflict", reason, None, None)
    assert audit(store) == [("conflict", "forged.pdf", None,
                             "names another learner than the copy was issued to (cover.name); nothing stored")]
    assert store_submission(store, forged, False, accept_changed_learner=True) == ("new", "", 1, None)
    assert audit(store)[1:] == [
        ("learner changed", "forged.pdf", 1, "accepted with --accept-changed-learner (cover.name differ from the "
                                             "learner the copy was issued to)"),
        ("ingested", "forged.pdf", 1, "new copy")]


def test_a_later_copy_naming_another_learner_than_the_first(store):
    store_submission(store, new(), False)
    other = new(record({"cover.name": "Dafydd ap Gruffudd"}), sha="b", name="other.pdf")
    status, reason, sid, previous = store_submission(store, other, True)
    assert (status, sid, previous) == ("conflict", None, 1)
    assert "than the one this copy was stored for (cover.name differs)" in reason


# ---------------------------------------------------------------- one file's outcome

def item(name="zoe.pdf", sha="a") -> _Item:
    return _Item(0, Path(name), sha * 64, 1234, b"%PDF-")


def test_a_read_error_is_rejected_and_audited(store):
    outcome = _outcome(store, item(), ReadOutcome(error="is damaged", code="E-READ-DAMAGED"), False)
    assert (outcome.status, outcome.reason, outcome.code, outcome.sha256) == (
        "rejected", "is damaged", "E-READ-DAMAGED", "a" * 64)
    assert audit(store) == [("rejected", "zoe.pdf", None, "is damaged")]


def test_a_copy_without_an_instance_id_is_rejected(store):
    outcome = _outcome(store, item(), outcome_of(record(pack={"instance_id": None})), False)
    assert (outcome.status, outcome.code) == ("rejected", "E-READ")
    assert outcome.reason == "its portfolio manifest has no instance id; ask for the copy that was issued"
    assert audit(store)[0][0] == "rejected"


def test_a_generic_copy_is_told_apart_by_the_name_on_its_cover(store):
    generic = record(pack={"personalised": False, "learner": {}})
    outcome = _outcome(store, item(), outcome_of(generic), False)
    assert (outcome.status, outcome.submission_id) == ("new", 1)
    [row] = store.submissions()
    assert row.instance_id == f"{IID}#{learner_key('riverside-pcn', 'Riverside Surgery', ZOE)}"
    assert outcome.warnings[-1] == ("a generic pack (not issued to one learner): kept apart from other copies by the "
                                    "learner's name on its cover")
    nameless = record({"cover.name": "  "}, pack={"personalised": False, "learner": {}})
    refused = _outcome(store, item(sha="b"), outcome_of(nameless), False)
    assert (refused.status, refused.code) == ("rejected", "E-INGEST")
    assert refused.reason.startswith("is a generic pack with no learner name on its cover")


def test_an_outcome_carries_what_was_read_redacted(store):
    rec = record(unmapped={"extra.note": "x"}, missing=["review.notes"], warnings=["cover.name: 'Zoë' odd"])
    outcome = _outcome(store, item(), outcome_of(rec), False)
    assert (outcome.status, outcome.instance_id, outcome.missing, outcome.unmapped) == (
        "new", IID, ["review.notes"], ["extra.note"])
    assert outcome.warnings == ["cover.name: '…' odd"]


def test_a_store_that_fails_makes_the_file_failed(store, monkeypatch):
    def broken(*args, **kwargs):
        raise StoreError("the disk is full 'x'")
    monkeypatch.setattr(ingest_module, "store_submission", broken)
    outcome = _outcome(store, item(), outcome_of(record()), False)
    assert (outcome.status, outcome.code) == ("failed", "E-STORE")
    assert outcome.reason == "could not be stored (the disk is full '…'); nothing of it was kept"
    assert audit(store) == [("failed", "zoe.pdf", None, outcome.reason)]


# ---------------------------------------------------------------- reading one file

@pytest.mark.parametrize("raised, error, code", [
    (ReadError("x.pdf", "is damaged", "E-READ-DAMAGED"), "is damaged", "E-READ-DAMAGED"),
    (MemoryError(), "needs more than 768 MB to read; refused (a possible decompression bomb)", "E-READ-LIMIT"),
    (RecursionError(), "is nested too deeply to read (a cyclic or damaged structure); refused", "E-READ-DAMAGED"),
    (KeyError("x"), "could not be read (KeyError); it may be damaged: keep the file and report it", "E-READ-DAMAGED"),
])
def test_read_copy_never_raises(monkeypatch, raised, error, code):
    def reader(data, name):
        raise raised
    monkeypatch.setattr(ingest_module, "read_bytes", reader)
    out = read_copy(b"", "x.pdf")
    assert (out.record, out.error, out.code) == (None, error, code)


def test_read_copy_names_a_separate_part(monkeypatch):
    for part, expected in (("patient_feedback", "patient_feedback"), ("pack", None), (None, None), (3, None)):
        rec = record(pack={"part": part}, missing=["review.notes"])
        monkeypatch.setattr(ingest_module, "read_bytes", lambda data, name, rec=rec: rec)
        out = read_copy(b"", "x.pdf")
        assert (out.record, out.part, out.definitions, out.missing, out.error) == (
            rec, expected, FIELDS, ["review.notes"], None)


@pytest.mark.parametrize("isolated, error, code", [
    (Isolated("timeout"), "took longer than 2.5 s to read; refused (other files are not affected)", "E-READ-LIMIT"),
    (Isolated("crash", exitcode=-9), "made the reader crash (exit -9), so it was not stored; keep the file and "
                                     "report it (other files are not affected)", "E-READ-DAMAGED"),
    (Isolated("raised", "ValueError"), "could not be read (ValueError); keep the file and report it",
     "E-READ-DAMAGED"),
])
def test_how_a_reader_process_ended(isolated, error, code):
    out = _read_outcome(isolated, 2.5)
    assert (out.error, out.code) == (error, code)


def test_a_reader_processs_value_is_passed_on():
    value = ReadOutcome(error="x")
    assert _read_outcome(Isolated("ok", value), 1.0) is value


# ---------------------------------------------------------------- whole runs, through the reader processes

def tiny_pdf(name: str, manifest_fields=None, instance=IID) -> bytes:
    from tests.formats.pdf.test_read_raw import group, pdf_bytes, text
    from pikepdf import String
    return pdf_bytes([group("cover", text("name", String(name)))], instance_id=instance,
                     fields_manifest=manifest_fields or [{"id": "cover.name", "kind": "text", "label": "Name", "cover": "name"}])


def test_ingest_a_folder(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "a-zoe.pdf").write_bytes(tiny_pdf("Zoë"))
    (folder / "b-dafydd.pdf").write_bytes(tiny_pdf("Dafydd", instance="00000000-0000-4000-8000-000000000002"))
    (folder / "c-broken.pdf").write_bytes(b"%PDF-1.7\nnot really")
    (folder / "d-big.pdf").write_bytes(b"%PDF-" + b" " * 50_000)
    (folder / "e-again.pdf").write_bytes(tiny_pdf("Zoë"))
    calls = []
    with open_store(folder / "records.sqlite") as store:  # the store inside the folder is never read
        result = ingest([folder], store, jobs=2, progress=calls.append, limits=Limits(max_bytes=40_000, seconds=600))
        assert [(Path(o.path).name, o.status) for o in result.files] == [
            ("a-zoe.pdf", "new"), ("b-dafydd.pdf", "new"), ("c-broken.pdf", "rejected"), ("d-big.pdf", "rejected"),
            ("e-again.pdf", "unchanged")]
        assert result.files[3].reason.startswith("is 0.1 MB; the limit is 0.04 MB: a filled copy is under 2 MB")
        assert result.files[3].code == "E-READ-LIMIT"
        assert result.files[4].reason == "already ingested (submission 1)"
        assert calls == [1] * 5 and result.jobs == 2 and result.store == store.path
        assert [f.sha256 for f in result.files[:2]] == [
            hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in ("a-zoe.pdf", "b-dafydd.pdf")]
        again = ingest([folder / "a-zoe.pdf"], store, jobs=4)
        assert (again.jobs, again.files[0].status, again.files[0].previous_id) == (1, "unchanged", 1)
        [zoe, dafydd] = store.submissions()
        assert (zoe.filename, dafydd.filename) == ("a-zoe.pdf", "b-dafydd.pdf")
        assert (zoe.learner_name, dafydd.learner_name) == ("Zoë", "Dafydd")  # from the cover role
        assert json.loads(zoe.learner_key)[2] == "zoë"


def test_a_file_gone_before_it_is_read_is_rejected(tmp_path, monkeypatch):
    gone = tmp_path / "gone.pdf"
    monkeypatch.setattr(ingest_module, "find_files", lambda paths: [gone])
    with open_store(tmp_path / "records.sqlite") as store:
        [outcome] = ingest([tmp_path], store, jobs=1).files
        assert (outcome.status, outcome.code, outcome.reason) == (
            "rejected", "E-READ", "cannot be opened (No such file or directory)")
        assert audit(store) == [("rejected", "gone.pdf", None, "cannot be opened (No such file or directory)")]


# ---------------------------------------------------------------- a PCN manager's upload (only_pcn)

HILL = {"slug": "hill-pcn", "name": "Hill PCN"}
SCOPE = ("is not a copy of a learner of your PCN (riverside-pcn); nothing was stored: if it is, ask your "
         "training provider to upload it")


def test_a_copy_of_the_uploaders_pcn_is_stored(store):
    assert store_submission(store, new(), False, only_pcn="riverside-pcn") == ("new", "", 1, None)
    assert store_submission(store, new(), False, only_pcn="riverside-pcn") == (
        "unchanged", "already ingested (submission 1)", None, 1)


def test_a_copy_naming_another_pcn_is_refused_and_audited(store):
    other = new(record(pack={"pcn": HILL}), name="hill.pdf")
    assert store_submission(store, other, False, only_pcn="riverside-pcn") == ("rejected", SCOPE, None, None)
    assert audit(store) == [("refused", "hill.pdf", None,
                             "a copy of another PCN's learner (hill-pcn) uploaded for riverside-pcn; nothing stored")]
    nameless = new(record(pack={"pcn": {}}), sha="b", name="none.pdf")
    assert store_submission(store, nameless, False, only_pcn="riverside-pcn")[0] == "rejected"
    assert audit(store)[-1][3] == "a copy of another PCN's learner (no PCN) uploaded for riverside-pcn; nothing stored"
    assert store.submissions() == []


def test_a_copy_the_register_or_a_stored_version_gives_another_pcn_is_refused(store):
    with store.transaction():
        store.add_issued([IssuedPack(IID, "pack.pdf", ZOE, "Riverside Surgery", "hill-pcn", "", "", "", "", "zoe.pdf",
                                     "care-pack", "1.0.0", "2026-09-01", "k")], "issued.csv")
    assert store_submission(store, new(), False, only_pcn="riverside-pcn")[:2] == ("rejected", SCOPE)
    assert store_submission(store, new(), False, only_pcn="hill-pcn")[0] == "rejected"  # the manifest says riverside


def test_the_register_rows_of_other_copies_do_not_decide_a_copys_scope(store):
    with store.transaction():
        store.add_issued([IssuedPack("another-instance", "pack.pdf", "Dafydd ap Gruffudd", "Hill Surgery", "hill-pcn",
                                     "", "", "", "", "dafydd.pdf", "care-pack", "1.0.0", "2026-09-01", "k2"),
                          IssuedPack(IID, "pack.pdf", ZOE, "Riverside Surgery", "riverside-pcn", "", "", "", "",
                                     "zoe.pdf", "care-pack", "1.0.0", "2026-09-01", "k")], "issued.csv")
    assert store_submission(store, new(), False, only_pcn="riverside-pcn") == ("new", "", 1, None)


def test_an_interrupted_ingest_says_how_many_copies_were_kept():
    interrupted = ingest_module.IngestInterrupted(3)
    assert interrupted.stored == 3 and interrupted.args == (3,) and isinstance(interrupted, KeyboardInterrupt)


def test_a_batch_aborted_rolls_back_what_it_had_not_committed(store):
    batch = ingest_module._Batch(store, [])
    batch.abort()  # nothing open: nothing to roll back
    assert (batch.stack, batch.files) == (None, [])
    batch.begin()
    with store.transaction():
        store.add_audit("note", filename="a.txt")
    batch.files.append(0)
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:  # as ingest calls it: while the interruption is handled
        batch.abort()
    assert (batch.stack, batch.files, store.audit()) == (None, [], [])
    with store.transaction():  # the store takes writes again
        store.add_audit("note", filename="b.txt")
    assert [entry.filename for entry in store.audit()] == ["b.txt"]


def test_a_stored_version_of_another_pcn_or_the_same_file_stored_for_one(store):
    store_submission(store, new(record(pack={"pcn": HILL})), False)
    again = new(record(pack={"pcn": {"slug": "riverside-pcn"}}), sha="b", name="again.pdf")
    assert store_submission(store, again, True, only_pcn="riverside-pcn")[:2] == ("rejected", SCOPE)
    other_instance = new(record(pack={"pcn": {"slug": "riverside-pcn"},
                                      "instance_id": "00000000-0000-4000-8000-000000000009"}), sha="a")
    assert store_submission(store, other_instance, False, only_pcn="riverside-pcn")[:2] == ("rejected", SCOPE)


def test_an_outcome_refused_for_its_pcn_says_nothing_of_the_copy(store):
    rec = record(pack={"pcn": HILL}, unmapped={"extra.note": "x"}, missing=["review.notes"], warnings=["w: odd"])
    outcome = _outcome(store, item(), outcome_of(rec), False, only_pcn="riverside-pcn")
    assert (outcome.status, outcome.code, outcome.reason) == ("rejected", "E-SCOPE", SCOPE)
    assert (outcome.missing, outcome.unmapped, outcome.warnings) == ([], [], [])


def test_ingest_refuses_a_stored_file_of_another_pcn_without_reading_it(tmp_path, monkeypatch):
    copy = tmp_path / "returns" / "zoe.pdf"
    copy.parent.mkdir()
    copy.write_bytes(tiny_pdf("Zoë"))  # its manifest names no PCN
    with open_store(tmp_path / "records.sqlite") as store:
        [first] = ingest([copy], store, jobs=1).files
        assert first.status == "new"
        monkeypatch.setattr(ingest_module, "read_copy", lambda *a: pytest.fail("read again"))
        [refused] = ingest([copy], store, jobs=1, only_pcn="riverside-pcn").files
        assert (refused.status, refused.code, refused.reason) == ("rejected", "E-SCOPE", SCOPE)
        assert audit(store)[-1] == ("refused", "zoe.pdf", None, "a stored copy of another PCN's learner uploaded for "
                                                               "riverside-pcn; nothing stored")
        [same] = ingest([copy], store, jobs=1, only_pcn="").files  # the PCN it was stored for (none)
        assert (same.status, same.previous_id) == ("unchanged", 1)


# ---------------------------------------------------------------- cases written for the first mutation run's survivors

def test_kinds_are_ordered_by_warnings_then_name_not_by_files():
    files = [FileOutcome("a.pdf", "new", warnings=["odd", "odder", "oddest"]),
             FileOutcome("b.pdf", "new", warnings=["x: date not understood"]),
             FileOutcome("c.pdf", "new", warnings=["y: date not understood"])]
    assert list(summarise(IngestResult("s", files)).kinds.items()) == [("other", (3, 1)),
                                                                       ("date not understood", (2, 2))]


def test_result_json_gives_the_store_as_an_absolute_path():
    assert result_json(IngestResult("records.sqlite"))["store"] == str(Path("records.sqlite").resolve())


def test_three_paths_are_all_named(tmp_path):
    folders = [tmp_path / f"e{n}" for n in range(3)]
    for folder in folders:
        folder.mkdir()
    with pytest.raises(IngestError) as caught:
        find_files(folders)
    assert str(caught.value).startswith(f"{folders[0]}, {folders[1]}, {folders[2]}: no PDF")


def test_read_copy_reads_the_bytes_it_is_given_under_their_name(monkeypatch):
    rec = record()
    monkeypatch.setattr(ingest_module, "read_bytes",
                        lambda data, name: rec if (data, name) == (b"%PDF-x", "zoe.pdf") else pytest.fail("args"))
    assert read_copy(b"%PDF-x", "zoe.pdf").record is rec


def test_a_conflict_in_exactly_five_fields_names_them_all(store):
    fields = [{"id": f"s.f{n}", "kind": "text", "label": str(n)} for n in range(1, 6)]
    store_submission(store, new(Record(record().pack, {f["id"]: "a" for f in fields}, definitions=fields)), False)
    status, reason, _, _ = store_submission(
        store, new(Record(record().pack, {f["id"]: "b" for f in fields}, definitions=fields), sha="b"), False)
    assert "in 5 field(s): s.f1, s.f2, s.f3, s.f4, s.f5; nothing" in reason


def test_a_surname_alone_on_the_cover_is_the_same_learner():
    assert ingest_module._same("Łukasiewicz", ZOE) is True
    assert ingest_module._same("Łukasiewicz", "Zoë Kowalska") is False


def test_a_practice_changed_in_the_manifest_against_the_first_stored_copy(store):
    store_submission(store, new(), False)
    [row] = store.instance_submissions(IID)
    moved = new(record(pack={"learner": {"name": ZOE, "practice": "Hill Practice"}}), sha="b")
    assert learner_changes(moved, [], row, store.values([row.id])[row.id]) == ["learner.practice in the manifest"]


def test_an_out_of_scope_refusal_records_the_file_and_every_other_pcn(store):
    with store.transaction():
        store.add_issued([IssuedPack(IID, "pack.pdf", ZOE, "Riverside Surgery", "oak-pcn", "", "", "", "", "zoe.pdf",
                                     "care-pack", "1.0.0", "2026-09-01", "k")], "issued.csv")
    other = new(record(pack={"pcn": HILL}), name="hill.pdf")
    assert store_submission(store, other, False, only_pcn="riverside-pcn")[0] == "rejected"
    [entry] = store.audit()
    assert (entry.action, entry.sha256, entry.instance_id) == ("refused", "a" * 64, IID)
    assert entry.detail == "a copy of another PCN's learner (hill-pcn, oak-pcn) uploaded for riverside-pcn; nothing stored"


def test_a_file_stored_for_another_pcn_is_refused_even_from_a_copy_naming_yours(store):
    """The same bytes, stored before for Hill (and since superseded), sent again as Riverside's."""
    store_submission(store, new(record(pack={"pcn": HILL})), False)
    store_submission(store, new(record({"review.notes": "later"}, pack={"pcn": HILL}), sha="b"), True)
    again = new(record(pack={"instance_id": "00000000-0000-4000-8000-000000000007"}), sha="a")
    assert store_submission(store, again, False, only_pcn="riverside-pcn")[:2] == ("rejected", SCOPE)


def test_a_file_stored_for_your_pcn_but_issued_to_another_is_refused(store):
    store_submission(store, new(), False)  # stored for Riverside, then the register says Hill
    with store.transaction():
        store.add_issued([IssuedPack(IID, "pack.pdf", ZOE, "Riverside Surgery", "hill-pcn", "", "", "", "", "zoe.pdf",
                                     "care-pack", "1.0.0", "2026-09-01", "k")], "issued.csv")
    assert store_submission(store, new(), False, only_pcn="riverside-pcn")[:2] == ("rejected", SCOPE)


def test_a_copy_with_no_values_saved_again(store):
    empty = Record(record().pack, {}, definitions=[])
    assert store_submission(store, new(empty), False)[0] == "new"
    assert store_submission(store, new(empty, sha="b"), False) == (
        "unchanged", "same answers as submission 1 (a re-saved copy)", None, 1)


def test_a_rejection_is_audited_with_the_files_hash_or_warns_when_it_cannot_be(store, monkeypatch):
    _outcome(store, item(), ReadOutcome(error="is damaged"), False)
    assert store.audit()[0].sha256 == "a" * 64

    def full(*args, **kwargs):
        raise StoreError("disk full 'x'")
    monkeypatch.setattr(store, "add_audit", full)
    outcome = _outcome(store, item(sha="b"), ReadOutcome(error="is damaged"), False)
    assert outcome.warnings == ["the rejection could not be written to the audit log (disk full '…')"]


def test_an_outcome_passes_supersede_acceptance_and_the_file_on(store):
    with store.transaction():
        store.add_issued([issued()], "issued.csv")
    outcome = _outcome(store, item(), outcome_of(record()), False)
    assert outcome.status == "new" and store.original("a" * 64) == b"%PDF-"  # kept as the original
    changed = record({"review.notes": "Changed"})
    assert _outcome(store, item(sha="b"), outcome_of(changed), False).status == "conflict"
    assert _outcome(store, item(sha="b"), outcome_of(changed), True).status == "superseded"
    forged = record({"cover.name": "Dafydd ap Gruffudd", "review.notes": "Forged"})
    assert _outcome(store, item(sha="c"), outcome_of(forged), True).status == "conflict"  # not accepted by default
    assert _outcome(store, item(sha="c"), outcome_of(forged), True, True).status == "superseded"


def test_a_generic_copy_without_a_name_says_how_to_fix_it(store):
    nameless = record({"cover.name": ""}, pack={"personalised": False, "learner": {}})
    outcome = _outcome(store, item(), outcome_of(nameless), False)
    assert outcome.reason == ("is a generic pack with no learner name on its cover, so it cannot be told apart from "
                              "other learners' copies; ask the learner to add their name, or issue personalised "
                              "packs with 'portfolio issue'")


def test_a_failed_store_is_audited_with_the_file_and_instance(store, monkeypatch):
    def broken(*args, **kwargs):
        raise StoreError("locked")
    monkeypatch.setattr(ingest_module, "store_submission", broken)
    _outcome(store, item(), outcome_of(record()), False)
    [entry] = store.audit()
    assert (entry.action, entry.filename, entry.sha256, entry.instance_id) == ("failed", "zoe.pdf", "a" * 64, IID)


def test_every_audit_entry_names_the_file_and_its_instance(store):
    """Each decision's audit entry carries the file's hash and the copy's instance id (and the submission)."""
    with store.transaction():
        store.add_issued([issued()], "issued.csv")
    store_submission(store, new(), False)  # ingested
    store_submission(store, new(record({"review.notes": "x"}), sha="b"), False)  # conflict
    forged = record({"cover.name": "Dafydd ap Gruffudd", "cover.practice": "Hill Practice"})
    status, reason, _, _ = store_submission(store, new(forged, sha="c"), True)  # conflict: another learner
    assert (status, reason) == ("conflict", "names another learner than the one this copy was issued to (cover.name, "
                                "cover.practice differ); nothing was stored: if the learner really changed, rerun "
                                "with --accept-changed-learner")
    store_submission(store, new(forged, sha="c"), True, accept_changed_learner=True)  # learner changed, superseded
    part = record(pack={"part": "patient_feedback"})
    store_submission(store, new(part, sha="d", part="patient_feedback"), False)
    store_submission(store, new(part, sha="e", part="patient_feedback"), False)  # copy 2 of the part
    assert [(e.action, e.sha256, e.instance_id, e.submission_id) for e in store.audit()] == [
        ("ingested", "a" * 64, IID, 1), ("conflict", "b" * 64, IID, 1), ("conflict", "c" * 64, IID, 1),
        ("learner changed", "c" * 64, IID, 2), ("superseded", "c" * 64, IID, 2),
        ("ingested", "d" * 64, IID, 3), ("ingested", "e" * 64, IID, 4)]
    details = [e.detail for e in store.audit()]
    assert details[2] == ("names another learner than the copy was issued to (cover.name, cover.practice); "
                          "nothing stored")
    assert details[3] == ("accepted with --accept-changed-learner (cover.name, cover.practice differ from the "
                          "learner the copy was issued to)")


def test_a_later_copy_of_one_stored_without_values(store):
    assert store_submission(store, new(Record(record().pack, {}, definitions=[])), False)[0] == "new"
    one = Record(record().pack, {"cover.name": ZOE}, definitions=FIELDS[:1])
    status, reason, _, previous = store_submission(store, new(one, sha="b"), False)
    assert (status, previous) == ("conflict", 1)
    assert "(submission 1) blank, with nothing filled in beyond its cover" in reason  # it holds no value at all
    [row] = store.instance_submissions(IID)
    assert differing_fields(store.values([row.id]).get(row.id, []), new(one, sha="b").values, False) == ["cover.name"]


# ---------------------------------------------------------------- what read_copy hands to the scan reader

def test_an_image_is_read_as_a_scan_and_a_pdf_without_fields_that_is_no_scan_keeps_its_own_error():
    import io

    import pikepdf
    from PIL import Image
    blank = io.BytesIO()
    Image.new("L", (400, 560), 255).save(blank, "PNG")  # a page with no page code, at 48 dpi
    outcome = read_copy(blank.getvalue(), "scan.png")
    assert (outcome.error, outcome.record) == (None, None)
    assert (outcome.scan.pages, outcome.scan.scanned, outcome.scan.copies) == (1, 1, [])
    [page] = outcome.scan.unidentified
    assert (page.index, page.instance_id, page.dpi) == (1, None, 47.9)
    assert page.reason == ("no QR code of this tool was found on the page (scanned at 48 dpi: scan again at 200 "
                           "or 300 dpi)")
    flat = pikepdf.new()
    flat.add_blank_page(page_size=(595, 842))
    data = io.BytesIO()
    flat.save(data)
    outcome = read_copy(data.getvalue(), "flat.pdf")
    assert (outcome.error, outcome.code, outcome.scan) == (
        "has no form fields: it was probably printed to PDF or flattened. Return the fillable copy that was "
        "issued, filled in", "E-READ", None)
    outcome = read_copy(b"\x89PNG\r\n\x1a\n" + b"junk" * 10, "bad.png")
    assert (outcome.error, outcome.code) == (
        "is a truncated image and cannot be read (Truncated File Read); scan the pages again", "E-READ-DAMAGED")


# ---------------------------------------------------------------- whole runs: what ingest passes on (the first full run's survivors)

def named_pdf(name: str, notes: str = "", *, instance=IID, pcn: str | None = None, learner: str | None = None) -> bytes:
    """A two-field copy whose manifest may name its learner and PCN (as an issued copy's does)."""
    import io
    import zlib

    import pikepdf
    from pikepdf import Array, Dictionary, Name, String

    from tests.formats.pdf.test_read_raw import group, manifest, text
    fields = [{"id": "cover.name", "kind": "text", "label": "Name", "cover": "name"},
              {"id": "review.notes", "kind": "longtext", "label": "Notes"}]
    facts = manifest(fields, instance)
    if pcn:
        facts["pcn"] = {"slug": pcn, "name": pcn.replace("-pcn", "").title() + " PCN"}
    if learner:
        facts["learner"] = {"name": learner, "practice": "Riverside Surgery"}
    pdf = pikepdf.new()
    pdf.add_blank_page()
    parts = [group("cover", text("name", String(name)))] + ([group("review", text("notes", String(notes)))]
                                                             if notes else [])
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(f) for f in parts]))
    stream = pikepdf.Stream(pdf, zlib.compress(json.dumps(facts).encode()))
    stream.Filter = Name.FlateDecode
    spec = Dictionary(Type=Name.Filespec, F=String("portfolio-manifest.json"), EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def test_a_run_passes_supersede_and_the_learner_acceptance_on(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    (folder / "v1.pdf").write_bytes(named_pdf(ZOE, "first"))
    (folder / "v2.pdf").write_bytes(named_pdf(ZOE, "second"))
    (folder / "other.pdf").write_bytes(named_pdf("Dafydd Jones", "third"))
    with open_store(tmp_path / "records.sqlite") as store:
        assert [o.status for o in ingest([folder / "v1.pdf"], store, jobs=1).files] == ["new"]
        [conflict] = ingest([folder / "v2.pdf"], store, jobs=1).files  # supersede is off unless asked for
        assert (conflict.status, conflict.previous_id) == ("conflict", 1)
        [superseded] = ingest([folder / "v2.pdf"], store, jobs=1, supersede=True).files
        assert (superseded.status, superseded.submission_id, superseded.previous_id) == ("superseded", 2, 1)
        [other] = ingest([folder / "other.pdf"], store, jobs=1, supersede=True).files
        assert other.status == "conflict" and "names another learner" in other.reason
        [accepted] = ingest([folder / "other.pdf"], store, jobs=1, supersede=True, accept_changed_learner=True).files
        assert (accepted.status, accepted.submission_id) == ("superseded", 3)


def test_a_run_goes_on_after_every_kind_of_refusal_and_says_what_each_file_was(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    stored = named_pdf(ZOE, "kept", pcn="riverside-pcn", learner=ZOE)
    (folder / "a-stored.pdf").write_bytes(stored)
    (folder / "b-big.pdf").write_bytes(b"%PDF-" + b" " * 3_499_995)  # 3,500,000 bytes: 3.5 MB, rounded to 4
    (folder / "c-stored-again.pdf").write_bytes(stored)
    (folder / "d-new.pdf").write_bytes(named_pdf("Dafydd Jones", "new", instance="00000000-0000-4000-8000-000000000002",
                                                 pcn="riverside-pcn", learner="Dafydd Jones"))
    (folder / "e-limit.pdf").write_bytes(b"%PDF-" + b" " * 1_499_995)  # exactly the limit: read, not refused for size
    with open_store(folder / "records.sqlite") as store:
        [first] = ingest([folder / "a-stored.pdf"], store, jobs=1).files
        assert first.status == "new"
        # the store's own rollback journal (made after opening: SQLite would take a stray one in) is never read
        (folder / "records.sqlite-journal").write_bytes(b"%PDF- a rollback journal")
        before = time.perf_counter()
        result = ingest([folder], store, jobs=3, limits=Limits(max_bytes=1_500_000, seconds=600),
                        only_pcn="riverside-pcn")
        after = time.perf_counter()
        sha = hashlib.sha256(stored).hexdigest()
        assert [(Path(o.path).name, o.status, o.code, o.sha256) for o in result.files] == [
            ("a-stored.pdf", "unchanged", "", sha),  # a stored file of the uploader's own PCN
            ("b-big.pdf", "rejected", "E-READ-LIMIT", None),
            ("c-stored-again.pdf", "unchanged", "", sha),
            ("d-new.pdf", "new", "", hashlib.sha256((folder / "d-new.pdf").read_bytes()).hexdigest()),
            ("e-limit.pdf", "rejected", "E-READ-DAMAGED",
             hashlib.sha256((folder / "e-limit.pdf").read_bytes()).hexdigest())]
        assert [o.path for o in result.files] == [str(folder / n) for n in (
            "a-stored.pdf", "b-big.pdf", "c-stored-again.pdf", "d-new.pdf", "e-limit.pdf")]
        assert result.files[0].reason == "already ingested (submission 1)" and result.files[0].previous_id == 1
        assert result.files[1].reason.startswith("is 3.5 MB; the limit is 1.5 MB: a filled copy is under 2 MB")
        assert result.jobs == 3 and 0 < result.seconds <= after - before
        # the same stored file refused to another PCN's manager: named, with its hash, and audited with it
        [refused] = ingest([folder / "c-stored-again.pdf", folder / "d-new.pdf"], store, jobs=1,
                           only_pcn="hill-pcn").files[:1]
        assert (refused.path, refused.status, refused.code, refused.sha256) == (
            str(folder / "c-stored-again.pdf"), "rejected", "E-SCOPE", sha)
        entry = store.audit()[-2]
        assert (entry.action, entry.filename, entry.sha256) == ("refused", "c-stored-again.pdf", sha)
        assert entry.detail == "a stored copy of another PCN's learner uploaded for hill-pcn; nothing stored"
        assert [o.status for o in ingest([folder / "c-stored-again.pdf", folder / "d-new.pdf"], store, jobs=1,
                                         only_pcn="hill-pcn").files] == ["rejected", "rejected"]


def test_a_superseded_file_sent_again_by_its_pcns_manager_is_unchanged(tmp_path):
    first, second = named_pdf(ZOE, "one", pcn="riverside-pcn", learner=ZOE), \
        named_pdf(ZOE, "two", pcn="riverside-pcn", learner=ZOE)
    (tmp_path / "one.pdf").write_bytes(first)
    (tmp_path / "two.pdf").write_bytes(second)
    with open_store(tmp_path / "records.sqlite") as store:
        ingest([tmp_path / "one.pdf"], store, jobs=1)
        assert ingest([tmp_path / "two.pdf"], store, jobs=1, supersede=True).files[0].status == "superseded"
        [again] = ingest([tmp_path / "one.pdf"], store, jobs=1, only_pcn="riverside-pcn").files
        assert (again.status, again.previous_id) == ("unchanged", 1)


def test_a_run_with_nothing_to_read_and_a_register(tmp_path):
    register = tmp_path / "cohort" / "issued.csv"
    register.parent.mkdir()
    register.write_text("instance_id,learner,practice,pcn\n"
                        f"{IID},{ZOE},Riverside Surgery,riverside-pcn\n"
                        "00000000-0000-4000-8000-000000000002,Dafydd Jones,Hill Surgery,hill-pcn\n", encoding="utf-8")
    with open_store(tmp_path / "records.sqlite") as store:
        result = ingest([], store, registers=[register])
        assert (result.files, result.jobs, result.registers) == ([], 1, {str(register): (2, 2)})
        assert sorted((p.instance_id, p.learner, p.pcn) for p in store.issued()) == [
            (IID, ZOE, "riverside-pcn"), ("00000000-0000-4000-8000-000000000002", "Dafydd Jones", "hill-pcn")]
        assert ingest([], store, registers=[register]).registers == {str(register): (2, 0)}


def test_a_scanned_file_in_a_run_is_kept_as_its_pages(tmp_path):
    import io

    from PIL import Image
    blank = io.BytesIO()
    Image.new("L", (400, 560), 255).save(blank, "PNG")  # a page with no page code, at 48 dpi
    (tmp_path / "scan.png").write_bytes(blank.getvalue())
    (tmp_path / "zoe.pdf").write_bytes(named_pdf(ZOE))
    with open_store(tmp_path / "records.sqlite") as store:
        result = ingest([tmp_path], store, jobs=1)
        sha = hashlib.sha256(blank.getvalue()).hexdigest()
        assert [(Path(o.path).name, o.status, o.sha256) for o in result.files] == [
            ("scan.png", "unidentified", sha),
            ("zoe.pdf", "new", hashlib.sha256((tmp_path / "zoe.pdf").read_bytes()).hexdigest())]
        [page] = store.scan_pages(unidentified=True)
        assert (page.source_sha256, page.page_index, page.filename, page.image is not None) == (sha, 1, "scan.png", True)


# ---------------------------------------------------------------- what to store: facts a copy may lack

def test_the_manifests_learner_wins_over_the_cover_and_a_warnings_field_is_its_first_part():
    rec = record({"cover.name": "Zoe L", "cover.practice": "Riverside"},
                 warnings=["review.notes: date not understood: '…'", "a: b: c"])
    out = new(rec)
    assert (out.learner_name, out.practice) == (ZOE, "Riverside Surgery")  # the manifest's, not the cover's
    assert out.pcn_facts == {"slug": "riverside-pcn", "name": "Riverside PCN"}
    assert out.warnings == [("review.notes", "review.notes: date not understood: '…'"), (None, "a: b: c")]
    bare = Record({"learner": {}, "pcn": {}}, {"cover.name": ZOE}, {}, {}, [], [], [], FIELDS)
    out = new(bare, part="patient_feedback")
    assert (out.instance_id, out.pack_id, out.content_id, out.content_version, out.content_hash,
            out.generator_version) == ("", "", "", "", "", "")
    assert (out.definition.part, out.definition.pack_id, out.learner_name) == ("patient_feedback", "", ZOE)


@pytest.mark.parametrize("stored, blank", [
    ({"review.notes": "went well"}, False), ({"review.notes": ""}, True), ({"review.notes": None}, True),
])
def test_a_conflict_says_whether_the_stored_copy_was_blank(store, stored, blank):
    assert store_submission(store, new(record(stored)), False)[0] == "new"
    status, reason, _, _ = store_submission(store, new(record({"review.notes": "changed"}), sha="b"), False)
    assert status == "conflict"
    assert ("blank, with nothing filled in beyond its cover" in reason) is blank


def test_a_tick_counts_as_filled_in_and_an_empty_tick_does_not():
    from generator.records.ingest import _answered
    definitions = [{"id": "cover.name", "cover": "name"}, {"id": "review.done"}]
    assert _answered([FieldValue("review.done", "read", True)], definitions) is True
    assert _answered([FieldValue("review.done", "read", False)], definitions) is False
    assert _answered([FieldValue("review.done", "missing", True)], definitions) is False
    assert _answered([FieldValue("cover.name", "read", ZOE)], definitions) is False
    assert _answered([FieldValue("review.done", "read", "")], definitions) is False
    assert _answered([FieldValue("review.done", "read", "XXXX")], definitions) is True


@pytest.mark.parametrize("cores, files, jobs", [(3, 5, 3), (3, 2, 2), (None, 5, 1)])
def test_without_jobs_a_run_reads_with_a_reader_per_core_and_no_more_than_its_files(tmp_path, monkeypatch,
                                                                                    cores, files, jobs):
    monkeypatch.setattr(ingest_module.os, "cpu_count", lambda: cores)
    for n in range(files):
        (tmp_path / f"c{n}.pdf").write_bytes(b"%PDF-1.7 broken")
    with open_store(tmp_path / "records.sqlite") as store:
        result = ingest([tmp_path], store)
        assert (result.jobs, [o.status for o in result.files]) == (jobs, ["rejected"] * files)


def test_a_run_goes_on_after_a_file_gone_before_it_was_read(tmp_path, monkeypatch):
    gone, there = tmp_path / "gone.pdf", tmp_path / "there.pdf"
    there.write_bytes(named_pdf(ZOE))
    monkeypatch.setattr(ingest_module, "find_files", lambda paths: [gone, there])
    with open_store(tmp_path / "records.sqlite") as store:
        assert [(Path(o.path).name, o.status) for o in ingest([tmp_path], store, jobs=1).files] == [
            ("gone.pdf", "rejected"), ("there.pdf", "new")]


def test_a_new_copy_of_another_pcn_in_a_run_is_refused(tmp_path):
    (tmp_path / "zoe.pdf").write_bytes(named_pdf(ZOE, "new", pcn="riverside-pcn", learner=ZOE))
    with open_store(tmp_path / "records.sqlite") as store:
        [refused] = ingest([tmp_path / "zoe.pdf"], store, jobs=1, only_pcn="hill-pcn").files
        assert (refused.status, refused.code) == ("rejected", "E-SCOPE") and store.submissions() == []
