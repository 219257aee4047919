"""The store's guarantees, table by table, taken from the schema itself (not from a list in the code).

A table added later is covered without editing this file: every table the schema creates must hold a
row in the fixture below, refuse UPDATE, DELETE and REPLACE from any connection, and be counted.
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
from generator.records.store import ReturnToken, ScanField, ScanPage, User
from tests.hostile import VALID_NHS_NUMBER

NOTES = "final_review.review.self_assessment"
#: Reading limits for these tests: the same caps, with time for a busy machine (a hang is still bounded).
SLOW_MACHINE = Limits(seconds=600)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, pdf_path) -> dict:
    """A store holding one copy of each kind of row: a submission with values, a warning and an
    identifier flag, an unmapped-free definition, an issued pack, audit entries."""
    folder = tmp_path_factory.mktemp("guarantees")
    copy = folder / "zoe.pdf"
    copy.write_bytes(fill_pdf(pdf_path.read_bytes(), {
        "cover.details.name": "Zoë Łukasiewicz", "cover.details.start_date": "next spring",  # a warning
        NOTES: f"Saw the patient, NHS {VALID_NHS_NUMBER}."}))  # an identifier flag
    register = folder / "issued.csv"
    register.write_text("instance_id,learner,practice,pcn\n00000000-0000-4000-8000-000000000001,Zoë,A,b\n",
                        encoding="utf-8")
    (folder / "junk.txt").write_text("not a pack")  # a rejection in the audit log
    store_file = folder / "records.sqlite"
    with open_store(store_file) as store:
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
    return {"store": store_file, "copy": copy}


def tables(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def snapshot(db: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables(db)}


@pytest.fixture
def raw(filled):
    db = sqlite3.connect(filled["store"], isolation_level=None)
    yield db
    db.close()


def test_the_schema_has_the_tables_this_file_was_written_for(raw):
    assert set(tables(raw)) >= {"schema_version", "definitions", "packs_issued", "submissions", "field_values",
                                "warnings", "audit_log", "identifier_flags"}


def test_every_table_holds_a_row_so_each_check_below_bites(raw):
    empty = [t for t in tables(raw) if raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0]
    assert empty == [], "add a row of these to the fixture"


def _first_column(db: sqlite3.Connection, table: str) -> str:
    return db.execute(f"PRAGMA table_info({table})").fetchone()[1]


def _each_table():
    # the list is read from a store made now, so a new migration's tables are checked too
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        with open_store(Path(folder) / "s.sqlite"):
            pass
        db = sqlite3.connect(Path(folder) / "s.sqlite")
        names = tables(db)
        db.close()
    return names


# Still to come with the tamper-evident store (issue 16): REPLACE / INSERT OR REPLACE refused (SQLite
# deletes the old row without firing delete triggers) and schema_version guarded. Add "replace" and
# "replace into" here, and drop the exception for schema_version, when that lands.
CHANGES = ["update", "delete"]
UNGUARDED = {"schema_version"}
#: Account state changes by design (disabled, failed sign-ins, lock time): a user is never deleted, only updated.
MUTABLE = {("users", "update")}
REFUSAL = {"users": "users are never deleted: disable the account instead"}


@pytest.mark.parametrize("table, change", [(t, c) for t in _each_table() if t not in UNGUARDED
                                           for c in CHANGES if (t, c) not in MUTABLE])
def test_every_table_refuses_changes_from_any_connection(raw, table, change):
    column = _first_column(raw, table)
    sql = {"update": f"UPDATE {table} SET {column} = {column}",
           "delete": f"DELETE FROM {table}",
           "replace": f"INSERT OR REPLACE INTO {table} SELECT * FROM {table}",
           "replace into": f"REPLACE INTO {table} SELECT * FROM {table}"}[change]
    before = snapshot(raw)
    raw.execute("BEGIN")  # rolled back whatever happens, so one missing guard cannot spoil the other cases
    try:
        with pytest.raises(sqlite3.DatabaseError, match=REFUSAL.get(table, "append-only")):
            raw.execute(sql)
        assert snapshot(raw) == before
    finally:
        raw.execute("ROLLBACK")


def test_every_table_but_the_schema_version_is_counted(filled, raw):
    with open_store(filled["store"], create=False) as store:
        counts = store.counts()
    expected = {t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables(raw)
                if t != "schema_version"}
    assert counts == expected
    assert counts["identifier_flags"] == 1 and counts["submissions"] == 1 and counts["warnings"] >= 1


def test_the_stored_hash_is_the_sha256_of_the_file_on_disk(filled):
    digest = hashlib.sha256(filled["copy"].read_bytes()).hexdigest()
    with open_store(filled["store"], create=False) as store:
        [submission] = store.submissions()
        assert submission.sha256 == digest
        assert store.known_hashes() == {digest: submission.id}
        assert [e.sha256 for e in store.audit() if e.filename == "zoe.pdf"] == [digest]
        rejected = next(e for e in store.audit() if e.filename == "junk.txt")
        assert rejected.sha256 == hashlib.sha256(b"not a pack").hexdigest()
