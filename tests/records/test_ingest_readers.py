"""Ingest's reader processes, through real processes reading tiny real copies.

A reader process is forked once for several files (``READS_PER_READER``) and replaced after any
error, after its last read, and when it has grown by a quarter of its memory cap. Which reader read
which file is seen by the process id each file was sent to (``_Reader`` is subclassed only to note
that; everything else is the real reader). The copies are Word packages of a few parts built as
``tests/formats/docx/test_read_raw.py`` does: a reader answers each in milliseconds.
"""

from __future__ import annotations

import functools
import gc
import io
import multiprocessing
import os
import resource
import threading
import time
from pathlib import Path

import pikepdf
import pytest

from generator.reading.read import Record
from generator.reading.sandbox import Isolated
from generator.records import ingest as ingest_module
from generator.records.ingest import READS_PER_READER, SCAN_TIME_FACTOR, ReadOutcome, _abridged, _address_space, \
    _Item, _read_all, _reader, looks_scanned
from generator.records.store import Definition
from tests.formats.docx.test_read_raw import NAME, PRACTICE, docx, p, sdt

MB = 1 << 20
BROKEN = b"PK\x03\x04 not really a Word file"  # refused at once: not a zip archive
BAD_PNG = b"\x89PNG\r\n\x1a\n" + b"junk" * 10  # a scan refused at once: a truncated image


def copy(name: str) -> bytes:
    return docx(p(sdt(name, tag="cover.name")), [NAME])


@functools.cache
def padded(name: str, size: int) -> bytes:
    """A PDF copy carrying a stream of ``size`` bytes the reader never opens (an attachment, say)."""
    from tests.records.test_ingest_units import tiny_pdf
    pdf = pikepdf.open(io.BytesIO(tiny_pdf(name)))
    pdf.Root.PieceInfo = pdf.make_stream(b"\0" * size)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


class Spy(ingest_module._Reader):
    """The real reader's parent end, noting what it is given (a list per test)."""

    made: list[tuple[int, int, object]] = []
    sent: list[tuple[str, int, float, bool]] = []
    all: list[ingest_module._Reader] = []

    def __init__(self, context, memory, known):
        super().__init__(context, memory, known)
        Spy.made.append((self.process.pid, memory, known))
        Spy.all.append(self)

    def send(self, item, seconds):
        ok = super().send(item, seconds)
        Spy.sent.append((item.path.name, self.process.pid, seconds, ok))
        return ok


@pytest.fixture
def spy(monkeypatch):
    monkeypatch.setattr(Spy, "made", [])
    monkeypatch.setattr(Spy, "sent", [])
    monkeypatch.setattr(Spy, "all", [])
    monkeypatch.setattr(ingest_module, "_Reader", Spy)
    return Spy


def read_all(files: list[tuple[str, bytes]], jobs: int = 1, seconds: float = 60.0, memory: int = 512 * MB,
             known=None) -> list[tuple[str, str | None, dict | None]]:
    items = [_Item(i, Path("returns") / name, f"{i:064x}", len(data), data) for i, (name, data) in enumerate(files)]
    return [(item.path.name, read.error, read.record.fields if read.record else None)
            for item, read in _read_all(iter(items), jobs, seconds, memory, known)]


def readers(spy) -> list[int]:
    """Reader number (0, 1, …, in the order readers were made) of each file, in the order files were sent."""
    pids = [pid for pid, _, _ in spy.made]
    return [pids.index(pid) for _, pid, _, _ in spy.sent]


# ---------------------------------------------------------------- reuse and replacement

def test_a_reader_reads_up_to_its_limit_of_files_then_a_fresh_one_takes_its_place(spy):
    assert READS_PER_READER == 20
    files = [(f"copy-{n:02}.docx", copy(f"Learner {n}")) for n in range(1, 23)]
    out = read_all(files)
    assert out == [(f"copy-{n:02}.docx", None, {"cover.name": f"Learner {n}"}) for n in range(1, 23)]
    assert readers(spy) == [0] * 20 + [1, 1]
    assert all(ok for *_, ok in spy.sent)
    assert not any(r.process.is_alive() for r in spy.all)  # every reader is stopped at the end


