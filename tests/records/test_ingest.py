"""Ingesting returned copies: every guarantee of the records store, and the ingest command."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from generator.cli.common import main
from generator.content.layout import Layout
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.formats.pdf.fill import fill_pdf
from generator.model.form import build_form
from generator.model.manifest import make_manifest
from generator.reading.read import read_bytes
from generator.reading.sandbox import Limits
from generator.records import ingest as ingest_module
from generator.records.connect import open_store
from generator.records.ingest import (
    IngestError,
    _Item,
    _read_all,
    find_files,
    ingest,
    read_copy,
    redact,
)
from generator.records.progress import cohort_progress
from tests.conftest import ROOT, need_tool
from tests.pg import raw_execute, raw_query, refusal_error
from tests.samples import expected_record, sample_values

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
LEARNER = {"name": "Zoë Łukasiewicz", "practice": "Riverside Surgery"}
PCN = {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
SECRET = "Distinctive answer text 7Q"  # a value that must never be printed


# ---------------------------------------------------------------- making returned copies

@pytest.fixture(scope="module")
def blank_docx(form, theme) -> bytes:
    return write_docx(form, theme, make_manifest(form, instance_id="00000000-0000-4000-8000-00000000b1a0"))


def docx_copy(form, blank: bytes, instance: str, values: dict | None = None, learner: dict = LEARNER,
              pcn: dict = PCN, created: str = "2026-09-01T10:00:00+00:00", part: str | None = None) -> bytes:
    """A filled DOCX copy with its own manifest (instance id, learner), as issuing and filling make it."""
    manifest = make_manifest(form, instance_id=instance, learner=learner, pcn=pcn,
                             created=datetime.fromisoformat(created))
    if part:
        manifest["part"] = part
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), values or {})


def _unzip(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def values(form):
    return sample_values(form)


@pytest.fixture(scope="module")
def feedback_form(content):
    return build_form(content, Layout(only_sections=("patient_feedback",)))


@pytest.fixture(scope="module")
def blank_feedback(feedback_form, theme) -> bytes:
    return write_docx(feedback_form, theme, make_manifest(feedback_form))


@pytest.fixture
def store(store_location):
    """A new store of each engine: an SQLite file, and a database on the test PostgreSQL server."""
    with open_store(store_location) as s:
        yield s


def engine_error(store) -> Exception:
    """What the store's engine raises when a write fails (a full disk, a lost connection)."""
    if store.path.startswith("postgresql://"):
        import psycopg
        return psycopg.errors.DiskFull("could not extend file: No space left on device")
    return sqlite3.OperationalError("disk I/O error")


def counts(store) -> dict[str, int]:
    return store.counts()


# ---------------------------------------------------------------- new copies

def test_new_copies_are_stored_with_every_field_typed(tmp_path, store, form, blank_docx, values):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "zoe.docx").write_bytes(docx_copy(form, blank_docx, iid(1), values))
    result = ingest([tmp_path / "in"], store, jobs=1)
    [outcome] = result.files
    assert outcome.status == "new" and outcome.reason == "" and outcome.missing == [] and outcome.unmapped == []
    [sub] = store.submissions()
    assert (sub.instance_id, sub.version, sub.supersedes, sub.format, sub.filename) == (iid(1), 1, None, "docx",
                                                                                        "zoe.docx")
    assert sub.learner_name == "Zoë Łukasiewicz" and sub.pcn == "riverside-pcn" and sub.editor
    assert len(sub.sha256) == 64 and sub.content_version == "1.0.0" and sub.part is None
    stored = {v.field_id: v.value for v in store.values()[sub.id]}
    assert stored == expected_record(form, values)
    assert [v.field_id for v in store.values()[sub.id]] == [f.id for f in form.fields]  # document order
    assert [a.action for a in store.audit()] == ["ingested"]


def test_pdf_and_docx_copies_both_ingest_with_editor_and_positions(tmp_path, store, form, pdf_path, values):
    filled = fill_pdf(pdf_path.read_bytes(), values)
    (tmp_path / "zoe.pdf").write_bytes(filled)
    [outcome] = ingest([tmp_path / "zoe.pdf"], store, jobs=2).files
    assert outcome.status == "new"
    [sub] = store.submissions()
    record = read_bytes(filled, "zoe.pdf")
    assert sub.format == "pdf" and sub.editor == record.pack["editor"] != ""
    stored = store.values()[sub.id]
    assert {v.field_id: v.position for v in stored if v.position} == record.positions
    assert record.positions  # the sample fills five-point scales


# ---------------------------------------------------------------- idempotent

