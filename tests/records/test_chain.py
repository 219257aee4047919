"""Tamper evidence, on both engines: the SHA-256 ledger over submissions, issued packs and audit
entries, 'portfolio store verify', the tail check before every write, the seal of a store made
before the ledger, and several writers at once."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.records.connect import describe_store, open_store
from generator.records.copy import copy_store
from generator.records.store import GENESIS, IssuedPack, StoreError, link_hash, verify_chain
from tests.pg import raw_execute, raw_query

from .test_store import module_of, submission

PACK = IssuedPack("i-1", "pack", "Zoë", "Riverside Surgery", "riverside-pcn", "Dr A", "Ms B", "2026-09-01", "",
                  "build/z.pdf", "care-coordination-portfolio", "1.0.0", "2026-08-01", "key")

ZOE = b"%PDF-1.7 zoe"
#: The schema version that added the ledger.
LEDGER = 6


def is_pg(location: str) -> bool:
    return location.startswith("postgresql://")


def filled(location):
    """A store with an issued pack, two versions of a copy and a rejection: 6 ledger entries."""
    with open_store(location) as store:
        with store.transaction():
            store.add_issued([PACK], source="issued.csv")
        with store.transaction():
            sid = store.add_submission(submission(sha=hashlib.sha256(ZOE).hexdigest(), data=ZOE), 1, None)
            store.add_audit("ingested", filename="zoe.pdf", submission_id=sid, detail="new copy")
        with store.transaction():
            second = store.add_submission(submission(sha="b" * 64), 2, sid)
            store.add_audit("superseded", filename="zoe2.pdf", submission_id=second, detail="version 2")
        with store.transaction():
            store.add_audit("rejected", filename="x.txt", detail="is not a PDF or Word (.docx) file")
    return location


def report(location):
    with open_store(location, create=False) as store:
        return verify_chain(store)


def drop_guards(location) -> None:
    """Drop every trigger, as anyone who can write the database can."""
    if is_pg(location):
        for name, table in raw_query(location, "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                                               "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"):
            raw_execute(location, f"DROP TRIGGER {name} ON {table}")
    else:
        for (name,) in raw_query(location, "SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            raw_execute(location, f"DROP TRIGGER {name}")


def tamper(location, *statements) -> None:
    drop_guards(location)
    for statement in statements:
        raw_execute(location, statement)


def test_an_intact_store_verifies_with_entries_chained_in_order(store_location):
    location = filled(store_location)
    result = report(location)
    assert result.ok and result.problems == [] and result.entries == 6
    rows = raw_query(location, "SELECT seq, kind, ref, digest, prev, hash FROM ledger ORDER BY seq")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1, "issued", '["i-1","build/z.pdf"]'), (2, "submission", "1"), (3, "audit", "1"),
        (4, "submission", "2"), (5, "audit", "2"), (6, "audit", "3")]
    assert rows[0][4] == GENESIS == "0" * 64
    for before, entry in zip(rows, rows[1:]):
        assert entry[4] == before[5]
    for seq, kind, ref, digest, prev, hashed in rows:
        assert hashed == link_hash(seq, kind, ref, digest, prev) and len(hashed) == 64
    # the link hash is SHA-256 of the canonical JSON of the entry's fields (written out here)
    seq, kind, ref, digest, prev, hashed = rows[0]
    text = '[1,"issued","[\\"i-1\\",\\"build/z.pdf\\"]","%s","%s"]' % (digest, prev)
    assert hashed == hashlib.sha256(text.encode()).hexdigest()
    # and the issued pack's digest is SHA-256 of its columns' canonical JSON
    pack = json.dumps({"content_id": "care-coordination-portfolio", "content_version": "1.0.0",
                       "document": "pack", "email": "", "facilitator": "Ms B", "file": "build/z.pdf",
                       "instance_id": "i-1", "issued_at": "2026-08-01", "learner": "Zoë", "learner_key": "key",
                       "pcn": "riverside-pcn", "practice": "Riverside Surgery", "start_date": "2026-09-01",
                       "supervisor": "Dr A"}, ensure_ascii=False, separators=(",", ":"))
    assert digest == hashlib.sha256(pack.encode()).hexdigest()
    assert result.head == rows[-1][5]


@pytest.mark.parametrize(("statements", "first"), [
    (["UPDATE field_values SET value = '\"Mallory\"' WHERE submission_id = 1 AND field_id = 'cover.details.name'"],
     "submission 1 no longer matches ledger entry 2: it was changed"),
    (["UPDATE submissions SET learner_name = 'Mallory' WHERE id = 2"],
     "submission 2 no longer matches ledger entry 4: it was changed"),
    (["DELETE FROM warnings WHERE submission_id = 2 AND seq = 2"],
     "submission 2 no longer matches ledger entry 4: it was changed"),
    (["INSERT INTO identifier_flags VALUES (2, 'cover.details.name', 'nhs_number')"],
     "submission 2 no longer matches ledger entry 4: it was changed"),
    (["UPDATE audit_log SET detail = 'fine' WHERE id = 3"],
     "audit entry 3 no longer matches ledger entry 6: it was changed"),
    (["UPDATE packs_issued SET learner = 'Mallory'"],
     "issued pack i-1 (build/z.pdf) no longer matches ledger entry 1: it was changed"),
    (["DELETE FROM audit_log WHERE id = 1"],
     "ledger entry 3 (audit entry 1): the row it seals is gone: it was deleted"),
    (["DELETE FROM ledger WHERE seq = 3", "DELETE FROM audit_log WHERE id = 1"],
     "ledger entry 3 is missing (the next one is 4): entries were deleted"),
    (["UPDATE ledger SET prev = '" + "1" * 64 + "' WHERE seq = 5"],
     "ledger entry 5 (audit entry 2) does not follow the entry before it"),
    (["UPDATE ledger SET digest = '" + "2" * 64 + "' WHERE seq = 5"],
     "ledger entry 5 (audit entry 2): its hash does not match its contents: the ledger was edited"),
    (["INSERT INTO audit_log (at, action, actor, detail) VALUES ('2026', 'ingested', 'm', 'forged')"],
     "audit entry 4 is not in the ledger: it was added around the tool"),
    (["UPDATE originals SET data = 'swapped'"],
     "the original kept for submission 1 no longer has its SHA-256: it was changed"),
])
def test_verify_names_the_first_entry_that_no_longer_matches(store_location, statements, first):
    location = filled(store_location)
    tamper(location, *statements)
    result = report(location)
    assert not result.ok
    assert result.problems[0].startswith("the store's guard trigger")  # dropped triggers are reported first
    assert result.problems[1].startswith(first), result.problems
    assert len(result.problems) == 2, result.problems


def test_a_dropped_trigger_alone_is_reported(store_location):
    location = filled(store_location)
    if is_pg(location):
        raw_execute(location, "DROP TRIGGER field_values_no_change ON field_values")
        name = "field_values_no_change"
    else:
        raw_execute(location, "DROP TRIGGER field_values_no_update")
        name = "field_values_no_update"
    assert report(location).problems == [f"the store's guard trigger {name} is missing: "
                                         "it was dropped outside the tool"]


def test_postgresql_triggers_switched_off_or_defused_are_reported(pg_url):
    location = filled(pg_url)
    raw_execute(location, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    raw_execute(location, "CREATE OR REPLACE FUNCTION portfolio_append_only() RETURNS trigger "
                          "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
    assert report(location).problems == [
        "the store's guard trigger audit_log_no_change is disabled: it was switched off outside the tool",
        "the store's guard function portfolio_append_only no longer refuses changes: it was replaced outside "
        "the tool"]


def test_postgresql_rows_changed_with_triggers_bypassed_are_found_by_the_ledger_alone(pg_url):
    location = filled(pg_url)
    import psycopg
    with psycopg.connect(location, autocommit=True) as db:  # a superuser's session skips every trigger
        db.execute("SET session_replication_role = replica")
        db.execute("UPDATE field_values SET value = 'false' WHERE submission_id = 2 "
                   "AND field_id = 'competencies.a.x.achieved'")
    assert report(location).problems == ["submission 2 no longer matches ledger entry 4: it was changed"]


def test_a_tampered_tail_stops_the_next_write_and_nothing_is_appended(store_location):
    location = filled(store_location)
    tamper(location, "UPDATE audit_log SET detail = 'fine' WHERE id = 3")
    with open_store(location) as store:
        with pytest.raises(StoreError, match=r"changed outside the tool \(the store's guard trigger"):
            with store.transaction():
                store.add_audit("rejected", filename="y.txt", detail="no")
        assert len(store.audit()) == 3


def test_a_changed_last_row_stops_the_next_write_even_with_the_guards_put_back(store_location):
    location = filled(store_location)
    if is_pg(location):
        drop = ["DROP TRIGGER audit_log_no_change ON audit_log"]
        put_back = ["CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION portfolio_append_only()"]
    else:
        drop = ["DROP TRIGGER audit_log_no_update"]
        put_back = raw_query(location, "SELECT sql FROM sqlite_master WHERE name = 'audit_log_no_update'")[0]
    for statement in [*drop, "UPDATE audit_log SET detail = 'fine' WHERE id = 3", *put_back]:
        raw_execute(location, statement)
    with open_store(location) as store:
        with pytest.raises(StoreError, match=r"changed outside the tool \(audit entry 3 no longer matches ledger "
                                             r"entry 6: it was changed\); nothing was stored"):
            with store.transaction():
                store.add_submission(submission(sha="c" * 64, instance="i-2"), 1, None)
        assert len(store.submissions()) == 1


def test_a_row_added_around_the_tool_stops_the_next_write(store_location):
    location = filled(store_location)
    raw_execute(location, "INSERT INTO packs_issued SELECT 'i-9', document, learner, practice, pcn, supervisor, "
                          "facilitator, start_date, email, 'z9.pdf', content_id, content_version, issued_at, "
                          "learner_key, imported_at, source FROM packs_issued")
    with open_store(location) as store:
        with pytest.raises(StoreError, match=r"the packs_issued table holds 2 rows but the ledger seals 1: "
                                             r"rows were added or deleted around the tool"):
            with store.transaction():
                store.add_audit("rejected", filename="y.txt", detail="no")
    assert report(location).problems == ["issued pack i-9 (z9.pdf) is not in the ledger: it was added around "
                                         "the tool"]


def test_a_store_made_before_the_ledger_is_sealed_by_one_entry_when_it_is_upgraded(store_location):
    module = module_of(store_location)
    old = {v: steps for v, steps in module.MIGRATIONS.items() if v < LEDGER}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(module, "MIGRATIONS", old)
        m.setattr(module, "SCHEMA_VERSION", LEDGER - 1)
        m.setattr(module, "check_tail", lambda store: None)
        store_class = module.PostgresStore if is_pg(store_location) else module.SQLiteStore
        m.setattr(store_class, "_seal", lambda *args: None)
        with open_store(store_location) as store:
            assert store.schema_version() == LEDGER - 1
            with store.transaction():
                sid = store.add_submission(submission(), 1, None)
                store.add_audit("ingested", filename="zoe.pdf", submission_id=sid)
                store.add_issued([PACK], source="issued.csv")
                store.add_audit("imported", filename="issued.csv")
    tables = {r[0] for r in raw_query(store_location, "SELECT table_name FROM information_schema.tables")} \
        if is_pg(store_location) else {r[0] for r in raw_query(store_location, "SELECT name FROM sqlite_master")}
    assert "ledger" not in tables
    with open_store(store_location, read_only=True) as store:  # reading it (records, export) upgrades it too
        assert store.schema_version() == module.SCHEMA_VERSION  # the ledger and every schema after it
        [entry] = store.ledger()
        assert (entry.seq, entry.kind, entry.ref, entry.prev) == (1, "sealed", '{"audit":2,"issued":1,"submission":1}',
                                                                  GENESIS)
        assert verify_chain(store).ok
    with open_store(store_location) as store:
        with store.transaction():  # new rows chain on after the seal
            store.add_audit("rejected", filename="x.txt", detail="no")
        assert [(e.seq, e.kind, e.ref) for e in store.ledger()] == [(1, "sealed", entry.ref), (2, "audit", "3")]
        assert verify_chain(store).ok
    drop_guards(store_location)
    raw_execute(store_location, "UPDATE audit_log SET detail = 'edited' WHERE id = 2")
    assert report(store_location).problems[1:] == ["audit entry 2 no longer matches ledger entry 1: it was changed"]


def test_a_new_store_starts_its_ledger_with_its_first_row(store_location):
    with open_store(store_location) as store:
        assert store.ledger() == [] and verify_chain(store).ok and verify_chain(store).head == GENESIS


def test_several_writers_at_once_keep_one_unbroken_chain(store_location):
    with open_store(store_location):
        pass
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with open_store(store_location) as store:
                for k in range(8):
                    with store.transaction():
                        if k % 4 == 0:
                            store.add_submission(submission(sha=f"{n:02d}{k:02d}".ljust(64, "f"),
                                                            instance=f"i-{n}-{k}"), 1, None)
                        store.add_audit("rejected", filename=f"w{n}-{k}.txt", detail="no")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == [] and not any(t.is_alive() for t in threads)
    result = report(store_location)
    assert result.ok, result.problems
    assert result.entries == 4 * 8 + 4 * 2
    assert [r[0] for r in raw_query(store_location, "SELECT seq FROM ledger ORDER BY seq")] == list(range(1, 41))


def test_a_store_copied_to_the_other_engine_verifies_there_with_the_same_head(tmp_path, pg_url):
    source = filled(str(tmp_path / "r.sqlite"))
    with open_store(source, create=False) as src, open_store(pg_url) as dst:
        copy_store(src, dst)
    here, there = report(source), report(pg_url)
    assert here.ok and there.ok
    assert (here.entries, here.head) == (there.entries, there.head) == (6, here.head)
    with open_store(pg_url) as store:  # and the copy takes new rows on the same chain
        with store.transaction():
            store.add_audit("rejected", filename="y.txt", detail="no")
    assert report(pg_url).ok and report(pg_url).entries == 7


def test_store_verify_command(store_location):
    location = filled(store_location)
    where = describe_store(location)
    runner = CliRunner()
    ok = runner.invoke(main, ["store", "verify", "--store", location])
    assert ok.exit_code == 0, ok.output
    assert ok.output == f"{where}: intact: 6 ledger entries, head {report(location).head}\n"
    tamper(location, "UPDATE field_values SET value = 'false' WHERE submission_id = 2 "
                     "AND field_id = 'competencies.a.x.achieved'")
    bad = runner.invoke(main, ["store", "verify", "--store", location])
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert lines[0] == "also: submission 2 no longer matches ledger entry 4: it was changed"
    assert lines[1].startswith(f"Error: {where}: NOT intact: the store's guard trigger ")
    assert lines[1].endswith("it was dropped outside the tool; restore the store from a backup "
                             "and find out who changed it")


def test_store_verify_of_no_store(tmp_path):
    missing = CliRunner().invoke(main, ["store", "verify", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 1 and "no records store here" in missing.output
    assert not (tmp_path / "none.sqlite").exists()


def test_a_row_changed_with_the_databases_own_client_is_named_by_the_installed_command(store_location):
    """The attack as someone would make it: the sqlite3 shell or psql, triggers dropped first, then
    'portfolio store verify' as installed."""
    import shutil
    import subprocess

    from tests.conftest import need_tool
    location = filled(store_location)
    need_tool("portfolio", "psql" if is_pg(location) else "sqlite3")
    if is_pg(location):
        script = ("DROP TRIGGER audit_log_no_change ON audit_log; "
                  "UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2;")
        client = ["psql", location, "-v", "ON_ERROR_STOP=1", "-q", "-c", script]
        trigger = "audit_log_no_change"
    else:
        script = ("DROP TRIGGER audit_log_no_update; "
                  "UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2;")
        client = ["sqlite3", location, script]
        trigger = "audit_log_no_update"
    subprocess.run(client, check=True, capture_output=True, timeout=60)
    done = subprocess.run([shutil.which("portfolio"), "store", "verify", "--store", location],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "also: audit entry 2 no longer matches ledger entry 5: it was changed\n"
        f"Error: {describe_store(location)}: NOT intact: the store's guard trigger {trigger} is missing: it was "
        "dropped outside the tool; restore the store from a backup and find out who changed it\n")


def test_ingest_into_a_tampered_store_says_so_once_before_reading_any_file(store_location, tmp_path):
    location = filled(store_location)
    tamper(location, "UPDATE audit_log SET detail = 'fine' WHERE id = 3")
    returned = tmp_path / "returned"
    returned.mkdir()
    for n in range(3):
        (returned / f"copy-{n}.pdf").write_bytes(b"%PDF-1.7\nnot really")
    result = CliRunner().invoke(main, ["ingest", str(returned), "--store", location])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "copy-" not in result.output, result.output
    assert result.output.startswith(f"Error: {describe_store(location)}: the records store was changed outside "
                                    "the tool (the store's guard trigger ")
    assert result.output.endswith("nothing was stored: run 'portfolio store verify' and restore the store "
                                  "from a backup\n")
    assert len(raw_query(location, "SELECT id FROM audit_log")) == 3


def _verify_while_writing(store_location, verifies: int, read):
    """Run ``read`` (on a store opened for reading only) ``verifies`` times while another thread commits
    audit entries, a submission now and then, in a loop; what each read gave, and the writer's commits."""
    with open_store(store_location) as store:
        with store.transaction():
            store.add_audit("seeded", detail="first")
    stop, errors, commits = threading.Event(), [], [0]

    def writer() -> None:
        try:
            with open_store(store_location) as store:
                while not stop.is_set() and commits[0] < 5000:
                    n = commits[0]
                    with store.transaction():
                        if n % 10 == 0:
                            store.add_submission(submission(sha=f"{n:08d}".ljust(64, "c"), instance=f"c-{n}"), 1, None)
                        store.add_audit("rejected", filename=f"c{n}.txt", detail="no")
                    commits[0] += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while commits[0] == 0 and thread.is_alive():  # the writer has begun committing
            threading.Event().wait(0.01)
        results = []
        for _ in range(verifies):
            with open_store(store_location, read_only=True) as store:
                results.append(read(store))
    finally:
        stop.set()
        thread.join(timeout=300)
    assert errors == [] and not thread.is_alive()
    return results, commits[0]