def test_a_reader_that_refused_a_file_is_replaced(spy):
    out = read_all([("a.docx", copy("A")), ("b.docx", copy("B")), ("broken.docx", BROKEN), ("c.docx", copy("C")),
                    ("d.docx", copy("D"))])
    assert [(name, error is None, fields) for name, error, fields in out] == [
        ("a.docx", True, {"cover.name": "A"}), ("b.docx", True, {"cover.name": "B"}),
        ("broken.docx", False, None), ("c.docx", True, {"cover.name": "C"}), ("d.docx", True, {"cover.name": "D"})]
    assert readers(spy) == [0, 0, 0, 1, 1]


def test_a_reader_that_grew_by_a_quarter_of_its_memory_cap_is_replaced(spy):
    # The reader holds the last file it was sent (300 MB here, in a stream it never opens) while it waits for the
    # next: more than a quarter of a 1 GB cap, less than a quarter (but more than a fifth) of a 1.4 GB one. (A reader forked from a process
    # with free space inside its heap fills that first without growing: the file is larger than any such space
    # here, up to 200 MB when mutmut has just compiled a mutated module.)
    files = [("a.docx", copy("A")), ("big.pdf", padded("Big", 300 * MB)), ("c.docx", copy("C")),
             ("d.docx", copy("D"))]
    out = read_all(files, memory=1024 * MB)
    assert [(name, error, fields) for name, error, fields in out] == [
        ("a.docx", None, {"cover.name": "A"}), ("big.pdf", None, {"cover.name": "Big"}),
        ("c.docx", None, {"cover.name": "C"}), ("d.docx", None, {"cover.name": "D"})]
    assert readers(spy) == [0, 0, 1, 1]
    assert [memory for _, memory, _ in spy.made] == [1024 * MB, 1024 * MB]
    spy.made.clear()
    spy.sent.clear()
    assert [error for _, error, _ in read_all(files, memory=1400 * MB)] == [None] * 4
    assert readers(spy) == [0, 0, 0, 0]


def test_a_reader_that_died_while_waiting_for_work_is_replaced_and_the_file_read_by_a_fresh_one(spy):
    """The next file is taken from the source before an idle reader is handed it, so the source below
    kills the one idle reader (as the kernel's out-of-memory killer or an administrator might) first."""
    files = [("a.docx", copy("A")), ("b.docx", copy("B")), ("c.docx", copy("C"))]
    items = [_Item(i, Path(name), f"{i:064x}", len(data), data) for i, (name, data) in enumerate(files)]
    known = {"00000000-0000-4000-8000-000000000001": None}  # layouts for scans (none of these is one)

    def source():
        yield items[0]
        [idle] = [r for r in spy.all if r.process.is_alive()]
        idle.process.kill()
        idle.process.join(10)
        assert idle.process.exitcode == -9
        yield from items[1:]

    out = [(item.path.name, read.error, read.record.fields if read.record else None)
           for item, read in _read_all(source(), 1, 60.0, 384 * MB, known)]
    assert out == [("a.docx", None, {"cover.name": "A"}), ("b.docx", None, {"cover.name": "B"}),
                   ("c.docx", None, {"cover.name": "C"})]
    assert [(name, ok) for name, _, _, ok in spy.sent] == [("a.docx", True), ("b.docx", False), ("b.docx", True),
                                                           ("c.docx", True)]
    assert readers(spy) == [0, 0, 1, 1]  # the dead one was given b.docx and could not take it; a fresh one did
    assert spy.made[1][1:] == (384 * MB, known) and spy.made[1][2] is known  # the fresh one has the same limits
    assert not any(r.process.is_alive() for r in spy.all)
    assert all(r.conn.closed for r in spy.all)  # the dead one's end of its pipe too


