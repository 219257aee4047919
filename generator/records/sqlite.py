"""The SQLite implementation of the records store (the embedded default).

In: plain data from ``ingest`` inside ``transaction()`` blocks. Out: plain data
for progress, export and report. Engine details (WAL mode, busy time-outs, the
``-wal``/``-shm`` files beside the store) stay in this module.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Union

from generator.errors import DISK_FULL_FIX
from generator.records.store import (
    COPY_TABLES,
    GENESIS,
    SCAN_WAITING_COUNT,
    SEALED,
    AuditEntry,
    ChainEntry,
    Definition,
    FieldValue,
    IssuedPack,
    NewSubmission,
    ReturnToken,
    ScanField,
    ScanPage,
    ScanReview,
    StoreError,
    SubmissionRow,
    User,
    audit_content,
    batched,
    check_tail,
    digest_of,
    issued_content,
    issued_ref,
    link_hash,
    next_entry,
    now,
    page_bounds,
    scan_waiting_page,
    seal_existing,
    stored_submission_content,
    value_json,
    with_reviews,
)

#: Seconds a writer waits for another process's transaction to finish.
BUSY_TIMEOUT = 120.0


_RECORD_TABLES = ("definitions", "packs_issued", "submissions", "field_values", "warnings", "audit_log")


def _no_change_triggers(table: str) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never changed'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never deleted'); END",
    )


#: The keys (primary and unique) of every table: an INSERT that meets an existing row is refused
#: by a trigger, so ``INSERT OR REPLACE``/``REPLACE`` cannot delete the old row (SQLite deletes it
#: without firing delete triggers unless the connection turned recursive_triggers on).
_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "definitions": (("id",),),
    "packs_issued": (("instance_id", "file"),),
    "submissions": (("id",), ("sha256",), ("instance_id", "version")),
    "field_values": (("submission_id", "field_id"),),
    "warnings": (("submission_id", "seq"),),
    "audit_log": (("id",),),
    "identifier_flags": (("submission_id", "field_id", "kind"),),
    "users": (("email",),),
    "return_tokens": (("token_sha256",),),
    "originals": (("sha256",),),
    "ledger": (("seq",), ("prev",), ("hash",), ("kind", "ref")),
    "issued_definitions": (("instance_id",),),
    "scan_pages": (("source_sha256", "page_index"),),
    "scan_fields": (("submission_id", "field_id", "option"),),
    "scan_reviews": (("id",),),
    "schema_version": (("version",),),
}
#: The message of a refused REPLACE, where a table's refusals have their own words.
_REPLACE_REFUSAL = {"users": "users are never deleted: disable the account instead (an account is never replaced)"}


def _no_replace_triggers(table: str) -> tuple[str, ...]:
    out = []
    for key in _KEYS[table]:
        match = " AND ".join(f"t.{c} = NEW.{c}" for c in key)
        message = _REPLACE_REFUSAL.get(
            table, f"{table} is append-only: a row with this {', '.join(key)} exists and is never replaced")
        out.append(f"CREATE TRIGGER {table}_no_replace_{'_'.join(key)} BEFORE INSERT ON {table} "
                   f"WHEN EXISTS (SELECT 1 FROM {table} t WHERE {match}) "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
    return tuple(out)


def _seal_existing(store: "SQLiteStore") -> None:
    """Migration 5: one ledger entry sealing the rows stored before the ledger existed."""
    sealed = seal_existing(store)
    if sealed is not None:
        ref, digest, covers = sealed
        store._db.execute("INSERT INTO ledger VALUES (1, ?, ?, ?, ?, ?, ?)",
                          (SEALED, ref, digest, GENESIS, link_hash(1, SEALED, ref, digest, GENESIS), covers))


_Step = Union[str, Callable[["SQLiteStore"], None]]

#: Statements of each schema version, applied in order; never edit a released version, add one.
MIGRATIONS: dict[int, tuple[_Step, ...]] = {
    1: (
        """CREATE TABLE definitions (
            id TEXT PRIMARY KEY,
            pack_id TEXT NOT NULL,
            part TEXT,
            content_id TEXT NOT NULL,
            content_version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            fields_json TEXT NOT NULL,
            first_seen TEXT NOT NULL)""",
        """CREATE TABLE packs_issued (
            instance_id TEXT NOT NULL,
            document TEXT NOT NULL,
            learner TEXT NOT NULL,
            practice TEXT NOT NULL,
            pcn TEXT NOT NULL,
            supervisor TEXT NOT NULL,
            facilitator TEXT NOT NULL,
            start_date TEXT NOT NULL,
            email TEXT NOT NULL,
            file TEXT NOT NULL,
            content_id TEXT NOT NULL,
            content_version TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            learner_key TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY (instance_id, file))""",
        """CREATE TABLE submissions (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            filename TEXT NOT NULL,
            size INTEGER NOT NULL,
            format TEXT NOT NULL,
            editor TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            supersedes INTEGER REFERENCES submissions(id),
            pack_id TEXT NOT NULL,
            part TEXT,
            content_id TEXT NOT NULL,
            content_version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            generator_version TEXT NOT NULL,
            definition_id TEXT NOT NULL REFERENCES definitions(id),
            learner_key TEXT NOT NULL,
            learner_name TEXT NOT NULL,
            practice TEXT NOT NULL,
            pcn TEXT NOT NULL,
            pcn_name TEXT NOT NULL,
            learner_json TEXT NOT NULL,
            pcn_json TEXT NOT NULL,
            UNIQUE (instance_id, version))""",
        "CREATE INDEX submissions_learner ON submissions (learner_key)",
        "CREATE INDEX submissions_supersedes ON submissions (supersedes)",
        """CREATE TABLE field_values (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('read', 'missing', 'unmapped')),
            value TEXT,
            position INTEGER,
            PRIMARY KEY (submission_id, field_id)) WITHOUT ROWID""",
        """CREATE TABLE warnings (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            seq INTEGER NOT NULL,
            field_id TEXT,
            message TEXT NOT NULL,
            PRIMARY KEY (submission_id, seq)) WITHOUT ROWID""",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            filename TEXT,
            sha256 TEXT,
            instance_id TEXT,
            submission_id INTEGER,
            detail TEXT NOT NULL)""",
        *(t for table in _RECORD_TABLES for t in _no_change_triggers(table)),
    ),
    2: (
        # A submission with likely patient identifiers is marked for review: which
        # field and what kind of identifier, never the value.
        """CREATE TABLE identifier_flags (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (submission_id, field_id, kind)) WITHOUT ROWID""",
        *_no_change_triggers("identifier_flags"),
    ),
    3: (
        # Web app accounts. Not evidence, so their state (disabled, failed sign-ins, lock)
        # changes in place; every change is in the audit log. Accounts are never deleted.
        """CREATE TABLE users (
            email TEXT PRIMARY KEY COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('provider', 'pcn')),
            pcn TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL,
            CHECK ((role = 'pcn') = (pcn IS NOT NULL)))""",
        "CREATE TRIGGER users_no_delete BEFORE DELETE ON users "
        "BEGIN SELECT RAISE(ABORT, 'users are never deleted: disable the account instead'); END",
        # A learner's return link: only the token's hash is kept.
        """CREATE TABLE return_tokens (
            token_sha256 TEXT PRIMARY KEY,
            instance_id TEXT NOT NULL,
            expires TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX return_tokens_instance ON return_tokens (instance_id)",
        *_no_change_triggers("return_tokens"),
    ),
    4: (
        # The returned file itself, once per SHA-256: evidence to fetch back, and to read again later.
        """CREATE TABLE originals (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL,
            stored_at TEXT NOT NULL) WITHOUT ROWID""",
        *_no_change_triggers("originals"),
    ),
    5: (
        # Paper returns. The field definitions (with their widget rectangles) each issued copy was made
        # with, recorded when its register is imported, so a scan of it can be read.
        """CREATE TABLE issued_definitions (
            instance_id TEXT PRIMARY KEY,
            definition_id TEXT NOT NULL REFERENCES definitions(id),
            pages_json TEXT NOT NULL,
            recorded_at TEXT NOT NULL)""",
        # Every page of every scanned file: the copy and page its QR code names and how well it aligned,
        # or why it could not be read (then its image is kept for a person to look at).
        """CREATE TABLE scan_pages (
            source_sha256 TEXT NOT NULL,
            page_index INTEGER NOT NULL,
            filename TEXT NOT NULL,
            submission_id INTEGER REFERENCES submissions(id),
            instance_id TEXT,
            page INTEGER,
            dpi REAL,
            residual_mm REAL,
            reason TEXT NOT NULL,
            image BLOB,
            stored_at TEXT NOT NULL,
            PRIMARY KEY (source_sha256, page_index)) WITHOUT ROWID""",
        # Every mark and text region read from a scanned copy: its ink ratio, the decision, the crop of a
        # written text field, and whether the field is left to a person (status).
        """CREATE TABLE scan_fields (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            option TEXT NOT NULL,
            page INTEGER NOT NULL,
            ink REAL NOT NULL,
            decision TEXT NOT NULL,
            status TEXT NOT NULL,
            crop BLOB,
            PRIMARY KEY (submission_id, field_id, option)) WITHOUT ROWID""",
        # What a person typed or decided for a scanned field, and who: the latest entry is the value.
        """CREATE TABLE scan_reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            value TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL)""",
        *(t for table in ("issued_definitions", "scan_pages", "scan_fields", "scan_reviews")
          for t in _no_change_triggers(table)),
    ),
    6: (
        # The tamper-evident ledger (see generator.records.store); no row replaced in any table;
        # schema_version guarded like the records tables; what the store held already sealed.
        """CREATE TABLE ledger (
            seq INTEGER PRIMARY KEY CHECK (seq >= 1),
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            digest TEXT NOT NULL,
            prev TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL UNIQUE,
            covers TEXT,
            UNIQUE (kind, ref))""",
        *_no_change_triggers("ledger"),
        *_no_change_triggers("schema_version"),
        *(t for table in _KEYS for t in _no_replace_triggers(table)),
        _seal_existing,
    ),
    7: (
        # The kept originals as a rowid table. WITHOUT ROWID keeps a whole row (a returned file of a
        # megabyte) inside the key's B-tree, so each lookup and insert by SHA-256 read through the
        # files themselves: 5 to 8 ms of CPU per stored copy. The bytes are copied as they are.
        """CREATE TABLE originals_kept (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL,
            stored_at TEXT NOT NULL)""",
        "INSERT INTO originals_kept (sha256, size, data, stored_at) "
        "SELECT sha256, size, data, stored_at FROM originals ORDER BY sha256",
        "DROP TABLE originals",  # and its guard triggers, made again below under the same names
        "ALTER TABLE originals_kept RENAME TO originals",
        *_no_change_triggers("originals"),
        *_no_replace_triggers("originals"),
    ),
}


SCHEMA_VERSION = max(MIGRATIONS)
#: Every trigger the schema creates, each once (``guard_problems`` names the missing ones).
_GUARDS = tuple(dict.fromkeys(re.match(r"CREATE TRIGGER (\w+)", s).group(1) for steps in MIGRATIONS.values()
                             for s in steps if isinstance(s, str) and s.startswith("CREATE TRIGGER")))


_SUBMISSION_COLUMNS = ("s.id, s.sha256, s.filename, s.size, s.format, s.editor, s.ingested_at, s.instance_id, "
                       "s.version, s.supersedes, (SELECT MIN(n.id) FROM submissions n WHERE n.supersedes = s.id), "
                       "s.pack_id, s.part, s.content_id, s.content_version, s.content_hash, s.generator_version, "
                       "s.definition_id, s.learner_key, s.learner_name, s.practice, s.pcn, s.pcn_name, "
                       "s.learner_json, s.pcn_json")


def _submission(row: tuple) -> SubmissionRow:
    *head, learner_json, pcn_json = row
    return SubmissionRow(*head, learner=json.loads(learner_json), pcn_facts=json.loads(pcn_json))


def actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _rolled_back(path: str, exc: sqlite3.Error) -> StoreError:
    """The error for a transaction SQLite failed and rolled back; a full disk says what to do."""
    if _disk_full(exc):
        return StoreError(f"{path}: the disk is full; the transaction was rolled back, nothing of it was kept: "
                          f"{DISK_FULL_FIX}")
    return StoreError(f"{path}: {exc}; the transaction was rolled back")


class SQLiteStore:
    """The SQLite implementation of ``Store`` (WAL mode, one writer at a time)."""

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False):
        self.path = str(path)
        self.read_only = read_only
        self._tail: ChainEntry | None | bool = False
        if not create and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no records store here; run 'portfolio ingest' first "
                             "or name the store with --store (or $PORTFOLIO_STORE)")
        if not Path(self.path).parent.is_dir():
            raise StoreError(f"{self.path}: the folder does not exist; create it or choose another --store")
        if not read_only:
            self._check_writable()
        try:
            if read_only:
                self._db = self._connect_read_only()
            else:
                self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
                self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
                mode = self._wal()
                if mode.lower() != "wal":
                    raise StoreError(f"{self.path}: cannot switch the store to WAL mode (got {mode})")
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            if _disk_full(exc):
                raise StoreError(f"{self.path}: cannot be opened as a records store: the disk is full; nothing "
                                 f"was changed: {DISK_FULL_FIX}") from None
            raise StoreError(f"{self.path}: cannot be opened as a records store ({exc}): check that --store names "
                             "the store 'portfolio ingest' made, not another file; if it does, the store is "
                             "damaged: restore it from a backup") from None
        except BaseException:
            self.close()
            raise
        self.actor = actor()
        self._in_transaction = False
        self._batch = False  # inside batch(): a transaction is a savepoint of the batch's one
        self._snapshot = False  # inside snapshot(): one read transaction

    def _check_writable(self) -> None:
        """A store that cannot be written is reported once, before any file is read."""
        store, folder = Path(self.path), Path(self.path).parent
        if store.exists() and not os.access(store, os.W_OK):
            raise StoreError(f"{self.path}: the records store is read-only; nothing was read or stored: make it "
                             "writable (chmod u+w) or choose another --store")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StoreError(f"{self.path}: the folder {folder} is read-only (the store needs to write its "
                             "-wal and -shm files beside it); nothing was read or stored: choose another --store")

    def _reader(self, uri: str) -> sqlite3.Connection:
        """A connection that reads only. Where the file can be written it is opened as usual with
        ``query_only`` on (SQLite refuses every write), so that its close, as every last connection's,
        removes the -wal and -shm files it needed; a write-protected file is opened ``mode=ro``."""
        writable = os.access(self.path, os.W_OK)
        db = sqlite3.connect(f"{uri}?mode=rw" if writable else f"{uri}?mode=ro", uri=True,
                             timeout=BUSY_TIMEOUT, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        db.execute("PRAGMA query_only = ON")
        return db

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open for reading only. Where the folder cannot be written (no -shm file can be made there),
        the file is opened as immutable: nobody can be writing to it there."""
        uri = Path(self.path).resolve().as_uri()
        writable = os.access(Path(self.path).parent, os.W_OK | os.X_OK)
        if writable:
            db = self._reader(uri)
        else:
            db = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        self._db = db
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer version of this tool (schema {current}, this tool "
                             f"knows {SCHEMA_VERSION}); upgrade the tool")
        if current < SCHEMA_VERSION:
            if not writable or not os.access(self.path, os.W_OK):
                raise StoreError(f"{self.path}: made by an older version of this tool (schema {current}) and "
                                 "read-only here; upgrade it by ingesting into it once where it can be written, "
                                 "then read it here")
            db.close()
            SQLiteStore(self.path).close()  # upgrade it (as opening it for writing does), then read
            db = self._db = self._reader(uri)
        return db

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- schema

    def schema_version(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def _wal(self) -> str:
        """Switch to WAL mode. A new file being set up by another process at the same moment
        answers 'locked' at once (SQLite does not wait on this pragma), so wait here."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return str(self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer version of this tool (schema {current}, this tool "
                             f"knows {SCHEMA_VERSION}); upgrade the tool")
        if current == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")  # another process may be migrating the same file
        try:
            current = self.schema_version()  # again, under the write lock
            for version in sorted(v for v in MIGRATIONS if v > current):
                for statement in MIGRATIONS[version]:
                    if callable(statement):
                        statement(self)
                    else:
                        self._db.execute(statement)
                self._db.execute("INSERT INTO schema_version VALUES (?, ?)", (version, now()))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # -- transactions

    def batch(self) -> Any:
        """One transaction holding several (``store.batched``): one write to disk and one tail check."""
        return batched(self)

    @contextmanager
    def _savepoint(self) -> Iterator["SQLiteStore"]:
        if not self._db.in_transaction:  # SQLite rolled the batch back after an error (disk full, I/O error)
            raise StoreError(f"{self.path}: the batch this belongs to was rolled back by an earlier error")
        tail = self._tail
        self._db.execute("SAVEPOINT unit")
        try:
            yield self
            self._db.execute("RELEASE unit")
        except BaseException as exc:
            self._tail = tail  # the ledger entries written since were rolled back too
            if self._db.in_transaction:  # else SQLite rolled back the whole batch (disk full, I/O error)
                self._db.execute("ROLLBACK TO unit")
                self._db.execute("RELEASE unit")
            if isinstance(exc, sqlite3.Error):
                raise _rolled_back(self.path, exc) from exc
            raise

    @contextmanager
    def snapshot(self) -> Iterator["SQLiteStore"]:
        """Reads inside see the store as it was at their first read, whatever other processes commit
        meanwhile: one read transaction (BEGIN DEFERRED; in WAL mode its first read fixes the snapshot).
        Inside a transaction or another snapshot, the one already open."""
        if self._in_transaction or self._snapshot:
            yield self
            return
        try:
            self._db.execute("BEGIN DEFERRED")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot start reading ({exc})") from exc
        self._snapshot = True
        try:
            yield self
        finally:
            self._snapshot = False
            if self._db is not None and self._db.in_transaction:
                self._db.execute("COMMIT")  # nothing was written: this only ends the read

    @contextmanager
    def transaction(self) -> Iterator["SQLiteStore"]:
        """One all-or-nothing unit of work; takes the write lock at once (BEGIN IMMEDIATE).
        Inside ``batch()``, a savepoint of the batch's transaction."""
        if self._in_transaction and self._batch:
            with self._savepoint():
                yield self
            return
        if self._in_transaction:
            raise StoreError("transactions do not nest")
        if self._snapshot:
            raise StoreError("a write inside a snapshot (reads only; start the transaction outside it)")
        if self.read_only:
            raise StoreError(f"{self.path}: opened for reading only")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise StoreError(f"{self.path}: another program kept the store locked for writing for "
                                 f"{BUSY_TIMEOUT:g} s (an ingest, the web app, a backup or a database tool); "
                                 "nothing was stored: let it finish, then rerun") from exc
            raise StoreError(f"{self.path}: cannot start a transaction ({exc})") from exc
        self._in_transaction = True
        self._tail = False  # not checked yet in this transaction
        try:
            yield self
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _rolled_back(self.path, exc) from exc
            raise
        finally:
            self._in_transaction = False
            self._tail = False

    def _writing(self, *, chained: bool = True) -> None:
        if self.read_only:
            raise StoreError(f"{self.path}: opened for reading only")
        if not self._in_transaction:
            raise StoreError("write outside a transaction (use 'with store.transaction():')")
        if chained and self._tail is False:  # before the first write of a transaction, never after a row went in
            self._tail = check_tail(self)

    def _seal(self, kind: str, ref: str, content: Any) -> None:
        """Append the ledger entry for a row just written (``_writing`` checked the tail first)."""
        assert self._tail is not False
        entry = next_entry(self._tail, kind, ref, digest_of(content))
        self._db.execute("INSERT INTO ledger (seq, kind, ref, digest, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
                         (entry.seq, entry.kind, entry.ref, entry.digest, entry.prev, entry.hash))
        self._tail = entry

    # -- inside a transaction

    def submission_for_sha(self, sha256: str) -> int | None:
        row = self._db.execute("SELECT id FROM submissions WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def instance_submissions(self, instance_id: str) -> list[SubmissionRow]:
        rows = self._db.execute(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s WHERE s.instance_id = ? "
                                "ORDER BY s.version", (instance_id,)).fetchall()
        return [_submission(r) for r in rows]

    def add_definition(self, definition: Definition) -> None:
        self._writing()
        if self._db.execute("SELECT 1 FROM definitions WHERE id = ?", (definition.id,)).fetchone():
            return
        self._db.execute(
            "INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (definition.id, definition.pack_id, definition.part, definition.content_id, definition.content_version,
             definition.content_hash, json.dumps(definition.fields, ensure_ascii=False), now()))

    def add_submission(self, new: NewSubmission, version: int, supersedes: int | None) -> int:
        self._writing()
        self.add_definition(new.definition)
        cursor = self._db.execute(
            "INSERT INTO submissions (sha256, filename, size, format, editor, ingested_at, instance_id, version, "
            "supersedes, pack_id, part, content_id, content_version, content_hash, generator_version, "
            "definition_id, learner_key, learner_name, practice, pcn, pcn_name, learner_json, pcn_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new.sha256, new.filename, new.size, new.format, new.editor, now(), new.instance_id, version,
             supersedes, new.pack_id, new.part, new.content_id, new.content_version, new.content_hash,
             new.generator_version, new.definition.id, new.learner_key, new.learner_name, new.practice, new.pcn,
             new.pcn_name, json.dumps(new.learner, ensure_ascii=False, sort_keys=True),
             json.dumps(new.pcn_facts, ensure_ascii=False, sort_keys=True)))
        sid = cursor.lastrowid
        self._db.executemany(
            "INSERT INTO field_values VALUES (?, ?, ?, ?, ?, ?)",
            [(sid, v.field_id, n, v.state, None if v.value is None else value_json(v.value),
              v.position) for n, v in enumerate(new.values, 1)])
        self._db.executemany("INSERT INTO warnings VALUES (?, ?, ?, ?)",
                             [(sid, n, fid, message) for n, (fid, message) in enumerate(new.warnings, 1)])
        self._db.executemany("INSERT INTO identifier_flags VALUES (?, ?, ?)",
                             [(sid, fid, kind) for fid, kind in dict.fromkeys(new.flags)])
        if new.data is not None and not self._db.execute("SELECT 1 FROM originals WHERE sha256 = ?",
                                                         (new.sha256,)).fetchone():
            self._db.execute("INSERT INTO originals VALUES (?, ?, ?, ?)", (new.sha256, len(new.data), new.data, now()))
        self._seal("submission", str(sid), stored_submission_content(self, sid, new))
        return sid

    def add_issued(self, packs: Iterable[IssuedPack], source: str) -> int:
        self._writing()
        at = now()
        added = 0
        for p in packs:
            if self._db.execute("SELECT 1 FROM packs_issued WHERE instance_id = ? AND file = ?",
                                (p.instance_id, p.file)).fetchone():
                continue
            self._db.execute(
                "INSERT INTO packs_issued VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (p.instance_id, p.document, p.learner, p.practice, p.pcn, p.supervisor, p.facilitator, p.start_date,
                 p.email, p.file, p.content_id, p.content_version, p.issued_at, p.learner_key, at, source))
            self._seal("issued", issued_ref(p), issued_content(p))
            added += 1
        return added

    def add_audit(self, action: str, *, filename: str | None = None, sha256: str | None = None,
                  instance_id: str | None = None, submission_id: int | None = None, detail: str = "") -> None:
        self._writing()
        cursor = self._db.execute(
            "INSERT INTO audit_log (at, action, actor, filename, sha256, instance_id, submission_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now(), action, self.actor, filename, sha256, instance_id, submission_id, detail))
        entry = self.audit_entry(cursor.lastrowid)
        assert entry is not None
        self._seal("audit", str(entry.id), audit_content(entry))

    # -- reading

    def _rowsq(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def known_hashes(self) -> dict[str, int]:
        """SHA-256 -> submission id of every stored file."""
        return dict(self._db.execute("SELECT sha256, id FROM submissions"))

    def submissions(self, current_only: bool = True) -> list[SubmissionRow]:
        where = "WHERE NOT EXISTS (SELECT 1 FROM submissions n WHERE n.supersedes = s.id)" if current_only else ""
        rows = self._db.execute(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s {where} ORDER BY s.id").fetchall()
        return [_submission(r) for r in rows]

    def _by_submission(self, sql: str, ids: Iterable[int] | None) -> Iterator[tuple]:
        if ids is None:
            yield from self._db.execute(sql.format(where=""))
            return
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            yield from self._db.execute(sql.format(where=f"WHERE submission_id IN ({marks})"), chunk)

    def values(self, submission_ids: Iterable[int] | None = None, *, reviewed: bool = True
               ) -> dict[int, list[FieldValue]]:
        """Stored values in document order; ``reviewed``: a scanned field a person reviewed has the
        review's value (the ledger seals the values as stored, ``reviewed=False``)."""
        out: dict[int, list[FieldValue]] = {}
        sql = ("SELECT submission_id, field_id, state, value, position FROM field_values {where} "
               "ORDER BY submission_id, seq")
        for sid, fid, state, value, position in self._by_submission(sql, submission_ids):
            out.setdefault(sid, []).append(
                FieldValue(fid, state, None if value is None else json.loads(value), position))
        return with_reviews(out, self.scan_reviews()) if reviewed else out

    def warnings(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        sql = "SELECT submission_id, message FROM warnings {where} ORDER BY submission_id, seq"
        for sid, message in self._by_submission(sql, submission_ids):
            out.setdefault(sid, []).append(message)
        return out

    def flags(self, submission_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]:
        """Submissions marked for review: (field id, kind of identifier) for each."""
        out: dict[int, list[tuple[str, str]]] = {}
        sql = "SELECT submission_id, field_id, kind FROM identifier_flags {where} ORDER BY submission_id, field_id"
        for sid, fid, kind in self._by_submission(sql, submission_ids):
            out.setdefault(sid, []).append((fid, kind))
        return out

    def definitions(self) -> dict[str, Definition]:
        rows = self._db.execute("SELECT id, pack_id, part, content_id, content_version, content_hash, fields_json "
                                "FROM definitions ORDER BY first_seen, id")
        return {r[0]: Definition(*r[:6], fields=json.loads(r[6])) for r in rows}

    def issued(self, instance_id: str | None = None) -> list[IssuedPack]:
        where = "" if instance_id is None else " WHERE instance_id = ?"  # the primary key's first column
        rows = self._db.execute("SELECT instance_id, document, learner, practice, pcn, supervisor, facilitator, "
                                "start_date, email, file, content_id, content_version, issued_at, learner_key, source "
                                f"FROM packs_issued{where} ORDER BY pcn, learner, document, file",
                                () if instance_id is None else (instance_id,))
        return [IssuedPack(*r) for r in rows]

    def audit(self) -> list[AuditEntry]:
        rows = self._db.execute("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                                "FROM audit_log ORDER BY id")
        return [AuditEntry(*r) for r in rows]

    # -- web app accounts and return links

    _USER_COLUMNS = "email, role, pcn, password_hash, disabled, failed_logins, locked_until, created_at"

    @staticmethod
    def _user(row: tuple) -> User:
        email, role, pcn, password_hash, disabled, failed, locked, created = row
        return User(email, role, pcn, password_hash, bool(disabled), failed, locked, created)

    def add_user(self, user: User) -> None:
        self._writing()
        if self._db.execute("SELECT 1 FROM users WHERE email = ?", (user.email,)).fetchone():
            raise StoreError(f"a user {user.email} exists already")
        self._db.execute(f"INSERT INTO users ({self._USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (user.email, user.role, user.pcn, user.password_hash, int(user.disabled),
                          user.failed_logins, user.locked_until, user.created_at or now()))

    def set_user_state(self, email: str, *, disabled: bool, failed_logins: int, locked_until: str | None) -> None:
        self._writing()
        self._db.execute("UPDATE users SET disabled = ?, failed_logins = ?, locked_until = ? WHERE email = ?",
                         (int(disabled), failed_logins, locked_until, email))

    def user(self, email: str) -> User | None:
        row = self._db.execute(f"SELECT {self._USER_COLUMNS} FROM users WHERE email = ?", (email,)).fetchone()
        return self._user(row) if row else None

    def users(self) -> list[User]:
        rows = self._db.execute(f"SELECT {self._USER_COLUMNS} FROM users ORDER BY email").fetchall()
        return [self._user(r) for r in rows]

    def add_return_token(self, token: ReturnToken) -> None:
        self._writing()
        self._db.execute("INSERT INTO return_tokens VALUES (?, ?, ?, ?, ?)",
                         (token.token_sha256, token.instance_id, token.expires, token.created_by, token.created_at))

    def return_token(self, token_sha256: str) -> ReturnToken | None:
        row = self._db.execute("SELECT token_sha256, instance_id, expires, created_by, created_at FROM return_tokens "
                               "WHERE token_sha256 = ?", (token_sha256,)).fetchone()
        return ReturnToken(*row) if row else None

    def find_audit(self, action: str, sha256: str) -> AuditEntry | None:
        row = self._db.execute("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                               "FROM audit_log WHERE action = ? AND sha256 = ? ORDER BY id LIMIT 1",
                               (action, sha256)).fetchone()
        return AuditEntry(*row) if row else None

    def counts(self) -> dict[str, int]:
        """Rows per table of the schema, every one but schema_version (for summaries and tests)."""
        names = [r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                                "NOT LIKE 'sqlite_%' AND name NOT IN ('schema_version', 'ledger') "
                                                "ORDER BY name")]
        return {t: self._db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in names}

    def original(self, sha256: str) -> bytes | None:
        row = self._db.execute("SELECT data FROM originals WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def originals_size(self) -> tuple[int, int]:
        files, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM originals").fetchone()
        return files, size

    # -- paper returns

    def add_issued_definition(self, instance_id: str, definition: Definition, pages: list[dict[str, float]]) -> None:
        self._writing()
        self.add_definition(definition)
        if self._db.execute("SELECT 1 FROM issued_definitions WHERE instance_id = ?", (instance_id,)).fetchone():
            return  # the no-replace trigger would refuse it
        self._db.execute("INSERT INTO issued_definitions VALUES (?, ?, ?, ?)",
                         (instance_id, definition.id, json.dumps(pages), now()))

    def issued_definitions(self, instance_id: str | None = None) -> dict[str, tuple[str, list[dict[str, float]]]]:
        if instance_id is None:
            rows = self._rowsq("SELECT instance_id, definition_id, pages_json FROM issued_definitions")
        else:
            rows = self._rowsq("SELECT instance_id, definition_id, pages_json FROM issued_definitions "
                               "WHERE instance_id = ?", (instance_id,))
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}

    def add_scan_page(self, page: ScanPage) -> bool:
        self._writing()
        if self._db.execute("SELECT 1 FROM scan_pages WHERE source_sha256 = ? AND page_index = ?",
                            (page.source_sha256, page.page_index)).fetchone():
            return False  # the no-replace trigger would refuse it
        cursor = self._db.execute(
            "INSERT INTO scan_pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (page.source_sha256, page.page_index, page.filename, page.submission_id, page.instance_id, page.page,
             page.dpi, page.residual_mm, page.reason, page.image, now()))
        return cursor.rowcount == 1

    def add_scan_fields(self, rows: Iterable[ScanField]) -> None:
        self._writing()
        self._db.executemany("INSERT INTO scan_fields VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [(r.submission_id, r.field_id, r.option, r.page, r.ink, r.decision, r.status, r.crop)
                              for r in rows])

    def scan_pages(self, submission_ids: Iterable[int] | None = None, unidentified: bool = False) -> list[ScanPage]:
        sql = ("SELECT source_sha256, page_index, filename, submission_id, instance_id, page, dpi, residual_mm, "
               "reason, image, stored_at FROM scan_pages")
        if unidentified:
            rows = self._rowsq(sql + " WHERE submission_id IS NULL ORDER BY stored_at, source_sha256, page_index")
        elif submission_ids is None:
            rows = self._rowsq(sql + " ORDER BY stored_at, source_sha256, page_index")
        else:
            rows = sorted(self._scan_rows(sql, submission_ids), key=lambda r: (r[3], r[5] or 0, r[1]))
        return [ScanPage(*r[:9], image=None if r[9] is None else bytes(r[9]), stored_at=r[10]) for r in rows]

    def scan_fields(self, submission_ids: Iterable[int] | None = None, crops: bool = True) -> list[ScanField]:
        sql = (f"SELECT submission_id, field_id, option, page, ink, decision, status, crop IS NOT NULL, "
               f"{'crop' if crops else 'NULL'} FROM scan_fields")
        rows = self._rowsq(sql) if submission_ids is None else self._scan_rows(sql, submission_ids)
        rows = sorted(rows, key=lambda r: (r[0], r[3], r[1], r[2]))
        return [ScanField(*r[:7], crop=None if r[8] is None else bytes(r[8]), has_crop=bool(r[7])) for r in rows]

    def _scan_rows(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        wanted = sorted({int(i) for i in ids})
        out: list[tuple] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            out += self._rowsq(f"{sql} WHERE submission_id IN ({', '.join('?' * len(chunk))})", chunk)
        return out

    def scan_waiting(self, limit: int | None = None, offset: int = 0) -> tuple[list[ScanField], int]:
        """Scanned fields of current submissions still waiting for a person (status not 'read', no
        review entered): every row (no crop) of ``limit`` such fields from ``offset`` on, in
        submission, page and field order, and how many such fields there are in all."""
        total = self._rowsq(SCAN_WAITING_COUNT)[0][0]
        rows = self._rowsq(scan_waiting_page("?"), page_bounds(limit, offset))
        return [ScanField(*r[:7], has_crop=bool(r[7])) for r in rows], int(total)

    def add_scan_review(self, submission_id: int, field_id: str, value: Any) -> None:
        self._writing()
        self._db.execute("INSERT INTO scan_reviews (submission_id, field_id, value, actor, at) VALUES (?, ?, ?, ?, ?)",
                         (submission_id, field_id, json.dumps(value, ensure_ascii=False), self.actor, now()))

    def scan_reviews(self) -> list[ScanReview]:
        rows = self._rowsq("SELECT submission_id, field_id, value, actor, at FROM scan_reviews ORDER BY id")
        return [ScanReview(r[0], r[1], None if r[2] is None else json.loads(r[2]), r[3], r[4]) for r in rows]

    # -- copying

    def columns(self, table: str) -> list[str]:
        _copy_table(table)
        return [r[1] for r in self._db.execute(f"PRAGMA table_info({table})")]

    def table_rows(self, table: str, columns: list[str], keys: tuple[str, ...]) -> Iterator[tuple]:
        _copy_table(table)
        cursor = self._db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(keys)}")
        while rows := cursor.fetchmany(500):
            yield from rows

    def insert_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        self._writing(chained=False)  # rows and their ledger entries are copied as they are
        _copy_table(table)
        marks = ", ".join("?" * len(columns))
        self._db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def after_copy(self) -> None:
        """Nothing to do: SQLite gives new rows ids after the largest one."""

    # -- the tamper-evident ledger

    def submission(self, submission_id: int) -> SubmissionRow | None:
        row = self._db.execute(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s WHERE s.id = ?",
                               (submission_id,)).fetchone()
        return _submission(row) if row else None

    def audit_entry(self, entry_id: int) -> AuditEntry | None:
        row = self._db.execute("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                               "FROM audit_log WHERE id = ?", (entry_id,)).fetchone()
        return AuditEntry(*row) if row else None

    def warning_rows(self, submission_ids: Iterable[int] | None = None
                     ) -> dict[int, list[tuple[str | None, str]]]:
        """Warnings with the field each is about (None: the whole copy), in order."""
        out: dict[int, list[tuple[str | None, str]]] = {}
        sql = "SELECT submission_id, field_id, message FROM warnings {where} ORDER BY submission_id, seq"
        for sid, fid, message in self._by_submission(sql, submission_ids):
            out.setdefault(sid, []).append((fid, message))
        return out

    _LEDGER = "SELECT seq, kind, ref, digest, prev, hash FROM ledger"

    def ledger(self) -> list[ChainEntry]:
        return [ChainEntry(*r) for r in self._db.execute(f"{self._LEDGER} ORDER BY seq")]

    def ledger_tail(self) -> ChainEntry | None:
        row = self._db.execute(f"{self._LEDGER} ORDER BY seq DESC LIMIT 1").fetchone()
        return ChainEntry(*row) if row else None

    def ledger_first(self) -> ChainEntry | None:
        row = self._db.execute(f"{self._LEDGER} ORDER BY seq LIMIT 1").fetchone()
        return ChainEntry(*row) if row else None

    def ledger_covers(self, seq: int) -> str | None:
        row = self._db.execute("SELECT covers FROM ledger WHERE seq = ?", (seq,)).fetchone()
        return row[0] if row else None

    def chained_counts(self) -> dict[str, int]:
        return {kind: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for kind, table in (("submission", "submissions"), ("audit", "audit_log"),
                                    ("issued", "packs_issued"))}

    def ledger_kinds(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT kind, COUNT(*) FROM ledger GROUP BY kind"))

    def guard_problems(self) -> list[str]:
        """The triggers that guard the store, where any is missing (someone dropped it)."""
        present = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        missing = [name for name in _GUARDS if name not in present]
        if missing:
            return [f"the store's guard trigger {missing[0]} is missing"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                    + ": it was dropped outside the tool"]
        return []


def _copy_table(table: str) -> None:
    if table not in {t for t, _ in COPY_TABLES}:
        raise StoreError(f"{table}: not a table a store copy carries")

