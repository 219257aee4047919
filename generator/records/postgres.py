"""The PostgreSQL implementation of the records store (one shared store for several sites).

In: a ``postgresql://user@host:port/database`` URL (the password from the URL,
``$PGPASSWORD`` or ``~/.pgpass``, as libpq finds it) and plain data from
``ingest`` inside ``transaction()`` blocks. Out: the same plain data as
``SQLiteStore`` gives, for progress, export and report. Engine details stay here.

The schema and its versions mirror ``generator.records.sqlite`` (the same tables,
columns, keys and version numbers). The database itself enforces what the
SQLite store enforces: unique SHA-256, one submission per instance and version,
and no UPDATE, DELETE or TRUNCATE of any records table (row triggers for UPDATE
and DELETE, a statement trigger for TRUNCATE; a least-privilege role also holds
no such right, see the README).

Concurrency: every write transaction first takes one transaction-level advisory
lock (``pg_advisory_xact_lock``), so writers take turns exactly as SQLite's
``BEGIN IMMEDIATE`` makes them: the decision ingest takes for a file (stored
already? new copy? conflict?) sees every transaction committed before it, no two
processes can store the same file or the same version, and with one lock taken
first and nothing else awaited there is no lock order to get wrong, so no
deadlock. A transaction is short (one file's rows; reading happens before it,
in reader processes), so taking turns costs little. A killed process's
connection closes and the server rolls its open transaction back: nothing
partial is kept.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Union

from generator.errors import SERVER_DISK_FULL_FIX
from generator.records.sqlite import actor
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

#: The advisory lock every write transaction takes first (any constant; it is per database).
WRITE_LOCK = 0x706F7274  # "port"
#: Seconds to wait for the server to answer a connection.
CONNECT_TIMEOUT = 10

_RECORD_TABLES = ("definitions", "packs_issued", "submissions", "field_values", "warnings", "audit_log")

_REFUSE_CHANGE = r"""
CREATE OR REPLACE FUNCTION portfolio_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows are never %', TG_TABLE_NAME,
        CASE TG_OP WHEN 'UPDATE' THEN 'changed' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END
        USING ERRCODE = 'restrict_violation';