def test_same_file_twice_stores_nothing_new_and_says_already_ingested(tmp_path, store, form, blank_docx, values):
    folder = tmp_path / "returned"
    folder.mkdir()
    for n in range(3):
        (folder / f"l{n}.docx").write_bytes(docx_copy(form, blank_docx, iid(10 + n), values,
                                                      learner={**LEARNER, "name": f"Learner {n}"}))
    first = ingest([folder], store, jobs=2)
    assert first.counts["new"] == 3
    before = counts(store)
    second = ingest([folder], store, jobs=2)
    assert second.counts == {"new": 0, "unchanged": 3, "superseded": 0, "conflict": 0, "rejected": 0, "failed": 0,
                             "unidentified": 0}
    assert all(o.reason.startswith("already ingested") for o in second.files)
    assert counts(store) == before  # not even an audit entry


def test_a_copy_of_the_same_file_under_another_name_in_one_batch_is_unchanged(tmp_path, store, form, blank_docx):
    data = docx_copy(form, blank_docx, iid(20), {"cover.details.name": "A"})
    (tmp_path / "a.docx").write_bytes(data)
    (tmp_path / "b.docx").write_bytes(data)
    result = ingest([tmp_path / "a.docx", tmp_path / "b.docx", tmp_path / "a.docx"], store, jobs=1)
    assert [(o.name, o.status) for o in result.files] == [("a.docx", "new"), ("b.docx", "unchanged")]
    assert "already ingested (submission 1)" in result.files[1].reason


def test_resaved_copy_with_the_same_answers_is_unchanged(tmp_path, store, form, blank_docx, values):
    (tmp_path / "one.docx").write_bytes(docx_copy(form, blank_docx, iid(30), values))
    (tmp_path / "two.docx").write_bytes(docx_copy(form, blank_docx, iid(30), values,
                                                  created="2026-09-02T10:00:00+00:00"))
    assert (tmp_path / "one.docx").read_bytes() != (tmp_path / "two.docx").read_bytes()
    result = ingest([tmp_path], store, jobs=1)
    assert [o.status for o in result.files] == ["new", "unchanged"]
    assert "same answers as submission 1" in result.files[1].reason
    assert counts(store)["submissions"] == 1


# ---------------------------------------------------------------- conflicts and superseding

def test_same_instance_with_other_answers_is_a_conflict_and_changes_nothing(tmp_path, store, form, blank_docx):
    notes = "final_review.review.self_assessment"
    (tmp_path / "v1.docx").write_bytes(docx_copy(form, blank_docx, iid(40), {notes: "First"}))
    ingest([tmp_path / "v1.docx"], store, jobs=1)
    before = counts(store)
    (tmp_path / "v2.docx").write_bytes(docx_copy(form, blank_docx, iid(40), {notes: "Second"}))
    [outcome] = ingest([tmp_path / "v2.docx"], store, jobs=1).files
    assert outcome.status == "conflict" and outcome.previous_id == 1
    assert "--supersede" in outcome.reason and "Second" not in outcome.reason
    after = counts(store)
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    assert store.audit()[-1].action == "conflict"
    # Asking again does not change that.
    assert ingest([tmp_path / "v2.docx"], store, jobs=1).files[0].status == "conflict"


def test_supersede_stores_a_new_version_linked_to_the_old_one(tmp_path, store, form, blank_docx):
    notes = "final_review.review.self_assessment"
    (tmp_path / "v1.docx").write_bytes(docx_copy(form, blank_docx, iid(41), {notes: "First"}))
    (tmp_path / "v2.docx").write_bytes(docx_copy(form, blank_docx, iid(41), {notes: "Second"}))
    (tmp_path / "v3.docx").write_bytes(docx_copy(form, blank_docx, iid(41), {notes: "Third"}))
    ingest([tmp_path / "v1.docx"], store, jobs=1)
    [two] = ingest([tmp_path / "v2.docx"], store, supersede=True, jobs=1).files
    [three] = ingest([tmp_path / "v3.docx"], store, supersede=True, jobs=1).files
    assert (two.status, two.previous_id, three.status, three.previous_id) == ("superseded", 1, "superseded", 2)
    every = store.submissions(current_only=False)
    assert [(s.version, s.supersedes, s.superseded_by, s.current) for s in every] == [
        (1, None, 2, False), (2, 1, 3, False), (3, 2, None, True)]
    assert [s.id for s in store.submissions()] == [3]
    answers = {sid: next(v.value for v in vals if v.field_id == notes) for sid, vals in store.values().items()}
    assert answers == {1: "First", 2: "Second", 3: "Third"}  # nothing overwritten


