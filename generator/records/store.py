"""The records store protocol: what the rest of the package may ask of a store, as plain data.

In: plain data from ``ingest`` (``NewSubmission``, ``IssuedPack``, audit
entries), written inside ``transaction()`` blocks. Out: plain data for
``progress``, ``export`` and ``report`` (``SubmissionRow``, ``FieldValue``,
``Definition``, ``IssuedPack``, ``AuditEntry``). Two engines implement
``Store``: SQLite (``generator.records.sqlite``, the embedded default) and
PostgreSQL (``generator.records.postgres``, a shared server); only
``generator.records.connect`` chooses between them, so nothing else knows the engine.

Guarantees the database itself enforces, in both engines:

- a file is stored once (``submissions.sha256`` is unique) and an instance has
  one submission per version (``UNIQUE (instance_id, version)``);
- nothing is overwritten or deleted: triggers refuse UPDATE and DELETE (and on
  PostgreSQL TRUNCATE) on every records table and on the append-only ``audit_log``;
- one file is one transaction, and writers take turns: a failure or a kill
  leaves no partial rows, and two ingest processes on the same file are
  serialised (the second one sees the first one's row);
- the returned file itself is kept once per SHA-256 (``originals``);
- an existing row is never replaced: SQLite's ``INSERT OR REPLACE``/``REPLACE``
  (which deletes the old row without firing delete triggers) is refused by a
  trigger on every table's keys, PostgreSQL's ``ON CONFLICT DO UPDATE`` by the
  update triggers; ``schema_version`` is guarded like the records tables.

Triggers stop the tool (and careless SQL) from changing rows, but anyone who can
write the database can drop them. So the store is also *tamper-evident*: the
``ledger`` table chains every submission (its file hash, columns, values,
warnings and identifier flags), every issued pack and every audit entry by
SHA-256, in the order they were appended, as an append-only ledger does. The
protocol, the same for every engine (so a store copied to the other engine
verifies there with the same head):

- entry ``seq`` (1, 2, 3 … with no gaps) holds ``kind`` (``submission``,
  ``audit``, ``issued``, or ``sealed`` for the first entry of a store made before
  the ledger), ``ref`` (the row it seals: ``"12"``, or ``'["instance","file"]'``
  for an issued pack), ``digest`` = SHA-256 of the canonical JSON of the row's
  content (``*_content`` below, built from the row *as read back* from the store),
  ``prev`` = the previous entry's ``hash`` (``GENESIS`` for the first) and
  ``hash`` = ``link_hash(seq, kind, ref, digest, prev)``;
- a ``sealed`` entry is written once, by the migration that adds the ledger to a
  store holding rows already: its ``covers`` lists every such row with the digest
  of its content (``{kind: {ref: digest}}``), its ``digest`` is that list's, and
  its ``ref`` counts the rows per kind;
- an engine appends each entry in the same transaction as its row, after
  ``check_tail`` (once per transaction), while it holds the write lock (SQLite:
  ``BEGIN IMMEDIATE``; PostgreSQL: the advisory write lock and a lock on the
  ledger table), so the entries form one line; ``prev`` is unique, so the line
  cannot fork;
- ``verify_chain`` recomputes everything through the protocol's reading methods
  and names the first entry or row that no longer matches.

The schema is versioned: each engine's ``MIGRATIONS`` lists the statements of
each version (the same versions in both) and ``schema_version`` records which
have been applied.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

from generator.errors import StoreError  # noqa: F401  (re-exported: the store protocol raises it)

#: Default store file, in the working directory.
DEFAULT_STORE = "records.sqlite"
#: Environment variable naming the store (``--store`` wins over it).
STORE_ENV = "PORTFOLIO_STORE"
#: Where a user finds a submission's id (superseded versions included), for every message about an unknown one.
SUBMISSION_IDS = "the submission_id column of 'portfolio export --all-versions' lists every submission id"


def now() -> str:
    """The current UTC time as ISO 8601 with microseconds (sortable text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def store_path(option: str | Path | None = None) -> Path:
    """The store file: ``option`` if given, else $PORTFOLIO_STORE, else ./records.sqlite."""
    return Path(option or os.environ.get(STORE_ENV) or DEFAULT_STORE)


# ---------------------------------------------------------------- plain data

#: A LIMIT that takes every row (SQLite and PostgreSQL both take a 64-bit integer there).
ALL_ROWS = 2 ** 62


#: Scanned fields of current submissions still waiting for a person (status not 'read', no review
#: entered), one row per field with its first page: the SQL both engines run for ``scan_waiting``.
_SCAN_WAITING = ("SELECT f.submission_id, f.field_id, MIN(f.page) AS page FROM scan_fields f "
                 "WHERE f.status <> 'read' AND NOT EXISTS (SELECT 1 FROM scan_reviews r WHERE "
                 "r.submission_id = f.submission_id AND r.field_id = f.field_id) AND NOT EXISTS "
                 "(SELECT 1 FROM submissions n WHERE n.supersedes = f.submission_id) "
                 "GROUP BY f.submission_id, f.field_id")
#: How many fields are waiting.
SCAN_WAITING_COUNT = f"SELECT count(*) FROM ({_SCAN_WAITING}) w"


def scan_waiting_page(mark: str) -> str:
    """Every row (no crop) of a page of waiting fields, LIMIT and OFFSET given with the engine's
    parameter ``mark`` ("?" or "%s"), in submission, page and field order."""
    return (f"WITH waiting AS ({_SCAN_WAITING}), chosen AS (SELECT submission_id, field_id, page FROM waiting "
            f"ORDER BY submission_id, page, field_id LIMIT {mark} OFFSET {mark}) "
            "SELECT f.submission_id, f.field_id, f.option, f.page, f.ink, f.decision, f.status, "
            "f.crop IS NOT NULL FROM scan_fields f JOIN chosen c ON c.submission_id = f.submission_id "
            "AND c.field_id = f.field_id ORDER BY f.submission_id, c.page, f.field_id, f.option")


def page_bounds(limit: int | None, offset: int) -> tuple[int, int]:
    """``scan_waiting``'s LIMIT and OFFSET: every row when ``limit`` is None, never negative."""
    return (ALL_ROWS if limit is None else max(0, int(limit)), max(0, int(offset)))

@dataclass(frozen=True)
class Definition:
    """A set of field definitions as embedded in the copies' manifests."""

    id: str  # SHA-256 of the canonical JSON of ``fields``
    pack_id: str
    part: str | None  # None for the whole pack; e.g. "patient_feedback" for a separate form
    content_id: str
    content_version: str
    content_hash: str
    fields: list[dict[str, Any]]  # [{id, kind, label, options}], in document order


@dataclass(frozen=True)
class FieldValue:
    """One stored value. ``state`` is 'read' (in the manifest and in the copy, None when
    empty), 'missing' (in the manifest, absent from the copy) or 'unmapped' (in the copy,
    unknown to the manifest)."""

    field_id: str
    state: str
    value: Any
    position: int | None = None  # 1-based option position of a five-point scale answer


@dataclass
class NewSubmission:
    """Everything ``ingest`` stores for one returned file."""

    sha256: str
    filename: str
    size: int
    format: str
    editor: str
    instance_id: str
    pack_id: str
    part: str | None
    content_id: str
    content_version: str
    content_hash: str
    generator_version: str
    definition: Definition
    learner_key: str
    learner_name: str
    practice: str
    pcn: str
    pcn_name: str
    learner: dict[str, Any]
    pcn_facts: dict[str, Any]
    values: list[FieldValue]
    warnings: list[tuple[str | None, str]] = field(default_factory=list)  # (field id or None, message)
    flags: list[tuple[str, str]] = field(default_factory=list)  # likely patient identifiers: (field id, kind)
    data: bytes | None = None  # the returned file itself, kept by SHA-256 as evidence (``originals``)


@dataclass(frozen=True)
class SubmissionRow:
    """A stored submission (without its values)."""

    id: int
    sha256: str
    filename: str
    size: int
    format: str
    editor: str
    ingested_at: str
    instance_id: str
    version: int
    supersedes: int | None
    superseded_by: int | None
    pack_id: str
    part: str | None
    content_id: str
    content_version: str
    content_hash: str
    generator_version: str
    definition_id: str
    learner_key: str
    learner_name: str
    practice: str
    pcn: str
    pcn_name: str
    learner: dict[str, Any]
    pcn_facts: dict[str, Any]

    @property
    def current(self) -> bool:
        """True unless a later version of the same copy replaced it."""
        return self.superseded_by is None


@dataclass(frozen=True)
class IssuedPack:
    """One row of an issue register (``issued.csv``)."""

    instance_id: str
    document: str
    learner: str
    practice: str
    pcn: str
    supervisor: str
    facilitator: str
    start_date: str
    email: str
    file: str
    content_id: str
    content_version: str
    issued_at: str
    learner_key: str
    source: str = ""  # the register it was imported from: "<cohort folder>/issued.csv" (older stores: "issued.csv")

    @property
    def cohort(self) -> str:
        """The cohort it was issued in: the folder of its register (``issue`` writes ``<cohort>/issued.csv``);
        "" when the register's folder was not recorded."""
        folder, _, name = self.source.rpartition("/")
        return folder if name else ""


@dataclass(frozen=True)
class User:
    """A web app account. ``role`` is 'provider' (every PCN) or 'pcn' (the one PCN ``pcn``).

    ``password_hash`` is an argon2 hash, never the password; ``failed_logins`` counts
    failures since the last success; ``locked_until`` is an ISO time or None.
    """

    email: str
    role: str
    pcn: str | None
    password_hash: str
    disabled: bool = False
    failed_logins: int = 0
    locked_until: str | None = None
    created_at: str = ""


@dataclass(frozen=True)
class ReturnToken:
    """A learner's return link: the SHA-256 of its token (never the token), the one copy it
    accepts, and when it stops working (ISO time)."""

    token_sha256: str
    instance_id: str
    expires: str
    created_by: str
    created_at: str


@dataclass(frozen=True)
class ScanPage:
    """One page of a scanned file: the copy and page its QR code names (None when it names none the
    store knows), how well it aligned, and why it was not read ("" when it was); ``image`` is kept
    for a page a person must look at."""

    source_sha256: str
    page_index: int  # 1-based position in the scanned file
    filename: str
    submission_id: int | None
    instance_id: str | None
    page: int | None
    dpi: float | None
    residual_mm: float | None
    reason: str
    image: bytes | None = field(default=None, repr=False)
    stored_at: str = ""


@dataclass(frozen=True)
class ScanField:
    """One mark or text region read from a scanned copy. ``option`` is a radio bubble's option value
    ("" for a tick box or text field); ``status`` is 'read', 'needs review' or 'needs transcription'."""

    submission_id: int
    field_id: str
    option: str
    page: int
    ink: float
    decision: str
    status: str
    crop: bytes | None = field(default=None, repr=False)
    has_crop: bool = False  # set when read from the store (also when the crop itself was not fetched)


@dataclass(frozen=True)
class ScanReview:
    """What a person typed or decided for a scanned field (JSON value), who and when."""

    submission_id: int
    field_id: str
    value: Any
    actor: str
    at: str


def with_reviews(values: dict[int, list[FieldValue]], reviews: Iterable[ScanReview]) -> dict[int, list[FieldValue]]:
    """Stored values with each scanned field a person reviewed replaced by the latest review."""
    latest: dict[tuple[int, str], ScanReview] = {}
    for review in reviews:
        latest[(review.submission_id, review.field_id)] = review
    if not latest:
        return values
    out: dict[int, list[FieldValue]] = {}
    for sid, rows in values.items():
        out[sid] = [FieldValue(v.field_id, "read", latest[(sid, v.field_id)].value, v.position)
                    if (sid, v.field_id) in latest else v for v in rows]
    return out


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    action: str
    actor: str
    filename: str | None
    sha256: str | None
    instance_id: str | None
    submission_id: int | None
    detail: str


# ---------------------------------------------------------------- protocol

class Store(Protocol):
    """What the rest of the package needs from a records store."""

    path: str
    actor: str  # who the audit log names for this connection's changes

    def close(self) -> None: ...
    def transaction(self) -> Any: ...  # context manager; writes happen only inside one
    def batch(self) -> Any: ...  # context manager: transactions inside are savepoints, committed together
    def snapshot(self) -> Any: ...  # context manager: the reads inside see one state of the store (no writes)
    # -- inside a transaction
    def submission_for_sha(self, sha256: str) -> int | None: ...
    def instance_submissions(self, instance_id: str) -> list[SubmissionRow]: ...
    def add_submission(self, new: NewSubmission, version: int, supersedes: int | None) -> int: ...
    def add_issued(self, packs: Iterable[IssuedPack], source: str) -> int: ...
    def add_audit(self, action: str, *, filename: str | None = None, sha256: str | None = None,
                  instance_id: str | None = None, submission_id: int | None = None, detail: str = "") -> None: ...
    # -- reading
    def known_hashes(self) -> dict[str, int]: ...
    def submissions(self, current_only: bool = True) -> list[SubmissionRow]: ...
    def values(self, submission_ids: Iterable[int] | None = None, *, reviewed: bool = True
               ) -> dict[int, list[FieldValue]]: ...
    def warnings(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[str]]: ...
    def flags(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]: ...
    def definitions(self) -> dict[str, Definition]: ...
    def issued(self, instance_id: str | None = None) -> list[IssuedPack]: ...  # one instance's rows, or all
    def audit(self) -> list[AuditEntry]: ...
    # -- web app accounts and return links (writes inside a transaction)
    def add_user(self, user: User) -> None: ...
    def set_user_state(self, email: str, *, disabled: bool, failed_logins: int, locked_until: str | None) -> None: ...
    def user(self, email: str) -> User | None: ...
    def users(self) -> list[User]: ...
    def add_return_token(self, token: ReturnToken) -> None: ...
    def return_token(self, token_sha256: str) -> ReturnToken | None: ...
    def find_audit(self, action: str, sha256: str) -> AuditEntry | None: ...  # the first such entry
    def counts(self) -> dict[str, int]: ...  # rows per records table
    def original(self, sha256: str) -> bytes | None: ...  # the returned file kept for a submission
    def originals_size(self) -> tuple[int, int]: ...  # (files, bytes) of the kept originals
    # -- paper returns (writes inside a transaction)
    def add_issued_definition(self, instance_id: str, definition: Definition, pages: list[dict[str, float]]) -> None: ...
    def issued_definitions(self, instance_id: str | None = None
                           ) -> dict[str, tuple[str, list[dict[str, float]]]]: ...  # instance -> (def id, pages)
    def add_scan_page(self, page: ScanPage) -> bool: ...  # False when that page of that file is stored already
    def add_scan_fields(self, rows: Iterable[ScanField]) -> None: ...
    def scan_pages(self, submission_ids: Iterable[int] | None = None, unidentified: bool = False) -> list[ScanPage]: ...
    def scan_fields(self, submission_ids: Iterable[int] | None = None, crops: bool = True) -> list[ScanField]: ...
    def scan_waiting(self, limit: int | None = None, offset: int = 0
                     ) -> tuple[list[ScanField], int]: ...  # fields left to a person: a page of them, and the count
    def add_scan_review(self, submission_id: int, field_id: str, value: Any) -> None: ...
    def scan_reviews(self) -> list[ScanReview]: ...
    # -- copying a whole store (``generator.records.copy``)
    def columns(self, table: str) -> list[str]: ...
    def table_rows(self, table: str, columns: list[str], keys: tuple[str, ...]) -> Iterator[tuple]: ...
    def insert_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None: ...  # in a transaction
    def after_copy(self) -> None: ...  # rows were inserted with their ids: let new ids follow them
    # -- the tamper-evident ledger (see the module docstring)
    def submission(self, submission_id: int) -> SubmissionRow | None: ...
    def audit_entry(self, entry_id: int) -> AuditEntry | None: ...
    def warning_rows(self, submission_ids: Iterable[int] | None = None
                     ) -> dict[int, list[tuple[str | None, str]]]: ...
    def ledger(self) -> list[ChainEntry]: ...
    def ledger_tail(self) -> ChainEntry | None: ...
    def ledger_first(self) -> ChainEntry | None: ...
    def ledger_covers(self, seq: int) -> str | None: ...  # the ``covers`` text of a ``sealed`` entry
    def chained_counts(self) -> dict[str, int]: ...  # kind -> rows in its table
    def ledger_kinds(self) -> dict[str, int]: ...  # kind -> ledger entries
    def guard_problems(self) -> list[str]: ...  # engine guards (triggers) that are missing or disabled


#: Every table a store copy carries, in an order that respects references, with its key columns.
COPY_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("definitions", ("id",)),
    ("submissions", ("id",)),
    ("field_values", ("submission_id", "field_id")),
    ("warnings", ("submission_id", "seq")),
    ("identifier_flags", ("submission_id", "field_id", "kind")),
    ("originals", ("sha256",)),
    ("packs_issued", ("instance_id", "file")),
    ("audit_log", ("id",)),
    ("issued_definitions", ("instance_id",)),
    ("scan_pages", ("source_sha256", "page_index")),
    ("scan_fields", ("submission_id", "field_id", "option")),
    ("scan_reviews", ("id",)),
    ("ledger", ("seq",)),
)