END
$$"""


def _no_change_triggers(table: str) -> tuple[str, ...]:
    return (
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION portfolio_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION portfolio_append_only()",
    )


def _seal_existing(store: "PostgresStore") -> None:
    """Migration 5: one ledger entry sealing the rows stored before the ledger existed."""
    sealed = seal_existing(store)
    if sealed is not None:
        ref, digest, covers = sealed
        store._db.execute("INSERT INTO ledger VALUES (1, %s, %s, %s, %s, %s, %s)",
                          (SEALED, ref, digest, GENESIS, link_hash(1, SEALED, ref, digest, GENESIS), covers))


_Step = Union[str, Callable[["PostgresStore"], None]]

#: Statements of each schema version, applied in order; never edit a released version, add one.
#: Versions and tables match ``generator.records.sqlite.MIGRATIONS``.
MIGRATIONS: dict[int, tuple[_Step, ...]] = {
    1: (
        _REFUSE_CHANGE,
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
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            filename TEXT NOT NULL,
            size BIGINT NOT NULL,
            format TEXT NOT NULL,
            editor TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            supersedes BIGINT REFERENCES submissions(id),
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
            submission_id BIGINT NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('read', 'missing', 'unmapped')),
            value TEXT,
            position INTEGER,
            PRIMARY KEY (submission_id, field_id))""",
        """CREATE TABLE warnings (
            submission_id BIGINT NOT NULL REFERENCES submissions(id),
            seq INTEGER NOT NULL,
            field_id TEXT,
            message TEXT NOT NULL,
            PRIMARY KEY (submission_id, seq))""",
        """CREATE TABLE audit_log (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            filename TEXT,
            sha256 TEXT,
            instance_id TEXT,
            submission_id BIGINT,
            detail TEXT NOT NULL)""",
        *(t for table in _RECORD_TABLES for t in _no_change_triggers(table)),
        *_no_change_triggers("schema_version"),
    ),
    2: (
        """CREATE TABLE identifier_flags (
            submission_id BIGINT NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (submission_id, field_id, kind))""",
        *_no_change_triggers("identifier_flags"),
    ),
    3: (
        # Web app accounts (as SQLite's schema 3): their state changes in place, every change is
        # audited, and an account is never deleted.
        """CREATE TABLE users (
            email TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('provider', 'pcn')),
            pcn TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL,
            CHECK ((role = 'pcn') = (pcn IS NOT NULL)))""",
        "CREATE UNIQUE INDEX users_email_nocase ON users (lower(email))",
        r"""CREATE OR REPLACE FUNCTION portfolio_no_user_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'users are never deleted: disable the account instead' USING ERRCODE = 'restrict_violation';
END
$$""",
        "CREATE TRIGGER users_no_delete BEFORE DELETE ON users FOR EACH ROW EXECUTE FUNCTION portfolio_no_user_delete()",
        "CREATE TRIGGER users_no_truncate BEFORE TRUNCATE ON users FOR EACH STATEMENT "
        "EXECUTE FUNCTION portfolio_no_user_delete()",
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
        """CREATE TABLE originals (
            sha256 TEXT PRIMARY KEY,
            size BIGINT NOT NULL,
            data BYTEA NOT NULL,
            stored_at TEXT NOT NULL)""",
        *_no_change_triggers("originals"),
    ),
    5: (
        """CREATE TABLE issued_definitions (
            instance_id TEXT PRIMARY KEY,
            definition_id TEXT NOT NULL REFERENCES definitions(id),
            pages_json TEXT NOT NULL,
            recorded_at TEXT NOT NULL)""",
        """CREATE TABLE scan_pages (
            source_sha256 TEXT NOT NULL,
            page_index INTEGER NOT NULL,
            filename TEXT NOT NULL,
            submission_id BIGINT REFERENCES submissions(id),
            instance_id TEXT,
            page INTEGER,
            dpi DOUBLE PRECISION,
            residual_mm DOUBLE PRECISION,
            reason TEXT NOT NULL,
            image BYTEA,
            stored_at TEXT NOT NULL,
            PRIMARY KEY (source_sha256, page_index))""",
        """CREATE TABLE scan_fields (
            submission_id BIGINT NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            option TEXT NOT NULL,
            page INTEGER NOT NULL,
            ink DOUBLE PRECISION NOT NULL,
            decision TEXT NOT NULL,
            status TEXT NOT NULL,
            crop BYTEA,
            PRIMARY KEY (submission_id, field_id, option))""",
        """CREATE TABLE scan_reviews (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            submission_id BIGINT NOT NULL REFERENCES submissions(id),
            field_id TEXT NOT NULL,
            value TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL)""",
        *(t for table in ("issued_definitions", "scan_pages", "scan_fields", "scan_reviews")
          for t in _no_change_triggers(table)),
    ),
    6: (
        # The tamper-evident ledger (see generator.records.store), as SQLite's schema 6. No REPLACE
        # here: ON CONFLICT DO UPDATE fires the update triggers; schema_version is guarded since 1.
        """CREATE TABLE ledger (
            seq BIGINT PRIMARY KEY CHECK (seq >= 1),
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            digest TEXT NOT NULL,
            prev TEXT NOT NULL UNIQUE,
            hash TEXT NOT NULL UNIQUE,
            covers TEXT,
            UNIQUE (kind, ref))""",
        *_no_change_triggers("ledger"),
        _seal_existing,
    ),
    # SQLite's schema 7 turns its originals into a rowid table; PostgreSQL's is one already.
    7: (),
}

SCHEMA_VERSION = max(MIGRATIONS)
#: Every trigger the schema creates, with its table (``guard_problems`` names the missing or disabled ones).
_GUARDS = tuple(re.match(r"CREATE TRIGGER (\w+) .*? ON (\w+)", s, re.S).groups() for steps in MIGRATIONS.values()
                for s in steps if isinstance(s, str) and s.startswith("CREATE TRIGGER"))
#: The functions the triggers run: each must still refuse (RAISE EXCEPTION), not quietly return.
_GUARD_FUNCTIONS = ("portfolio_append_only", "portfolio_no_user_delete")

_SUBMISSION_COLUMNS = ("s.id, s.sha256, s.filename, s.size, s.format, s.editor, s.ingested_at, s.instance_id, "
                       "s.version, s.supersedes, (SELECT MIN(n.id) FROM submissions n WHERE n.supersedes = s.id), "
                       "s.pack_id, s.part, s.content_id, s.content_version, s.content_hash, s.generator_version, "
                       "s.definition_id, s.learner_key, s.learner_name, s.practice, s.pcn, s.pcn_name, "
                       "s.learner_json, s.pcn_json")


def _submission(row: tuple) -> SubmissionRow:
    *head, learner_json, pcn_json = row
    return SubmissionRow(*head, learner=json.loads(learner_json), pcn_facts=json.loads(pcn_json))


