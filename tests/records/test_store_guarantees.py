"""The store's guarantees, table by table, taken from the schema itself (not from a list in the code).

A table added later is covered without editing this file: every table the schema creates must hold a
row in the fixture below, refuse UPDATE, DELETE and REPLACE (on PostgreSQL: upsert) from any
connection, and be counted. On both engines.
The hash the store keeps for a file is compared with ``hashlib.sha256`` of the bytes on disk.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from generator.formats.pdf.fill import fill_pdf
from generator.reading.sandbox import Limits
from generator.records.connect import open_store
from generator.records.ingest import ingest
from generator.records.store import ReturnToken, ScanField, ScanPage, User, verify_chain
from tests.hostile import VALID_NHS_NUMBER
from tests.pg import ENGINES

NOTES = "final_review.review.self_assessment"
#: Reading limits for these tests: the same caps, with time for a busy machine (a hang is still bounded).
SLOW_MACHINE = Limits(seconds=600)


@pytest.fixture(scope="module", params=ENGINES)
def filled(request, tmp_path_factory, pdf_path) -> dict:
    """A store holding one copy of each kind of row: a submission with values, a warning and an
    identifier flag, an unmapped-free definition, an issued pack, audit entries, a ledger, a web
    account and a return link; on each engine."""
    folder = tmp_path_factory.mktemp("guarantees")
    copy = folder / "zoe.pdf"
    copy.write_bytes(fill_pdf(pdf_path.read_bytes(), {
        "cover.details.name": "Zoë Łukasiewicz", "cover.details.start_date": "next spring",  # a warning
        NOTES: f"Saw the patient, NHS {VALID_NHS_NUMBER}."}))  # an identifier flag
    register = folder / "issued.csv"
    register.write_text("instance_id,learner,practice,pcn\n00000000-0000-4000-8000-000000000001,Zoë,A,b\n",
                        encoding="utf-8")
    (folder / "junk.txt").write_text("not a pack")  # a rejection in the audit log
    if request.param == "sqlite":
        location = str(folder / "records.sqlite")
    else:
        server = request.getfixturevalue("pg_server")
        location = server.url(server.new_database())
    with open_store(location) as store:
        result = ingest([copy, folder / "junk.txt"], store, jobs=1, registers=[register],
                        limits=SLOW_MACHINE)
        # the web app's tables: an account and a learner's return link
        with store.transaction():
            store.add_user(User("assessor@example.org", "provider", None,
                                "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"))
            store.add_return_token(ReturnToken("b" * 64, "00000000-0000-4000-8000-000000000001",
                                               "2027-01-31T00:00:00+00:00", "assessor@example.org",
                                               "2026-12-01T00:00:00+00:00"))
        # paper returns: an issued copy's layout, a scanned page, a mark and a person's entry for it
        sid = next(o.submission_id for o in result.files if o.status == "new")
        definition = next(iter(store.definitions().values()))
        with store.transaction():
            store.add_issued_definition("00000000-0000-4000-8000-000000000001", definition,
                                        [{"width": 595.276, "height": 841.89}])
            store.add_scan_page(ScanPage("c" * 64, 1, "scan.pdf", sid, "00000000-0000-4000-8000-000000000001", 1,
                                         200.0, 0.1, "", None))
            store.add_scan_fields([ScanField(sid, NOTES, "", 1, 0.02, "written", "needs transcription", b"png")])
            store.add_scan_review(sid, NOTES, "Typed from the scan")
    assert sorted(o.status for o in result.files) == ["new", "rejected"]
    return {"store": location, "copy": copy}


class Raw:
    """The store's database opened as anyone could (sqlite3 or psycopg, none of the tool's code)."""

    def __init__(self, location: str):
        self.pg = location.startswith("postgresql://")
        if self.pg:
            import psycopg
            self.db = psycopg.connect(location, autocommit=True)
            self.errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        else:
            self.db = sqlite3.connect(location, isolation_level=None)
            self.errors = (sqlite3.DatabaseError,)

    def execute(self, sql: str) -> list[tuple]:
        cursor = self.db.execute(sql)
        return cursor.fetchall() if cursor.description else []

    def tables(self) -> list[str]:
        if self.pg:
            return sorted(r[0] for r in self.execute("SELECT table_name FROM information_schema.tables "
                                                     "WHERE table_schema = current_schema()"))
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def columns(self, table: str) -> list[str]:
        if self.pg:
            return [r[0] for r in self.execute("SELECT column_name FROM information_schema.columns WHERE "
                                               f"table_schema = current_schema() AND table_name = '{table}' "
                                               "ORDER BY ordinal_position")]
        return [r[1] for r in self.execute(f"PRAGMA table_info({table})")]

    def key(self, table: str) -> list[str]:
        """The primary key's columns (what a REPLACE or an upsert conflicts on)."""
        if self.pg:
            return [r[0] for r in self.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                f"AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '{table}'::regclass AND i.indisprimary")]
        return [r[1] for r in sorted(self.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5]]

    def snapshot(self) -> dict[str, list[tuple]]:
        return {t: sorted(self.execute(f"SELECT * FROM {t}"), key=repr) for t in self.tables()}

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def raw(filled):
    db = Raw(filled["store"])
    yield db
    db.close()


