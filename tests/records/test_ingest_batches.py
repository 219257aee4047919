"""Storing in batches: every file in its own savepoint of one transaction, committed together.

Real ingests of tiny Word copies (a reader answers each in milliseconds) into real stores, SQLite and
PostgreSQL. What must hold: a file whose storing fails is rolled back alone and the others of its batch
are kept; a commit that fails leaves nothing of its batch and says so for every file; an interrupted
ingest keeps what was committed and a rerun stores the rest; the ledger chains on across savepoints
that were rolled back.
"""

from __future__ import annotations

import io
import os
import zipfile
from contextlib import contextmanager

import pytest

from generator.errors import StoreError
from generator.records import ingest as ingest_module
from generator.records import store as protocol
from generator.records.connect import open_store
from generator.records.ingest import FILES_PER_COMMIT, READER_NICENESS, ingest
from tests.formats.docx.test_read_raw import NAME, docx, p, sdt

FIXED = "00000000-0000-4000-8000-000000000001"  # the instance id test_read_raw's copies carry


def copy(n: int) -> bytes:
    """A returned Word copy of its own instance (…-0000000000NN) with the learner "Learner NN" on its cover."""
    data = docx(p(sdt(f"Learner {n:02}", tag="cover.name")), [NAME])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info).replace(FIXED.encode(), f"00000000-0000-4000-8000-{n:012}".encode()))
    return out.getvalue()


@pytest.fixture
def returns(tmp_path):
    folder = tmp_path / "returns"
    folder.mkdir()
    for n in range(1, 6):
        (folder / f"copy-{n:02}.docx").write_bytes(copy(n))
    return folder


@pytest.fixture
def store(store_location):
    with open_store(store_location) as s:
        yield s


def stored_names(store) -> list[str]:
    return sorted(s.filename for s in store.submissions(current_only=False))


def test_a_file_whose_storing_fails_is_rolled_back_alone_and_the_rest_of_its_batch_is_kept(store, returns,
                                                                                         monkeypatch):
    assert FILES_PER_COMMIT == 20  # all five files fit one batch
    real = store.add_submission

    def add_submission(new, version, supersedes):
        sid = real(new, version, supersedes)  # its rows and its ledger entry are written, then it fails
        if new.filename == "copy-03.docx":
            raise StoreError("the disk is full")
        return sid

    monkeypatch.setattr(store, "add_submission", add_submission)
    result = ingest([returns], store, jobs=1)
    assert [(o.name, o.status) for o in result.files] == [
        ("copy-01.docx", "new"), ("copy-02.docx", "new"), ("copy-03.docx", "failed"), ("copy-04.docx", "new"),
        ("copy-05.docx", "new")]
    assert result.files[2].reason == "could not be stored (the disk is full); nothing of it was kept"
    assert stored_names(store) == ["copy-01.docx", "copy-02.docx", "copy-04.docx", "copy-05.docx"]
    assert [(a.action, a.filename) for a in store.audit()] == [
        ("ingested", "copy-01.docx"), ("ingested", "copy-02.docx"), ("failed", "copy-03.docx"),
        ("ingested", "copy-04.docx"), ("ingested", "copy-05.docx")]
    report = protocol.verify_chain(store)  # the rolled-back entry left no gap or fork in the chain
    assert report.ok and report.entries == 9
    monkeypatch.setattr(store, "add_submission", real)
    again = ingest([returns], store, jobs=1)
    assert [o.status for o in again.files] == ["unchanged", "unchanged", "new", "unchanged", "unchanged"]


def failing_commit(store, message: str):
    """``store.batch`` whose commit fails: the real batch is rolled back whole, then StoreError(message)."""
    real = store.batch

    @contextmanager
    def batch():
        with pytest.raises(RuntimeError):
            with real():
                yield store
                raise RuntimeError("rolled back")  # the real batch rolls everything back
        raise StoreError(message)

    return batch


def test_a_commit_that_fails_stores_nothing_of_its_batch_and_says_so_for_every_file(store, returns, monkeypatch):
    real = store.batch
    monkeypatch.setattr(store, "batch", failing_commit(store, "disk I/O error; the transaction was rolled back"))
    result = ingest([returns], store, jobs=1)
    assert [(o.status, o.reason, o.code, o.submission_id) for o in result.files] == [
        ("failed", "could not be stored (disk I/O error; the transaction was rolled back); nothing of it was kept",
         "E-STORE", None)] * 5
    assert stored_names(store) == [] and store.audit() == []
    monkeypatch.setattr(store, "batch", real)
    assert [o.status for o in ingest([returns], store, jobs=1).files] == ["new"] * 5


def test_a_failed_commit_leaves_a_refused_file_refused_and_says_its_audit_entry_was_lost(store, returns,
                                                                                        monkeypatch):
    (returns / "copy-02.docx").write_bytes(b"PK\x03\x04 not really a Word file")
    monkeypatch.setattr(store, "batch", failing_commit(store, "disk I/O error"))
    result = ingest([returns], store, jobs=1)
    refused = result.files[1]
    assert (refused.name, refused.status) == ("copy-02.docx", "rejected")
    assert refused.warnings == ["its audit-log entry could not be written (disk I/O error)"]
    assert [o.status for o in result.files] == ["failed", "rejected", "failed", "failed", "failed"]


