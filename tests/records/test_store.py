"""The records store as data: schema, migrations, transactions, uniqueness, round trips."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from generator.errors import PortfolioError
from generator.records import postgres as pg_module
from generator.records import sqlite as store_module
from generator.records.connect import describe_store, open_store, store_location
from generator.records.sqlite import SCHEMA_VERSION
from generator.records.store import (
    Definition,
    FieldValue,
    IssuedPack,
    NewSubmission,
    StoreError,
    store_path,
)
from tests.pg import raw_execute, raw_query

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
def store(store_location):
    with open_store(store_location) as s:
        yield s


def engine(store) -> str:
    return "postgresql" if store.path.startswith("postgresql://") else "sqlite"


def module_of(location: str):
    return pg_module if location.startswith("postgresql://") else store_module


def test_a_new_store_has_the_schema_in_wal_mode(tmp_path):
    with open_store(tmp_path / "r.sqlite") as store:
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


def test_a_new_server_store_has_the_same_tables_and_columns(tmp_path, pg_url):
    with open_store(tmp_path / "r.sqlite"), open_store(pg_url) as store:
        assert store.schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / "r.sqlite")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}
    columns = {(t, r[1]) for t in tables for r in db.execute(f"PRAGMA table_info({t})")}
    db.close()
    assert raw_query(pg_url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()") \
        == [(len(tables),)]
    assert set(raw_query(pg_url, "SELECT table_name, column_name FROM information_schema.columns "
                                 "WHERE table_schema = current_schema()")) == columns


def test_both_engines_have_the_same_schema_versions():
    assert pg_module.SCHEMA_VERSION == store_module.SCHEMA_VERSION
    assert set(pg_module.MIGRATIONS) == set(store_module.MIGRATIONS)


def test_reopening_does_not_migrate_again(store_location):
    with open_store(store_location) as first:
        with first.transaction():
            first.add_submission(submission(), 1, None)
    with open_store(store_location) as again:
        assert again.schema_version() == SCHEMA_VERSION and len(again.submissions()) == 1
    assert raw_query(store_location, "SELECT COUNT(*) FROM schema_version") == [(SCHEMA_VERSION,)]


def test_migrations_apply_in_order_up_to_the_newest(store_location, monkeypatch):
    with open_store(store_location):
        pass
    module = module_of(store_location)
    monkeypatch.setattr(module, "MIGRATIONS", {**module.MIGRATIONS,
                                               SCHEMA_VERSION + 1: ("CREATE TABLE notes (id INTEGER)",)})
    monkeypatch.setattr(module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with open_store(store_location) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION + 1
    assert raw_query(store_location, "SELECT COUNT(*) FROM notes") == [(0,)]


def test_a_store_from_a_newer_tool_is_refused_and_left_alone(store_location):
    with open_store(store_location):
        pass
    raw_execute(store_location, "INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(StoreError, match=rf"made by a newer version of this tool \(schema 99, this tool knows "
                                         rf"{SCHEMA_VERSION}\); upgrade the tool"):
        open_store(store_location)
    assert raw_query(store_location, "SELECT COUNT(*) FROM schema_version") == [(SCHEMA_VERSION + 1,)]


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
    expected = {"sqlite": "submissions is append-only: a row with this sha256 exists",
                "postgresql": 'duplicate key value violates unique constraint "submissions_sha256_key"'}
    with pytest.raises(StoreError, match=expected[engine(store)]) as info:
        with store.transaction():
            store.add_submission(submission(instance="i-2"), 1, None)
    assert "IntegrityError" in [c.__name__ for c in type(info.value.__cause__).__mro__]
    assert len(store.submissions()) == 1


def test_an_instance_has_one_submission_per_version(store):
    with store.transaction():
        store.add_submission(submission(), 1, None)
    expected = {"sqlite": "submissions is append-only: a row with this instance_id, version exists",
                "postgresql": 'duplicate key value violates unique constraint "submissions_instance_id_version_key"'}
    with pytest.raises(StoreError, match=expected[engine(store)]):
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
        assert store.add_issued([pack, pack], source="2026-autumn/issued.csv") == 1
    with store.transaction():
        assert store.add_issued([pack], source="2026-autumn/issued.csv") == 0
    assert store.issued() == [dataclasses.replace(pack, source="2026-autumn/issued.csv")]
    assert store.issued()[0].cohort == "2026-autumn"  # the register's folder: the cohort 'issue' wrote it for


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


def test_reading_commands_do_not_create_a_store_on_a_server(pg_url):
    with pytest.raises(StoreError, match="/t_[0-9a-f]+: no records store here; run 'portfolio ingest' first"):
        open_store(pg_url, create=False)
    assert raw_query(pg_url, "SELECT COUNT(*) FROM information_schema.tables "
                             "WHERE table_schema = current_schema()") == [(0,)]


def test_store_locations_keep_urls_whole_and_never_show_the_password(monkeypatch):
    monkeypatch.setenv("PORTFOLIO_STORE", "postgresql://ann:s3cret@db.example:5433/records")
    assert store_location() == "postgresql://ann:s3cret@db.example:5433/records"
    assert describe_store() == "postgresql://ann@db.example:5433/records"
    assert store_location("sqlite:///records.sqlite") == "records.sqlite"
    assert store_location("sqlite:////srv/records.sqlite") == "/srv/records.sqlite"
    monkeypatch.delenv("PORTFOLIO_STORE")
    assert store_location() == "records.sqlite"


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "bad.sqlite").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path / "bad.sqlite")
    assert str(caught.value) == (f"{tmp_path / 'bad.sqlite'}: cannot be opened as a records store (file is not a "
                                 "database): check that --store names the store 'portfolio ingest' made, not another "
                                 "file; if it does, the store is damaged: restore it from a backup")
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
    assert [v.field_id for v in values[1200]] == [v.field_id for v in submission().values]
    assert len(values) == 1200 and all(len(v) == 5 for v in values.values())
    assert set(store.warnings([5, 6, 99999])) == {5, 6}
    # scanned pages and marks of more copies than one query asks for (500 a query): every chunk's rows
    from generator.records.store import ScanField, ScanPage
    with store.transaction():
        store.add_scan_fields([ScanField(n, "a.f", "", 1, 0.5, "ticked", "read") for n in (1, 600, 1200)])
        for n in (1, 600, 1200):
            store.add_scan_page(ScanPage("s" * 64, n, "scan.pdf", n, f"i-{n}", 1, 300.0, 0.1, ""))
    assert [f.submission_id for f in store.scan_fields(range(1, 1201))] == [1, 600, 1200]
    assert [p.submission_id for p in store.scan_pages(range(1, 1201))] == [1, 600, 1200]


def test_a_full_disk_rolls_the_transaction_back_and_says_what_to_do(store_location):
    """SQLite's page limit and a PostgreSQL trigger raising disk_full give the engines' own full-disk errors."""
    with open_store(store_location) as store:
        with store.transaction():
            store.add_audit("register", detail="before")
        if store_location.startswith("postgresql://"):
            raw_execute(store_location, "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                        "RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$")
            raw_execute(store_location, "CREATE TRIGGER disk_full BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE "
                                        "FUNCTION disk_full()")
            expected = (f"{store.path}: the database server's disk is full; the transaction was rolled back, nothing "
                        "of it was kept: ask the database server's administrator to free some space on it, then run "
                        "the command again")
        else:
            pages = store._db.execute("PRAGMA page_count").fetchone()[0]
            store._db.execute(f"PRAGMA max_page_count = {pages}")
            expected = (f"{store.path}: the disk is full; the transaction was rolled back, nothing of it was kept: "
                        "free some space on that disk (or use another one), then run the command again")
        with pytest.raises(StoreError) as caught:
            with store.transaction():
                store.add_audit("register", detail="x" * 100_000)
        assert str(caught.value) == expected
        assert [a.detail for a in store.audit()] == ["before"]


def test_a_store_that_cannot_be_opened_for_a_full_disk_says_so(tmp_path, monkeypatch):
    """Opening writes (the WAL file, an upgrade): SQLite's full-disk error there gets the same advice."""
    def full(*args, **kwargs):
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise exc

    monkeypatch.setattr(store_module.sqlite3, "connect", full)
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path / "r.sqlite")
    assert str(caught.value) == (f"{tmp_path / 'r.sqlite'}: cannot be opened as a records store: the disk is full; "
                                 "nothing was changed: free some space on that disk (or use another one), then run "
                                 "the command again")
