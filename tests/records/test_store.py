"""The records store as data: schema, migrations, transactions, uniqueness, round trips."""

from __future__ import annotations

import sqlite3

import pytest

from generator.errors import PortfolioError
from generator.records import sqlite as store_module
from generator.records.connect import open_store
from generator.records.sqlite import SCHEMA_VERSION
from generator.records.store import (
    Definition,
    FieldValue,
    IssuedPack,
    NewSubmission,
    StoreError,
    store_path,
)

FIELDS = [
    {"id": "cover.details.name", "kind": "text", "label": "Cover: Name", "options": []},
    {"id": "competencies.a.x.achieved", "kind": "checkbox", "label": "A: X: Achieved", "options": []},
    {"id": "patient_feedback.ratings.respect", "kind": "choice", "label": "Patient feedback: Respect?",
     "options": [{"value": v, "label": v.title()} for v in ("very_happy", "happy", "unsure", "unhappy",
                                                            "very_unhappy")]},
    {"id": "cover.details.start_date", "kind": "date", "label": "Cover: Start date", "options": []},
]
DEFINITION = Definition("d" * 64, "care-coordination-portfolio", None, "care-coordination-portfolio", "1.0.0",
                        "h" * 64, FIELDS)


def submission(sha: str = "a" * 64, instance: str = "i-1", **changes) -> NewSubmission:
    base = dict(
        sha256=sha, filename="zoe.pdf", size=123, format="pdf", editor="Adobe Acrobat", instance_id=instance,
        pack_id="care-coordination-portfolio", part=None, content_id="care-coordination-portfolio",
        content_version="1.0.0", content_hash="h" * 64, generator_version="0.1.0", definition=DEFINITION,
        learner_key='["riverside-pcn", "riverside surgery", "zoë"]', learner_name="Zoë", practice="Riverside Surgery",
        pcn="riverside-pcn", pcn_name="Riverside PCN", learner={"name": "Zoë"}, pcn_facts={"slug": "riverside-pcn"},
        values=[FieldValue("cover.details.name", "read", "Zoë Łukasiewicz"),
                FieldValue("competencies.a.x.achieved", "read", True),
                FieldValue("patient_feedback.ratings.respect", "read", "happy", 2),
                FieldValue("cover.details.start_date", "missing", None),
                FieldValue("cover.details.extra", "unmapped", "kept")],
        warnings=[("cover.details.extra", "cover.details.extra: not in the pack's field definitions"),
                  (None, "1 field(s) of the pack are missing from the copy: cover.details.start_date")])
    base.update(changes)
    return NewSubmission(**base)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "r.sqlite") as s:
        yield s


def test_a_new_store_has_the_schema_in_wal_mode(store, tmp_path):
    assert store.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "r.sqlite")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "definitions", "packs_issued", "submissions", "field_values", "warnings",
            "audit_log"} <= tables
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    columns = {r[1] for r in db.execute("PRAGMA table_info(submissions)")}
    assert {"sha256", "filename", "format", "editor", "ingested_at", "instance_id", "content_version", "version",
            "supersedes"} <= columns
    db.close()


def test_reopening_does_not_migrate_again(tmp_path):
    with open_store(tmp_path / "r.sqlite") as first:
        with first.transaction():
            first.add_submission(submission(), 1, None)
    with open_store(tmp_path / "r.sqlite") as again:
        assert again.schema_version() == SCHEMA_VERSION and len(again.submissions()) == 1
    db = sqlite3.connect(tmp_path / "r.sqlite")
    assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_migrations_apply_in_order_up_to_the_newest(tmp_path, monkeypatch):
    with open_store(tmp_path / "r.sqlite"):
        pass
    monkeypatch.setattr(store_module, "MIGRATIONS", {**store_module.MIGRATIONS,
                                                     SCHEMA_VERSION + 1: ("CREATE TABLE notes (id INTEGER)",)})
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with open_store(tmp_path / "r.sqlite") as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION + 1


def test_a_store_from_a_newer_tool_is_refused(tmp_path):
    with open_store(tmp_path / "r.sqlite"):
        pass
    db = sqlite3.connect(tmp_path / "r.sqlite")
    db.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 5,))
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="made by a newer version of this tool"):
        open_store(tmp_path / "r.sqlite")


