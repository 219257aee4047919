"""Ingest returned copies into the records store.

In: paths (files, or folders searched recursively) of copies learners returned,
an open ``Store``, and whether a changed copy may supersede the stored one.
Out: an ``IngestResult`` listing, for every file, what happened to it — new,
unchanged, superseded, conflict, rejected or failed — with the reason, the
field ids that were missing from the copy or unknown to its manifest, and the
warnings (with quoted values blanked out, so they can be printed).

Files are read in worker processes (``generator.reading.read`` does the reading; a
reader crash costs one file, not the batch) and stored by this process alone, in
the order the files were found, each in its own savepoint (a file whose storing
fails is rolled back alone) of a transaction committed every ``FILES_PER_COMMIT``
files and whenever the next file is still being read (the file itself is kept
with its submission, by SHA-256, as the original). The decision for a file is
taken inside the write-locked transaction, so two ingest processes on the same
store agree:

- a file whose SHA-256 is stored already is *unchanged* ("already ingested");
- a copy (instance id) seen for the first time is *new*;
- a copy seen before with the same answers (e.g. re-saved) is *unchanged*;
- a copy seen before with other answers is a *conflict* (nothing is stored;
  the audit log records it once per file, however often it is offered)
  unless ``supersede`` is set: then it is stored as the next version, linked
  to the one it replaces (*superseded*); nothing is overwritten or deleted;
- a copy whose learner (in its manifest or on its cover) is not the learner the
  instance was issued to (the imported register) or stored with (version 1) is
  a *conflict* naming the fields, even with ``supersede``, unless
  ``accept_changed_learner`` is set (the acceptance is audited): a forged copy
  carrying another learner's instance id cannot replace that learner's record;
- a part issued on its own (pack.yaml ``roles.separate_part``, e.g. the
  patient feedback form; its manifest names the ``part``) is filled by many
  patients from one copy: every distinct file of one is kept as another copy
  (*new*);
- a file that cannot be read is *rejected*: only an audit-log entry with the
  reason is written;
- with ``only_pcn`` (a PCN manager's upload in the web app), a copy whose
  manifest, issue register or stored versions name another PCN is *rejected*
  (code E-SCOPE) before anything about it is looked up or stored, with the
  same reason whatever the store holds of it (so nothing of another PCN's
  record is revealed), and the refusal is audited;
- a file whose storing failed is *failed*: its savepoint is rolled back, the
  others go on, and a rerun stores it (should a commit fail, every file of that
  batch is *failed*; nothing half-written stays).

Likely patient identifiers in free-text answers (``Record.flags``, found by
``generator.reading.identifiers``) are stored and reported as warnings that name the
field, never the value. Reading runs within ``generator.reading.sandbox``'s limits
(file size, wall-clock time and memory per file).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
import time
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait as connection_wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from generator.errors import (CHANGED_LEARNER_FIX, SUPERSEDE_BLANK_FIX, SUPERSEDE_FIX, IngestError, PortfolioError,
                              ReadError)
from generator.reading.identifiers import scan_record_values
from generator.reading.read import NOT_A_COPY, NOT_A_COPY_OR_SCAN, Record, read_bytes, too_large
from generator.reading.scan import NEEDS_TRANSCRIPTION, SCAN_SUFFIXES, Known, ScanCopy, ScanRead, read_scan, sniff_image
from generator.reading.sandbox import (
    DEFAULT_LIMITS,
    Isolated,
    Limits,
    child_setup,
)
from generator.records.connect import describe_store
from generator.records.register import (
    definitions_id,
    import_register,
    learner_key,
)
from generator.records.store import (
    Definition,
    FieldValue,
    IssuedPack,
    NewSubmission,
    ScanField,
    ScanPage,
    Store,
    SubmissionRow,
    check_tail,
)

#: Outcomes of a file, in the order summaries list them.
STATUSES = ("new", "unchanged", "superseded", "conflict", "rejected", "failed", "unidentified")
#: Names in a folder that are never returned copies (editor lock files, hidden files).
_SKIP_NAME = re.compile(r"^(\.|~\$|\.~lock\.|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)
#: What returned copies are called; a path holding none of these is a mistake.
COPY_SUFFIXES = (".pdf", ".docx", *SCAN_SUFFIXES)
#: Added to a likely patient identifier's flag when it is reported.
FLAG_ADVICE = "portfolios must not hold patient identifiers: ask the learner to remove it and return the copy again"




# ---------------------------------------------------------------- results

@dataclass
class FileOutcome:
    """What happened to one file."""

    path: str
    status: str  # one of STATUSES
    reason: str = ""  # why (always set unless new); never holds a field value
    sha256: str | None = None
    instance_id: str | None = None
    submission_id: int | None = None  # the stored submission (new or superseded)
    previous_id: int | None = None  # the stored submission it matches, replaces or conflicts with
    missing: list[str] = field(default_factory=list)  # field ids in the manifest, absent from the copy
    unmapped: list[str] = field(default_factory=list)  # field ids in the copy, unknown to the manifest
    warnings: list[str] = field(default_factory=list)  # printable (quoted values blanked)
    code: str = ""  # for a rejected or failed file, its error code (``generator.errors.CODES``)
    pages: list[dict[str, Any]] = field(default_factory=list)  # unidentified: each page's index, reason, instance

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass
class IngestResult:
    store: str
    files: list[FileOutcome] = field(default_factory=list)
    registers: dict[str, tuple[int, int]] = field(default_factory=dict)  # register file -> (rows, new rows)
    seconds: float = 0.0
    jobs: int = 1

    @property
    def counts(self) -> dict[str, int]:
        """Outcomes by status; "unidentified" counts scanned pages (one outcome holds a file's pages)."""
        out = dict.fromkeys(STATUSES, 0)
        for f in self.files:
            out[f.status] += len(f.pages) if f.status == "unidentified" and f.pages else 1
        return out

    @property
    def ok(self) -> bool:
        """True when every file was stored or was stored already."""
        counts = self.counts
        return not (counts["conflict"] or counts["rejected"] or counts["failed"] or counts["unidentified"])


# ---------------------------------------------------------------- summaries a person can read

#: Kind of warning -> what the text of such a warning says (first match wins).
WARNING_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("possible patient identifier", re.compile(r": possible [a-z ]+ \(value not shown\)")),
    ("date not understood", re.compile(r"date not understood")),
    ("unexpected answer", re.compile(r"unexpected (tick state|yes/no value)|unknown option")),
    ("field ids lost by the editor", re.compile(r"had lost their field ids")),
    ("fields missing from the copy", re.compile(r"field\(s\) of the pack are missing")),
    ("value for an unknown field", re.compile(r"not in the pack's field definitions")),
    ("unknown content version", re.compile(r"is not known to this version of the tool")),
    ("generic pack", re.compile(r"a generic pack")),
)
#: Warnings shown per file before "and N more".
SHOWN_PER_FILE = 3


