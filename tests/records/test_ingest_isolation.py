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