def test_nothing_can_be_overwritten_or_deleted(tmp_path, store, form, blank_docx):
    (tmp_path / "a.docx").write_bytes(docx_copy(form, blank_docx, iid(42), {
        "final_review.review.self_assessment": "NHS 943 476 5919"}))  # gives a warning row too
    (tmp_path / "issued.csv").write_text("instance_id,learner,practice,pcn\nx,Zoë,A,b\n", encoding="utf-8")
    ingest([tmp_path / "a.docx"], store, jobs=1, registers=[tmp_path / "issued.csv"])
    counts = store.counts()
    assert all(counts[t] for t in ("definitions", "packs_issued", "submissions", "field_values", "warnings",
                                   "audit_log", "identifier_flags", "originals")), counts
    location = store.url if store.path.startswith("postgresql://") else store.path
    statements = ["UPDATE packs_issued SET learner = 'x'", "DELETE FROM packs_issued",
                  "UPDATE submissions SET filename = 'x'", "DELETE FROM submissions",
                  "UPDATE field_values SET value = '1'", "DELETE FROM field_values", "DELETE FROM audit_log",
                  "UPDATE audit_log SET detail = ''", "DELETE FROM warnings", "DELETE FROM definitions",
                  "DELETE FROM identifier_flags", "UPDATE identifier_flags SET kind = 'x'"]
    if location.startswith("postgresql://"):  # SQLite has no TRUNCATE (its DELETE without WHERE is refused above)
        statements += [f"TRUNCATE {table} CASCADE" for table in (
            "audit_log", "submissions", "field_values", "warnings", "definitions", "packs_issued",
            "identifier_flags", "schema_version")]
        statements += ["UPDATE schema_version SET version = 99", "DELETE FROM schema_version",
                       "INSERT INTO packs_issued SELECT * FROM packs_issued ON CONFLICT (instance_id, file) "
                       "DO UPDATE SET learner = 'x'"]
    before = store.counts()
    for sql in statements:
        with pytest.raises(refusal_error(), match="append-only: rows are never (changed|deleted|truncated)"):
            raw_execute(location, sql)
    assert store.counts() == before


# ---------------------------------------------------------------- rejected

def test_unreadable_files_are_rejected_with_a_reason_and_only_audited(tmp_path, store, form, blank_docx, pdf_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a portfolio")
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "cut.pdf").write_bytes(pdf_path.read_bytes()[:5000])
    files = _unzip(blank_docx)
    files = {k: v for k, v in files.items() if not k.startswith("customXml/")}
    (folder / "foreign.docx").write_bytes(_rezip(files))
    (folder / "good.docx").write_bytes(docx_copy(form, blank_docx, iid(50)))
    result = ingest([folder], store, jobs=2)
    by_name = {o.name: o for o in result.files}
    assert by_name["good.docx"].status == "new"
    reasons = {n: o.reason for n, o in by_name.items() if o.status == "rejected"}
    assert sorted(reasons) == ["cut.pdf", "empty.pdf", "foreign.docx", "notes.txt"]
    assert reasons["empty.pdf"] == "file is empty (0 bytes): it was not saved or sent whole; ask for the copy again"
    assert reasons["notes.txt"] == ("is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: check that it is "
                                    "the filled copy itself or a scan of it, or ask for the copy again")
    assert "damaged or truncated" in reasons["cut.pdf"]
    assert "portfolio manifest" in reasons["foreign.docx"]
    assert counts(store)["submissions"] == 1
    audit = [(a.action, a.filename, a.detail) for a in store.audit() if a.action == "rejected"]
    assert sorted(audit) == sorted(("rejected", n, r) for n, r in reasons.items())


def test_too_large_files_are_refused_before_reading(tmp_path, store):
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * 2000)
    [outcome] = ingest([tmp_path / "big.pdf"], store, jobs=1, limits=Limits(max_bytes=1000)).files
    assert outcome.status == "rejected"
    assert outcome.reason == ("is 0.1 MB; the limit is 0.001 MB: a filled copy is under 2 MB, so check that this is the "
                              "copy itself; a scan of many pages: split it into smaller files, or scan at 200-300 dpi")


def test_a_file_just_over_the_limit_is_said_to_be_over_it():
    """Rounded to the nearest 0.1 MB, 25,000,001 bytes read 'is 25.0 MB; the limit is 25 MB'."""
    from generator.reading.read import too_large
    assert too_large(25_000_000, 25_000_001).startswith("is 25.1 MB; the limit is 25 MB: ")
    assert too_large(25_000_000, 25_100_000).startswith("is 25.1 MB; the limit is 25 MB: ")
    assert too_large(25_000_000, 30_000_000).startswith("is 30.0 MB; the limit is 25 MB: ")
    assert too_large(25_000_000).startswith("is over the limit of 25 MB: ")


# ---------------------------------------------------------------- atomic per file