def warning_kind(message: str) -> str:
    """The kind of an ingest warning ("possible patient identifier", …; "other" when none fits)."""
    return next((kind for kind, pattern in WARNING_KINDS if pattern.search(message)), "other")


@dataclass
class FileWarnings:
    """A file's warnings as a summary shows them: the first few, and how many more."""

    path: str
    shown: list[str]
    more: int


@dataclass
class IngestSummary:
    """What ``summarise`` makes of an ``IngestResult`` for people and for scripts."""

    counts: dict[str, int]  # status -> outcomes (``IngestResult.counts``: unidentified ones count pages)
    kinds: dict[str, tuple[int, int]]  # kind of warning -> (warnings, files), most frequent first
    files: list[FileWarnings]  # files with warnings, in the order they were read
    listed: list[FileOutcome]  # outcomes always listed one by one (superseded, conflict, rejected, failed)


def summarise(result: IngestResult, shown: int = SHOWN_PER_FILE, always: Iterable[str] = (
        "superseded", "conflict", "rejected", "failed", "unidentified")) -> IngestSummary:
    """Group ``result``'s warnings per file (the first ``shown`` of each) and count them per kind."""
    always = tuple(always)
    kinds: dict[str, list[int]] = {}
    files: list[FileWarnings] = []
    for outcome in result.files:
        messages = list(outcome.warnings)  # the reader's own warnings name missing and unmapped fields
        seen_kinds: set[str] = set()
        for message in messages:
            kind = warning_kind(message)
            counts = kinds.setdefault(kind, [0, 0])
            counts[0] += 1
            if kind not in seen_kinds:
                counts[1] += 1
                seen_kinds.add(kind)
        if messages:
            files.append(FileWarnings(outcome.path, messages[:shown], max(0, len(messages) - shown)))
    ordered = dict(sorted(((k, (n, f)) for k, (n, f) in kinds.items()), key=lambda item: (-item[1][0], item[0])))
    return IngestSummary(result.counts, ordered, files, [o for o in result.files if o.status in always])


def result_json(result: IngestResult) -> dict[str, Any]:
    """An ``IngestResult`` as plain JSON values (no field values: ids, counts and reasons only)."""
    summary = summarise(result)
    return {
        "store": describe_store(result.store, absolute=True),
        "seconds": round(result.seconds, 3),
        "readers": result.jobs,
        "ok": result.ok,
        "counts": result.counts,
        "warning_kinds": {k: {"warnings": n, "files": f} for k, (n, f) in summary.kinds.items()},
        "registers": {str(Path(k).resolve()): {"rows": rows, "new": new}
                      for k, (rows, new) in result.registers.items()},
        "files": [{"path": o.path, "status": o.status, "reason": o.reason, "sha256": o.sha256,
                   "instance_id": o.instance_id, "submission_id": o.submission_id, "previous_id": o.previous_id,
                   "missing": o.missing, "unmapped": o.unmapped, "warnings": o.warnings, "pages": o.pages}
                  for o in result.files],
    }


# ---------------------------------------------------------------- finding files