def test_an_interrupted_ingest_keeps_the_committed_batches_and_a_rerun_stores_the_rest(store, returns,
                                                                                     monkeypatch):
    monkeypatch.setattr(ingest_module, "FILES_PER_COMMIT", 2)
    # Batches by size only: without the commit before each wait for a reader (which depends on how fast the
    # readers are), the batches are exactly files 1-2, 3-4, then 5.
    real_read_all = ingest_module._read_all
    monkeypatch.setattr(ingest_module, "_read_all", lambda *args, before_wait=None, **kwargs: real_read_all(*args,
                                                                                                           **kwargs))
    seen = []

    def progress(n):
        seen.append(n)
        if len(seen) == 5:  # the fifth file is stored, in a batch not committed yet; two were committed
            raise KeyboardInterrupt

    with pytest.raises(ingest_module.IngestInterrupted) as raised:
        ingest([returns], store, jobs=1, progress=progress)
    kept = [f"copy-0{n}.docx" for n in range(1, 5)]
    assert stored_names(store) == kept  # the first two batches; nothing of the third
    assert raised.value.stored == 4 and isinstance(raised.value, KeyboardInterrupt)  # both batches counted
    assert [(a.action, a.filename) for a in store.audit()] == [("ingested", name) for name in kept]
    assert protocol.verify_chain(store).ok
    monkeypatch.setattr(ingest_module, "_read_all", real_read_all)
    again = ingest([returns], store, jobs=1)
    assert [o.status for o in again.files] == ["unchanged"] * 4 + ["new"]
    assert stored_names(store) == [f"copy-0{n}.docx" for n in range(1, 6)]


def test_no_batch_holds_more_than_its_limit_of_files(store, returns, monkeypatch):
    monkeypatch.setattr(ingest_module, "FILES_PER_COMMIT", 2)
    real = store.batch
    sizes = []

    @contextmanager
    def batch():
        before = len(store.submissions(current_only=False))
        with real():
            yield store
            sizes.append(len(store.submissions(current_only=False)) - before)

    monkeypatch.setattr(store, "batch", batch)
    assert [o.status for o in ingest([returns], store, jobs=1).files] == ["new"] * 5
    assert sum(sizes) == 5 and max(sizes) <= 2 and len(sizes) >= 3


def test_inside_a_batch_a_transaction_is_a_savepoint_and_outside_one_they_do_not_nest(store):
    with store.batch():
        with store.transaction():
            store.add_audit("one")
        with pytest.raises(StoreError, match="no"):
            with store.transaction():
                store.add_audit("two")
                raise StoreError("no")
        with store.transaction():
            store.add_audit("three")
    assert [a.action for a in store.audit()] == ["one", "three"]
    assert [e.seq for e in store.ledger()] == [1, 2] and protocol.verify_chain(store).ok
    with store.transaction():
        with pytest.raises(StoreError, match="transactions do not nest"):
            with store.transaction():
                pass


def test_a_reader_runs_at_a_lower_priority_than_the_process_storing_what_it_reads():
    from tests.records.test_ingest_readers import context, copy as word_copy
    from generator.records.ingest import _Item, _Reader
    from pathlib import Path
    assert READER_NICENESS == 5
    reader = _Reader(context(), 256 << 20, None)
    try:
        assert reader.send(_Item(0, Path("a.docx"), "", 0, word_copy("A")), 60.0)
        assert reader.result().status == "ok"  # it has started and set itself up
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, reader.process.pid) == min(19, own + 5)
    finally:
        reader.stop()


def test_a_reader_leaves_ctrl_c_to_the_process_that_started_it():
    """A terminal sends Ctrl-C to the whole process group: readers printed tracebacks and died mid-file."""
    import signal
    from pathlib import Path
    from generator.records.ingest import _Item, _Reader
    from tests.records.test_ingest_readers import context, copy as word_copy
    reader = _Reader(context(), 256 << 20, None)
    try:
        assert reader.send(_Item(0, Path("a.docx"), "", 0, word_copy("A")), 60.0)
        assert reader.result().status == "ok"  # set up, signal handlers included
        os.kill(reader.process.pid, signal.SIGINT)
        assert reader.send(_Item(1, Path("b.docx"), "", 0, word_copy("B")), 60.0)
        result = reader.result()
        assert (result.status, result.value.record.fields) == ("ok", {"cover.name": "B"})
        assert reader.process.is_alive()
    finally:
        reader.stop()


def test_an_interrupted_ingest_says_what_was_kept_and_exits_130(monkeypatch, tmp_path):
    from click.testing import CliRunner
    from generator import api
    from generator.cli import main

    def interrupted(*args, **kwargs):
        raise ingest_module.IngestInterrupted(17)

    monkeypatch.setattr(api, "ingest", interrupted)
    (tmp_path / "a.pdf").write_bytes(b"%PDF-")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "a.pdf"), "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 130
    assert result.output == ("interrupted: 17 copy(ies) were stored before; the files being stored when it stopped "
                             "were rolled back, nothing half-written. Rerun the same command to store the rest (what "
                             "is stored already shows as unchanged)\n")
