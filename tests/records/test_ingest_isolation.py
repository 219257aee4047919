"""Reader processes of ingest: one slow file never slows the others, and no reader outlives
an ingest that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from generator.records import ingest as ingest_module
from generator.records.ingest import _Item, _read_all, read_copy
from tests.conftest import ROOT
from tests.records.test_ingest import blank_docx, docx_copy, iid  # noqa: F401  (blank_docx: a fixture)


def timed_read(data: bytes, name: str, *args):
    """Hangs on hang*.docx; notes when each other file's read starts and ends (in a folder
    named by $READ_LOG), holding each read open a little so that overlaps can be seen."""
    if name.startswith("hang"):
        time.sleep(600)
    log = Path(os.environ["READ_LOG"])
    (log / f"{name}.start").write_text(repr(time.monotonic()))
    time.sleep(1.0)
    outcome = read_copy(data, name, *args)
    (log / f"{name}.end").write_text(repr(time.monotonic()))
    return outcome


def test_after_a_time_out_the_other_files_are_still_read_in_parallel(tmp_path, form, blank_docx, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("READ_LOG", str(log))
    monkeypatch.setattr(ingest_module, "read_copy", timed_read)
    names = ["hang1.docx", "a.docx", "b.docx", "hang2.docx", "c.docx", "d.docx", "e.docx", "f.docx"]
    data = docx_copy(form, blank_docx, iid(300))
    items = [_Item(n, tmp_path / name, "0" * 64, len(data), data) for n, name in enumerate(names)]
    results = [(item.path.name, outcome) for item, outcome in _read_all(iter(items), jobs=2, seconds=4)]
    assert [name for name, _ in results] == names  # in input order
    assert [name for name, o in results if o.error] == ["hang1.docx", "hang2.docx"]
    assert all("took longer than 4 s" in o.error for name, o in results if o.error)
    spans = {n: (float((log / f"{n}.start").read_text()), float((log / f"{n}.end").read_text()))
             for n in names if not n.startswith("hang")}
    after = sorted(spans[n] for n in ("c.docx", "d.docx", "e.docx", "f.docx"))  # queued behind both time-outs
    overlapping = sum(1 for (s1, e1), (s2, e2) in zip(after, after[1:]) if s2 < e1)
    assert overlapping >= 1, after  # read two at a time, not one by one


KILLED_INGEST = """
import sys, time
from generator.records import ingest as m
def hang(data, name, *args):
    time.sleep(600)
m.read_copy = hang
from generator.records.connect import open_store
m.ingest(sys.argv[2:], open_store(sys.argv[1]), jobs=2)
"""


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_readers_die_with_an_ingest_that_is_killed(tmp_path, form, blank_docx):
    for n in range(3):
        (tmp_path / f"c{n}.docx").write_bytes(docx_copy(form, blank_docx, iid(310 + n)))
    for how in (signal.SIGKILL, signal.SIGTERM):
        process = subprocess.Popen([sys.executable, "-c", KILLED_INGEST, str(tmp_path / f"r{how}.sqlite"),
                                    *[str(tmp_path / f"c{n}.docx") for n in range(3)]], cwd=ROOT)
        try:
            deadline = time.monotonic() + 120  # a hang bound while the readers start
            readers: list[int] = []
            while len(readers) < 2 and time.monotonic() < deadline:
                readers = children(process.pid)
                time.sleep(0.2)
            assert len(readers) == 2, readers
            process.send_signal(how)
            process.wait(60)
            deadline = time.monotonic() + 60
            while any(alive(pid) for pid in readers) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not any(alive(pid) for pid in readers), (how, readers)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


# ---------------------------------------------------------------- readers are reused, within their limits

def noting_read(data: bytes, name: str, *args):
    """Notes, in $READ_LOG, which process read the file and the limits it read it under; fails on
    bad*.docx (as read_copy reports a file it cannot read) and grows by 120 MB on big*.docx."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    note = {"pid": os.getpid(), "cpu_left": resource.getrlimit(resource.RLIMIT_CPU)[0] - usage.ru_utime - usage.ru_stime,
            "memory_cap": resource.getrlimit(resource.RLIMIT_AS)[0]}
    (Path(os.environ["READ_LOG"]) / f"{name}.json").write_text(repr(note))
    if name.startswith("bad"):
        return ingest_module.ReadOutcome(error="is not a portfolio")
    if name.startswith("big"):
        KEPT.append(bytearray(120 * 2**20))
    return read_copy(data, name, *args)


KEPT: list[bytearray] = []


def read_notes(tmp_path, form, blank_docx, monkeypatch, names, **limits):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("READ_LOG", str(log))
    monkeypatch.setattr(ingest_module, "read_copy", noting_read)
    data = docx_copy(form, blank_docx, iid(320))
    items = [_Item(n, tmp_path / name, "0" * 64, len(data), data) for n, name in enumerate(names)]
    results = {item.path.name: outcome for item, outcome in _read_all(iter(items), jobs=1, **limits)}
    return results, {name: eval((log / f"{name}.json").read_text()) for name in names}


def test_a_reader_reads_several_files_and_is_replaced_after_an_error(tmp_path, form, blank_docx, monkeypatch):
    names = ["a.docx", "b.docx", "bad.docx", "c.docx", "d.docx"]
    results, notes = read_notes(tmp_path, form, blank_docx, monkeypatch, names, seconds=5)
    assert [results[n].error for n in names] == [None, None, "is not a portfolio", None, None]
    pids = [notes[n]["pid"] for n in names]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4]
    assert os.getpid() not in pids  # never read in the ingest's own process


def test_a_reader_is_replaced_after_its_share_of_files(tmp_path, form, blank_docx, monkeypatch):
    monkeypatch.setattr(ingest_module, "READS_PER_READER", 2)
    names = [f"{n}.docx" for n in "abcde"]
    results, notes = read_notes(tmp_path, form, blank_docx, monkeypatch, names, seconds=5)
    assert all(results[n].record is not None for n in names)
    pids = [notes[n]["pid"] for n in names]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


def test_every_file_a_reader_reads_has_its_own_cpu_allowance_under_one_memory_cap(tmp_path, form, blank_docx,
                                                                                   monkeypatch):
    names = [f"{n}.docx" for n in "abcd"]
    results, notes = read_notes(tmp_path, form, blank_docx, monkeypatch, names, seconds=3, memory=600 * 2**20)
    assert len({notes[n]["pid"] for n in names}) == 1
    # the CPU-time limit is set again before each file: the time used so far plus 3 s, rounded up
    assert all(3 <= notes[n]["cpu_left"] <= 4.1 for n in names), notes
    caps = {notes[n]["memory_cap"] for n in names}
    assert len(caps) == 1 and 0 < caps.pop() < 2**40  # one finite cap, set when the reader started


def test_a_reader_that_grew_is_replaced(tmp_path, form, blank_docx, monkeypatch):
    names = ["a.docx", "big.docx", "c.docx", "d.docx"]
    results, notes = read_notes(tmp_path, form, blank_docx, monkeypatch, names, seconds=5, memory=400 * 2**20)
    assert all(results[n].record is not None for n in names)
    pids = [notes[n]["pid"] for n in names]
    assert pids[0] == pids[1] != pids[2] == pids[3]  # 120 MB is more than a quarter of its 400 MB cap