def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every file named, and every file under every folder named (recursively, sorted).

    Inside folders, hidden files and editor lock files (``~$…``, ``.~lock…``) are
    left out; a file named explicitly is always taken. A path that does not exist,
    or paths holding no .pdf or .docx file at all (an empty folder), raise ``IngestError``.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(path)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not _SKIP_NAME.match(name) and Path(folder, name).is_file():
                        add(Path(folder, name))
        elif path.is_file():
            add(path)
        else:
            raise IngestError(f"{path}: no such file or folder")
    paths = [Path(p) for p in paths]
    if paths and not any(f.suffix.lower() in COPY_SUFFIXES for f in out):
        where = ", ".join(str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        others = f" ({len(out)} other file(s), e.g. {out[0].name})" if out else ""
        raise IngestError(f"{where}: no PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file here{others}; nothing was ingested "
                          "(name the folder the returned copies are in)")
    return out


# ---------------------------------------------------------------- reading (in workers)

@dataclass
class ReadOutcome:
    """What a worker sends back for one file: a record, or the reason it was refused."""

    record: Record | None = None
    part: str | None = None
    definitions: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    code: str = "E-READ"  # the error's code, when there is an error
    scan: ScanRead | None = None  # a scanned paper copy (then there is no record)
    definition: Definition | None = None  # the record's field definitions with their id, worked out by the reader


#: What a PDF reader says of a PDF without form fields: a scan, or a copy printed to PDF.
_NO_FORM = "has no form fields"


def _read_scan(data: bytes, name: str, known: dict[str, Known], unless: ReadError | None = None) -> ReadOutcome:
    """A scan read; ``unless`` is the error to give instead when no page is ours and none is a
    scanner's image (a flattened copy or another document, not a scan)."""
    try:
        scan = read_scan(data, name, known.get)
    except ReadError as exc:
        return ReadOutcome(error=exc.reason, code=exc.code)
    if unless is not None and not scan.copies and not scan.scanned \
            and all(p.instance_id is None for p in scan.unidentified):
        return ReadOutcome(error=unless.reason, code=unless.code)
    return ReadOutcome(scan=scan)


def read_copy(data: bytes, name: str, memory: int = DEFAULT_LIMITS.memory,
              known: dict[str, Known] | None = None) -> ReadOutcome:
    """Read one returned copy, as ``generator.reading.read.read_bytes`` does, keeping what the
    record alone does not say: which fields were absent. A scan (an image, or a PDF without form
    fields) is read by ``generator.reading.scan`` against ``known`` (instance id -> layout). Never raises."""
    try:
        if sniff_image(data):
            return _read_scan(data, name, known or {})
        try:
            record = read_bytes(data, name)
        except ReadError as exc:
            if _NO_FORM in exc.reason:
                return _read_scan(data, name, known or {}, unless=exc)
            if exc.reason == NOT_A_COPY:  # ingest reads scans too
                return ReadOutcome(error=NOT_A_COPY_OR_SCAN, code=exc.code)
            raise
    except ReadError as exc:
        return ReadOutcome(error=exc.reason, code=exc.code)
    except MemoryError:
        return ReadOutcome(error=f"needs more than {memory // 2**20} MB to read; refused "
                                 "(a possible decompression bomb)", code="E-READ-LIMIT")
    except RecursionError:
        return ReadOutcome(error="is nested too deeply to read (a cyclic or damaged structure); refused",
                           code="E-READ-DAMAGED")
    except Exception as exc:  # a reader bug must cost one file, not the batch
        return ReadOutcome(error=f"could not be read ({type(exc).__name__}); it may be damaged: keep the file "
                                 "and report it", code="E-READ-DAMAGED")
    part = record.pack.get("part")
    part = part if isinstance(part, str) and part != "pack" else None
    # The definitions' id (a hash of their canonical JSON, see definitions_id) is worked out here, in the reader,
    # rather than by the one process that stores every copy.
    return ReadOutcome(record, part, record.definitions, record.missing,
                       definition=definition_of(record, part, record.definitions))


@dataclass
class _Item:
    index: int
    path: Path
    sha256: str
    size: int
    data: bytes | None


def _read_outcome(outcome: Isolated, seconds: float) -> ReadOutcome:
    if outcome.status == "timeout":
        return ReadOutcome(error=f"took longer than {seconds:g} s to read; refused (other files are not affected)",
                           code="E-READ-LIMIT")
    if outcome.status == "crash":
        return ReadOutcome(error=f"made the reader crash (exit {outcome.exitcode}), so it was not stored; "
                                 "keep the file and report it (other files are not affected)", code="E-READ-DAMAGED")
    if outcome.status == "raised":
        return ReadOutcome(error=f"could not be read ({outcome.value}); keep the file and report it",
                           code="E-READ-DAMAGED")
    return outcome.value


#: A scanned file holds many pages (a stack of forms): it may take this many times a copy's reading time.
SCAN_TIME_FACTOR = 4


def looks_scanned(data: bytes) -> bool:
    """An image, or a PDF without a form: read as a scan, with a longer deadline."""
    return sniff_image(data) is not None or (data.startswith(b"%PDF") and b"/AcroForm" not in data)


def reading_time(data: bytes, seconds: float) -> float:
    """The time a file may take to be read, ``seconds`` being a copy's: ``SCAN_TIME_FACTOR`` times as long
    for a scan."""
    return seconds * SCAN_TIME_FACTOR if looks_scanned(data) else seconds


#: Files one reader process reads before a fresh one takes its place. A reader is forked once for
#: several files (a fork of a large process, such as a web worker, costs more than reading a Word
#: copy); a hang, a crash or a limit still costs only the file being read, and a reader that met
#: any error is replaced.
READS_PER_READER = 20


#: How much lower a reader's priority is than the process that stores what it reads. Storing is done
#: by one process, one file after another, while the readers read ahead: were they given the CPU
#: first, the one process every file waits for would wait for them (1,000 PDF copies on 2 cores:
#: 31 -> 28 ms a copy). A web worker's requests are served before its readers' work, too.
READER_NICENESS = 5


def _address_space(pid: str) -> int:
    """A process's address space in bytes, from /proc (0 where there is none)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _one_list_of_definitions(outcome: ReadOutcome) -> bool:
    """Whether a read's record, outcome and definition hold one list of field definitions, as
    ``read_copy`` makes them (the only outcomes ``_abridged`` may leave them out of)."""
    return outcome.record is not None and outcome.definition is not None \
        and outcome.definition.fields is outcome.definitions and outcome.record.definitions is outcome.definitions


def _abridged(outcome: ReadOutcome, sent: dict[str, bytes]) -> tuple[str, ReadOutcome]:
    """What a reader sends back for a read: ("ok", the outcome), or ("same definitions", the outcome
    without its field definitions) when this reader sent the very same definitions before (``sent``:
    id -> their pickle, equal only for the same values of the same types in the same order), which
    ``_Reader.result`` puts back. They are most of the outcome's pickle (about 65 of 90 kB for the
    default pack): unpickled by the one process that stores every copy, they cost it 0.5 ms a copy."""
    if not _one_list_of_definitions(outcome):
        return "ok", outcome
    assert outcome.record is not None and outcome.definition is not None
    fields = pickle.dumps(outcome.definitions, protocol=pickle.HIGHEST_PROTOCOL)
    if sent.get(outcome.definition.id) != fields:
        sent[outcome.definition.id] = fields
        return "ok", outcome
    return "same definitions", replace(outcome, record=replace(outcome.record, definitions=[]), definitions=[],
                                       definition=replace(outcome.definition, fields=[]))


def _reader(conn: Any, memory: int, parent: int, known: dict[str, Known] | None) -> None:
    """A reader process: reads the files it is sent, one at a time, each as ``read_copy`` does
    within its own CPU-time limit (the memory cap is set once, when the reader starts), and sends
    back each outcome; ``known`` is the layouts scans are read against."""
    import resource
    child_setup(memory, parent)
    try:
        os.nice(READER_NICENESS)
    except (AttributeError, OSError):
        pass
    sent: dict[str, bytes] = {}  # the definitions sent whole on this connection (``_abridged``)
    try:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            data, name, seconds = job
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = int(usage.ru_utime + usage.ru_stime + seconds) + 1
            try:  # SIGXCPU ends a reader that spends more CPU time on this file than it may have
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.getrlimit(resource.RLIMIT_CPU)[1]))
            except (ValueError, OSError):
                pass
            try:
                result: tuple[str, Any] = _abridged(read_copy(data, name, memory, known), sent)
            except Exception as exc:  # sent back as its type: the caller blames the one file
                result = ("raised", type(exc).__name__)
            conn.send(result)
    finally:
        conn.close()


class _Reader:
    """The parent's end of one reader process (forked, dies with the parent)."""

    def __init__(self, context: Any, memory: int, known: dict[str, Known] | None) -> None:
        self.base = _address_space("self")  # what the reader starts with (a fork of this process)
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_reader, args=(child_end, memory, os.getpid(), known), daemon=True)
        self.process.start()
        child_end.close()
        self.reads = 0
        self.definitions: dict[str, list[dict[str, Any]]] = {}  # the definitions it sent, by id (``_abridged``)

    def send(self, item: _Item, seconds: float) -> bool:
        """Hand it a file; False when it died while waiting for work."""
        try:
            self.conn.send((item.data or b"", item.path.name, seconds))
        except OSError:
            return False
        self.reads += 1
        return True

    def result(self) -> Isolated:
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            return Isolated("crash", exitcode=self.process.exitcode)
        if status == "same definitions":
            fields = self.definitions[value.definition.id]
            status, value = "ok", replace(value, record=replace(value.record, definitions=fields), definitions=fields,
                                          definition=replace(value.definition, fields=fields))
        elif status == "ok" and _one_list_of_definitions(value):
            self.definitions[value.definition.id] = value.definitions
        return Isolated(status, value)

    def grown(self) -> int:
        """Bytes of address space the reader took on since it started (0 where /proc is not there)."""
        return max(0, _address_space(str(self.process.pid)) - self.base) if self.base else 0

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