def test_a_read_that_answered_just_as_its_deadline_passed_is_taken_not_timed_out(spy, monkeypatch):
    """The wait for answers ended (its time was up) a moment before the reader answered; by the time the
    deadline is checked the answer is there, so it is taken, from that reader, as any other."""
    real_wait = ingest_module.connection_wait
    late = []

    def wait(conns, timeout):
        if late:
            return real_wait(conns, timeout)
        late.append(timeout)
        for conn in conns:
            assert conn.poll(60)  # the answer has come...
        time.sleep(0.6)  # ...and the file's 0.5 s have passed while this process was busy elsewhere
        return []  # as a wait that timed out just before it came

    monkeypatch.setattr(ingest_module, "connection_wait", wait)
    assert read_all([("a.docx", copy("A"))], seconds=0.5) == [("a.docx", None, {"cover.name": "A"})]
    assert len(late) == 1 and 0 < late[0] <= 0.5
    assert readers(spy) == [0] and not any(r.process.is_alive() for r in spy.all)


def test_files_are_read_by_as_many_readers_as_jobs_and_come_back_in_their_order(spy):
    files = [(f"copy-{n}.docx", copy(f"L{n}")) for n in range(1, 9)]
    out = read_all(files, jobs=2)
    assert [(name, fields) for name, _, fields in out] == [(f"copy-{n}.docx", {"cover.name": f"L{n}"})
                                                            for n in range(1, 9)]
    assert len(spy.made) == 2 and sorted(set(readers(spy))) == [0, 1]


def test_a_scan_has_longer_to_be_read_and_every_reader_gets_the_layouts(spy):
    assert SCAN_TIME_FACTOR == 4
    known = {"00000000-0000-4000-8000-000000000001": None}
    out = read_all([("a.docx", copy("A")), ("scan.png", BAD_PNG), ("b.docx", copy("B"))], seconds=2.5, known=known)
    assert [(name, error) for name, error, _ in out] == [
        ("a.docx", None),
        ("scan.png", "is a truncated image and cannot be read (Truncated File Read); scan the pages again"),
        ("b.docx", None)]
    assert [(name, seconds) for name, _, seconds, _ in spy.sent] == [("a.docx", 2.5), ("scan.png", 10.0),
                                                                     ("b.docx", 2.5)]
    assert all(k is known for _, _, k in spy.made) and readers(spy) == [0, 0, 1]


def reading(hold):
    """The real ``read_copy``, first holding the reader (in the reader process, forked with it) on the files
    ``hold`` names: ``hold(name)`` returns when that file may be read."""
    real = ingest_module.read_copy

    def read(data, name, memory, known):
        hold(name)
        return real(data, name, memory, known)
    return read


def test_a_file_still_being_read_at_its_deadline_costs_that_file_and_its_reader(spy, monkeypatch):
    monkeypatch.setattr(ingest_module, "read_copy", reading(lambda name: name == "hang.docx" and time.sleep(60)))
    out = read_all([("a.docx", copy("A")), ("hang.docx", copy("H")), ("b.docx", copy("B"))], seconds=0.5)
    assert out == [("a.docx", None, {"cover.name": "A"}),
                   ("hang.docx", "took longer than 0.5 s to read; refused (other files are not affected)", None),
                   ("b.docx", None, {"cover.name": "B"})]
    assert readers(spy) == [0, 0, 1]
    assert not spy.all[0].process.is_alive()