def test_a_failure_mid_file_leaves_no_rows_and_the_batch_goes_on(tmp_path, store, form, blank_docx, monkeypatch):
    for n in range(3):
        (tmp_path / f"f{n}.docx").write_bytes(docx_copy(form, blank_docx, iid(60 + n),
                                                        learner={**LEARNER, "name": f"L{n}"}))
    original = type(store).add_submission

    def failing(self, new, version, supersedes):
        sid = original(self, new, version, supersedes)  # rows written inside the transaction…
        if new.filename == "f1.docx":
            raise engine_error(self)  # …then the write fails
        return sid
    monkeypatch.setattr(type(store), "add_submission", failing)
    result = ingest([tmp_path], store, jobs=1)
    assert [o.status for o in result.files] == ["new", "failed", "new"]
    assert "nothing of it was kept" in result.files[1].reason and not result.ok
    stored = {s.filename for s in store.submissions()}
    assert stored == {"f0.docx", "f2.docx"}
    assert set(store.values()) == {s.id for s in store.submissions()}  # no orphan values
    assert [a.action for a in store.audit()] == ["ingested", "failed", "ingested"]
    monkeypatch.undo()
    rerun = ingest([tmp_path], store, jobs=1)
    assert [o.status for o in rerun.files] == ["unchanged", "new", "unchanged"]


KILLER = """
import os, signal, sys
from generator.records import ingest as ingest_module
from generator.records.connect import open_store
from generator.records.ingest import ingest
ingest_module.FILES_PER_COMMIT = 1  # the first file committed before the second is stored, however fast it was read
store = open_store(sys.argv[1])
engine = type(store)
original = engine.add_submission
calls = []
def killing(self, new, version, supersedes):
    sid = original(self, new, version, supersedes)
    calls.append(sid)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # killed with the second file's rows written, not committed
    return sid
engine.add_submission = killing
ingest(sys.argv[2:], store, jobs=1)
"""