def _read_all(items: Iterator[_Item], jobs: int, seconds: float = DEFAULT_LIMITS.seconds,
              memory: int = DEFAULT_LIMITS.memory, known: dict[str, Known] | None = None,
              before_wait: Callable[[], None] | None = None) -> Iterator[tuple[_Item, ReadOutcome]]:
    """Read items in ``jobs`` reader processes at a time; yields in input order.
    ``before_wait()`` is called each time the next file in order is not read yet, before waiting for it.

    A reader reads one file at a time, up to ``READS_PER_READER`` files, under its memory
    cap, with a CPU-time limit and a deadline for each file (``seconds``; a scan has
    ``SCAN_TIME_FACTOR`` times as long), and dies with this process (SIGTERM or SIGKILL
    included). A file that hangs, crashes its reader or breaks a limit costs that file and
    its reader (killed, and a fresh one forked for the next file), nothing else: the other
    files go on being read ``jobs`` at a time. A reader that met any error is replaced too.
    """
    import multiprocessing

    # Import the readers before forking so that every reader has them already.
    import generator.formats.docx.read  # noqa: F401
    import generator.formats.pdf.read  # noqa: F401
    from generator.reading.read import known_content_versions
    known_content_versions()  # parsed once here (8 ms of YAML), not again in every reader
    import cv2  # noqa: F401  (the scan reader's libraries)
    import zxingcpp  # noqa: F401
    context = multiprocessing.get_context("fork")
    window = jobs * 4  # files read ahead of the one the caller waits for
    idle: list[_Reader] = []
    running: dict[Any, tuple[_Item, _Reader, float, float]] = {}  # connection -> (item, reader, deadline, seconds)
    finished: dict[int, tuple[_Item, ReadOutcome]] = {}
    order: deque[int] = deque()
    source = iter(items)
    exhausted = False

    def done(item: _Item, reader: _Reader, outcome: Isolated, own: float) -> None:
        read = _read_outcome(outcome, own)
        finished[item.index] = (item, read)
        # A reader is kept for the next file only after a clean read, and only while it has most of
        # its memory cap left (its cap is set once: a reader that grew would give the next file less).
        if outcome.status == "ok" and read.error is None and reader.reads < READS_PER_READER \
                and reader.grown() < memory // 4:
            idle.append(reader)
        else:
            reader.stop()

    def collect(wait: float) -> None:
        """Take in the reads that end within ``wait`` seconds (0: those ended already)."""
        for conn in connection_wait(list(running), wait):
            item, reader, _, own = running.pop(conn)
            done(item, reader, reader.result(), own)

    try:
        while True:
            while not exhausted and len(running) < jobs and len(running) + len(finished) < window:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                order.append(item.index)
                own = reading_time(item.data or b"", seconds)
                reader = idle.pop() if idle else _Reader(context, memory, known)
                if not reader.send(item, own):
                    reader.stop()
                    reader = _Reader(context, memory, known)
                    reader.send(item, own)  # a fresh reader that cannot take it shows as a crash below
                running[reader.conn] = (item, reader, time.monotonic() + own, own)
            if order and order[0] in finished:
                # One file at a time, then the readers get new work at once: a reader that finished
                # while the caller stored this file does not wait for the caller to store the rest too.
                yield finished.pop(order.popleft())
                if running:
                    collect(0)
                continue
            if not running:
                if exhausted and not order:
                    return
                continue
            if before_wait is not None:
                before_wait()
            collect(max(0.0, min(deadline for _, _, deadline, _ in running.values()) - time.monotonic()))
            now = time.monotonic()
            for conn, (item, reader, deadline, own) in list(running.items()):
                if now >= deadline:
                    del running[conn]
                    if conn.poll(0):  # it answered just in time
                        done(item, reader, reader.result(), own)
                    else:
                        reader.stop()
                        finished[item.index] = (item, _read_outcome(Isolated("timeout"), own))
    finally:
        for reader in idle + [reader for _, reader, _, _ in running.values()]:
            reader.stop()


# ---------------------------------------------------------------- classifying and storing

_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\"")  # not the ' of "pack's"


def redact(message: str) -> str:
    """A message with quoted text (which may be a field's value) blanked: safe to print."""
    return _QUOTED.sub("'…'", message)






def definition_of(record: Record, part: str | None, fields: list[dict[str, Any]]) -> Definition:
    pack = record.pack
    return Definition(
        id=definitions_id(fields), pack_id=str(pack.get("pack_id") or ""),
        part=part, content_id=str(pack.get("content_id") or ""), content_version=str(pack.get("content_version") or ""),
        content_hash=str(pack.get("content_hash") or ""), fields=fields)


def cover_value(definitions: list[dict[str, Any]], values: dict[str, Any], role: str) -> str:
    """What a copy's cover says for ``role`` (``name``, ``practice``…): the value of the field whose
    definition has that cover role; "" when there is none or it is empty."""
    for definition in definitions:
        if definition.get("cover") == role:
            value = values.get(definition["id"])
            return value if isinstance(value, str) else ""
    return ""


def new_submission(item_path: Path, sha256: str, size: int, read: ReadOutcome,
                   data: bytes | None = None) -> NewSubmission:
    """What to store for a read copy: every manifest field (read or missing), every unmapped value,
    and the file itself (``data``) to keep as the original."""
    record = read.record
    assert record is not None
    pack = record.pack
    missing = set(read.missing)
    values = [FieldValue(d["id"], "missing", None) if d["id"] in missing
              else FieldValue(d["id"], "read", record.fields.get(d["id"]), record.positions.get(d["id"]))
              for d in read.definitions]
    values += [FieldValue(fid, "unmapped", value) for fid, value in record.unmapped.items()]
    known = {d["id"] for d in read.definitions} | set(record.unmapped)
    warnings: list[tuple[str | None, str]] = []
    for message in record.warnings:
        head = message.split(": ", 1)[0]
        warnings.append((head if head in known else None, message))
    warnings += [(flag.field, f"{flag}; {FLAG_ADVICE}") for flag in record.flags]
    learner = pack.get("learner") or {}
    pcn_facts = pack.get("pcn") or {}
    name = learner.get("name") or cover_value(read.definitions, record.fields, "name")
    practice = learner.get("practice") or cover_value(read.definitions, record.fields, "practice")
    pcn = pcn_facts.get("slug") or pcn_facts.get("name") or ""
    instance = str(pack.get("instance_id") or "")
    if not name:
        name = f"(unnamed copy {instance[:8]})"
    return NewSubmission(
        sha256=sha256, filename=item_path.name, size=size, format=str(pack.get("format")),
        editor=str(pack.get("editor") or "unknown"), instance_id=instance,
        pack_id=str(pack.get("pack_id") or ""), part=read.part,
        content_id=str(pack.get("content_id") or ""), content_version=str(pack.get("content_version") or ""),
        content_hash=str(pack.get("content_hash") or ""), generator_version=str(pack.get("generator_version") or ""),
        definition=read.definition or definition_of(record, read.part, read.definitions),
        learner_key=learner_key(pcn, practice, name), learner_name=str(name), practice=str(practice),
        pcn=str(pcn), pcn_name=str(pcn_facts.get("name") or pcn), learner=dict(learner), pcn_facts=dict(pcn_facts),
        values=values, warnings=warnings, flags=[(flag.field, flag.kind) for flag in record.flags], data=data)