def test_readers_read_ahead_of_a_slow_file_four_files_a_reader_and_no_more(spy, monkeypatch, tmp_path):
    go = tmp_path / "go"

    def hold(name):
        while name == "slow.docx" and not go.exists():
            time.sleep(0.01)

    def release():  # once eight files were handed out, and a moment more for any that should not be
        for _ in range(3000):
            if len(spy.sent) >= 8:
                time.sleep(0.3)
                break
            time.sleep(0.01)
        go.touch()

    monkeypatch.setattr(ingest_module, "read_copy", reading(hold))
    files = [("slow.docx", copy("S"))] + [(f"copy-{n:02}.docx", copy(f"L{n}")) for n in range(1, 12)]
    items = [_Item(i, Path(name), "", len(data), data) for i, (name, data) in enumerate(files)]
    watcher = threading.Thread(target=release, daemon=True)
    watcher.start()
    results = _read_all(iter(items), 2, 60.0, 512 * MB, None)
    first, read = next(results)
    # the slow file holds the head of the line: the other reader read seven more, then waited (2 jobs x 4)
    assert (first.path.name, read.error, len(spy.sent)) == ("slow.docx", None, 8)
    rest = [(item.path.name, r.record.fields) for item, r in results]
    assert rest == [(f"copy-{n:02}.docx", {"cover.name": f"L{n}"}) for n in range(1, 12)]
    watcher.join(30)


def test_every_read_comes_back_with_its_definitions_sent_once_by_each_reader(spy):
    files = [(f"copy-{n:02}.docx", copy(f"L{n}")) for n in range(1, 23)]
    files[3] = ("other.docx", docx(p(sdt("Riverside", tag="cover.practice")), [PRACTICE]))
    items = [_Item(i, Path(name), f"{i:064x}", len(data), data) for i, (name, data) in enumerate(files)]
    out = [read for _, read in _read_all(iter(items), 1)]
    assert [read.definitions for read in out] == [[NAME]] * 3 + [[PRACTICE]] + [[NAME]] * 18
    assert all(read.record.definitions is read.definitions and read.definition.fields is read.definitions
               for read in out)
    assert out[4].definition.id == out[0].definition.id != out[3].definition.id
    assert out[21].record.fields == {"cover.name": "L22"} and readers(spy) == [0] * 20 + [1, 1]
    # what each reader sent whole: its first copy of each set of definitions (a fresh reader's too)
    assert [sorted(reader.definitions) for reader in spy.all] == [sorted({out[0].definition.id, out[3].definition.id}),
                                                                   [out[0].definition.id]]


def outcome(fields: list[dict], definition_id: str = "d" * 64) -> ReadOutcome:
    record = Record({"part": "pack"}, {}, definitions=fields)
    return ReadOutcome(record, None, fields, definition=Definition(definition_id, "care-pack", None, "care-pack",
                                                                   "1.0.0", "h" * 64, fields))


def test_a_reader_leaves_out_only_the_very_same_definitions_it_sent_before():
    sent: dict[str, bytes] = {}
    first = outcome([{"id": "a", "kind": "text"}])
    assert _abridged(first, sent) == ("ok", first)
    again = outcome([{"id": "a", "kind": "text"}])
    status, short = _abridged(again, sent)
    assert status == "same definitions"
    assert (short.definitions, short.record.definitions, short.definition.fields) == ([], [], [])
    assert (short.definition.id, short.record.pack, again.definitions) == ("d" * 64, {"part": "pack"},
                                                                           [{"id": "a", "kind": "text"}])
    reordered = outcome([{"kind": "text", "id": "a"}])  # the same id (canonical JSON), not the same list
    assert _abridged(reordered, sent) == ("ok", reordered)
    assert _abridged(outcome([{"kind": "text", "id": "a"}]), sent)[0] == "same definitions"
    refused = ReadOutcome(error="is not a PDF or Word (.docx) file")
    assert _abridged(refused, sent) == ("ok", refused)
    apart = outcome([{"id": "a", "kind": "text"}])
    apart.definitions = [{"id": "a", "kind": "text"}]  # not the record's list: sent whole
    assert _abridged(apart, sent) == ("ok", apart)


def test_nothing_to_read_starts_no_reader(spy):
    assert read_all([]) == []
    assert spy.made == []