def test_round_trip_keeps_types_order_positions_and_warnings(store):
    with store.transaction():
        sid = store.add_submission(submission(), 1, None)
    [row] = store.submissions()
    assert (row.id, row.version, row.supersedes, row.superseded_by, row.current) == (sid, 1, None, None, True)
    assert row.learner == {"name": "Zoë"} and row.pcn_facts == {"slug": "riverside-pcn"}
    assert store.values() == {sid: submission().values}
    assert store.warnings() == {sid: [m for _, m in submission().warnings]}
    assert store.definitions() == {DEFINITION.id: DEFINITION}
    assert store.known_hashes() == {"a" * 64: sid}


def test_the_same_file_cannot_be_stored_twice(store):
    with store.transaction():
        store.add_submission(submission(), 1, None)
    with pytest.raises(StoreError, match="UNIQUE constraint failed: submissions.sha256") as info:
        with store.transaction():
            store.add_submission(submission(instance="i-2"), 1, None)
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert len(store.submissions()) == 1


def test_an_instance_has_one_submission_per_version(store):
    with store.transaction():
        store.add_submission(submission(), 1, None)
    with pytest.raises(StoreError, match="instance_id, submissions.version"):
        with store.transaction():
            store.add_submission(submission(sha="b" * 64), 1, None)


def test_a_failed_transaction_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_submission(submission(), 1, None)
            store.add_audit("ingested", filename="zoe.pdf")
            raise RuntimeError("stop")
    assert all(n == 0 for n in store.counts().values())


def test_writes_need_a_transaction_and_transactions_do_not_nest(store):
    with pytest.raises(StoreError, match="outside a transaction"):
        store.add_submission(submission(), 1, None)
    with pytest.raises(StoreError, match="do not nest"):
        with store.transaction():
            with store.transaction():
                pass
    assert issubclass(StoreError, PortfolioError)


def test_superseded_versions_link_to_each_other_and_only_the_last_is_current(store):
    with store.transaction():
        first = store.add_submission(submission(), 1, None)
    with store.transaction():
        second = store.add_submission(submission(sha="b" * 64), 2, first)
    assert [s.id for s in store.submissions()] == [second]
    old, new = store.submissions(current_only=False)
    assert (old.superseded_by, old.current, new.supersedes) == (second, False, first)
    assert [s.version for s in store.instance_submissions("i-1")] == [1, 2]


def test_issued_packs_are_added_once(store):
    pack = IssuedPack("i-1", "pack", "Zoë", "Riverside Surgery", "riverside-pcn", "Dr A", "Ms B", "2026-09-01", "",
                      "build/z.pdf", "care-coordination-portfolio", "1.0.0", "2026-08-01", "key")
    with store.transaction():
        assert store.add_issued([pack, pack], source="issued.csv") == 1
    with store.transaction():
        assert store.add_issued([pack], source="issued.csv") == 0
    assert store.issued() == [pack]


def test_audit_log_records_who_and_when(store):
    with store.transaction():
        store.add_audit("rejected", filename="x.txt", sha256="c" * 64, detail="is not a PDF or Word (.docx) file")
    [entry] = store.audit()
    assert (entry.action, entry.filename, entry.detail) == ("rejected", "x.txt", "is not a PDF or Word (.docx) file")
    assert entry.actor and entry.at.endswith("+00:00")


def test_reading_commands_do_not_create_a_store(tmp_path):
    with pytest.raises(StoreError, match="no records store here; run 'portfolio ingest' first"):
        open_store(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "bad.sqlite").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="cannot be opened as a records store"):
        open_store(tmp_path / "bad.sqlite")
    with pytest.raises(StoreError, match="the folder does not exist"):
        open_store(tmp_path / "missing" / "r.sqlite")


def test_store_path_option_beats_environment_beats_default(monkeypatch, tmp_path):
    monkeypatch.delenv("PORTFOLIO_STORE", raising=False)
    assert str(store_path()) == "records.sqlite"
    monkeypatch.setenv("PORTFOLIO_STORE", str(tmp_path / "env.sqlite"))
    assert store_path() == tmp_path / "env.sqlite"
    assert store_path(tmp_path / "opt.sqlite") == tmp_path / "opt.sqlite"


def test_many_submissions_are_read_back_in_chunks(store):
    with store.transaction():
        for n in range(1200):
            store.add_submission(submission(sha=f"{n:064d}", instance=f"i-{n}"), 1, None)
    values = store.values(range(1, 1201))
    assert len(values) == 1200 and all(len(v) == 5 for v in values.values())
    assert set(store.warnings([5, 6, 99999])) == {5, 6}