# ---------------------------------------------------------------- tamper evidence

#: ``prev`` of the first ledger entry.
GENESIS = "0" * 64
#: What a ledger entry can seal, one row each.
CHAIN_KINDS = ("submission", "audit", "issued")
#: The kind of the one entry that seals the rows of a store made before the ledger.
SEALED = "sealed"
#: The table each kind's rows live in.
CHAIN_TABLES = {"submission": "submissions", "audit": "audit_log", "issued": "packs_issued"}


@dataclass(frozen=True)
class ChainEntry:
    """One ledger entry (see the module docstring)."""

    seq: int
    kind: str
    ref: str
    digest: str
    prev: str
    hash: str


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def canonical_json(value: Any) -> str:
    """The one JSON text a value hashes as (sorted keys, no spaces, UTF-8 kept)."""
    return _CANONICAL(value)


_VALUE_JSON = json.JSONEncoder(ensure_ascii=False).encode
_STRING_JSON = json.encoder.encode_basestring  # what that encoder writes a string with


def value_json(value: Any) -> str:
    """A stored value's JSON text (UTF-8 kept), as ``json.dumps(value, ensure_ascii=False)`` writes it,
    with one encoder for all of them (``json.dumps`` with options makes a new encoder for every
    value). A text or a tick, which almost every value is, is written without the encoder: its
    ``encode`` makes a new C encoder for anything but a string (of a copy's ~350 values, 2 ms)."""
    if value.__class__ is str:
        return _STRING_JSON(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _VALUE_JSON(value)


def digest_of(content: Any) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def link_hash(seq: int, kind: str, ref: str, digest: str, prev: str) -> str:
    """The hash of ledger entry ``seq``: binds its place, what it seals, the content and the entry before."""
    return hashlib.sha256(canonical_json([seq, kind, ref, digest, prev]).encode("utf-8")).hexdigest()


def submission_content(row: SubmissionRow, values: Sequence[FieldValue],
                       warnings: Sequence[tuple[str | None, str]], flags: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What a submission's entry seals: every stored column (not ``superseded_by``, which a later
    version sets by existing), its values in order, its warnings and its identifier flags."""
    content = asdict(row)
    content.pop("superseded_by")
    content["values"] = [[v.field_id, v.state, v.value, v.position] for v in values]
    content["warnings"] = [[fid, message] for fid, message in warnings]
    content["flags"] = sorted([fid, kind] for fid, kind in flags)
    return content


def audit_content(entry: AuditEntry) -> dict[str, Any]:
    return asdict(entry)


def issued_content(pack: IssuedPack) -> dict[str, Any]:
    out = asdict(pack)
    out.pop("source", None)  # where the row was imported from (its cohort) is read back, not sealed: as before it existed
    return out


def issued_ref(pack: IssuedPack) -> str:
    return canonical_json([pack.instance_id, pack.file])


def next_entry(tail: ChainEntry | None, kind: str, ref: str, digest: str) -> ChainEntry:
    """The entry that follows ``tail`` (None: the first) and seals content of ``digest``."""
    seq, prev = (tail.seq + 1, tail.hash) if tail else (1, GENESIS)
    return ChainEntry(seq, kind, ref, digest, prev, link_hash(seq, kind, ref, digest, prev))


def describe_row(kind: str, ref: str) -> str:
    """How a message names the row a ledger entry seals."""
    if kind == "issued":
        try:
            instance, file = json.loads(ref)
            return f"issued pack {instance} ({file})"
        except (ValueError, TypeError):
            return f"issued pack {ref}"
    if kind == SEALED:
        return "the rows stored before the ledger"
    return f"{'audit entry' if kind == 'audit' else kind} {ref}"


@contextmanager
def batched(store: Any) -> Iterator[Any]:
    """``Store.batch()`` of either engine: one transaction holding several. Each ``transaction()``
    inside is a savepoint of it (rolled back alone when it fails), and all of them are committed
    together at the end, or none is. The engine's ``transaction()`` reads ``_batch``."""
    with store.transaction():
        store._batch = True
        try:
            yield store
        finally:
            store._batch = False


def stored_submission_content(store: Store, submission_id: int, new: NewSubmission) -> dict[str, Any]:
    """What ``entry_content`` reads back for a submission just stored from ``new``, from its row read
    back and ``new``'s values, warnings and flags as they were written: a stored value is JSON text,
    which gives back what was written, so the ~350 values of a copy need not be read and decoded
    again to be sealed. ``verify_chain`` still compares every entry with the rows as stored."""
    row = store.submission(submission_id)
    if row is None:
        raise StoreError(f"{store.path}: submission {submission_id} was not stored")
    return submission_content(row, new.values, new.warnings, list(dict.fromkeys(new.flags)))


def entry_content(store: Store, kind: str, ref: str) -> Any | None:
    """The current content of the row an entry of ``kind`` seals, read from the store (None: it is gone)."""
    if kind == "submission":
        row = store.submission(int(ref))
        if row is None:
            return None
        return submission_content(row, store.values([row.id], reviewed=False).get(row.id, []),
                                  store.warning_rows([row.id]).get(row.id, []), store.flags([row.id]).get(row.id, []))
    if kind == "audit":
        entry = store.audit_entry(int(ref))
        return None if entry is None else audit_content(entry)
    if kind == "issued":
        try:  # issued_ref: [instance id, file]; a ref of another shape is no row's (an edited ledger)
            instance_id = json.loads(ref)[0]
        except (ValueError, TypeError, KeyError, IndexError):
            return None
        for pack in store.issued(str(instance_id)):
            if issued_ref(pack) == ref:
                return issued_content(pack)
        return None
    raise StoreError(f"{store.path}: ledger entry of unknown kind {kind!r}: the ledger was edited")


class _Rows:
    """Every row the ledger seals, read once (for ``verify_chain`` and the seal at upgrade)."""

    def __init__(self, store: Store):
        self.submissions = {str(s.id): s for s in store.submissions(current_only=False)}
        self.values, self.warnings, self.flags = store.values(reviewed=False), store.warning_rows(), store.flags()
        self.audits = {str(a.id): a for a in store.audit()}
        self.packs = {issued_ref(p): p for p in store.issued()}

    def refs(self, kind: str) -> dict[str, Any]:
        return {"submission": self.submissions, "audit": self.audits, "issued": self.packs}[kind]

    def content(self, kind: str, ref: str) -> Any | None:
        if kind == "submission":
            row = self.submissions.get(ref)
            return None if row is None else submission_content(
                row, self.values.get(row.id, []), self.warnings.get(row.id, []), self.flags.get(row.id, []))
        if kind == "audit":
            entry = self.audits.get(ref)
            return None if entry is None else audit_content(entry)
        pack = self.packs.get(ref)
        return None if pack is None else issued_content(pack)


def seal_existing(store: Store) -> tuple[str, str, str] | None:
    """The ``sealed`` entry's (ref, digest, covers) for the rows of a store made before the ledger,
    or None when it holds none (a new store's ledger starts with its first row)."""
    rows = _Rows(store)
    covers = {kind: {ref: digest_of(rows.content(kind, ref)) for ref in rows.refs(kind)} for kind in CHAIN_KINDS}
    if not any(covers.values()):
        return None
    ref = canonical_json({kind: len(covers[kind]) for kind in CHAIN_KINDS})
    return ref, digest_of(covers), canonical_json(covers)


def _link_problem(entry: ChainEntry, expected_seq: int, prev: str) -> str | None:
    what = f"ledger entry {entry.seq} ({describe_row(entry.kind, entry.ref)})"
    if entry.seq != expected_seq:
        return f"ledger entry {expected_seq} is missing (the next one is {entry.seq}): entries were deleted"
    if entry.prev != prev:
        return f"{what} does not follow the entry before it: the ledger was rewritten or cut"
    if entry.hash != link_hash(entry.seq, entry.kind, entry.ref, entry.digest, entry.prev):
        return f"{what}: its hash does not match its contents: the ledger was edited"
    if entry.kind == SEALED and entry.seq != 1:
        return f"{what} is not the first entry: the ledger was edited"
    if entry.kind not in CHAIN_KINDS and entry.kind != SEALED:
        return f"ledger entry {entry.seq} is of an unknown kind ({entry.kind}): the ledger was edited"
    return None


def _content_problem(entry: ChainEntry, content: Any | None) -> str | None:
    if content is None:
        return f"ledger entry {entry.seq} ({describe_row(entry.kind, entry.ref)}): the row it seals is gone: it was deleted"
    if digest_of(content) != entry.digest:
        return f"{describe_row(entry.kind, entry.ref)} no longer matches ledger entry {entry.seq}: it was changed"
    return None


def _sealed_problem(entry: ChainEntry, covers_text: str | None, rows: _Rows) -> tuple[str | None, dict]:
    """What is wrong with the ``sealed`` entry and the rows it covers; and what it covers, by kind."""
    try:
        covers = json.loads(covers_text or "")
        if not isinstance(covers, dict) or digest_of(covers) != entry.digest:
            raise ValueError
        counts = json.loads(entry.ref)
        if counts != {kind: len(covers.get(kind, {})) for kind in CHAIN_KINDS}:
            raise ValueError
    except (ValueError, TypeError, AttributeError):
        return f"ledger entry {entry.seq} ({describe_row(SEALED, '')}): its list of rows was edited", {}
    for kind in CHAIN_KINDS:
        for ref, digest in covers.get(kind, {}).items():
            content = rows.content(kind, ref)
            if content is None:
                return (f"{describe_row(kind, ref)}, sealed by ledger entry {entry.seq}, is gone: "
                        "it was deleted"), covers
            if digest_of(content) != digest:
                return f"{describe_row(kind, ref)} no longer matches ledger entry {entry.seq}: it was changed", covers
    return None, covers


@dataclass
class ChainReport:
    """The outcome of ``verify_chain``: ``problems[0]`` names the first entry or row that is broken."""

    entries: int
    head: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(store: Store) -> ChainReport:
    """Recompute the whole ledger against the rows it seals, all read from one snapshot of the store
    (rows committed by a writer meanwhile are neither seen nor missed); see ``ChainReport``."""
    with store.snapshot():
        return _verify_chain(store)


def _verify_chain(store: Store) -> ChainReport:
    problems = list(store.guard_problems())
    entries = store.ledger()
    rows = _Rows(store)
    sealed: dict[str, set[str]] = {kind: set() for kind in CHAIN_KINDS}
    prev, broken = GENESIS, False
    for n, entry in enumerate(entries, 1):
        problem = _link_problem(entry, n, prev)
        if entry.kind == SEALED:
            content_problem, covers = _sealed_problem(entry, store.ledger_covers(entry.seq), rows)
            for kind in CHAIN_KINDS:
                sealed[kind].update(covers.get(kind, {}))
        elif entry.kind in CHAIN_KINDS:
            sealed[entry.kind].add(entry.ref)
            content_problem = _content_problem(entry, rows.content(entry.kind, entry.ref))
        else:
            content_problem = None
        problem = problem or content_problem
        if problem and not broken:
            problems.append(problem)
            broken = True  # later entries follow a broken one: the first break is what matters
        prev = entry.hash
    by_sha = {row.sha256: row.id for row in rows.submissions.values()}
    for sha256, data in store.table_rows("originals", ["sha256", "data"], ("sha256",)):
        blob = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else str(data).encode()
        if hashlib.sha256(blob).hexdigest() != sha256:
            owner = f"submission {by_sha[sha256]}" if sha256 in by_sha else f"file {sha256[:12]}…"
            problems.append(f"the original kept for {owner} no longer has its SHA-256: it was changed")
            break
    for kind in ("submission", "issued", "audit"):
        unsealed = [ref for ref in rows.refs(kind) if ref not in sealed[kind]]
        if unsealed:
            more = len(unsealed) - 1
            problems.append(f"{describe_row(kind, unsealed[0])} is not in the ledger"
                            + (f" (nor is 1 more {kind} row)" if more == 1 else
                               f" (nor are {more} more {kind} rows)" if more else "")
                            + ": it was added around the tool")
    return ChainReport(len(entries), prev, problems)


def check_tail(store: Store) -> ChainEntry | None:
    """Before appending: the guards are in place, the last entry still matches its row, and every
    row is sealed (counted per kind). Returns the tail to append after.

    Raises ``StoreError`` naming what is wrong, so that nothing is appended to a
    ledger that was tampered with. Costs a few queries, not a whole verification.
    """
    problems = store.guard_problems()
    tail = store.ledger_tail()
    covered = {kind: 0 for kind in CHAIN_KINDS}
    if tail is not None:
        problem = _link_problem(tail, tail.seq, tail.prev)
        if problem is None and tail.kind != SEALED:
            problem = _content_problem(tail, entry_content(store, tail.kind, tail.ref))
        if problem:
            problems.append(problem)
    first = store.ledger_first() if tail is not None and tail.seq > 1 else tail
    if first is not None and first.kind == SEALED:
        try:
            covered.update(json.loads(first.ref))
        except (ValueError, TypeError):
            problems.append(f"ledger entry 1 ({describe_row(SEALED, '')}): its list of rows was edited")
    rows = store.chained_counts()
    entries = (tail.seq if tail else 0) - (1 if first is not None and first.kind == SEALED else 0)
    if sum(rows.values()) != entries + sum(covered.values()):  # one sum, so the check costs no scan of the ledger
        by_kind = store.ledger_kinds()
        for kind, count in rows.items():
            if count != by_kind.get(kind, 0) + covered.get(kind, 0):
                problems.append(f"the {CHAIN_TABLES[kind]} table holds {count} rows but the ledger seals "
                                f"{by_kind.get(kind, 0) + covered.get(kind, 0)}: rows were added or deleted "
                                "around the tool")
        if len(problems) == 0:
            problems.append(f"the ledger holds {entries} entries for {sum(rows.values())} rows: it was edited")
    if problems:
        raise StoreError(f"{store.path}: the records store was changed outside the tool ({problems[0]}); "
                         "nothing was stored: run 'portfolio store verify' and restore the store from a backup")
    return tail