def test_verify_during_a_writer_committing_in_a_loop_never_reports_a_problem(store_location):
    reports, commits = _verify_while_writing(store_location, 40, verify_chain)
    assert [r.problems for r in reports if r.problems] == []
    # each verify saw a whole number of the writer's commits (one or two entries each, never half of one)
    assert all(r.entries >= 2 for r in reports) and commits >= 1
    final = report(store_location)
    assert final.ok and final.entries == 1 + commits + (commits + 9) // 10


def test_verify_during_a_writer_still_reports_a_tampered_store(store_location):
    filled(store_location)
    tamper(store_location, "UPDATE audit_log SET detail = 'edited' WHERE id = 1")
    reports, _ = _verify_while_writing_guardless(store_location)
    # first the dropped guards, then the changed row, by every verify
    assert {(len(r.problems), "guard" in r.problems[0], r.problems[-1]) for r in reports} == {
        (2, True, "audit entry 1 no longer matches ledger entry 3: it was changed")}


def _verify_while_writing_guardless(store_location):
    """As ``_verify_while_writing`` on a store whose guards were dropped: every write is refused by the
    tail check (the store was tampered with), so the reads run beside a writer that keeps trying."""
    stop, refusals = threading.Event(), []

    def writer() -> None:
        with open_store(store_location) as store:
            while not stop.is_set() and len(refusals) < 5000:
                try:
                    with store.transaction():
                        store.add_audit("rejected", filename="late.txt", detail="no")
                except StoreError as exc:
                    refusals.append(str(exc))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = []
        for _ in range(10):
            with open_store(store_location, read_only=True) as store:
                reports.append(verify_chain(store))
    finally:
        stop.set()
        thread.join(timeout=300)
    assert not thread.is_alive() and refusals and all("changed outside the tool" in r for r in refusals)
    return reports, refusals