def test_a_kill_mid_file_leaves_no_partial_rows_and_a_rerun_completes(tmp_path, form, blank_docx, store_location):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):
        (folder / f"k{n}.docx").write_bytes(docx_copy(form, blank_docx, iid(70 + n),
                                                      learner={**LEARNER, "name": f"K{n}"}))
    run = subprocess.run([sys.executable, "-c", KILLER, store_location, str(folder)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    with open_store(store_location) as store:
        assert [s.filename for s in store.submissions()] == ["k0.docx"]
        assert set(store.values()) == {1} and len(store.values()[1]) == len(form.fields)
        assert [a.action for a in store.audit()] == ["ingested"]
        if store_location.startswith("postgresql://"):  # no orphan rows of the killed file in any table
            assert raw_query(store_location, "SELECT COUNT(*) FROM field_values WHERE submission_id <> 1") == [(0,)]
        else:
            assert raw_query(store_location, "PRAGMA integrity_check") == [("ok",)]
        rerun = ingest([folder], store, jobs=1)
        assert [o.status for o in rerun.files] == ["unchanged", "new", "new"]
        assert len(store.submissions()) == 3


# ---------------------------------------------------------------- nothing silently dropped

def test_unknown_and_missing_fields_are_stored_and_reported(tmp_path, store, form, blank_docx):
    data = docx_copy(form, blank_docx, iid(80), {"cover.details.name": "Zoë", "cover.details.practice": SECRET})
    files = _unzip(data)
    root = etree.fromstring(files["word/document.xml"])
    controls = {s.find(f"{W}sdtPr/{W}tag").get(f"{W}val"): s for s in root.iter(f"{W}sdt")
                if s.find(f"{W}sdtPr/{W}tag") is not None}
    controls["cover.details.practice"].find(f"{W}sdtPr/{W}tag").set(f"{W}val", "cover.details.extra_note")
    gone = controls["cover.details.supervisor"]
    gone.getparent().remove(gone)
    files["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    (tmp_path / "edited.docx").write_bytes(_rezip(files))

    [outcome] = ingest([tmp_path / "edited.docx"], store, jobs=1).files
    assert outcome.status == "new"
    assert outcome.unmapped == ["cover.details.extra_note"]
    assert outcome.missing == ["cover.details.practice", "cover.details.supervisor"]
    stored = {v.field_id: v for v in store.values()[1]}
    assert stored["cover.details.extra_note"].state == "unmapped"
    assert stored["cover.details.extra_note"].value == SECRET
    assert stored["cover.details.supervisor"].state == "missing" and stored["cover.details.supervisor"].value is None
    assert stored["cover.details.name"].state == "read"
    assert any("extra_note" in w for w in store.warnings()[1])
    assert all(SECRET not in w for w in outcome.warnings)


def test_ingest_command_reports_missing_and_unknown_ids_but_never_values(tmp_path, form, blank_docx):
    data = docx_copy(form, blank_docx, iid(81), {"cover.details.practice": SECRET,
                                                 "final_review.review.self_assessment": SECRET})
    files = _unzip(data)
    root = etree.fromstring(files["word/document.xml"])
    for sdt in root.iter(f"{W}sdt"):
        tag = sdt.find(f"{W}sdtPr/{W}tag")
        if tag is not None and tag.get(f"{W}val") == "cover.details.practice":
            tag.set(f"{W}val", "cover.details.extra_note")
    files["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    (tmp_path / "edited.docx").write_bytes(_rezip(files))
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "edited.docx"), "--store",
                                       str(tmp_path / "r.sqlite"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "1 field(s) of the pack are missing from the copy: cover.details.practice" in result.output
    assert "cover.details.extra_note: not in the pack's field definitions" in result.output
    verbose = CliRunner().invoke(main, ["ingest", str(tmp_path / "edited.docx"), "--store",
                                        str(tmp_path / "v.sqlite"), "--jobs", "1", "--verbose"])
    assert "(stored as missing): cover.details.practice" in verbose.output
    assert "(stored as unmapped): cover.details.extra_note" in verbose.output and SECRET not in verbose.output
    assert SECRET not in result.output
    assert "1 file(s)" in result.output
    assert "1 new, 0 unchanged, 0 superseded, 0 conflicting, 0 rejected" in result.output


# ---------------------------------------------------------------- patient feedback copies

def test_every_copy_of_a_feedback_form_is_kept_and_counted(tmp_path, store, form, blank_docx, feedback_form,
                                                           blank_feedback):
    answers = [{"patient_feedback.ratings.respect": "very_happy", "patient_feedback.ratings.talked": "happy"},
               {"patient_feedback.ratings.respect": "happy"},
               {"patient_feedback.ratings.respect": "happy"},  # same answers from another patient: kept too
               {"patient_feedback.ratings.respect": "unhappy"}]
    for n, a in enumerate(answers[:3]):  # three patients filled copies of one issued form
        (tmp_path / f"fb-{n}.docx").write_bytes(docx_copy(feedback_form, blank_feedback, iid(90), a,
                                                          created=f"2026-10-0{n + 1}T10:00:00+00:00",
                                                          part="patient_feedback"))
    (tmp_path / "fb-other.docx").write_bytes(docx_copy(feedback_form, blank_feedback, iid(91), answers[3],
                                                       part="patient_feedback"))
    (tmp_path / "pack.docx").write_bytes(docx_copy(form, blank_docx, iid(92), {
        "patient_feedback.ratings.respect": "very_unhappy"}))
    result = ingest([tmp_path], store, jobs=2)
    assert result.counts["new"] == 5 and result.ok
    assert [s.version for s in store.submissions() if s.instance_id == iid(90)] == [1, 2, 3]
    [lp] = cohort_progress(store)
    assert lp.feedback.forms == 5  # four separate forms and the pack's own
    respect = next(q for q in lp.feedback.questions if q.id == "respect")
    assert (respect.answers, respect.mean, respect.counts) == (5, (5 + 1 + 2 + 2 + 4) / 5, [1, 2, 0, 1, 1])
    talked = next(q for q in lp.feedback.questions if q.id == "talked")
    assert (talked.answers, talked.mean) == (1, 2.0)
    # ingesting them again stores nothing
    assert ingest([tmp_path], store, jobs=2).counts["unchanged"] == 5


# ---------------------------------------------------------------- two processes at once

def test_two_ingest_processes_on_one_store_make_one_record_per_file(tmp_path, form, blank_docx, store_location):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(12):
        (folder / f"c{n:02d}.docx").write_bytes(docx_copy(form, blank_docx, iid(100 + n),
                                                          learner={**LEARNER, "name": f"C{n}"}))
    path = store_location
    command = [sys.executable, "-m", "generator", "ingest", str(folder), "--store", str(path), "--jobs", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with open_store(path) as store:
        subs = store.submissions(current_only=False)
        assert len(subs) == 12 and len({s.sha256 for s in subs}) == 12
        assert sorted(s.filename for s in subs) == sorted(p.name for p in folder.iterdir())
        assert len([a for a in store.audit() if a.action == "ingested"]) == 12
    summaries = [out.decode().strip().splitlines()[-1] for out, _ in outputs]
    new = sum(int(s.split(": ")[1].split(" new")[0]) for s in summaries)
    assert new == 12, summaries


# ---------------------------------------------------------------- readers that crash or hang

def crashing_read(data: bytes, name: str, *args):
    """Stands in for a parser that kills its process on one file."""
    if name == "crash.docx":
        os._exit(3)
    return read_copy(data, name, *args)


def sleeping_read(data: bytes, name: str, *args):
    if name in ("hang.docx", "hang.png"):
        time.sleep(60)
    return read_copy(data, name, *args)


def raising_read(data: bytes, name: str, *args):
    """Stands in for a worker whose call fails outside the reader (read_copy itself never raises)."""
    if name == "odd.docx":
        raise ValueError("boom")
    return read_copy(data, name, *args)


def test_a_failing_worker_call_costs_one_file(tmp_path, store, form, blank_docx, monkeypatch):
    for n, name in enumerate(["odd.docx", "fine.docx"]):
        (tmp_path / name).write_bytes(docx_copy(form, blank_docx, iid(125 + n), learner={**LEARNER, "name": name}))
    monkeypatch.setattr(ingest_module, "read_copy", raising_read)
    result = ingest([tmp_path], store, jobs=2)
    assert [(o.name, o.status) for o in result.files] == [("fine.docx", "new"), ("odd.docx", "rejected")]
    assert result.files[1].reason.startswith("could not be read (ValueError)")


def test_a_reader_crash_costs_one_file_not_the_batch(tmp_path, store, form, blank_docx, monkeypatch):
    for n, name in enumerate(["a.docx", "crash.docx", "c.docx", "d.docx"]):
        (tmp_path / name).write_bytes(docx_copy(form, blank_docx, iid(120 + n), learner={**LEARNER, "name": name}))
    monkeypatch.setattr(ingest_module, "read_copy", crashing_read)
    result = ingest([tmp_path], store, jobs=2)
    by_name = {o.name: o for o in result.files}
    assert by_name["crash.docx"].status == "rejected" and "crash" in by_name["crash.docx"].reason
    assert all(by_name[n].status == "new" for n in ("a.docx", "c.docx", "d.docx"))


def test_a_reader_that_hangs_is_stopped_and_refused(tmp_path, form, blank_docx, monkeypatch):
    items = []
    for n, name in enumerate(["a.docx", "hang.docx", "c.docx"]):
        data = docx_copy(form, blank_docx, iid(130 + n))
        items.append(_Item(n, tmp_path / name, "0" * 64, len(data), data))
    monkeypatch.setattr(ingest_module, "read_copy", sleeping_read)
    results = {item.path.name: read for item, read in _read_all(iter(items), jobs=2, seconds=3)}
    assert "took longer than 3 s" in results["hang.docx"].error
    assert results["a.docx"].record is not None and results["c.docx"].record is not None



def test_a_scan_that_hangs_is_refused_with_the_scans_own_time_limit(tmp_path, monkeypatch):
    """A scan gets SCAN_TIME_FACTOR (4) times a copy's time, and its message says so: 2 s, not 0.5 s."""
    import io
    from PIL import Image
    out = io.BytesIO()
    Image.new("L", (40, 60), 250).save(out, format="PNG")
    items = [_Item(0, tmp_path / "hang.png", "0" * 64, len(out.getvalue()), out.getvalue())]
    monkeypatch.setattr(ingest_module, "read_copy", sleeping_read)
    [(_, read)] = list(_read_all(iter(items), jobs=1, seconds=0.5))
    assert read.error == "took longer than 2 s to read; refused (other files are not affected)"


# ---------------------------------------------------------------- identifiers, finding files, registers

def test_likely_patient_identifiers_are_flagged_without_the_value(tmp_path, store, form, blank_docx):
    notes = "Met the patient (NHS no. 943 476 5919) at home, SW1A 1AA. DOB: 12/03/1950."
    (tmp_path / "p.docx").write_bytes(docx_copy(form, blank_docx, iid(140), {
        "final_review.review.self_assessment": notes, "case_studies.studies.case_1.overview": "Nothing identifying"}))
    [outcome] = ingest([tmp_path], store, jobs=1).files
    flagged = [w for w in outcome.warnings if "patient identifiers" in w]
    assert {w.split(":")[0] for w in flagged} == {"final_review.review.self_assessment"}
    assert any("possible nhs number" in w for w in flagged) and any("possible postcode" in w for w in flagged)
    assert all("943" not in w and "SW1A" not in w and "1950" not in w for w in outcome.warnings)
    stored = store.warnings()[1]
    assert any(w.startswith("final_review.review.self_assessment: possible nhs number (value not shown)")
               for w in stored)


def test_redact_blanks_quoted_text():
    assert redact("x.y: unknown option 'secret' (expected one of: a, b)") == \
        "x.y: unknown option '…' (expected one of: a, b)"


def test_find_files_recurses_skips_lock_and_hidden_files_and_keeps_named_ones(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/one.pdf", "a/b/two.docx", "a/~$two.docx", "a/.~lock.two.docx#", "a/.hidden.pdf", "top.pdf"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "a" / ".git").mkdir()
    (tmp_path / "a" / ".git" / "x.pdf").write_bytes(b"x")
    found = find_files([tmp_path / "a", tmp_path / "top.pdf", tmp_path / "a" / "one.pdf",
                        tmp_path / "a" / "~$two.docx"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/one.pdf", "a/b/two.docx", "top.pdf",
                                                                  "a/~$two.docx"]
    with pytest.raises(IngestError, match="no such file or folder"):
        find_files([tmp_path / "nope"])


def test_progress_is_called_once_per_file(tmp_path, store, form, blank_docx):
    for n in range(3):
        (tmp_path / f"{n}.docx").write_bytes(docx_copy(form, blank_docx, iid(150 + n)))
    (tmp_path / "junk.txt").write_text("x")
    calls = []
    ingest([tmp_path], store, jobs=2, progress=calls.append)
    assert calls == [1, 1, 1, 1]
    calls.clear()
    ingest([tmp_path], store, jobs=2, progress=calls.append)
    assert calls == [1, 1, 1, 1]


REGISTER = """instance_id,document,learner,practice,pcn,supervisor,facilitator,start_date,email,file,content_id,content_version,issued_at
{a},pack,Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr A,Ms B,2026-09-01,,build/z.pdf,care-coordination-portfolio,1.0.0,2026-08-01T00:00:00+00:00
{a},pack,Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr A,Ms B,2026-09-01,,build/z.docx,care-coordination-portfolio,1.0.0,2026-08-01T00:00:00+00:00
{b},pack,Dafydd ap Gruffudd,Hill Practice,riverside-pcn,Dr A,Ms B,2026-09-01,,build/d.pdf,care-coordination-portfolio,1.0.0,2026-08-01T00:00:00+00:00
"""


def test_register_import_lists_learners_who_returned_nothing(tmp_path, form, blank_docx):
    (tmp_path / "issued.csv").write_text(REGISTER.format(a=iid(160), b=iid(161)), encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "z.docx").write_bytes(docx_copy(form, blank_docx, iid(160), {"cover.details.name": "Zoë"}))
    store = tmp_path / "r.sqlite"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(tmp_path / "in"), "--register", str(tmp_path / "issued.csv"),
                                  "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert f"register {tmp_path / 'issued.csv'}: 3 issued files, 3 new" in result.output  # absolute
    again = runner.invoke(main, ["ingest", "--register", str(tmp_path / "issued.csv"), "--store", str(store)])
    assert "3 issued files, 0 new" in again.output and again.exit_code == 0
    listing = runner.invoke(main, ["records", "--store", str(store)])
    assert listing.exit_code == 0, listing.output
    assert "Dafydd ap Gruffudd (Hill Practice, riverside-pcn)\n  nothing returned yet (1 file issued)" in listing.output
    assert "Zoë Łukasiewicz (Riverside Surgery, riverside-pcn)\n  competencies" in listing.output


def test_a_bad_register_is_refused_with_line_numbers(tmp_path):
    (tmp_path / "issued.csv").write_text("instance_id,learner,practice,pcn\n,Zoë,A,b\nx,,A,b\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", "--register", str(tmp_path / "issued.csv"),
                                       "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 1
    assert "issued.csv: line 2: instance_id and learner are required" in result.output
    assert "issued.csv: line 3:" in result.output
    (tmp_path / "other.csv").write_text("name,practice\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", "--register", str(tmp_path / "other.csv"),
                                       "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 1 and "not an issue register: missing column(s) instance_id" in result.output


# ---------------------------------------------------------------- the command

def test_ingest_command_summary_exit_codes_and_store_location(tmp_path, form, blank_docx, monkeypatch):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.docx").write_bytes(docx_copy(form, blank_docx, iid(170)))
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["ingest", "in"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("1 new, 0 unchanged, 0 superseded, 0 conflicting, 0 rejected; "
                                  f"store {tmp_path / 'records.sqlite'}\n")  # the absolute path
    assert (tmp_path / "records.sqlite").exists()
    assert "Ingesting" not in result.output  # no progress bar when not on a terminal
    monkeypatch.setenv("PORTFOLIO_STORE", str(tmp_path / "env.sqlite"))
    (tmp_path / "in" / "junk.txt").write_text("x")
    result = runner.invoke(main, ["ingest", "in", "-v"])
    assert result.exit_code == 1
    assert "unchanged  in/a.docx: already ingested" not in result.output  # a fresh store from the environment
    assert "new        in/a.docx" in result.output
    assert "rejected   in/junk.txt: is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: check" in result.output
    assert (tmp_path / "env.sqlite").exists()
    result = runner.invoke(main, ["ingest"])
    assert result.exit_code == 2 and "name the returned files or folders" in result.output
    assert runner.invoke(main, ["ingest", "--help"]).exit_code == 0


def _console_script() -> str:
    beside = Path(sys.executable).with_name("portfolio")
    if beside.exists():
        return str(beside)
    need_tool("portfolio")
    return shutil.which("portfolio")


def test_end_to_end_through_the_installed_console_script(tmp_path, form, blank_docx, pdf_path, values):
    """ingest -> records -> export (fhir) -> report, as a provider runs them."""
    script = _console_script()
    (tmp_path / "returned").mkdir()
    (tmp_path / "returned" / "zoe.pdf").write_bytes(fill_pdf(pdf_path.read_bytes(), values))
    (tmp_path / "returned" / "dafydd.docx").write_bytes(docx_copy(
        form, blank_docx, iid(180), values, learner={"name": "Dafydd ap Gruffudd", "practice": "Hill"}))
    env = {k: v for k, v in os.environ.items() if k != "PORTFOLIO_STORE"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([script, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    ingested = run("ingest", "returned")
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stdout.strip().endswith("2 new, 0 unchanged, 0 superseded, 0 conflicting, 0 rejected; "
                                            f"store {tmp_path / 'records.sqlite'}")
    again = run("ingest", "returned")
    assert "0 new, 2 unchanged" in again.stdout
    listing = run("records", "--json")
    assert {lp["name"] for lp in json.loads(listing.stdout)} == {"Dafydd ap Gruffudd", "Zoë Łukasiewicz"}
    exported = run("export", "--format", "fhir", "-o", "records.fhir.json")
    assert exported.returncode == 0, exported.stderr
    bundle = json.loads((tmp_path / "records.fhir.json").read_text(encoding="utf-8"))
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Questionnaire", "QuestionnaireResponse", "QuestionnaireResponse"]
    reported = run("report", "--out", "reports")
    assert reported.returncode == 0, reported.stderr
    assert (tmp_path / "reports" / "cohort-progress.pdf").read_bytes().startswith(b"%PDF")


# ---------------------------------------------------------------- forged returns

def test_a_copy_naming_another_learner_never_becomes_a_version_of_the_first(tmp_path, store, form, blank_docx):
    """One learner's instance id with another learner's name: a conflict naming the fields, even
    with --supersede; the first learner keeps their record."""
    (tmp_path / "zoe.docx").write_bytes(docx_copy(form, blank_docx, iid(50), {"cover.details.name": LEARNER["name"]}))
    forged = docx_copy(form, blank_docx, iid(50), {"cover.details.name": "Mallory Forger"},
                       learner={"name": "Mallory Forger", "practice": "Riverside Surgery"})
    (tmp_path / "forged.docx").write_bytes(forged)
    assert ingest([tmp_path / "zoe.docx"], store, jobs=1).files[0].status == "new"
    [outcome] = ingest([tmp_path / "forged.docx"], store, supersede=True, jobs=1).files
    assert (outcome.status, outcome.submission_id, outcome.previous_id) == ("conflict", None, 1)
    assert outcome.reason == ("names another learner than the one this copy was stored for (learner.name in the "
                              "manifest, cover.details.name differ); nothing was stored: if the learner really "
                              "changed, rerun with --accept-changed-learner")
    assert [(s.id, s.learner_name) for s in store.submissions()] == [(1, LEARNER["name"])]
    assert store.audit()[-1].action == "conflict"
    [accepted] = ingest([tmp_path / "forged.docx"], store, supersede=True, jobs=1, accept_changed_learner=True).files
    assert (accepted.status, accepted.previous_id) == ("superseded", 1)
    assert [e.action for e in store.audit()][-2:] == ["learner changed", "superseded"]
    assert "accepted with --accept-changed-learner (learner.name in the manifest" in store.audit()[-2].detail


def test_a_first_copy_contradicting_the_register_is_a_conflict(tmp_path, store, form, blank_docx):
    (tmp_path / "issued.csv").write_text(f"instance_id,learner,practice,pcn\n{iid(51)},Ngozi Okonkwo,Riverside "
                                         "Surgery,riverside-pcn\n", encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.docx").write_bytes(docx_copy(form, blank_docx, iid(51), {"cover.details.name": "Ngozi "
                                                                                   "Okonkwo"}))
    result = ingest([tmp_path / "in"], store, jobs=1, registers=[tmp_path / "issued.csv"])
    [outcome] = result.files
    assert outcome.status == "conflict"
    assert outcome.reason.startswith("names another learner than the one this copy was issued to (learner.name in "
                                     "the manifest differs)")
    assert store.submissions() == []
