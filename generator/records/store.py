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
- the returned file itself is kept once per SHA-256 (``originals``).

The schema is versioned: each engine's ``MIGRATIONS`` lists the statements of
each version (the same versions in both) and ``schema_version`` records which
have been applied.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

from generator.errors import StoreError  # noqa: F401  (re-exported: the store protocol raises it)

#: Default store file, in the working directory.
DEFAULT_STORE = "records.sqlite"
#: Environment variable naming the store (``--store`` wins over it).
STORE_ENV = "PORTFOLIO_STORE"


def now() -> str:
    """The current UTC time as ISO 8601 with microseconds (sortable text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def store_path(option: str | Path | None = None) -> Path:
    """The store file: ``option`` if given, else $PORTFOLIO_STORE, else ./records.sqlite."""
    return Path(option or os.environ.get(STORE_ENV) or DEFAULT_STORE)


# ---------------------------------------------------------------- plain data

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
    def values(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[FieldValue]]: ...
    def warnings(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[str]]: ...
    def flags(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]: ...
    def definitions(self) -> dict[str, Definition]: ...
    def issued(self) -> list[IssuedPack]: ...
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
    def issued_definitions(self) -> dict[str, tuple[str, list[dict[str, float]]]]: ...  # instance -> (def id, pages)
    def add_scan_page(self, page: ScanPage) -> bool: ...  # False when that page of that file is stored already
    def add_scan_fields(self, rows: Iterable[ScanField]) -> None: ...
    def scan_pages(self, submission_ids: Iterable[int] | None = None, unidentified: bool = False) -> list[ScanPage]: ...
    def scan_fields(self, submission_ids: Iterable[int] | None = None, crops: bool = True) -> list[ScanField]: ...
    def add_scan_review(self, submission_id: int, field_id: str, value: Any) -> None: ...
    def scan_reviews(self) -> list[ScanReview]: ...
    # -- copying a whole store (``generator.records.copy``)
    def columns(self, table: str) -> list[str]: ...
    def table_rows(self, table: str, columns: list[str], keys: tuple[str, ...]) -> Iterator[tuple]: ...
    def insert_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None: ...  # in a transaction
    def after_copy(self) -> None: ...  # rows were inserted with their ids: let new ids follow them


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
)