@pytest.mark.parametrize("data, scanned", [
    (b"\x89PNG\r\n\x1a\n....", True), (b"\xff\xd8\xff\xe0", True), (b"II*\x00", True), (b"MM\x00*", True),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>", True),  # a PDF without a form
    (b"%PDF-1.7\n1 0 obj << /AcroForm 2 0 R >>", False), (b"PK\x03\x04", False), (b"", False),
    (b" %PDF-1.7", False),
])
def test_looks_scanned(data, scanned):
    assert looks_scanned(data) is scanned


# ---------------------------------------------------------------- one reader process

def context():
    return multiprocessing.get_context("fork")


def limits_of(pid: int) -> dict[str, str]:
    """Soft limits of a process, from /proc/PID/limits."""
    out = {}
    with open(f"/proc/{pid}/limits") as handle:
        for line in handle.readlines()[1:]:
            name, soft = line[:26].strip(), line[26:].split()[0]
            out[name] = soft
    return out


def test_a_reader_process_has_its_memory_cap_and_a_cpu_limit_per_file():
    reader = ingest_module._Reader(context(), 1024 * MB, None)
    try:
        assert reader.process.daemon is True and reader.reads == 0 and reader.base > 0
        assert reader.send(_Item(0, Path("a.docx"), "", 0, copy("A")), 500.0) is True
        result = reader.result()
        assert (result.status, result.value.error, result.value.record.fields) == ("ok", None, {"cover.name": "A"})
        limits = limits_of(reader.process.pid)
        # the cap: what the reader used when it started (a fork of this process) plus 1 GB
        assert abs(int(limits["Max address space"]) - 1024 * MB - reader.base) < 64 * MB
        # CPU time: what it had used, plus the file's 500 s, plus one (a tiny copy takes well under a second)
        assert 501 <= int(limits["Max cpu time"]) <= 503
        assert reader.reads == 1 and 0 <= reader.grown() < 16 * MB
        assert reader.send(_Item(1, Path("b.docx"), "", 0, copy("B")), 1000.0) is True
        assert reader.result().value.record.fields == {"cover.name": "B"}
        assert 1001 <= int(limits_of(reader.process.pid)["Max cpu time"]) <= 1003 and reader.reads == 2
    finally:
        reader.stop()
    assert not reader.process.is_alive() and reader.conn.closed


def _frozen_after_setup(conn) -> None:
    from generator.reading.sandbox import child_setup
    before = gc.get_freeze_count()
    child_setup(1024 * MB, os.getppid())
    conn.send((before, gc.get_freeze_count(), len(gc.get_objects())))


def test_a_reader_process_keeps_what_it_inherited_out_of_its_collections():
    parent_end, child_end = context().Pipe()
    child = context().Process(target=_frozen_after_setup, args=(child_end,), daemon=True)
    child.start()
    try:
        assert parent_end.poll(30)
        before, frozen, tracked = parent_end.recv()
    finally:
        child.join(10)
    assert before == 0 and frozen > 10_000  # this test process's objects, inherited by the fork
    assert tracked < frozen // 10  # what the collections still walk: only what the child made since


def test_a_reader_that_died_is_a_crash_and_takes_no_more_files():
    reader = ingest_module._Reader(context(), 256 * MB, None)
    try:
        reader.process.kill()
        reader.process.join(10)
        assert reader.conn.poll(10)  # its end of the pipe is closed: the parent holds no copy of it
        assert reader.result() == Isolated("crash", exitcode=-9)
        assert reader.send(_Item(0, Path("a.docx"), "", 0, copy("A")), 5.0) is False
        assert reader.reads == 0
    finally:
        reader.stop()
    reader.stop()  # stopping twice is harmless


def test_a_reader_without_an_address_space_to_start_from_has_not_grown():
    reader = ingest_module._Reader(context(), 256 * MB, None)
    try:
        reader.base = 0
        assert reader.grown() == 0
        reader.base = 1
        assert reader.grown() > 100 * MB  # a fork of this process (Python with the readers' libraries)
    finally:
        reader.stop()