def is_url(location: str) -> bool:
    """True for a PostgreSQL store location (``postgresql://`` or ``postgres://``)."""
    return bool(re.match(r"(?i)postgres(ql)?://", location))


def describe(url: str) -> str:
    """The URL as it may be printed: user, host, port and database, never the password."""
    import psycopg.conninfo
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(a URL that cannot be parsed)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host') or 'localhost'}{port}/{parts.get('dbname') or ''}"


#: SQLSTATE of a server whose disk is full (class 53: insufficient resources).
_DISK_FULL = "53100"


def _rolled_back(where: str, exc: Exception) -> StoreError:
    """The error for a transaction the server failed and rolled back; a full disk says what to do."""
    if getattr(exc, "sqlstate", None) == _DISK_FULL:
        return StoreError(f"{where}: the database server's disk is full; the transaction was rolled back, nothing "
                          f"of it was kept: {SERVER_DISK_FULL_FIX}")
    return StoreError(f"{where}: {_first_line(exc)}; the transaction was rolled back")


def _connect_problem(where: str, url: str, exc: Exception) -> StoreError:
    """One line for a failed connection: where, what happened and the fix (never the password)."""
    import psycopg.conninfo
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        parts = {}
    text = str(exc)
    low = text.lower()
    user = parts.get("user") or "(your login name)"
    database = parts.get("dbname") or user
    if "authentication failed" in low or "no password supplied" in low:
        why = (f"the server refused user {user} (wrong or missing password); give the password in the URL, "
               "$PGPASSWORD or ~/.pgpass, or ask the database administrator for the right user")
    elif "does not exist" in low and "database" in low:
        why = (f"there is no database {database} on the server; create it (createdb {database}) "
               "or name another in --store")
    elif "role" in low and "does not exist" in low:
        why = f"the server has no user {user}; name another user in --store or ask the administrator to create it"
    elif "permission denied" in low or "not permitted" in low or "no pg_hba.conf entry" in low:
        why = (f"user {user} may not connect to database {database} from here; ask the administrator "
               "to grant CONNECT (see the README's GRANTs)")
    elif ("could not translate host name" in low or "name or service not known" in low
          or "nodename nor servname" in low):
        why = "the host name is unknown; check the host in --store (or $PORTFOLIO_STORE)"
    elif "timeout" in low or "timed out" in low:
        why = (f"the server did not answer within {CONNECT_TIMEOUT} s; check the host and port, "
               "and that a firewall lets you through")
    elif "connection" in low or "could not connect" in low or "no such file" in low:  # "Connection refused" too
        why = ("no PostgreSQL server answers there; check the host and port in --store, "
               "and that the server is running")
    else:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        why = f"cannot connect ({first}); check the URL in --store"
    return StoreError(f"{where}: {why}")


