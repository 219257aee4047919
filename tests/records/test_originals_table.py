"""SQLite keeps the returned files (``originals``) in a rowid table (schema 7): a store made with the
WITHOUT ROWID table of schemas 4 to 6 is upgraded with every file's bytes as they were, and the
table keeps its guards (no update, no delete, no replace)."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from generator.records import sqlite as sqlite_module
from generator.records.connect import open_store
from generator.records.store import StoreError, verify_chain

from .test_store import submission

ZOE = b"%PDF-1.7 zoe's returned copy \x00\xff" * 1000
ROWID_SCHEMA = 7


def table_sql(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'originals'").fetchone()[0]


def test_a_new_store_keeps_originals_in_a_rowid_table(tmp_path):
    path = tmp_path / "records.sqlite"
    with open_store(str(path)):
        pass
    assert "WITHOUT ROWID" not in table_sql(path).upper()


def test_a_store_of_schema_6_is_upgraded_with_its_files_unchanged_and_guarded(tmp_path):
    path = tmp_path / "records.sqlite"
    sha = hashlib.sha256(ZOE).hexdigest()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(sqlite_module, "MIGRATIONS", {v: s for v, s in sqlite_module.MIGRATIONS.items() if v < ROWID_SCHEMA})
        m.setattr(sqlite_module, "SCHEMA_VERSION", ROWID_SCHEMA - 1)
        with open_store(str(path)) as store:
            with store.transaction():
                store.add_submission(submission(sha=sha, data=ZOE), 1, None)
            assert store.schema_version() == ROWID_SCHEMA - 1
    assert "WITHOUT ROWID" in table_sql(path).upper()

    with open_store(str(path)) as store:
        assert store.schema_version() == ROWID_SCHEMA
        assert store.original(sha) == ZOE
        assert store.originals_size() == (1, len(ZOE))
        assert store.guard_problems() == []
        assert verify_chain(store).ok
        for statement, refusal in [
            ("UPDATE originals SET data = x'00'", "originals is append-only: rows are never changed"),
            ("DELETE FROM originals", "originals is append-only: rows are never deleted"),
            ("INSERT OR REPLACE INTO originals VALUES (?, 1, x'00', 'now')",
             "originals is append-only: a row with this sha256 exists and is never replaced"),
        ]:
            with pytest.raises(StoreError, match=refusal):
                with store.transaction():
                    store._db.execute(statement, (sha,) if "?" in statement else ())
        assert store.original(sha) == ZOE
    assert "WITHOUT ROWID" not in table_sql(path).upper()