def _answers(values: Iterable[FieldValue], words: bool) -> dict[str, tuple[str, Any]]:
    """Each field's state and value; with ``words``, text by its words only (white space trimmed and
    collapsed), as it is read from the text of a printed page."""
    return {v.field_id: (v.state, " ".join(v.value.split()) if words and isinstance(v.value, str) else v.value)
            for v in values}


def _answered(values: Iterable[FieldValue], definitions: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a stored copy has anything filled in besides the cover the issuing stamped on it."""
    cover = {d["id"] for d in definitions if d.get("cover")}
    return any(v.state == "read" and v.value not in (None, "", False) and v.field_id not in cover for v in values)


def differing_fields(stored: Iterable[FieldValue], new: Iterable[FieldValue], words: bool) -> list[str]:
    """Ids of the fields whose value or state differs between two copies (ids only, never values), in the
    new copy's order, then those only the stored copy has; with ``words``, text differing only in white
    space is the same (a copy read from a page's text against one read from its fields)."""
    old, now = _answers(stored, words), _answers(new, words)
    return [fid for fid in dict.fromkeys([*now, *old]) if old.get(fid) != now.get(fid)]


def _some(ids: list[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


#: The cover roles that say whose copy it is (compared with the register and version 1).
LEARNER_ROLES = ("name", "practice")


def _words(text: Any) -> list[str]:
    return str(text or "").casefold().split()


def _initial_of(initial: str, word: str) -> bool:
    letter = initial.rstrip(".")
    return len(letter) == 1 and word.startswith(letter)  # "Ł." or "Ł" for Łukasiewicz


def _word_fits(one: str, other: str) -> bool:
    """Two words of a name agree: the same, or either is the other's initial (on either side)."""
    return one == other or _initial_of(one, other) or _initial_of(other, one)


def _same(a: Any, b: Any) -> bool:
    """The same person or place as far as a cover can say: equal ignoring case and spacing, or
    every word of the shorter among the longer's, initials allowed on either side ("Zoë" or
    "Zoë Ł." on the cover of Zoë Łukasiewicz's copy, and "Zoë Łukasiewicz" on the cover of the
    copy issued to "Zoë Ł.")."""
    short, long = sorted((_words(a), _words(b)), key=len)
    return all(any(_word_fits(word, other) for other in long) for word in short)


def _cover_ids(fields: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Field id -> cover role, for the fields that say whose copy it is (pack.yaml roles)."""
    return {d["id"]: d["cover"] for d in fields if d.get("cover") in LEARNER_ROLES}


def learner_changes(new: NewSubmission, issued: list[IssuedPack], first: SubmissionRow | None,
                    first_values: list[FieldValue]) -> list[str]:
    """Where the copy's learner (in its manifest and on its cover) contradicts the learner the
    instance was issued to (the register) or else stored with (version 1): the field ids and
    manifest keys, never the values. Empty when there is nothing to compare with."""
    cover_ids = _cover_ids(new.definition.fields)
    cover = {v.field_id: v.value for v in new.values if v.field_id in cover_ids and v.state == "read"}
    if issued:
        pack = issued[0]
        wanted = {"name": pack.learner, "practice": pack.practice}
        manifest = dict(wanted)
        on_cover = {fid: wanted[key] for fid, key in cover_ids.items()}
    elif first is not None:
        manifest = {key: first.learner.get(key) for key in ("name", "practice")}
        stored = {v.field_id: v.value for v in first_values if v.state == "read"}
        on_cover = {fid: stored.get(fid) for fid in cover_ids}
    else:
        return []
    changes = [f"learner.{key} in the manifest" for key in ("name", "practice")
               if new.learner.get(key) and manifest.get(key) and not _same(new.learner.get(key), manifest[key])]
    changes += [fid for fid in cover_ids
                if cover.get(fid) and on_cover.get(fid) and not _same(cover[fid], on_cover[fid])]
    return changes


def out_of_scope(only_pcn: str) -> str:
    """The reason a copy outside the uploader's PCN is refused: the same whatever the store holds of it."""
    return (f"is not a copy of a learner of your PCN ({only_pcn}); nothing was stored: if it is, ask your "
            "training provider to upload it")


def _refuse_out_of_scope(store: Store, new: NewSubmission, only_pcn: str, whose: set[str]) -> None:
    store.add_audit("refused", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                    detail=f"a copy of another PCN's learner ({', '.join(sorted(whose)) or 'no PCN'}) "
                           f"uploaded for {only_pcn}; nothing stored")


def store_submission(store: Store, new: NewSubmission, supersede: bool,
                     accept_changed_learner: bool = False, only_pcn: str | None = None,
                     after: Callable[[int], None] | None = None) -> tuple[str, str, int | None, int | None]:
    """Decide and store one read copy in one transaction: (status, reason, stored id, previous id).

    ``only_pcn``: the copy is stored only when its manifest, the register and every stored
    version of its instance name that PCN; otherwise it is 'rejected' (see ``out_of_scope``).
    ``after(submission id)`` runs in the same transaction when the copy is stored.
    """
    with store.transaction():
        if only_pcn is not None:
            whose = {new.pcn} | {p.pcn for p in store.issued(new.instance_id)}
            whose |= {s.pcn for s in store.instance_submissions(new.instance_id)}
            existing = store.submission_for_sha(new.sha256)
            stored = store.submission(existing) if existing is not None else None
            if stored is not None:
                whose.add(stored.pcn)
            if whose != {only_pcn}:
                _refuse_out_of_scope(store, new, only_pcn, whose - {only_pcn})
                return "rejected", out_of_scope(only_pcn), None, None
        existing = store.submission_for_sha(new.sha256)
        if existing is not None:
            return "unchanged", f"already ingested (submission {existing})", None, existing
        earlier = store.instance_submissions(new.instance_id)
        latest = next((s for s in reversed(earlier) if s.current), None)
        latest_values: list[FieldValue] = []  # read once, where a decision needs them
        # text read from a page (a scan's typed text) has its white space collapsed: compare words only
        words = latest is not None and "scan" in (new.format, latest.format)
        if latest is not None and new.part is None:  # a separately issued part: every distinct file is kept
            latest_values = store.values([latest.id]).get(latest.id, [])
            if _answers(latest_values, words) == _answers(new.values, words):
                return "unchanged", f"same answers as submission {latest.id} (a re-saved copy)", None, latest.id
        issued = store.issued(new.instance_id)
        first = earlier[0] if earlier else None
        changed = learner_changes(new, issued, first, store.values([first.id]).get(first.id, []) if first else [])
        whose = "was issued to" if issued else "was stored for"
        if changed and not accept_changed_learner:
            previous = latest.id if latest else None
            if store.find_audit("conflict", new.sha256) is None:  # once per file, as for other conflicts
                store.add_audit("conflict", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                                submission_id=previous,
                                detail=f"names another learner than the copy {whose} ({', '.join(changed)}); "
                                       "nothing stored")
            differ = "differs" if len(changed) == 1 else "differ"
            return ("conflict", f"names another learner than the one this copy {whose} ({', '.join(changed)} "
                                f"{differ}); nothing was stored: {CHANGED_LEARNER_FIX}", None, previous)

        def add(version: int, supersedes: int | None) -> int:
            sid = store.add_submission(new, version, supersedes)
            if after is not None:
                after(sid)
            if changed:  # a provider confirmed it: on record, with who and when
                store.add_audit("learner changed", filename=new.filename, sha256=new.sha256,
                                instance_id=new.instance_id, submission_id=sid,
                                detail=f"accepted with --accept-changed-learner ({', '.join(changed)} differ from "
                                       f"the learner the copy {whose})")
            return sid

        if not earlier:
            sid = add(1, None)
            store.add_audit("ingested", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                            submission_id=sid, detail="new copy")
            return "new", "", sid, None
        version = max(s.version for s in earlier) + 1
        if new.part is not None:  # a part issued on its own: one copy comes back many times, filled by different people
            sid = add(version, None)
            store.add_audit("ingested", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                            submission_id=sid, detail=f"copy {version} of a separately issued {new.part} form")
            return "new", f"copy {version} of the same {new.part} form", sid, None
        assert latest is not None
        differing = differing_fields(latest_values, new.values, words)
        if not supersede:
            # One conflict entry per file, however many processes or reruns meet it.
            if store.find_audit("conflict", new.sha256) is None:
                store.add_audit("conflict", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                                submission_id=latest.id,
                                detail=f"answers differ from submission {latest.id} in {', '.join(differing)}; "
                                       "nothing stored")
            if not _answered(latest_values, new.definition.fields):
                return ("conflict", f"this copy was ingested before (submission {latest.id}) blank, with nothing "
                                    f"filled in beyond its cover; nothing was stored: {SUPERSEDE_BLANK_FIX}",
                        None, latest.id)
            return ("conflict", f"this copy was ingested before (submission {latest.id}) with other answers in "
                                f"{len(differing)} field(s): {_some(differing)}; nothing was stored: {SUPERSEDE_FIX}",
                    None, latest.id)
        sid = add(version, latest.id)
        store.add_audit("superseded", filename=new.filename, sha256=new.sha256, instance_id=new.instance_id,
                        submission_id=sid, detail=f"version {version} supersedes submission {latest.id}")
        return "superseded", f"version {version}, replaces submission {latest.id} (kept)", sid, latest.id


def _reject(store: Store, outcome: FileOutcome) -> None:
    try:
        with store.transaction():
            store.add_audit("rejected", filename=outcome.name, sha256=outcome.sha256, detail=outcome.reason)
    except PortfolioError as exc:
        outcome.warnings.append(f"the rejection could not be written to the audit log ({redact(str(exc))})")


def _outcome(store: Store, item: _Item, read: ReadOutcome, supersede: bool,
             accept_changed_learner: bool = False, only_pcn: str | None = None) -> FileOutcome:
    outcome = FileOutcome(str(item.path), "rejected", sha256=item.sha256)
    if read.error is not None:
        outcome.reason, outcome.code = read.error, read.code
        _reject(store, outcome)
        return outcome
    record = read.record
    assert record is not None
    outcome.instance_id = str(record.pack.get("instance_id") or "")
    if not outcome.instance_id:
        outcome.reason = "its portfolio manifest has no instance id; ask for the copy that was issued"
        outcome.code = "E-READ"
        _reject(store, outcome)
        return outcome
    new = new_submission(item.path, item.sha256, item.size, read, item.data)
    if record.pack.get("personalised") is False:
        # A generic pack ('portfolio build') reaches many learners with one instance id:
        # its copies are told apart by the learner's name on the cover.
        if not cover_value(read.definitions, record.fields, "name").strip():
            outcome.reason = ("is a generic pack with no learner name on its cover, so it cannot be told apart "
                              "from other learners' copies; ask the learner to add their name, or issue "
                              "personalised packs with 'portfolio issue'")
            outcome.code = "E-INGEST"
            _reject(store, outcome)
            return outcome
        new.instance_id = f"{new.instance_id}#{new.learner_key}"
        new.warnings.append((None, "a generic pack (not issued to one learner): kept apart from other copies "
                                   "by the learner's name on its cover"))
    outcome.missing = list(read.missing)
    outcome.unmapped = list(record.unmapped)
    outcome.warnings = [redact(message) for _, message in new.warnings]
    try:
        status, reason, sid, previous = store_submission(store, new, supersede, accept_changed_learner, only_pcn)
    except PortfolioError as exc:
        outcome.status = "failed"
        outcome.reason = f"could not be stored ({redact(str(exc))}); nothing of it was kept"
        outcome.code = exc.code
        try:
            with store.transaction():
                store.add_audit("failed", filename=outcome.name, sha256=item.sha256,
                                instance_id=outcome.instance_id, detail=outcome.reason)
        except PortfolioError:
            pass  # the store is unusable; the outcome says so
        return outcome
    outcome.status, outcome.reason, outcome.submission_id, outcome.previous_id = status, reason, sid, previous
    if status == "rejected":  # outside only_pcn: nothing of the stored copy is said
        outcome.code, outcome.missing, outcome.unmapped, outcome.warnings = "E-SCOPE", [], [], []
    return outcome


# ---------------------------------------------------------------- scanned paper copies

def known_layouts(store: Store, instance_id: str | None = None) -> dict[str, Known]:
    """Instance id -> the layout it was issued with (field definitions with widget rectangles, pages):
    of every instance issued for paper, or of ``instance_id`` alone."""
    linked = store.issued_definitions(instance_id)
    if not linked:
        return {}
    definitions = store.definitions()
    out: dict[str, Known] = {}
    by_definition: dict[str, Known] = {}
    for instance, (definition_id, pages) in linked.items():
        definition = definitions.get(definition_id)
        if definition is not None:
            out[instance] = by_definition.setdefault(definition_id, Known(definition.fields, pages))
    return out


def _scan_submission(path: Path, sha256: str, size: int, copy: ScanCopy, definition: Definition,
                     issued: IssuedPack | None, data: bytes | None) -> NewSubmission:
    values = []
    warnings: list[tuple[str | None, str]] = []
    for d in definition.fields:
        fid = d["id"]
        state = copy.states.get(fid, "missing")
        if state == "missing":
            values.append(FieldValue(fid, "missing", None))
            continue
        value = copy.values.get(fid)
        options = [o["value"] for o in d.get("options", ())]
        position = options.index(value) + 1 if d["kind"] == "choice" and value in options and len(options) == 5 \
            else None
        values.append(FieldValue(fid, "read", value, position))
        if state == NEEDS_TRANSCRIPTION:
            warnings.append((fid, f"{fid}: handwriting on a scanned page needs transcription (portfolio review)"))
    for message in copy.warnings:
        head = message.split(": ", 1)[0]
        warnings.append((head if any(d["id"] == head for d in definition.fields) else None, message))
    for page in copy.pages:
        if page.reason:
            warnings.append((None, f"scanned page {page.index} (page {page.page} of the copy) was not read: "
                                   f"{page.reason}; its image is kept"))
    # Text read from a page (a copy printed or flattened to PDF keeps its typed answers as text) is
    # checked for patient identifiers as a fillable copy's answers are.
    read_values = {v.field_id: v.value for v in values if v.state == "read" and v.value is not None}
    flags = scan_record_values(definition.fields, read_values)
    warnings += [(flag.field, f"{flag}; {FLAG_ADVICE}") for flag in flags]
    learner = {"name": issued.learner, "practice": issued.practice} if issued else {}
    pcn = issued.pcn if issued else ""
    name = issued.learner if issued else f"(unnamed copy {copy.instance_id[:8]})"
    return NewSubmission(
        sha256=sha256, filename=path.name, size=size, format="scan", editor="paper", instance_id=copy.instance_id,
        pack_id=definition.pack_id, part=definition.part, content_id=definition.content_id,
        content_version=definition.content_version, content_hash=definition.content_hash, generator_version="",
        definition=definition, learner_key=issued.learner_key if issued else learner_key(pcn, "", name),
        learner_name=name, practice=issued.practice if issued else "", pcn=pcn, pcn_name=pcn, learner=learner,
        pcn_facts={"slug": pcn} if pcn else {}, values=values, warnings=warnings,
        flags=[(flag.field, flag.kind) for flag in flags], data=data)


def _page_row(sha256: str, filename: str, page: Any, submission_id: int | None) -> ScanPage:
    return ScanPage(sha256, page.index, filename, submission_id, page.instance_id, page.page, page.dpi,
                    page.residual_mm, page.reason, page.image)


def page_list(indexes: list[int]) -> str:
    """'page 3', 'pages 3 and 4', 'pages 3, 4 and 7'."""
    if len(indexes) == 1:
        return f"page {indexes[0]}"
    return f"pages {', '.join(str(i) for i in indexes[:-1])} and {indexes[-1]}"


def unidentified_reason(pages: list[dict[str, Any]]) -> str:
    """One line for a file's unidentified pages: which, and why (grouped by reason, in page order)."""
    by_reason: dict[str, list[int]] = {}
    for page in pages:
        by_reason.setdefault(page["reason"], []).append(page["page"])
    kept = "its image is kept" if len(pages) == 1 else "their images are kept"
    which = page_list([page["page"] for page in pages])
    if len(by_reason) == 1:
        why = f": {next(iter(by_reason))}"
    else:
        why = " (" + "; ".join(f"{page_list(indexes)}: {reason}" for reason, indexes in by_reason.items()) + ")"
    return f"scanned {which} not identified{why}; {kept} (portfolio review pages)"


def scan_outcomes(store: Store, path: Path, sha256: str, data: bytes, scan: ScanRead,
                  supersede: bool, only_pcn: str | None = None) -> list[FileOutcome]:
    """Store what a scan held: one submission per copy found in it (with its pages, every mark's ink
    and every text crop), and every page that could not be identified (with its image and reason)."""
    outcomes: list[FileOutcome] = []
    definitions = store.definitions()
    copies = sorted(scan.copies, key=lambda c: min(p.index for p in c.pages))
    for n, copy in enumerate(copies):
        # the copy's own rows only: a register of a whole cohort is not read for every scanned copy
        definition = definitions[store.issued_definitions(copy.instance_id)[copy.instance_id][0]]
        issued = store.issued(copy.instance_id)
        # The first copy carries the file's own hash (so the file is not read twice) and the file itself.
        sub_sha = sha256 if n == 0 else hashlib.sha256(f"{sha256}:{copy.instance_id}".encode()).hexdigest()
        new = _scan_submission(path, sub_sha, len(data), copy, definition, issued[-1] if issued else None,
                               data if n == 0 else None)
        pages = ", ".join(str(p.index) for p in copy.pages)
        outcome = FileOutcome(str(path), "rejected", sha256=sha256, instance_id=copy.instance_id,
                              missing=[v.field_id for v in new.values if v.state == "missing"],
                              warnings=[redact(m) for _, m in new.warnings])

        def after(sid: int, copy: ScanCopy = copy) -> None:
            for page in copy.pages:
                store.add_scan_page(_page_row(sha256, path.name, page, sid))
            store.add_scan_fields(ScanField(sid, m.field_id, m.option, m.page, m.ink, m.decision,
                                            copy.states.get(m.field_id, "read"),
                                            copy.crops.get(m.field_id) if m.option == "" else None)
                                  for m in copy.marks)

        try:
            status, reason, sid, previous = store_submission(store, new, supersede, only_pcn=only_pcn, after=after)
        except PortfolioError as exc:
            outcome.status, outcome.code = "failed", exc.code
            outcome.reason = f"could not be stored ({redact(str(exc))}); nothing of it was kept"
            outcomes.append(outcome)
            continue
        where = f"scanned page{'s' if len(copy.pages) > 1 else ''} {pages}"
        outcome.status, outcome.submission_id, outcome.previous_id = status, sid, previous
        outcome.reason = f"{where}{': ' + reason if reason else ''}"
        outcomes.append(outcome)
    lost: list[dict[str, Any]] = []
    for page in scan.unidentified:
        try:
            with store.transaction():
                if store.add_scan_page(_page_row(sha256, path.name, page, None)):
                    store.add_audit("unidentified", filename=path.name, sha256=sha256, instance_id=page.instance_id,
                                    detail=f"page {page.index}: {page.reason}")
        except PortfolioError as exc:
            outcomes.append(FileOutcome(str(path), "failed", reason=f"page {page.index} could not be stored "
                                        f"({redact(str(exc))})", sha256=sha256, code=exc.code))
            continue
        lost.append({"page": page.index, "reason": page.reason, "instance_id": page.instance_id})
    if lost:  # one outcome for the file's pages, however many (a printed stack may have dozens)
        outcomes.append(FileOutcome(str(path), "unidentified", reason=unidentified_reason(lost), sha256=sha256,
                                    code="E-READ", pages=lost))
    if not outcomes:
        outcomes.append(FileOutcome(str(path), "rejected", reason="has no pages", sha256=sha256, code="E-READ"))
    return outcomes


# ---------------------------------------------------------------- register





# ---------------------------------------------------------------- orchestration

#: Stored copies committed together (one write to disk, one ledger tail check): at most this many,
#: and never while ingest waits for a reader, so other writers wait a fraction of a second at most.
FILES_PER_COMMIT = 20
#: Statuses of a file whose rows would be lost with its batch (the others write an audit entry only).
_STORED = ("new", "superseded", "unidentified")


class IngestInterrupted(KeyboardInterrupt):
    """Ingest was interrupted (Ctrl-C): ``stored`` copies were committed before; the batch being
    stored was rolled back, and a rerun stores it (the stored ones are then 'unchanged')."""

    def __init__(self, stored: int) -> None:
        super().__init__(stored)
        self.stored = stored


class _Batch:
    """The files stored since the last commit, each in its own savepoint of one ``store.batch()``
    transaction (a file whose storing fails is rolled back alone). Should the commit itself fail
    (disk full), every file of the batch is told so: nothing of a stored one was kept."""

    def __init__(self, store: Store, outcomes: list[list[FileOutcome] | None]) -> None:
        self.store, self.outcomes = store, outcomes
        self.stack: ExitStack | None = None
        self.files: list[int] = []  # indices of the files done while the batch is open
        self.stored = 0  # copies stored in the batches committed so far

    def begin(self) -> None:
        if self.stack is None:
            stack = ExitStack()
            stack.enter_context(self.store.batch())
            self.stack = stack

    def done(self, index: int) -> None:
        if self.stack is not None:
            self.files.append(index)
            if len(self.files) >= FILES_PER_COMMIT:
                self.commit()

    def commit(self) -> None:
        stack, files, self.stack, self.files = self.stack, self.files, None, []
        if stack is None:
            return
        try:
            stack.close()
            self.stored += sum(1 for index in files for outcome in self.outcomes[index] or ()
                               if outcome.status in _STORED)
        except PortfolioError as exc:
            why = redact(str(exc))
            for index in files:
                for outcome in self.outcomes[index] or ():
                    if outcome.status in _STORED:
                        outcome.status, outcome.code = "failed", exc.code
                        outcome.submission_id = outcome.previous_id = None
                        outcome.reason = f"could not be stored ({why}); nothing of it was kept"
                    else:
                        outcome.warnings.append(f"its audit-log entry could not be written ({why})")

    def abort(self) -> None:
        """Roll back what is not committed (the ingest was interrupted or failed): a rerun stores those
        files. Called while that exception is handled: it is what the batch's transaction rolls back for."""
        stack, self.stack, self.files = self.stack, None, []
        if stack is not None:
            stack.__exit__(*sys.exc_info())

def ingest(paths: Iterable[str | Path], store: Store, *, supersede: bool = False, jobs: int | None = None,
           registers: Iterable[str | Path] = (), progress: Callable[[int], None] | None = None,
           limits: Limits = DEFAULT_LIMITS, accept_changed_learner: bool = False,
           only_pcn: str | None = None) -> IngestResult:
    """Read and store every returned copy under ``paths``; see the module docstring.

    ``jobs`` is the number of files read at once, in reader processes (each reads up to
    ``READS_PER_READER`` files one after another, every file within ``limits``; a reader is
    replaced after any error) (None: one per core). ``limits`` caps each file's size,
    reading time and memory (``generator.reading.sandbox.Limits``). ``progress(n)`` is called
    as every n files are done. ``registers`` are issue registers (``issued.csv``) to
    import first. ``only_pcn`` (a PCN slug) stores only copies of that PCN's learners:
    every other file is 'rejected' with code E-SCOPE and the same reason, audited.
    """
    start = time.perf_counter()
    result = IngestResult(store=store.path)
    check_tail(store)  # a store changed around the tool is reported once, before any file is read
    for register in registers:
        result.registers[str(register)] = import_register(store, Path(register))
    own = {Path(store.path + suffix).resolve() for suffix in ("", "-wal", "-shm", "-journal")}
    files = [f for f in find_files(paths) if f.resolve() not in own]  # never the store itself
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files) or 1))
    result.jobs = jobs
    known = store.known_hashes()
    layouts = known_layouts(store)
    outcomes: list[list[FileOutcome] | None] = [None] * len(files)
    owners: dict[int, str] = {}

    def owner_pcn(submission_id: int) -> str:
        """The PCN of a stored submission (looked up once, only when a PCN manager re-sends a stored file)."""
        if not owners:
            owners.update((s.id, s.pcn) for s in store.submissions(current_only=False))
        return owners.get(submission_id, "")

    def is_scan(submission_id: int) -> bool:
        stored = store.submission(submission_id)
        return stored is not None and stored.format == "scan"

    batch = _Batch(store, outcomes)

    def done(index: int, outcome: FileOutcome | list[FileOutcome]) -> None:
        outcomes[index] = outcome if isinstance(outcome, list) else [outcome]
        batch.done(index)
        if progress:
            progress(1)

    def to_read() -> Iterator[_Item]:
        for index, path in enumerate(files):
            try:
                size = path.stat().st_size
                if size > limits.max_bytes:
                    outcome = FileOutcome(str(path), "rejected", reason=too_large(limits.max_bytes, size),
                                          code="E-READ-LIMIT")
                    _reject(store, outcome)
                    done(index, outcome)
                    continue
                data = path.read_bytes()
            except OSError as exc:
                outcome = FileOutcome(str(path), "rejected", reason=f"cannot be opened ({exc.strerror})",
                                      code="E-READ")
                _reject(store, outcome)
                done(index, outcome)
                continue
            sha = hashlib.sha256(data).hexdigest()
            if sha in known and only_pcn is not None and owner_pcn(known[sha]) != only_pcn:
                outcome = FileOutcome(str(path), "rejected", reason=out_of_scope(only_pcn), sha256=sha,
                                      code="E-SCOPE")
                with store.transaction():
                    store.add_audit("refused", filename=path.name, sha256=sha,
                                    detail=f"a stored copy of another PCN's learner uploaded for {only_pcn}; "
                                           "nothing stored")
                done(index, outcome)
                continue
            # stored before this run: no need to read it again; but a scanned file is read again with
            # --supersede, as only its first copy carries the file's hash and another may be a conflict
            if sha in known and not (supersede and is_scan(known[sha])):
                done(index, FileOutcome(str(path), "unchanged", reason=f"already ingested (submission {known[sha]})",
                                        sha256=sha, previous_id=known[sha]))
                continue
            yield _Item(index, path, sha, len(data), data)

    try:
        for item, read in _read_all(to_read(), jobs, limits.seconds, limits.memory, layouts,
                                    before_wait=batch.commit):
            batch.begin()
            if read.scan is not None:
                done(item.index, scan_outcomes(store, item.path, item.sha256, item.data or b"", read.scan,
                                               supersede, only_pcn))
            else:
                done(item.index, _outcome(store, item, read, supersede, accept_changed_learner, only_pcn))
            item.data = None  # stored as the original (or refused): not needed any more
        batch.commit()
    except BaseException as exc:
        batch.abort()
        if isinstance(exc, KeyboardInterrupt):
            raise IngestInterrupted(batch.stored) from exc
        raise
    result.files = [o for group in outcomes if group is not None for o in group]
    result.seconds = time.perf_counter() - start
    return result