class PostgresStore:
    """The PostgreSQL implementation of ``Store`` (writers take turns on one advisory lock)."""

    def __init__(self, url: str, *, create: bool = True, read_only: bool = False):
        import psycopg
        self.path = describe(url)
        self.url = url
        self.read_only = read_only
        self._db = None
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                       application_name="portfolio")
        except psycopg.ProgrammingError as exc:  # a URL libpq cannot parse (before psycopg.Error, its base)
            raise StoreError(f"{self.path}: not a PostgreSQL URL libpq understands ({exc}); write it as "
                             "postgresql://user@host:port/database") from None
        except psycopg.Error as exc:
            raise _connect_problem(self.path, url, exc) from None
        try:
            self._check_and_migrate(create and not read_only)  # an older store is upgraded first, as SQLite's
            if read_only:
                self._db.execute("SET default_transaction_read_only = on")  # the server refuses any write
        except psycopg.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: cannot be opened as a records store ({_first_line(exc)}): check that "
                             "--store names the records store's database and that its user has the README's "
                             "GRANTs") from None
        except BaseException:
            self.close()
            raise
        self.actor = actor()
        self._in_transaction = False
        self._batch = False  # inside batch(): a transaction is a savepoint of the batch's one
        self._snapshot = False  # inside snapshot(): one REPEATABLE READ transaction
        self._tail: ChainEntry | None | bool = False

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, tuple(params)).fetchall()

    # -- schema

    def _tables(self) -> set[str]:
        return {r[0] for r in self._rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def schema_version(self) -> int:
        return self._rows("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0]

    def _check_and_migrate(self, create: bool) -> None:
        tables = self._tables()
        if "schema_version" not in tables:
            if tables:
                shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
                raise StoreError(f"{self.path}: this database holds another application's tables ({shown}), "
                                 "not a records store; give the records store a database of its own "
                                 "(createdb portfolio) and name it in --store")
            if not create:
                raise StoreError(f"{self.path}: no records store here; run 'portfolio ingest' first "
                                 "or name the store with --store (or $PORTFOLIO_STORE)")
        else:
            columns = {r[0] for r in self._rows(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'schema_version'")}
            if columns != {"version", "applied_at"}:
                raise StoreError(f"{self.path}: this database holds another application's schema_version table, "
                                 "not a records store; give the records store a database of its own "
                                 "(createdb portfolio) and name it in --store")
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise StoreError(f"{self.path}: made by a newer version of this tool (schema {current}, this tool "
                                 f"knows {SCHEMA_VERSION}); upgrade the tool")
            if current == SCHEMA_VERSION:
                return
        import psycopg
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # another process may migrate
                self._db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                                 "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
                current = self.schema_version()  # again, under the lock
                for version in sorted(v for v in MIGRATIONS if v > current):
                    for statement in MIGRATIONS[version]:
                        if callable(statement):
                            statement(self)
                        else:
                            self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_version VALUES (%s, %s)", (version, now()))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(f"{self.path}: the store needs schema {SCHEMA_VERSION} and this user may not "
                             f"change the schema ({_first_line(exc)}); run the command once as the database's "
                             "owner, who applies the new schema, then again as this user") from None

    # -- transactions

    def batch(self) -> Any:
        """One transaction holding several (``store.batched``)."""
        return batched(self)

    @contextmanager
    def snapshot(self) -> Iterator["PostgresStore"]:
        """Reads inside see the store as it was at their first read, whatever other sessions commit
        meanwhile: one REPEATABLE READ, READ ONLY transaction. Inside a transaction or another
        snapshot, the one already open."""
        import psycopg
        if self._in_transaction or self._snapshot:
            yield self
            return
        self._snapshot = True
        try:
            with self._db.transaction():
                self._db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield self
        except psycopg.Error as exc:
            raise StoreError(f"{self.path}: {_first_line(exc)}; nothing was changed") from exc
        finally:
            self._snapshot = False

    @contextmanager
    def transaction(self) -> Iterator["PostgresStore"]:
        """One all-or-nothing unit of work; takes the store's write lock at once (writers take turns).
        Inside ``batch()``, a savepoint of the batch's transaction."""
        import psycopg
        if self._snapshot and not self._in_transaction:
            raise StoreError("a write inside a snapshot (reads only; start the transaction outside it)")
        if self._in_transaction and self._batch:
            tail = self._tail
            try:
                with self._db.transaction():  # psycopg makes a nested transaction a savepoint
                    yield self
            except BaseException as exc:
                self._tail = tail  # the ledger entries written since were rolled back too
                if isinstance(exc, psycopg.Error):
                    raise _rolled_back(self.path, exc) from exc
                raise
            return
        if self._in_transaction:
            raise StoreError("transactions do not nest")
        self._in_transaction = True
        self._tail = False  # not checked yet in this transaction
        try:
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield self
        except psycopg.Error as exc:
            raise _rolled_back(self.path, exc) from exc
        finally:
            self._in_transaction = False
            self._tail = False

    def _writing(self, *, chained: bool = True) -> None:
        if self.read_only:
            raise StoreError(f"{self.path}: opened for reading only")
        if not self._in_transaction:
            raise StoreError("write outside a transaction (use 'with store.transaction():')")
        if chained and self._tail is False:  # before the first write of a transaction, never after a row went in
            # Read under the advisory write lock this transaction took first, so no other writer
            # appends meanwhile (readers are not blocked); were one to (a writer that skipped the
            # lock), the ledger's unique seq and prev refuse the second entry and its transaction.
            self._tail = check_tail(self)

    def _seal(self, kind: str, ref: str, content: Any) -> None:
        """Append the ledger entry for a row just written (``_writing`` checked the tail first)."""
        assert self._tail is not False
        entry = next_entry(self._tail, kind, ref, digest_of(content))
        self._db.execute("INSERT INTO ledger (seq, kind, ref, digest, prev, hash) VALUES (%s, %s, %s, %s, %s, %s)",
                         (entry.seq, entry.kind, entry.ref, entry.digest, entry.prev, entry.hash))
        self._tail = entry

    # -- inside a transaction

    def submission_for_sha(self, sha256: str) -> int | None:
        rows = self._rows("SELECT id FROM submissions WHERE sha256 = %s", (sha256,))
        return rows[0][0] if rows else None

    def instance_submissions(self, instance_id: str) -> list[SubmissionRow]:
        rows = self._rows(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s WHERE s.instance_id = %s "
                          "ORDER BY s.version", (instance_id,))
        return [_submission(r) for r in rows]

    def add_definition(self, definition: Definition) -> None:
        self._writing()
        self._db.execute(
            "INSERT INTO definitions VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (definition.id, definition.pack_id, definition.part, definition.content_id, definition.content_version,
             definition.content_hash, json.dumps(definition.fields, ensure_ascii=False), now()))

    def add_submission(self, new: NewSubmission, version: int, supersedes: int | None) -> int:
        self._writing()
        self.add_definition(new.definition)
        sid = self._db.execute(
            "INSERT INTO submissions (sha256, filename, size, format, editor, ingested_at, instance_id, version, "
            "supersedes, pack_id, part, content_id, content_version, content_hash, generator_version, "
            "definition_id, learner_key, learner_name, practice, pcn, pcn_name, learner_json, pcn_json) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (new.sha256, new.filename, new.size, new.format, new.editor, now(), new.instance_id, version,
             supersedes, new.pack_id, new.part, new.content_id, new.content_version, new.content_hash,
             new.generator_version, new.definition.id, new.learner_key, new.learner_name, new.practice, new.pcn,
             new.pcn_name, json.dumps(new.learner, ensure_ascii=False, sort_keys=True),
             json.dumps(new.pcn_facts, ensure_ascii=False, sort_keys=True))).fetchone()[0]
        with self._db.cursor() as cursor:
            if new.values:
                cursor.executemany(
                    "INSERT INTO field_values VALUES (%s, %s, %s, %s, %s, %s)",
                    [(sid, v.field_id, n, v.state,
                      None if v.value is None else value_json(v.value), v.position)
                     for n, v in enumerate(new.values, 1)])
            if new.warnings:
                cursor.executemany("INSERT INTO warnings VALUES (%s, %s, %s, %s)",
                                   [(sid, n, fid, message) for n, (fid, message) in enumerate(new.warnings, 1)])
            if new.flags:
                cursor.executemany("INSERT INTO identifier_flags VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                   [(sid, fid, kind) for fid, kind in new.flags])
        if new.data is not None:
            self._db.execute("INSERT INTO originals VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                             (new.sha256, len(new.data), new.data, now()))
        self._seal("submission", str(sid), stored_submission_content(self, sid, new))
        return sid

    def add_issued(self, packs: Iterable[IssuedPack], source: str) -> int:
        self._writing()
        at = now()
        added = 0
        for p in packs:
            cursor = self._db.execute(
                "INSERT INTO packs_issued VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                (p.instance_id, p.document, p.learner, p.practice, p.pcn, p.supervisor, p.facilitator, p.start_date,
                 p.email, p.file, p.content_id, p.content_version, p.issued_at, p.learner_key, at, source))
            if cursor.rowcount:
                self._seal("issued", issued_ref(p), issued_content(p))
                added += 1
        return added

    def add_audit(self, action: str, *, filename: str | None = None, sha256: str | None = None,
                  instance_id: str | None = None, submission_id: int | None = None, detail: str = "") -> None:
        self._writing()
        entry_id = self._db.execute(
            "INSERT INTO audit_log (at, action, actor, filename, sha256, instance_id, submission_id, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (now(), action, self.actor, filename, sha256, instance_id, submission_id, detail)).fetchone()[0]
        entry = self.audit_entry(entry_id)
        assert entry is not None
        self._seal("audit", str(entry.id), audit_content(entry))

    # -- reading

    def known_hashes(self) -> dict[str, int]:
        """SHA-256 -> submission id of every stored file."""
        return dict(self._rows("SELECT sha256, id FROM submissions"))

    def submissions(self, current_only: bool = True) -> list[SubmissionRow]:
        where = "WHERE NOT EXISTS (SELECT 1 FROM submissions n WHERE n.supersedes = s.id)" if current_only else ""
        rows = self._rows(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s {where} ORDER BY s.id")
        return [_submission(r) for r in rows]

    def _by_submission(self, sql: str, ids: Iterable[int] | None) -> list[tuple]:
        if ids is None:
            return self._rows(sql.format(where=""))
        return self._rows(sql.format(where="WHERE submission_id = ANY(%s)"), ([int(i) for i in set(ids)],))

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
        sql = ("SELECT submission_id, field_id, kind FROM identifier_flags {where} "
               "ORDER BY submission_id, field_id COLLATE \"C\"")
        for sid, fid, kind in self._by_submission(sql, submission_ids):
            out.setdefault(sid, []).append((fid, kind))
        return out

    def definitions(self) -> dict[str, Definition]:
        rows = self._rows("SELECT id, pack_id, part, content_id, content_version, content_hash, fields_json "
                          "FROM definitions ORDER BY first_seen, id COLLATE \"C\"")
        return {r[0]: Definition(*r[:6], fields=json.loads(r[6])) for r in rows}

    def issued(self, instance_id: str | None = None) -> list[IssuedPack]:
        where = "" if instance_id is None else " WHERE instance_id = %s"  # the primary key's first column
        rows = self._rows("SELECT instance_id, document, learner, practice, pcn, supervisor, facilitator, "
                          "start_date, email, file, content_id, content_version, issued_at, learner_key, source "
                          f"FROM packs_issued{where} ORDER BY pcn COLLATE \"C\", learner COLLATE \"C\", "
                          "document COLLATE \"C\", file COLLATE \"C\"", () if instance_id is None else (instance_id,))
        return [IssuedPack(*r) for r in rows]

    def audit(self) -> list[AuditEntry]:
        rows = self._rows("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                          "FROM audit_log ORDER BY id")
        return [AuditEntry(*r) for r in rows]

    def find_audit(self, action: str, sha256: str) -> AuditEntry | None:
        rows = self._rows("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                          "FROM audit_log WHERE action = %s AND sha256 = %s ORDER BY id LIMIT 1", (action, sha256))
        return AuditEntry(*rows[0]) if rows else None

    def counts(self) -> dict[str, int]:
        """Rows per table of the schema, every one but schema_version (for summaries and tests)."""
        return {t: self._rows(f'SELECT COUNT(*) FROM "{t}"')[0][0]
                for t in sorted(self._tables(), key=lambda n: n.encode()) if t not in ("schema_version", "ledger")}

    # -- web app accounts and return links

    _USER_COLUMNS = "email, role, pcn, password_hash, disabled, failed_logins, locked_until, created_at"

    @staticmethod
    def _user(row: tuple) -> User:
        email, role, pcn, password_hash, disabled, failed, locked, created = row
        return User(email, role, pcn, password_hash, bool(disabled), failed, locked, created)

    def add_user(self, user: User) -> None:
        self._writing()
        if self._rows("SELECT 1 FROM users WHERE lower(email) = lower(%s)", (user.email,)):
            raise StoreError(f"a user {user.email} exists already")
        self._db.execute(f"INSERT INTO users ({self._USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                         (user.email, user.role, user.pcn, user.password_hash, int(user.disabled),
                          user.failed_logins, user.locked_until, user.created_at or now()))

    def set_user_state(self, email: str, *, disabled: bool, failed_logins: int, locked_until: str | None) -> None:
        self._writing()
        self._db.execute("UPDATE users SET disabled = %s, failed_logins = %s, locked_until = %s "
                         "WHERE lower(email) = lower(%s)", (int(disabled), failed_logins, locked_until, email))

    def user(self, email: str) -> User | None:
        rows = self._rows(f"SELECT {self._USER_COLUMNS} FROM users WHERE lower(email) = lower(%s)", (email,))
        return self._user(rows[0]) if rows else None

    def users(self) -> list[User]:
        return [self._user(r) for r in self._rows(f"SELECT {self._USER_COLUMNS} FROM users "
                                                  "ORDER BY lower(email) COLLATE \"C\"")]

    def add_return_token(self, token: ReturnToken) -> None:
        self._writing()
        self._db.execute("INSERT INTO return_tokens VALUES (%s, %s, %s, %s, %s)",
                         (token.token_sha256, token.instance_id, token.expires, token.created_by, token.created_at))

    def return_token(self, token_sha256: str) -> ReturnToken | None:
        rows = self._rows("SELECT token_sha256, instance_id, expires, created_by, created_at FROM return_tokens "
                          "WHERE token_sha256 = %s", (token_sha256,))
        return ReturnToken(*rows[0]) if rows else None

    def original(self, sha256: str) -> bytes | None:
        rows = self._rows("SELECT data FROM originals WHERE sha256 = %s", (sha256,))
        return bytes(rows[0][0]) if rows else None

    def originals_size(self) -> tuple[int, int]:
        files, size = self._rows("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM originals")[0]
        return files, int(size)

    # -- paper returns

    def add_issued_definition(self, instance_id: str, definition: Definition, pages: list[dict[str, float]]) -> None:
        self._writing()
        self.add_definition(definition)
        self._db.execute("INSERT INTO issued_definitions VALUES (%s, %s, %s, %s) ON CONFLICT (instance_id) DO NOTHING",
                         (instance_id, definition.id, json.dumps(pages), now()))

    def issued_definitions(self, instance_id: str | None = None) -> dict[str, tuple[str, list[dict[str, float]]]]:
        if instance_id is None:
            rows = self._rows("SELECT instance_id, definition_id, pages_json FROM issued_definitions")
        else:
            rows = self._rows("SELECT instance_id, definition_id, pages_json FROM issued_definitions "
                              "WHERE instance_id = %s", (instance_id,))
        return {r[0]: (r[1], json.loads(r[2])) for r in rows}

    def add_scan_page(self, page: ScanPage) -> bool:
        self._writing()
        cursor = self._db.execute(
            "INSERT INTO scan_pages VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (source_sha256, page_index) DO NOTHING",
            (page.source_sha256, page.page_index, page.filename, page.submission_id, page.instance_id, page.page,
             page.dpi, page.residual_mm, page.reason, page.image, now()))
        return cursor.rowcount == 1

    def add_scan_fields(self, rows: Iterable[ScanField]) -> None:
        self._writing()
        with self._db.cursor() as cursor:
            cursor.executemany("INSERT INTO scan_fields VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                               [(r.submission_id, r.field_id, r.option, r.page, r.ink, r.decision, r.status, r.crop)
                                for r in rows])

    def scan_pages(self, submission_ids: Iterable[int] | None = None, unidentified: bool = False) -> list[ScanPage]:
        sql = ("SELECT source_sha256, page_index, filename, submission_id, instance_id, page, dpi, residual_mm, "
               "reason, image, stored_at FROM scan_pages")
        if unidentified:
            rows = self._rows(sql + " WHERE submission_id IS NULL ORDER BY stored_at, source_sha256, page_index")
        elif submission_ids is None:
            rows = self._rows(sql + " ORDER BY stored_at, source_sha256, page_index")
        else:
            rows = sorted(self._scan_rows(sql, submission_ids), key=lambda r: (r[3], r[5] or 0, r[1]))
        return [ScanPage(*r[:9], image=None if r[9] is None else bytes(r[9]), stored_at=r[10]) for r in rows]

    def scan_fields(self, submission_ids: Iterable[int] | None = None, crops: bool = True) -> list[ScanField]:
        sql = (f"SELECT submission_id, field_id, option, page, ink, decision, status, crop IS NOT NULL, "
               f"{'crop' if crops else 'NULL'} FROM scan_fields")
        rows = self._rows(sql) if submission_ids is None else self._scan_rows(sql, submission_ids)
        rows = sorted(rows, key=lambda r: (r[0], r[3], r[1], r[2]))
        return [ScanField(*r[:7], crop=None if r[8] is None else bytes(r[8]), has_crop=bool(r[7])) for r in rows]

    def _scan_rows(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        return self._rows(f"{sql} WHERE submission_id = ANY(%s)", ([int(i) for i in set(ids)],))

    def scan_waiting(self, limit: int | None = None, offset: int = 0) -> tuple[list[ScanField], int]:
        """Scanned fields of current submissions still waiting for a person (status not 'read', no
        review entered): every row (no crop) of ``limit`` such fields from ``offset`` on, in
        submission, page and field order, and how many such fields there are in all."""
        total = self._rows(SCAN_WAITING_COUNT)[0][0]
        rows = self._rows(scan_waiting_page("%s"), page_bounds(limit, offset))
        return [ScanField(*r[:7], has_crop=bool(r[7])) for r in rows], int(total)

    def add_scan_review(self, submission_id: int, field_id: str, value: Any) -> None:
        self._writing()
        self._db.execute("INSERT INTO scan_reviews (submission_id, field_id, value, actor, at) VALUES (%s, %s, %s, %s, %s)",
                         (submission_id, field_id, json.dumps(value, ensure_ascii=False), self.actor, now()))

    def scan_reviews(self) -> list[ScanReview]:
        rows = self._rows("SELECT submission_id, field_id, value, actor, at FROM scan_reviews ORDER BY id")
        return [ScanReview(r[0], r[1], None if r[2] is None else json.loads(r[2]), r[3], r[4]) for r in rows]

    # -- copying

    def columns(self, table: str) -> list[str]:
        _copy_table(table)
        return [r[0] for r in self._rows("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_schema = current_schema() AND table_name = %s "
                                         "ORDER BY ordinal_position", (table,))]

    def table_rows(self, table: str, columns: list[str], keys: tuple[str, ...]) -> Iterator[tuple]:
        """Every row in key order (text keys in byte order, as SQLite sorts), fetched a few hundred at a time."""
        _copy_table(table)
        text = {r[0] for r in self._rows("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_schema = current_schema() AND table_name = %s "
                                         "AND data_type = 'text'", (table,))}
        order = ", ".join(f'{k} COLLATE "C"' if k in text else k for k in keys)
        if self._snapshot:  # the snapshot's own transaction can hold the cursor: its rows, not newer ones
            with self._db.cursor(name=f"copy_rows_{table}") as cursor:
                cursor.itersize = 200
                cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                yield from cursor  # psycopg 3 loads bytea as bytes, as SQLite gives a BLOB
            return
        reader = self._db.__class__.connect(self.url, autocommit=False, connect_timeout=CONNECT_TIMEOUT,
                                            application_name="portfolio copy")
        try:
            with reader.cursor(name="copy_rows") as cursor:
                cursor.itersize = 200
                cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                yield from cursor  # psycopg 3 loads bytea as bytes, as SQLite gives a BLOB
        finally:
            reader.close()

    def insert_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        self._writing(chained=False)  # rows and their ledger entries are copied as they are
        _copy_table(table)
        marks = ", ".join(["%s"] * len(columns))
        with self._db.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def after_copy(self) -> None:
        """Rows came with their ids: move each id sequence past the largest one."""
        with self.transaction():
            for table in ("submissions", "audit_log", "scan_reviews"):
                self._db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")

    # -- the tamper-evident ledger

    def submission(self, submission_id: int) -> SubmissionRow | None:
        rows = self._rows(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions s WHERE s.id = %s", (submission_id,))
        return _submission(rows[0]) if rows else None

    def audit_entry(self, entry_id: int) -> AuditEntry | None:
        rows = self._rows("SELECT id, at, action, actor, filename, sha256, instance_id, submission_id, detail "
                          "FROM audit_log WHERE id = %s", (entry_id,))
        return AuditEntry(*rows[0]) if rows else None

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
        return [ChainEntry(*r) for r in self._rows(f"{self._LEDGER} ORDER BY seq")]

    def ledger_tail(self) -> ChainEntry | None:
        rows = self._rows(f"{self._LEDGER} ORDER BY seq DESC LIMIT 1")
        return ChainEntry(*rows[0]) if rows else None

    def ledger_first(self) -> ChainEntry | None:
        rows = self._rows(f"{self._LEDGER} ORDER BY seq LIMIT 1")
        return ChainEntry(*rows[0]) if rows else None

    def ledger_covers(self, seq: int) -> str | None:
        rows = self._rows("SELECT covers FROM ledger WHERE seq = %s", (seq,))
        return rows[0][0] if rows else None

    def chained_counts(self) -> dict[str, int]:
        return {kind: self._rows(f"SELECT COUNT(*) FROM {table}")[0][0]
                for kind, table in (("submission", "submissions"), ("audit", "audit_log"),
                                    ("issued", "packs_issued"))}

    def ledger_kinds(self) -> dict[str, int]:
        return dict(self._rows("SELECT kind, COUNT(*) FROM ledger GROUP BY kind"))

    def guard_problems(self) -> list[str]:
        """The triggers that guard the store, where any is missing or disabled, or its function no
        longer refuses (someone changed the schema outside the tool)."""
        present = {(name, table): enabled for name, table, enabled in self._rows(
            "SELECT t.tgname, c.relname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace")}
        problems = []
        missing = [name for name, table in _GUARDS if (name, table) not in present]
        if missing:
            problems.append(f"the store's guard trigger {missing[0]} is missing"
                            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                            + ": it was dropped outside the tool")
        disabled = [name for name, table in _GUARDS if present.get((name, table)) == "D"]
        if disabled:
            problems.append(f"the store's guard trigger {disabled[0]} is disabled"
                            + (f" (and {len(disabled) - 1} more)" if len(disabled) > 1 else "")
                            + ": it was switched off outside the tool")
        sources = dict(self._rows("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s) "
                                  "AND pronamespace = current_schema()::regnamespace", (list(_GUARD_FUNCTIONS),)))
        for name in _GUARD_FUNCTIONS:
            if "RAISE EXCEPTION" not in (sources.get(name) or ""):
                problems.append(f"the store's guard function {name} no longer refuses changes: "
                                "it was replaced outside the tool")
        return problems


def _copy_table(table: str) -> None:
    if table not in {t for t, _ in COPY_TABLES}:
        raise StoreError(f"{table}: not a table a store copy carries")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