def test_the_schema_has_the_tables_this_file_was_written_for(raw):
    assert set(raw.tables()) >= {"schema_version", "definitions", "packs_issued", "submissions", "field_values",
                                 "warnings", "audit_log", "identifier_flags", "ledger"}


def test_every_table_holds_a_row_so_each_check_below_bites(raw):
    empty = [t for t in raw.tables() if raw.execute(f"SELECT COUNT(*) FROM {t}")[0][0] == 0]
    assert empty == [], "add a row of these to the fixture"


def _each_table():
    # the list is read from a store made now, so a new migration's tables are checked too
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        with open_store(Path(folder) / "s.sqlite"):
            pass
        db = Raw(str(Path(folder) / "s.sqlite"))
        names = db.tables()
        db.close()
    return names


#: REPLACE / INSERT OR REPLACE (SQLite deletes the old row without firing delete triggers) and,
#: on PostgreSQL, INSERT … ON CONFLICT DO UPDATE and MERGE. Every table, schema_version too.
CHANGES = ["update", "delete", "replace", "replace into"]
#: Account state changes by design (disabled, failed sign-ins, lock time): a user is never deleted, only updated.
MUTABLE = {("users", "update")}
REFUSAL = {"users": "users are never deleted: disable the account instead"}


def _statement(raw: Raw, table: str, change: str) -> str | None:
    column = raw.columns(table)[0]
    if change == "update":
        return f"UPDATE {table} SET {column} = {column}"
    if change == "delete":
        return f"DELETE FROM {table}"
    if not raw.pg:
        verb = "INSERT OR REPLACE" if change == "replace" else "REPLACE"
        return f"{verb} INTO {table} SELECT * FROM {table}"
    key = raw.key(table)
    others = [c for c in raw.columns(table) if c not in key] or key
    if change == "replace into":  # PostgreSQL 15's MERGE, its other way to rewrite rows in place
        on = " AND ".join(f"t.{c} = s.{c}" for c in key)
        sets = ", ".join(f"{c} = s.{c}" for c in others if c not in key) or f"{key[0]} = s.{key[0]}"
        return f"MERGE INTO {table} t USING {table} s ON {on} WHEN MATCHED THEN UPDATE SET {sets}"
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in others)
    return f"INSERT INTO {table} SELECT * FROM {table} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"


@pytest.mark.parametrize("table, change", [(t, c) for t in _each_table() for c in CHANGES if (t, c) not in MUTABLE])
def test_every_table_refuses_changes_from_any_connection(raw, table, change):
    sql = _statement(raw, table, change)
    before = raw.snapshot()
    if raw.pg and table == "users" and change.startswith("replace"):
        # PostgreSQL's upsert and MERGE rewrite a row in place: an update, which accounts allow by design.
        # Unlike SQLite's REPLACE they never delete the row first, so nothing of the accounts is lost.
        raw.execute("BEGIN")
        try:
            raw.execute(sql)
            assert raw.snapshot() == before
        finally:
            raw.execute("ROLLBACK")
        return
    raw.execute("BEGIN")  # rolled back whatever happens, so one missing guard cannot spoil the other cases
    try:
        with pytest.raises(raw.errors, match=REFUSAL.get(table, "append-only")):
            raw.execute(sql)
    finally:
        raw.execute("ROLLBACK")
    assert raw.snapshot() == before


def test_every_table_but_the_schema_version_and_the_ledger_is_counted(filled, raw):
    with open_store(filled["store"], create=False) as store:
        counts = store.counts()
    expected = {t: raw.execute(f"SELECT COUNT(*) FROM {t}")[0][0] for t in raw.tables()
                if t not in ("schema_version", "ledger")}
    assert counts == expected
    assert counts["identifier_flags"] == 1 and counts["submissions"] == 1 and counts["warnings"] >= 1


def test_the_filled_store_verifies_and_its_ledger_seals_every_row(filled, raw):
    with open_store(filled["store"], create=False) as store:
        result = verify_chain(store)
    assert result.ok, result.problems
    kinds = dict(raw.execute("SELECT kind, COUNT(*) FROM ledger GROUP BY kind"))
    assert kinds == {"submission": 1, "issued": 1,
                     "audit": raw.execute("SELECT COUNT(*) FROM audit_log")[0][0]}


def test_the_stored_hash_is_the_sha256_of_the_file_on_disk(filled):
    digest = hashlib.sha256(filled["copy"].read_bytes()).hexdigest()
    with open_store(filled["store"], create=False) as store:
        [submission] = store.submissions()
        assert submission.sha256 == digest
        assert store.known_hashes() == {digest: submission.id}
        assert [e.sha256 for e in store.audit() if e.filename == "zoe.pdf"] == [digest]
        rejected = next(e for e in store.audit() if e.filename == "junk.txt")
        assert rejected.sha256 == hashlib.sha256(b"not a pack").hexdigest()