def test_export_and_counts_during_a_writer_read_one_state_of_the_store(store_location):
    """Submissions and audit entries are committed together: a snapshot sees equal numbers of the writer's."""

    def read(store):
        with store.snapshot():
            subs = store.submissions(current_only=False)
            audits = [a for a in store.audit() if a.action == "rejected"]
            counts = store.counts()
        return len(subs), len(audits), counts["submissions"], counts["audit_log"]

    results, _ = _verify_while_writing(store_location, 40, read)
    # the writer adds a submission at commits 0, 10, 20, …: n audit entries come with (n + 9) // 10 of them
    assert [r for r in results if r[0] != (r[1] + 9) // 10 or r[2] != r[0] or r[3] != r[1] + 1] == []


def test_a_snapshot_is_for_reading_only_and_nests(store_location):
    filled(store_location)
    with open_store(store_location) as store:
        with store.snapshot():
            with store.snapshot():
                assert len(store.audit()) == 3
            with pytest.raises(StoreError, match="a write inside a snapshot"):
                with store.transaction():
                    store.add_audit("rejected", detail="no")
        with store.transaction():
            with store.snapshot():  # inside a transaction: its own reads
                store.add_audit("rejected", detail="yes")
        assert verify_chain(store).ok and len(store.audit()) == 4


def test_verify_of_a_read_only_folder_opens_the_store_immutable(tmp_path):
    (tmp_path / "ro").mkdir()
    location = filled(str(tmp_path / "ro" / "s.sqlite"))  # closed: the -wal is checkpointed and removed
    (tmp_path / "ro").chmod(0o555)
    try:
        result = report(location)
        assert result.ok and result.entries == 6
    finally:
        (tmp_path / "ro").chmod(0o755)


def test_reading_commands_leave_no_wal_or_shm_beside_a_closed_store(tmp_path):
    location = filled(str(tmp_path / "s.sqlite"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"]  # a closed store is one file
    runner = CliRunner()
    for args in (["store", "verify"], ["records", "--summary"], ["records"], ["export", "--format", "json"]):
        result = runner.invoke(main, [*args, "--store", location])
        assert result.exit_code == 0, (args, result.output)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite"], args
    with open_store(location, read_only=True) as store:  # and it still refuses writes, down to SQLite itself
        with pytest.raises(StoreError, match="opened for reading only"):
            with store.transaction():
                store.add_audit("rejected")
        with pytest.raises(__import__("sqlite3").OperationalError, match="readonly"):
            store._db.execute("INSERT INTO schema_version VALUES (99, 'later')")