def test_address_space_from_proc():
    with open("/proc/self/status") as handle:
        before = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmSize:"))
    size = _address_space("self")
    assert abs(size - before) < 8 * MB and size % resource.getpagesize() == 0
    assert _address_space(str(os.getpid())) > 100 * MB
    assert _address_space("999999999") == 0 and _address_space("not-a-pid") == 0


# ---------------------------------------------------------------- the reader's own loop, in a thread here

@pytest.fixture
def loop(monkeypatch):
    """``_reader`` run in a thread of this process (so every line of it is seen here), with the real pipe and
    the real ``read_copy``; only the sandbox's set-up of a child (die with the parent, cap the memory) is noted
    instead of done, as it would apply to this test process. Its CPU limit is put back afterwards."""
    calls = []
    monkeypatch.setattr(ingest_module, "child_setup", lambda memory, parent: calls.append((memory, parent)))
    saved = resource.getrlimit(resource.RLIMIT_CPU)
    parent_end, child_end = multiprocessing.Pipe()
    thread = threading.Thread(target=_reader, args=(child_end, 123 * MB, 4242, None), daemon=True)
    thread.start()
    yield parent_end, thread, calls
    parent_end.close()
    thread.join(30)
    resource.setrlimit(resource.RLIMIT_CPU, saved)


def test_the_reader_loop_reads_each_file_it_is_sent_until_told_to_stop(loop):
    conn, thread, calls = loop
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send((copy("Zoë"), "zoe.docx", 1_000_000.0))
    assert conn.poll(30)
    status, read = conn.recv()
    assert (status, read.error, read.record.fields) == ("ok", None, {"cover.name": "Zoë"})
    assert calls == [(123 * MB, 4242)]
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    spent = usage.ru_utime + usage.ru_stime
    assert int(spent) + 1_000_001 <= soft <= int(spent) + 1_000_011
    assert hard == resource.RLIM_INFINITY or hard >= soft
    conn.send((BROKEN, "broken.docx", 1_000_000.0))
    assert conn.poll(30)
    status, read = conn.recv()
    assert (status, read.code, read.error) == ("ok", "E-READ-DAMAGED", (
        "is damaged or truncated and cannot be read as a Word file; ask for the copy again, saved once more from "
        "the program it was filled in"))
    conn.send(None)
    thread.join(30)
    assert not thread.is_alive()
    assert conn.poll(5)
    with pytest.raises(EOFError):  # the reader closed its end
        conn.recv()


def test_the_reader_loop_sends_back_what_raised_and_goes_on(loop, monkeypatch):
    conn, thread, _ = loop

    def read(data, name, memory, known):
        if name == "bad.docx":
            raise RuntimeError("a reader bug")
        return ingest_module.ReadOutcome(error=f"{name} {len(data)} {memory} {known}")

    monkeypatch.setattr(ingest_module, "read_copy", read)
    conn.send((b"x", "bad.docx", 1_000_000.0))
    assert conn.poll(30) and conn.recv() == ("raised", "RuntimeError")
    conn.send((b"xyz", "good.docx", 1_000_000.0))
    assert conn.poll(30)
    status, out = conn.recv()
    assert (status, out.error) == ("ok", f"good.docx 3 {123 * MB} None")
    conn.close()  # the parent went away: the reader ends
    thread.join(30)
    assert not thread.is_alive()


def test_with_supersede_a_stored_copy_that_is_no_scan_is_not_read_again(spy, tmp_path):
    """Only a scanned file is read again under --supersede (its first copy alone carries the file's hash)."""
    from generator.records.connect import open_store
    from generator.records.ingest import ingest
    returns = tmp_path / "returns"
    returns.mkdir()
    (returns / "a.docx").write_bytes(copy("A"))
    with open_store(str(tmp_path / "records.sqlite")) as store:
        assert [o.status for o in ingest([returns], store, jobs=1).files] == ["new"]
        [again] = ingest([returns], store, jobs=1, supersede=True).files
    assert (again.status, again.reason) == ("unchanged", "already ingested (submission 1)")
    assert [name for name, *_ in spy.sent] == ["a.docx"]  # read once, by the first ingest
