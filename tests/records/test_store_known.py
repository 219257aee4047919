"""Known answers for the store's protocol and both engines, from rows written in the test (milliseconds each).

These are the tests ``make mutate`` runs first for ``store``, ``store-sqlite`` and ``store-postgres``:
every expected value is typed here (hashes are worked with ``hashlib`` over JSON text written out by hand),
never taken from the code under test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

import pytest

from generator.records import store as protocol
from generator.records.connect import open_store
from generator.records.store import (
    GENESIS,
    AuditEntry,
    ChainEntry,
    FieldValue,
    IssuedPack,
    ScanReview,
    SubmissionRow,
    canonical_json,
    describe_row,
    digest_of,
    issued_content,
    issued_ref,
    link_hash,
    next_entry,
    store_path,
    submission_content,
    value_json,
    with_reviews,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PACK = IssuedPack("i-1", "pack", "Zoë", "Riverside Surgery", "riverside-pcn", "Dr A", "Ms B", "2026-09-01", "",
                  "build/z.pdf", "care-coordination-portfolio", "1.0.0", "2026-08-01", "key", "north/issued.csv")


@pytest.mark.parametrize("value, text", [
    ("Zoë said \"fine\"\n\ttoday\u2028", '"Zoë said \\"fine\\"\\n\\ttoday\u2028"'),
    ("", '""'),
    (True, "true"),
    (False, "false"),
    (1, "1"),
    (0, "0"),
    (2.5, "2.5"),
    (["a", True, None], '["a", true, null]'),
    ({"b": 1, "a": "ő"}, '{"b": 1, "a": "ő"}'),
])
def test_a_stored_value_is_written_as_json_dumps_writes_it(value, text):
    assert value_json(value) == text == json.dumps(value, ensure_ascii=False)


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_utf8():
    assert canonical_json({"b": [1, "ő"], "a": None}) == '{"a":null,"b":[1,"ő"]}'


def test_digest_is_the_sha256_of_the_canonical_text():
    assert digest_of({"b": 1, "a": "Zoë"}) == sha('{"a":"Zoë","b":1}')


def test_link_hash_binds_place_kind_ref_digest_and_prev():
    assert link_hash(3, "audit", "7", "d" * 64, "p" * 64) == sha(f'[3,"audit","7","{"d" * 64}","{"p" * 64}"]')


def test_the_first_entry_follows_genesis_and_the_next_one_its_tail():
    first = next_entry(None, "issued", '["i-1","f"]', "d" * 64)
    assert GENESIS == "0" * 64
    assert (first.seq, first.prev) == (1, "0" * 64)
    assert first.hash == sha('[1,"issued","[\\"i-1\\",\\"f\\"]","' + "d" * 64 + '","' + "0" * 64 + '"]')
    second = next_entry(first, "audit", "2", "e" * 64)
    assert (second.seq, second.kind, second.ref, second.digest, second.prev) == (2, "audit", "2", "e" * 64, first.hash)
    assert second.hash == sha(f'[2,"audit","2","{"e" * 64}","{first.hash}"]')


@pytest.mark.parametrize("kind, ref, text", [
    ("issued", '["i-1", "build/z.pdf"]', "issued pack i-1 (build/z.pdf)"),
    ("issued", "not json", "issued pack not json"),
    ("issued", "[1, 2, 3]", "issued pack [1, 2, 3]"),
    ("issued", "7", "issued pack 7"),
    ("sealed", "", "the rows stored before the ledger"),
    ("audit", "4", "audit entry 4"),
    ("submission", "12", "submission 12"),
])
def test_rows_are_named_in_messages(kind, ref, text):
    assert describe_row(kind, ref) == text


def test_an_issued_pack_is_sealed_without_its_register_and_named_by_instance_and_file():
    assert issued_ref(PACK) == '["i-1","build/z.pdf"]'
    content = issued_content(PACK)
    assert "source" not in content
    assert content == {"instance_id": "i-1", "document": "pack", "learner": "Zoë", "practice": "Riverside Surgery",
                       "pcn": "riverside-pcn", "supervisor": "Dr A", "facilitator": "Ms B",
                       "start_date": "2026-09-01", "email": "", "file": "build/z.pdf",
                       "content_id": "care-coordination-portfolio", "content_version": "1.0.0",
                       "issued_at": "2026-08-01", "learner_key": "key"}
    assert PACK.source == "north/issued.csv"  # the pack itself is untouched


@pytest.mark.parametrize("source, cohort", [("north/issued.csv", "north"), ("a/b/issued.csv", "a/b"),
                                            ("issued.csv", ""), ("", ""), ("north/", "")])
def test_the_cohort_is_the_folder_of_the_register(source, cohort):
    assert IssuedPack(*([""] * 14), source=source).cohort == cohort


ROW = SubmissionRow(3, "a" * 64, "zoe.pdf", 12, "pdf", "Acrobat", "2026-01-01T00:00:00", "i-1", 2, 1, 9, "pack",
                    None, "c", "1.0.0", "h", "0.1", "d", "k", "Zoë", "Riverside", "pcn", "PCN", {"name": "Zoë"}, {})


def test_a_submission_seals_its_columns_values_warnings_and_sorted_flags_but_not_its_successor():
    content = submission_content(ROW, [FieldValue("a", "read", "x", 2), FieldValue("b", "missing", None)],
                                 [("a", "odd"), (None, "general")], [("z", "nhs_number"), ("a", "postcode")])
    assert "superseded_by" not in content
    assert content["values"] == [["a", "read", "x", 2], ["b", "missing", None, None]]
    assert content["warnings"] == [["a", "odd"], [None, "general"]]
    assert content["flags"] == [["a", "postcode"], ["z", "nhs_number"]]
    assert (content["id"], content["version"], content["supersedes"], content["learner"]) == (3, 2, 1, {"name": "Zoë"})
    assert ROW.superseded_by == 9 and not ROW.current


def test_reviews_replace_the_read_values_latest_first():
    values = {1: [FieldValue("a", "missing", None), FieldValue("b", "read", "x", 3)], 2: [FieldValue("a", "read", "y")]}
    reviews = [ScanReview(1, "b", "first", "me", "t1"), ScanReview(1, "b", "second", "me", "t2"),
               ScanReview(2, "c", "other", "me", "t3")]
    assert with_reviews(values, reviews) == {
        1: [FieldValue("a", "missing", None), FieldValue("b", "read", "second", 3)],
        2: [FieldValue("a", "read", "y")]}
    assert with_reviews(values, []) is values


def test_the_store_path_is_the_option_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.setenv("PORTFOLIO_STORE", "env.sqlite")
    assert str(store_path("opt.sqlite")) == "opt.sqlite"
    assert str(store_path()) == "env.sqlite"
    monkeypatch.delenv("PORTFOLIO_STORE")
    assert str(store_path()) == "records.sqlite"


# ---------------------------------------------------------------- the seal of a store made before the ledger

def sealed_entry(covers, counts='{"audit":1,"issued":0,"submission":0}', digest=None, seq=1) -> ChainEntry:
    return ChainEntry(seq, "sealed", counts, digest or sha(json.dumps(covers, sort_keys=True, separators=(",", ":"))),
                      GENESIS, "h" * 64)


@pytest.fixture
def one_audit(tmp_path):
    """A store holding one audit entry (id 1), and that entry's digest (SHA-256 of its columns' JSON)."""
    with open_store(str(tmp_path / "records.sqlite")) as store:
        with store.transaction():
            store.add_audit("rejected", filename="x.txt", detail="not a pack")
        [entry] = store.audit()
        text = json.dumps({"action": "rejected", "actor": entry.actor, "at": entry.at, "detail": "not a pack",
                           "filename": "x.txt", "id": 1, "instance_id": None, "sha256": None, "submission_id": None},
                          ensure_ascii=False, separators=(",", ":"))
        yield store, sha(text)


def test_a_seal_whose_list_matches_the_rows_is_sound(one_audit):
    store, digest = one_audit
    covers = {"audit": {"1": digest}, "issued": {}, "submission": {}}
    assert protocol._sealed_problem(sealed_entry(covers), json.dumps(covers), protocol._Rows(store)) == (None, covers)
    # a kind left out of the list holds no rows
    short = {"audit": {"1": digest}}
    assert protocol._sealed_problem(sealed_entry(short), json.dumps(short), protocol._Rows(store)) == (None, short)


EDITED = "ledger entry 1 (the rows stored before the ledger): its list of rows was edited"


@pytest.mark.parametrize("covers_text, counts, digest", [
    (None, '{"audit":1,"issued":0,"submission":0}', None),  # the list is gone
    ("not json", '{"audit":1,"issued":0,"submission":0}', None),
    ("[]", '{"audit":1,"issued":0,"submission":0}', sha("[]")),  # a list that is no mapping, hashed right
    ("LIST", '{"audit":1,"issued":0,"submission":0}', "0" * 64),  # the list does not hash to the entry's digest
    ("LIST", '{"audit":2,"issued":0,"submission":0}', None),  # the counts do not match the list
    ("LIST", "not json", None),
    ("LIST", '{"audit":1}', None),
])
def test_an_edited_seal_is_named(one_audit, covers_text, counts, digest):
    store, row_digest = one_audit
    covers = {"audit": {"1": row_digest}, "issued": {}, "submission": {}}
    text = json.dumps(covers) if covers_text == "LIST" else covers_text
    entry = sealed_entry(covers, counts=counts, digest=digest)
    assert protocol._sealed_problem(entry, text, protocol._Rows(store)) == (EDITED, {})


def test_a_sealed_row_that_is_gone_or_changed_is_named(one_audit):
    store, digest = one_audit
    gone = {"audit": {"1": digest, "2": digest}, "issued": {}, "submission": {}}
    assert protocol._sealed_problem(sealed_entry(gone, counts='{"audit":2,"issued":0,"submission":0}', seq=1),
                                    json.dumps(gone), protocol._Rows(store)) == (
        "audit entry 2, sealed by ledger entry 1, is gone: it was deleted", gone)
    changed = {"audit": {"1": "e" * 64}, "issued": {}, "submission": {}}
    assert protocol._sealed_problem(sealed_entry(changed), json.dumps(changed), protocol._Rows(store)) == (
        "audit entry 1 no longer matches ledger entry 1: it was changed", changed)
    # kinds are checked in the order submission, audit, issued
    pack = {"audit": {"1": digest}, "issued": {'["i-9","z.pdf"]': digest}, "submission": {}}
    assert protocol._sealed_problem(sealed_entry(pack, counts='{"audit":1,"issued":1,"submission":0}'),
                                    json.dumps(pack), protocol._Rows(store))[0] == (
        "issued pack i-9 (z.pdf), sealed by ledger entry 1, is gone: it was deleted")
    both = {"audit": {"1": "e" * 64}, "issued": {}, "submission": {"5": digest}}
    assert protocol._sealed_problem(sealed_entry(both, counts='{"audit":1,"issued":0,"submission":1}'),
                                    json.dumps(both), protocol._Rows(store))[0] == (
        "submission 5, sealed by ledger entry 1, is gone: it was deleted")


def test_a_submission_without_values_warnings_or_flags_is_sealed_and_verifies(tmp_path):
    from tests.records.test_store import submission
    with open_store(str(tmp_path / "records.sqlite")) as store:
        with store.transaction():
            sid = store.add_submission(submission(values=[], warnings=[]), 1, None)
        rows = protocol._Rows(store)
        content = rows.content("submission", str(sid))
        assert (content["values"], content["warnings"], content["flags"]) == ([], [], [])
        assert rows.content("submission", "99") is None and rows.content("audit", "1") is None
        assert rows.content("issued", '["i-1","f"]') is None
        report = protocol.verify_chain(store)
        assert report.ok and report.entries == 1


# ---------------------------------------------------------------- both engines, row by row

from generator.records.store import Definition, ReturnToken, ScanField, ScanPage, StoreError, User  # noqa: E402
from tests.pg import raw_query  # noqa: E402
from tests.records.test_store import DEFINITION, submission  # noqa: E402

OTHER = Definition("e" * 64, "care-coordination-portfolio", "patient_feedback", "care-coordination-portfolio",
                   "1.0.0", "h" * 64, [{"id": "patient_feedback.q", "kind": "text", "label": "Q: Ö", "options": []}])


@pytest.fixture
def engine_store(store_location):
    with open_store(store_location) as store:
        yield store


def test_paper_layouts_pages_marks_and_reviews_round_trip(engine_store, store_location):
    store = engine_store
    with store.transaction():
        one = store.add_submission(submission(sha="1" * 64, instance="i-1"), 1, None)
        two = store.add_submission(submission(sha="2" * 64, instance="i-2"), 1, None)
        store.add_issued_definition("i-1", OTHER, [{"width": 595.5, "height": 842.0}])
        store.add_issued_definition("i-1", DEFINITION, [{"width": 1.0, "height": 2.0}])  # kept once, the first
        store.add_issued_definition("i-2", DEFINITION, [])
        pages = [ScanPage("s" * 64, 2, "scan.pdf", two, "i-2", 1, 300.0, 0.25, "", b"\x00png"),
                 ScanPage("s" * 64, 1, "scan.pdf", one, "i-1", 2, 200.0, 0.5, "", None),
                 ScanPage("s" * 64, 3, "scan.pdf", None, None, None, None, None, "no page code", b"img"),
                 ScanPage("t" * 64, 1, "b.pdf", one, "i-1", 1, 150.0, 1.5, "", None)]
        assert [store.add_scan_page(p) for p in pages] == [True, True, True, True]
        assert store.add_scan_page(ScanPage("s" * 64, 2, "again.pdf", one, "i-1", 9, 1.0, 1.0, "x")) is False
        store.add_scan_fields([ScanField(two, "b.f", "", 1, 0.5, "ticked", "read", b"crop"),
                               ScanField(one, "z.f", "", 1, 0.01, "empty", "read"),
                               ScanField(one, "a.f", "yes", 2, 0.3, "unsure", "needs review", b"c2"),
                               ScanField(one, "a.f", "no", 2, 0.02, "empty", "needs review")])
        store.add_scan_review(one, "a.f", {"answer": "Zoë"})
        store.add_scan_review(one, "a.f", "no")
        store.add_scan_review(two, "b.f", None)
    assert store.issued_definitions() == {"i-1": ("e" * 64, [{"width": 595.5, "height": 842.0}]),
                                          "i-2": ("d" * 64, [])}
    assert store.issued_definitions("i-2") == {"i-2": ("d" * 64, [])}  # one instance's layout, by its id
    assert store.issued_definitions("i-3") == {}
    assert list(store.definitions()) == ["d" * 64, "e" * 64]
    assert store.definitions()["e" * 64] == OTHER
    everything = store.scan_pages()
    assert [(p.source_sha256[0], p.page_index) for p in everything] == [("s", 2), ("s", 1), ("s", 3), ("t", 1)]
    assert everything[0] == ScanPage("s" * 64, 2, "scan.pdf", two, "i-2", 1, 300.0, 0.25, "", b"\x00png",
                                     stored_at=everything[0].stored_at)
    assert everything[0].stored_at.startswith("20") and everything[1].image is None
    assert [(p.filename, p.reason, p.image) for p in store.scan_pages(unidentified=True)] == [
        ("scan.pdf", "no page code", b"img")]
    # by submission: ordered by submission, then page, then place in the file
    assert [(p.submission_id, p.page, p.page_index) for p in store.scan_pages([two, one])] == [
        (one, 1, 1), (one, 2, 1), (two, 1, 2)]
    assert [p.page_index for p in store.scan_pages([two])] == [2]
    assert store.scan_pages([]) == []
    fields = store.scan_fields()
    assert fields == [ScanField(one, "z.f", "", 1, 0.01, "empty", "read", None, False),
                      ScanField(one, "a.f", "no", 2, 0.02, "empty", "needs review", None, False),
                      ScanField(one, "a.f", "yes", 2, 0.3, "unsure", "needs review", b"c2", True),
                      ScanField(two, "b.f", "", 1, 0.5, "ticked", "read", b"crop", True)]
    assert [(f.field_id, f.crop, f.has_crop) for f in store.scan_fields([two], crops=False)] == [("b.f", None, True)]
    assert [f.option for f in store.scan_fields([one])] == ["", "no", "yes"]
    reviews = store.scan_reviews()
    assert [(r.submission_id, r.field_id, r.value) for r in reviews] == [
        (one, "a.f", {"answer": "Zoë"}), (one, "a.f", "no"), (two, "b.f", None)]
    assert reviews[0].actor == store.actor and reviews[0].at.startswith("20")
    assert raw_query(store_location, "SELECT value FROM scan_reviews ORDER BY id")[0][0] == '{"answer": "Zoë"}'
    # a reviewed field reads as the latest review, except where the ledger seals what was stored
    with store.transaction():
        store.add_scan_review(one, "cover.details.name", "Zoë Typed")
    assert store.values([one])[one][0] == FieldValue("cover.details.name", "read", "Zoë Typed")
    assert store.values()[one][0] == FieldValue("cover.details.name", "read", "Zoë Typed")
    assert store.values([one], reviewed=False)[one][0] == FieldValue("cover.details.name", "read", "Zoë Łukasiewicz")
    assert store.values([two])[two][0] == FieldValue("cover.details.name", "read", "Zoë Łukasiewicz")


def test_accounts_and_return_links_round_trip(engine_store):
    store = engine_store
    with store.transaction():
        store.add_user(User("b@example.org", "pcn", "riverside-pcn", "$argon2id$hash-b", created_at="2026-01-02"))
        store.add_user(User("a@example.org", "provider", None, "$argon2id$hash-a", True, 3, "2026-12-01T10:00",
                            "2026-01-01"))
        with pytest.raises(StoreError, match=r"^a user b@example.org exists already$"):
            store.add_user(User("b@example.org", "provider", None, "$argon2id$other"))
    assert store.user("a@example.org") == User("a@example.org", "provider", None, "$argon2id$hash-a", True, 3,
                                                "2026-12-01T10:00", "2026-01-01")
    assert store.user("nobody@example.org") is None
    assert [u.email for u in store.users()] == ["a@example.org", "b@example.org"]
    b = store.user("b@example.org")
    assert (b.disabled, b.failed_logins, b.locked_until, b.pcn) == (False, 0, None, "riverside-pcn")
    with store.transaction():
        store.set_user_state("b@example.org", disabled=True, failed_logins=5, locked_until="2026-12-02T00:00")
        store.set_user_state("a@example.org", disabled=False, failed_logins=0, locked_until=None)
    assert store.user("b@example.org") == User("b@example.org", "pcn", "riverside-pcn", "$argon2id$hash-b", True, 5,
                                               "2026-12-02T00:00", "2026-01-02")
    assert store.user("a@example.org").disabled is False and store.user("b@example.org").disabled is True
    token = ReturnToken("f" * 64, "i-1", "2027-01-31T00:00:00+00:00", "a@example.org", "2026-12-01T00:00:00+00:00")
    with store.transaction():
        store.add_return_token(token)
        store.add_return_token(ReturnToken("0" * 64, "i-2", "2027-02-01", "b@example.org", "2026-12-02"))
    assert store.return_token("f" * 64) == token
    assert store.return_token("1" * 64) is None


def test_originals_audit_lookups_and_counts(engine_store):
    store = engine_store
    with store.transaction():
        sid = store.add_submission(submission(sha="1" * 64, data=b"%PDF-1.7 one"), 1, None)
        store.add_submission(submission(sha="2" * 64, instance="i-2", data=b"two"), 1, None)
        store.add_submission(submission(sha="3" * 64, instance="i-3"), 1, None)  # no file kept
        store.add_audit("conflict", filename="a.pdf", sha256="9" * 64, detail="first")
        store.add_audit("conflict", filename="b.pdf", sha256="9" * 64, detail="second")
        store.add_audit("rejected", filename="c.pdf", sha256="8" * 64, instance_id="i-1", submission_id=sid,
                        detail="third")
    assert store.original("1" * 64) == b"%PDF-1.7 one" and store.original("3" * 64) is None
    assert store.originals_size() == (2, 15)
    first = store.find_audit("conflict", "9" * 64)
    assert (first.id, first.filename, first.detail) == (1, "a.pdf", "first")
    assert store.find_audit("rejected", "9" * 64) is None
    third = store.find_audit("rejected", "8" * 64)
    assert (third.instance_id, third.submission_id, third.actor) == ("i-1", sid, store.actor)
    assert store.audit_entry(3) == third and store.audit_entry(4) is None
    assert store.known_hashes() == {"1" * 64: 1, "2" * 64: 2, "3" * 64: 3}
    assert store.submission_for_sha("2" * 64) == 2 and store.submission_for_sha("4" * 64) is None
    assert store.submission(3).sha256 == "3" * 64 and store.submission(9) is None
    counts = store.counts()
    assert "schema_version" not in counts and "ledger" not in counts
    assert {t: counts[t] for t in ("submissions", "audit_log", "originals", "definitions", "field_values",
                                   "warnings", "users", "scan_pages")} == {
        "submissions": 3, "audit_log": 3, "originals": 2, "definitions": 1, "field_values": 15, "warnings": 6,
        "users": 0, "scan_pages": 0}
    assert store.chained_counts() == {"submission": 3, "audit": 3, "issued": 0}
    assert store.ledger_kinds() == {"submission": 3, "audit": 3}
    assert [e.seq for e in store.ledger()] == [1, 2, 3, 4, 5, 6]
    assert store.ledger_first().seq == 1 and store.ledger_tail().seq == 6
    assert (store.ledger_first().kind, store.ledger_tail().kind) == ("submission", "audit")
    assert store.ledger_covers(1) is None and store.ledger_covers(99) is None


# ---------------------------------------------------------------- PostgreSQL locations and connection failures

def test_postgresql_locations_are_told_apart_and_shown_without_the_password():
    from generator.records.postgres import describe, is_url
    assert [is_url(u) for u in ("postgresql://h/db", "POSTGRES://h/db", "postgres://h", "records.sqlite",
                                "x-postgresql://h", "postgresq://h")] == [True, True, True, False, False, False]
    assert describe("postgresql://ann:s3cret@db.example.org:5433/records") == "postgresql://ann@db.example.org:5433/records"
    assert describe("postgresql://db.example.org/records") == "postgresql://db.example.org/records"
    assert describe("postgresql:///records") == "postgresql://localhost/records"
    assert describe("postgresql://ann@h:5432") == "postgresql://ann@h:5432/"
    assert describe("postgresql://h:notaport:x/db?bad=1") == "postgresql://(a URL that cannot be parsed)"


def test_a_driver_error_is_named_by_its_first_line_or_else_its_type():
    from generator.records.postgres import _first_line
    assert _first_line(ValueError("  first\nsecond  ")) == "first"
    assert _first_line(ValueError()) == "ValueError"
    assert _first_line(KeyError("")) == "''"  # a KeyError's text is its key's repr
    assert _first_line(RuntimeError("  \n ")) == "RuntimeError"


@pytest.mark.parametrize("url, error, why", [
    ("postgresql://ann:x@h/records", "FATAL:  password authentication failed for user \"ann\"",
     "the server refused user ann (wrong or missing password); give the password in the URL, $PGPASSWORD or "
     "~/.pgpass, or ask the database administrator for the right user"),
    ("postgresql://h/records", "fe_sendauth: no password supplied",
     "the server refused user (your login name) (wrong or missing password); give the password in the URL, "
     "$PGPASSWORD or ~/.pgpass, or ask the database administrator for the right user"),
    ("postgresql://ann@h/records", "GSSAPI authentication failed", "the server refused user ann (wrong"),
    ("postgresql://ann@h/records", 'FATAL:  database "records" does not exist',
     "there is no database records on the server; create it (createdb records) or name another in --store"),
    ("postgresql://ann@h", 'FATAL:  database "ann" does not exist',
     "there is no database ann on the server; create it (createdb ann)"),
    ("postgresql://bob@h/records", 'FATAL:  role "bob" does not exist',
     "the server has no user bob; name another user in --store or ask the administrator to create it"),
    # "role" without "does not exist": not a missing user, but one that may not log in
    ("postgresql://bob@h/records", 'FATAL:  role "bob" is not permitted to log in',
     "user bob may not connect to database records from here"),
    ("postgresql://bob@h/records", "FATAL:  permission denied for database \"records\"",
     "user bob may not connect to database records from here; ask the administrator to grant CONNECT "
     "(see the README's GRANTs)"),
    ("postgresql://bob@h/records", "connection not permitted", "user bob may not connect to database records"),
    ("postgresql://bob@h/records", 'FATAL:  no pg_hba.conf entry for host "10.0.0.9"',
     "user bob may not connect to database records"),
    ("postgresql://bob@nowhere/records", 'could not translate host name "nowhere" to address',
     "the host name is unknown; check the host in --store (or $PORTFOLIO_STORE)"),
    ("postgresql://bob@nowhere/records", "Name or service not known", "the host name is unknown"),
    ("postgresql://bob@nowhere/records", "nodename nor servname provided", "the host name is unknown"),
    ("postgresql://bob@h/records", "connection timeout expired",
     "the server did not answer within 10 s; check the host and port, and that a firewall lets you through"),
    ("postgresql://bob@h/records", "the server timed out", "the server did not answer within 10 s"),
    ("postgresql://bob@h/records", "Connection refused\n\tIs the server running?",
     "no PostgreSQL server answers there; check the host and port in --store, and that the server is running"),
    ("postgresql://bob@h/records", "could not connect to server", "no PostgreSQL server answers there"),
    ("postgresql://bob@h/records", "No such file or directory", "no PostgreSQL server answers there"),
    ("postgresql://bob@h/records", "server closed the connection unexpectedly", "no PostgreSQL server answers there"),
    ("postgresql://bob@h/records", "something odd\nsecond line", "cannot connect (something odd); check the URL in --store"),
    ("postgresql://bob@h/records", "", "cannot connect (OSError); check the URL in --store"),
    ("postgresql://h:notaport:x/db?bad=1", "FATAL:  role \"x\" does not exist", "the server has no user (your login name)"),
])
def test_a_failed_connection_is_one_line_naming_the_cause_and_the_fix(url, error, why):
    from generator.records.postgres import CONNECT_TIMEOUT, _connect_problem
    assert CONNECT_TIMEOUT == 10
    problem = _connect_problem("postgresql://bob@h/records", url, OSError(error) if error else OSError())
    assert isinstance(problem, StoreError)
    assert str(problem).startswith(f"postgresql://bob@h/records: {why}"), str(problem)


def test_a_seal_edited_in_the_database_is_named_and_its_rows_count_as_unsealed(tmp_path):
    location = str(tmp_path / "records.sqlite")
    with open_store(location) as store:
        with store.transaction():
            store.add_audit("rejected", filename="x.txt", detail="not a pack")
    covers = '{"audit":{"1":"' + "0" * 64 + '"}}'  # hashes to something else than the entry's digest
    ref = '{"audit":1,"issued":0,"submission":0}'
    link = sha(f'[1,"sealed","{ref.replace(chr(34), chr(92) + chr(34))}","{"d" * 64}","{GENESIS}"]')
    import sqlite3
    db = sqlite3.connect(location, isolation_level=None)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DELETE FROM ledger")
    db.execute("INSERT INTO ledger VALUES (1, 'sealed', ?, ?, ?, ?, ?)", (ref, "d" * 64, GENESIS, link, covers))
    db.close()
    with open_store(location, create=False) as store:
        assert protocol.link_hash(1, "sealed", ref, "d" * 64, GENESIS) == link
        problems = protocol.verify_chain(store).problems
    assert problems[0].startswith("the store's guard trigger ")
    assert problems[1:] == ["ledger entry 1 (the rows stored before the ledger): its list of rows was edited",
                            "audit entry 1 is not in the ledger: it was added around the tool"]


def escaped(text: str) -> str:
    return text.replace('"', '\\"')


def refuses_a_write(location: str, problem: str) -> None:
    """The store at ``location`` refuses the next write, naming ``problem`` and the fix."""
    with open_store(location) as store:
        with pytest.raises(StoreError) as raised:
            with store.transaction():
                store.add_audit("rejected", filename="x.txt")
    assert str(raised.value) == (
        f"{location}: the records store was changed outside the tool ({problem}); nothing was stored: run "
        "'portfolio store verify' and restore the store from a backup")


@pytest.mark.parametrize("ref, problem", [
    ("not json", "ledger entry 1 (the rows stored before the ledger): its list of rows was edited"),
    ('{"audit":1,"issued":0,"submission":0}',
     "the audit_log table holds 0 rows but the ledger seals 1: rows were added or deleted around the tool"),
    ('{"other":1}', "the ledger holds 0 entries for 0 rows: it was edited"),
])
def test_the_tail_check_refuses_a_write_after_a_seal_that_does_not_add_up(tmp_path, ref, problem):
    location = str(tmp_path / "records.sqlite")
    with open_store(location):
        pass
    import sqlite3
    db = sqlite3.connect(location, isolation_level=None)  # the guards stay: a ledger row may be appended
    db.execute("INSERT INTO ledger VALUES (1, 'sealed', ?, ?, ?, ?, ?)",
               (ref, "d" * 64, GENESIS, sha(f'[1,"sealed","{escaped(ref)}","{"d" * 64}","{GENESIS}"]'), "{}"))
    db.close()
    refuses_a_write(location, problem)
    with open_store(location) as store:
        assert store.audit() == [] and len(store.ledger()) == 1


def test_the_tail_check_passes_a_sound_seal_and_the_next_entry_follows_it(tmp_path):
    """A row stored before the ledger, sealed by entry 1 (as the upgrade writes it), with every guard in place."""
    location = str(tmp_path / "records.sqlite")
    with open_store(location):
        pass
    import sqlite3
    db = sqlite3.connect(location, isolation_level=None)
    db.execute("INSERT INTO audit_log (id, at, action, actor, filename, sha256, instance_id, submission_id, detail) "
               "VALUES (1, '2026-01-01T00:00:00', 'rejected', 'ann', 'x.txt', NULL, NULL, NULL, 'not a pack')")
    text = ('{"action":"rejected","actor":"ann","at":"2026-01-01T00:00:00","detail":"not a pack","filename":"x.txt",'
            '"id":1,"instance_id":null,"sha256":null,"submission_id":null}')
    covers = '{"audit":{"1":"%s"},"issued":{},"submission":{}}' % sha(text)
    ref = '{"audit":1,"issued":0,"submission":0}'
    link = sha(f'[1,"sealed","{escaped(ref)}","{sha(covers)}","{GENESIS}"]')
    db.execute("INSERT INTO ledger VALUES (1, 'sealed', ?, ?, ?, ?, ?)", (ref, sha(covers), GENESIS, link, covers))
    db.close()
    with open_store(location) as store:
        assert protocol.check_tail(store).hash == link
        assert protocol.verify_chain(store).problems == []
        with store.transaction():
            store.add_audit("rejected", filename="y.txt")
        assert [(e.seq, e.kind, e.ref, e.prev) for e in store.ledger()] == [(1, "sealed", ref, GENESIS),
                                                                            (2, "audit", "2", link)]
        assert store.ledger_covers(1) == covers and store.ledger_covers(2) is None
        report = protocol.verify_chain(store)
        assert report.ok and report.entries == 2
        assert protocol._Rows(store).content("audit", "1")["actor"] == "ann"


# ---------------------------------------------------------------- the guard triggers, as each builder writes them
# (the schema is built from them once, when the module is imported; called here, each builder's own output is
# run on a table of its own, so that a change to a builder is seen)

def sqlite_table(sql: str):
    import sqlite3
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(sql)
    return db


def test_sqlite_no_change_triggers_refuse_update_and_delete_by_name():
    from generator.records.sqlite import _no_change_triggers
    import sqlite3
    db = sqlite_table("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    for statement in _no_change_triggers("notes"):
        db.execute(statement)
    db.execute("INSERT INTO notes VALUES (1, 'a')")
    assert sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")) == [
        "notes_no_delete", "notes_no_update"]
    with pytest.raises(sqlite3.IntegrityError, match=r"^notes is append-only: rows are never changed$"):
        db.execute("UPDATE notes SET text = 'b'")
    with pytest.raises(sqlite3.IntegrityError, match=r"^notes is append-only: rows are never deleted$"):
        db.execute("DELETE FROM notes")
    assert db.execute("SELECT * FROM notes").fetchall() == [(1, "a")]


def test_sqlite_no_replace_triggers_refuse_a_row_meeting_each_key():
    from generator.records.sqlite import _KEYS, _no_replace_triggers
    import sqlite3
    assert _KEYS["warnings"] == (("submission_id", "seq"),) and _KEYS["users"] == (("email",),)
    assert _KEYS["submissions"] == (("id",), ("sha256",), ("instance_id", "version"))
    db = sqlite_table("CREATE TABLE warnings (submission_id INTEGER, seq INTEGER, message TEXT, "
                      "PRIMARY KEY (submission_id, seq))")
    db.execute("CREATE TABLE users (email TEXT PRIMARY KEY, role TEXT)")
    db.execute("CREATE TABLE submissions (id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE, instance_id TEXT, "
               "version INTEGER, UNIQUE (instance_id, version))")
    for table in ("warnings", "users", "submissions"):
        for statement in _no_replace_triggers(table):
            db.execute(statement)
    assert sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")) == [
        "submissions_no_replace_id", "submissions_no_replace_instance_id_version", "submissions_no_replace_sha256",
        "users_no_replace_email", "warnings_no_replace_submission_id_seq"]
    db.execute("INSERT INTO warnings VALUES (1, 1, 'a')")
    db.execute("INSERT INTO warnings VALUES (1, 2, 'b')")  # the same submission, another place: allowed
    db.execute("INSERT INTO warnings VALUES (2, 1, 'c')")
    with pytest.raises(sqlite3.IntegrityError, match=r"^warnings is append-only: a row with this submission_id, "
                                                     r"seq exists and is never replaced$"):
        db.execute("INSERT OR REPLACE INTO warnings VALUES (1, 2, 'replaced')")
    db.execute("INSERT INTO users VALUES ('a@example.org', 'pcn')")
    with pytest.raises(sqlite3.IntegrityError, match=r"^users are never deleted: disable the account instead "
                                                     r"\(an account is never replaced\)$"):
        db.execute("REPLACE INTO users VALUES ('a@example.org', 'provider')")
    db.execute("INSERT INTO submissions VALUES (1, 'aa', 'i-1', 1)")
    db.execute("INSERT INTO submissions VALUES (2, 'bb', 'i-1', 2)")
    db.execute("INSERT INTO submissions VALUES (3, 'cc', 'i-2', 1)")
    for row, key in [((1, "zz", "i-9", 1), "id"), ((9, "aa", "i-9", 1), "sha256"),
                     ((9, "zz", "i-1", 2), "instance_id, version")]:
        with pytest.raises(sqlite3.IntegrityError, match=rf"^submissions is append-only: a row with this {key} "
                                                         r"exists and is never replaced$"):
            db.execute("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?)", row)
    assert db.execute("SELECT * FROM warnings ORDER BY submission_id, seq").fetchall() == [
        (1, 1, "a"), (1, 2, "b"), (2, 1, "c")]


def test_postgresql_no_change_triggers_refuse_update_delete_and_truncate(pg_url):
    import psycopg
    from generator.records.postgres import _REFUSE_CHANGE, _no_change_triggers
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(_REFUSE_CHANGE)
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        for statement in _no_change_triggers("notes"):
            db.execute(statement)
        db.execute("INSERT INTO notes VALUES (1, 'a')")
        assert sorted(r[0] for r in db.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")) == [
            "notes_no_change", "notes_no_truncate"]
        for statement, word in [("UPDATE notes SET text = 'b'", "changed"), ("DELETE FROM notes", "deleted"),
                                ("TRUNCATE notes", "truncated")]:
            with pytest.raises(psycopg.errors.RestrictViolation, match=rf"^notes is append-only: rows are never {word}"):
                db.execute(statement)
        assert db.execute("SELECT * FROM notes").fetchall() == [(1, "a")]


def test_scanned_pages_and_marks_of_given_copies_come_in_copy_page_and_place_order(engine_store):
    """Orders where each sort key decides: the instance ids and the dpi run against the copies' and pages'
    order, a page without a number comes first, and two places of one page are ordered by place, not name."""
    store = engine_store
    with store.transaction():
        one = store.add_submission(submission(sha="1" * 64, instance="i-1"), 1, None)
        two = store.add_submission(submission(sha="2" * 64, instance="i-2"), 1, None)
        for page in [ScanPage("a" * 64, 4, "z.pdf", one, "i-9", 2, 100.0, 0.1, ""),
                     ScanPage("a" * 64, 3, "y.pdf", one, "i-9", 1, 300.0, 0.1, ""),
                     ScanPage("a" * 64, 9, "a.pdf", one, "i-9", 1, 300.0, 0.1, ""),
                     ScanPage("a" * 64, 5, "b.pdf", one, "i-9", None, None, None, "unreadable"),
                     ScanPage("a" * 64, 1, "c.pdf", two, "i-0", 1, 50.0, 0.1, "")]:
            store.add_scan_page(page)
        store.add_scan_fields([ScanField(one, "z.f", "", 1, 0.9, "ticked", "read"),
                               ScanField(one, "a.f", "yes", 1, 0.1, "empty", "read"),
                               ScanField(one, "m.f", "", 2, 0.01, "empty", "read"),
                               ScanField(two, "b.f", "", 1, 0.5, "ticked", "read")])
    assert [(p.submission_id, p.page, p.page_index) for p in store.scan_pages([one, two])] == [
        (one, None, 5), (one, 1, 3), (one, 1, 9), (one, 2, 4), (two, 1, 1)]
    assert [(f.submission_id, f.page, f.field_id) for f in store.scan_fields([one, two])] == [
        (one, 1, "a.f"), (one, 1, "z.f"), (one, 2, "m.f"), (two, 1, "b.f")]
    assert [f.field_id for f in store.scan_fields()] == ["a.f", "z.f", "m.f", "b.f"]


def test_the_review_queue_holds_the_unread_unreviewed_fields_of_current_copies_a_page_at_a_time(engine_store):
    store = engine_store
    with store.transaction():
        old = store.add_submission(submission(sha="1" * 64, instance="i-1"), 1, None)
        two = store.add_submission(submission(sha="2" * 64, instance="i-2"), 1, None)
        new = store.add_submission(submission(sha="3" * 64, instance="i-1"), 2, old)  # replaces the first
        store.add_scan_fields([
            ScanField(old, "x.f", "", 1, 0.3, "unsure", "needs review"),  # of a replaced copy: not waiting
            ScanField(two, "b.f", "yes", 2, 0.3, "unsure", "needs review"),
            ScanField(two, "b.f", "no", 1, 0.2, "unsure", "needs review"),
            ScanField(two, "a.f", "", 2, 0.0, "written", "needs transcription", b"crop"),
            ScanField(two, "c.f", "", 1, 0.9, "ticked", "read"),  # read: not waiting
            ScanField(two, "d.f", "", 1, 0.3, "unsure", "needs review"),  # reviewed below: not waiting
            ScanField(new, "e.f", "", 1, 0.3, "unsure", "needs review", b"png")])
        store.add_scan_review(two, "d.f", True)
    rows, total = store.scan_waiting()
    assert total == 3
    assert rows == [ScanField(two, "b.f", "no", 1, 0.2, "unsure", "needs review"),
                    ScanField(two, "b.f", "yes", 2, 0.3, "unsure", "needs review"),
                    ScanField(two, "a.f", "", 2, 0.0, "written", "needs transcription", None, True),
                    ScanField(new, "e.f", "", 1, 0.3, "unsure", "needs review", None, True)]
    assert store.scan_waiting(limit=1, offset=1) == ([rows[2]], 3)
    assert store.scan_waiting(limit=2) == (rows[:3], 3)  # a field's rows come together
    assert store.scan_waiting(limit=5, offset=2) == ([rows[3]], 3)
    assert store.scan_waiting(limit=-1) == ([], 3)
    assert store.scan_waiting(limit=1, offset=-5) == (rows[:2], 3)


def test_a_store_copied_into_a_new_sqlite_store_holds_the_same_rows_and_chains_on(engine_store, tmp_path):
    from generator.records.copy import copy_store
    source = engine_store
    with source.transaction():
        one = source.add_submission(submission(sha=hashlib.sha256(b"one").hexdigest(), data=b"one"), 1, None)
        source.add_submission(submission(sha="2" * 64, instance="i-2"), 1, None)
        source.add_audit("ingested", filename="a.pdf", submission_id=one, detail="new copy")
        source.add_scan_page(ScanPage("s" * 64, 1, "scan.pdf", one, "i-1", 1, 300.0, 0.5, "", b"img"))
        source.add_scan_fields([ScanField(one, "a.f", "", 1, 0.3, "unsure", "needs review", b"crop")])
        source.add_scan_review(one, "a.f", "typed")
    with open_store(str(tmp_path / "copy.sqlite")) as copy:
        result = copy_store(source, copy)
        assert {t.table: t.copied for t in result.tables if t.copied} == {
            "definitions": 1, "submissions": 2, "field_values": 10, "warnings": 4, "originals": 1, "audit_log": 1,
            "scan_pages": 1, "scan_fields": 1, "scan_reviews": 1, "ledger": 3}
        assert copy.submissions() == source.submissions() and copy.audit() == source.audit()
        assert copy.ledger() == source.ledger() and copy.values() == source.values()
        assert copy.scan_pages() == source.scan_pages() and copy.scan_reviews() == source.scan_reviews()
        assert copy.original(hashlib.sha256(b"one").hexdigest()) == b"one"
        assert list(copy.table_rows("audit_log", ["id", "action"], ("id",))) == [(1, "ingested")]
        with copy.transaction():  # new rows take the next ids and follow the copied chain
            copy.add_audit("rejected", filename="b.txt")
        assert [e.id for e in copy.audit()] == [1, 2]
        assert protocol.verify_chain(copy).ok and copy.ledger_tail().seq == 4
    with pytest.raises(StoreError, match=r"^users: not a table a store copy carries$"):
        list(source.table_rows("users", ["email"], ("email",)))
    with pytest.raises(StoreError, match=r"^users: not a table a store copy carries$"):
        source.columns("users")


# ---------------------------------------------------------------- SQLite opened for reading

def older_store(path, monkeypatch, version: int) -> None:
    """A store at schema ``version`` (as an older tool left it), with one submission."""
    from generator.records import sqlite as engine
    with monkeypatch.context() as m:
        m.setattr(engine, "MIGRATIONS", {v: s for v, s in engine.MIGRATIONS.items() if v <= version})
        m.setattr(engine, "SCHEMA_VERSION", version)
        m.setattr(engine, "check_tail", lambda store: None)
        m.setattr(engine.SQLiteStore, "_seal", lambda *args: None)
        with open_store(str(path)) as store:
            with store.transaction():
                store.add_submission(submission(), 1, None)


def test_a_store_in_a_read_only_folder_is_read_as_immutable(tmp_path):
    from tests.records.test_store_read_only import read_only
    folder = tmp_path / "records"
    folder.mkdir()
    with open_store(str(folder / "r.sqlite")) as store:
        with store.transaction():
            store.add_submission(submission(), 1, None)
    with read_only(folder):  # no -shm file can be made beside it: opened as immutable, and read
        with open_store(str(folder / "r.sqlite"), read_only=True) as store:
            assert [s.sha256 for s in store.submissions()] == ["a" * 64]
    assert sorted(p.name for p in folder.iterdir()) == ["r.sqlite"]


def test_an_older_store_in_a_read_only_folder_is_refused_with_the_fix(tmp_path, monkeypatch):
    from generator.records.sqlite import SCHEMA_VERSION
    from tests.records.test_store_read_only import read_only
    folder = tmp_path / "records"
    folder.mkdir()
    older_store(folder / "r.sqlite", monkeypatch, SCHEMA_VERSION - 1)
    with read_only(folder):
        with pytest.raises(StoreError) as raised:
            open_store(str(folder / "r.sqlite"), read_only=True)
    assert str(raised.value) == (
        f"{folder / 'r.sqlite'}: made by an older version of this tool (schema {SCHEMA_VERSION - 1}) and read-only "
        "here; upgrade it by ingesting into it once where it can be written, then read it here")


def test_an_older_store_where_it_can_be_written_is_upgraded_then_read(tmp_path, monkeypatch):
    from generator.records.sqlite import SCHEMA_VERSION
    older_store(tmp_path / "r.sqlite", monkeypatch, SCHEMA_VERSION - 1)
    with open_store(str(tmp_path / "r.sqlite"), read_only=True) as store:
        assert store.schema_version() == SCHEMA_VERSION and len(store.submissions()) == 1
        with pytest.raises(StoreError, match="opened for reading only"):
            with store.transaction():
                store.add_audit("rejected")


def test_a_newer_store_is_refused_for_reading_too(tmp_path):
    from generator.records.sqlite import SCHEMA_VERSION
    import sqlite3
    path = tmp_path / "r.sqlite"
    with open_store(str(path)):
        pass
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    for read in (True, False):
        with pytest.raises(StoreError) as raised:
            open_store(str(path), read_only=read)
        assert str(raised.value) == (f"{path}: made by a newer version of this tool (schema {SCHEMA_VERSION + 1}, "
                                     f"this tool knows {SCHEMA_VERSION}); upgrade the tool")


def test_a_store_opened_for_reading_where_it_can_be_written_sees_later_writes(tmp_path):
    """Not opened as immutable where a writer may be at work: a row another connection commits afterwards
    (still in the -wal file) is read."""
    path = str(tmp_path / "r.sqlite")
    with open_store(path) as writer, open_store(path, read_only=True) as reader:
        assert reader.audit() == []
        with writer.transaction():
            writer.add_audit("rejected", filename="x.txt", detail="not a pack")
        assert [(e.action, e.filename) for e in reader.audit()] == [("rejected", "x.txt")]


def test_a_submission_is_sealed_as_it_reads_back_whatever_its_values_hold(engine_store):
    """The seal is worked out from what was written, not read back: it must equal what the store gives back."""
    store = engine_store
    values = [FieldValue("a", "read", "Zoë Łukasiewicz \u2028 \"quoted\""), FieldValue("b", "read", True),
              FieldValue("c", "read", False), FieldValue("d", "read", None), FieldValue("e", "read", "happy", 2),
              FieldValue("f", "read", [{"row": "1", "when": "2026-09-01"}, {"row": "2"}]),
              FieldValue("g", "read", 3), FieldValue("h", "read", 2.5), FieldValue("i", "missing", None),
              FieldValue("j", "unmapped", "kept")]
    flags = [("a", "postcode"), ("a", "nhs_number"), ("a", "postcode")]  # a repeated flag is kept once
    with store.transaction():
        sid = store.add_submission(submission(values=values, flags=flags), 1, None)
    entry = store.ledger_tail()
    assert (entry.seq, entry.kind, entry.ref) == (1, "submission", str(sid))
    content = protocol.entry_content(store, "submission", str(sid))
    assert content["values"][5] == ["f", "read", [{"row": "1", "when": "2026-09-01"}, {"row": "2"}], None]
    assert content["flags"] == [["a", "nhs_number"], ["a", "postcode"]]
    assert entry.digest == digest_of(content)
    assert protocol.verify_chain(store).ok


def test_a_store_locked_by_another_writer_names_the_cause_and_the_fix(tmp_path, monkeypatch):
    import sqlite3

    from generator.records import sqlite as engine
    path = tmp_path / "records.sqlite"
    with open_store(str(path)):
        pass
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    monkeypatch.setattr(engine, "BUSY_TIMEOUT", 0.2)
    try:
        with open_store(str(path)) as store:
            with pytest.raises(StoreError) as raised:
                with store.transaction():
                    pass
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(raised.value) == (
        f"{path}: another program kept the store locked for writing for 0.2 s (an ingest, the web app, a backup "
        "or a database tool); nothing was stored: let it finish, then rerun")


def test_adding_issued_packs_counts_every_new_row(engine_store):
    import dataclasses
    other = dataclasses.replace(PACK, instance_id="i-2", file="build/d.pdf")
    third = dataclasses.replace(PACK, instance_id="i-3", file="build/e.pdf")
    with engine_store.transaction():
        assert engine_store.add_issued([PACK, other, third], source="north/issued.csv") == 3
        assert engine_store.add_issued([PACK, other], source="north/issued.csv") == 0
        fourth = dataclasses.replace(PACK, instance_id="i-4", file="build/f.pdf")
        assert engine_store.add_issued([PACK, fourth], source="north/issued.csv") == 1  # after one stored before
    assert sorted(p.instance_id for p in engine_store.issued()) == ["i-1", "i-2", "i-3", "i-4"]


def test_the_issued_rows_of_one_instance_are_looked_up_by_its_id(engine_store):
    import dataclasses
    printed = dataclasses.replace(PACK, file="build/print-ready.pdf")  # the same copy in a print-ready file
    other = dataclasses.replace(PACK, instance_id="i-2", learner="Ngozi", file="build/n.pdf")
    with engine_store.transaction():
        engine_store.add_issued([other, printed, PACK], source="north/issued.csv")
    assert [(p.instance_id, p.file) for p in engine_store.issued("i-1")] == [("i-1", "build/print-ready.pdf"),
                                                                            ("i-1", "build/z.pdf")]
    assert engine_store.issued("i-2") == [dataclasses.replace(other, source="north/issued.csv")]
    assert engine_store.issued("i-9") == []
    assert [p.learner for p in engine_store.issued()] == ["Ngozi", "Zoë", "Zoë"]  # every row, by PCN then learner
    # the ledger's check finds a sealed register row by its instance
    ref = '["i-1","build/z.pdf"]'
    assert protocol.entry_content(engine_store, "issued", ref) == issued_content(PACK)
    assert protocol.entry_content(engine_store, "issued", '["i-1","build/gone.pdf"]') is None
    assert protocol.entry_content(engine_store, "issued", "not json") is None
    assert protocol.entry_content(engine_store, "issued", "[]") is None
    assert protocol.entry_content(engine_store, "issued", '{"i-1": "build/z.pdf"}') is None
    assert protocol.entry_content(engine_store, "issued", '[1,"build/z.pdf"]') is None  # not "i-1"


# ---------------------------------------------------------------- the tail check and the whole check, case by case

AUDIT_TEXT = ('{"action":"rejected","actor":"ann","at":"2026-01-0%dT00:00:00","detail":"not a pack",'
              '"filename":"x%d.txt","id":%d,"instance_id":null,"sha256":null,"submission_id":null}')


def raw_audit(db, n: int) -> None:
    """Audit entry ``n`` written around the tool (its columns as AUDIT_TEXT gives them)."""
    db.execute("INSERT INTO audit_log (id, at, action, actor, filename, sha256, instance_id, submission_id, detail) "
               "VALUES (?, ?, 'rejected', 'ann', ?, NULL, NULL, NULL, 'not a pack')",
               (n, f"2026-01-0{n}T00:00:00", f"x{n}.txt"))


def around_the_tool(location: str, *statements: tuple) -> None:
    """Run SQL on a store with its guard triggers lifted, then put them back as they were."""
    import sqlite3
    db = sqlite3.connect(location, isolation_level=None)
    triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for name, _ in triggers:
        db.execute(f"DROP TRIGGER {name}")
    for sql, *params in statements:
        db.execute(sql, tuple(params))
    for _, sql in triggers:
        db.execute(sql)
    db.close()


def test_the_tail_check_counts_what_the_seal_covers_after_later_entries(tmp_path):
    """Two rows sealed by entry 1, two more stored by the tool (entries 2 and 3), then one added around it."""
    location = str(tmp_path / "records.sqlite")
    with open_store(location):
        pass
    import sqlite3
    db = sqlite3.connect(location, isolation_level=None)
    raw_audit(db, 1)
    raw_audit(db, 2)
    covers = '{"audit":{"1":"%s","2":"%s"},"issued":{},"submission":{}}' % (sha(AUDIT_TEXT % (1, 1, 1)),
                                                                          sha(AUDIT_TEXT % (2, 2, 2)))
    ref = '{"audit":2,"issued":0,"submission":0}'
    link = sha(f'[1,"sealed","{escaped(ref)}","{sha(covers)}","{GENESIS}"]')
    db.execute("INSERT INTO ledger VALUES (1, 'sealed', ?, ?, ?, ?, ?)", (ref, sha(covers), GENESIS, link, covers))
    db.close()
    with open_store(location) as store:
        for name in ("y.txt", "z.txt"):  # the second is checked against a tail at entry 2, after the seal
            with store.transaction():
                store.add_audit("rejected", filename=name)
        assert [e.seq for e in store.ledger()] == [1, 2, 3] and protocol.verify_chain(store).ok
    db = sqlite3.connect(location, isolation_level=None)  # a register row added around the tool
    db.execute("INSERT INTO packs_issued VALUES ('i-1', 'pack', 'Zoë', 'P', 'riverside-pcn', '', '', '', '', "
               "'z.pdf', 'c', '1', '2026-01-01', 'k', '2026-01-01', 'issued.csv')")
    db.close()
    with open_store(location) as store:
        with pytest.raises(StoreError) as raised:
            with store.transaction():
                store.add_audit("rejected", filename="w.txt")
        # the audit rows add up (2 sealed by entry 1, 2 by entries 2 and 3): the register's do not
        assert "(the packs_issued table holds 1 rows but the ledger seals 0: rows were added or deleted around " \
               "the tool)" in str(raised.value)


@pytest.mark.parametrize("statement, problem", [
    (("UPDATE ledger SET hash = ? WHERE seq = 1", "f" * 64),
     "ledger entry 1 (audit entry 1): its hash does not match its contents: the ledger was edited"),
    (("DELETE FROM audit_log WHERE id = 1",),
     "ledger entry 1 (audit entry 1): the row it seals is gone: it was deleted"),
    (("UPDATE audit_log SET detail = 'edited' WHERE id = 1",),
     "audit entry 1 no longer matches ledger entry 1: it was changed"),
])
def test_the_tail_check_refuses_a_tail_edited_or_deleted_around_the_tool(tmp_path, statement, problem):
    location = str(tmp_path / "records.sqlite")
    with open_store(location) as store:
        with store.transaction():
            store.add_audit("rejected", filename="x.txt")
    around_the_tool(location, statement)
    refuses_a_write(location, problem)


def test_a_submission_tail_is_read_back_as_stored_without_values_and_before_its_review(engine_store):
    store = engine_store
    with store.transaction():
        bare = store.add_submission(submission(sha="1" * 64, values=[], warnings=[]), 1, None)
    with store.transaction():  # the tail is a submission with no values, warnings or flags
        store.add_audit("note", filename="a.txt")
    with store.transaction():
        read = store.add_submission(submission(sha="2" * 64, instance="i-2"), 1, None)
        store.add_scan_review(read, "cover.details.name", "Zoe Lukasiewicz")  # not sealed: a review is its own row
    with store.transaction():  # the tail is a submission whose value a person has reviewed since
        store.add_audit("note", filename="b.txt")
    assert protocol.verify_chain(store).problems == []
    assert protocol.entry_content(store, "submission", str(bare))["values"] == []
    assert protocol.entry_content(store, "submission", str(read))["values"][0] == [
        "cover.details.name", "read", "Zoë Łukasiewicz", None]
    assert store.values([read])[read][0].value == "Zoe Lukasiewicz"  # what records show: the review


def test_an_entry_of_an_unknown_kind_and_a_submission_never_stored_are_named(engine_store):
    with pytest.raises(StoreError) as raised:
        protocol.entry_content(engine_store, "bogus", "1")
    assert str(raised.value) == f"{engine_store.path}: ledger entry of unknown kind 'bogus': the ledger was edited"
    with pytest.raises(StoreError) as raised:
        protocol.stored_submission_content(engine_store, 99, submission())
    assert str(raised.value) == f"{engine_store.path}: submission 99 was not stored"


def test_verify_counts_the_unsealed_rows_of_a_kind_and_names_an_original_of_no_submission(tmp_path):
    location = str(tmp_path / "records.sqlite")
    with open_store(location) as store:
        with store.transaction():
            store.add_audit("rejected", filename="x.txt")
    around_the_tool(location, *[("INSERT INTO audit_log (id, at, action, actor, detail) VALUES (?, ?, 'x', 'ann', '')",
                                 n, "2026-01-01T00:00:00") for n in (2, 3, 4)],
                    ("INSERT INTO originals VALUES (?, 3, ?, '2026-01-01T00:00:00')", "0123456789ab" + "c" * 52,
                     b"abc"))
    with open_store(location) as store:
        assert protocol.verify_chain(store).problems == [
            "the original kept for file 0123456789ab… no longer has its SHA-256: it was changed",
            "audit entry 2 is not in the ledger (nor are 2 more audit rows): it was added around the tool"]
    around_the_tool(location, ("DELETE FROM audit_log WHERE id > 3",), ("DELETE FROM originals",))
    with open_store(location) as store:
        assert protocol.verify_chain(store).problems == [
            "audit entry 2 is not in the ledger (nor is 1 more audit row): it was added around the tool"]
    around_the_tool(location, ("DELETE FROM audit_log WHERE id > 2",))
    with open_store(location) as store:
        assert protocol.verify_chain(store).problems == [
            "audit entry 2 is not in the ledger: it was added around the tool"]


# ---------------------------------------------------------------- SQLite: rows as stored, refusals named

def test_json_is_stored_as_utf8_with_sorted_keys_and_rows_are_numbered_from_one(store_location):
    """The columns as written in the database (what a database tool or a later version reads), in either engine."""
    new = submission(learner={"name": "Zoë", "email": "zoe@example.org"},
                     pcn_facts={"slug": "riverside-pcn", "name": "Riverside PCN, Ōtautahi"}, definition=OTHER)
    with open_store(store_location) as store:
        with store.transaction():
            sid = store.add_submission(new, 1, None)
            store.add_scan_review(sid, "cover.details.name", "Zoë Ó")
    assert raw_query(store_location, f"SELECT learner_json, pcn_json FROM submissions WHERE id = {sid}") == [(
        '{"email": "zoe@example.org", "name": "Zoë"}',
        '{"name": "Riverside PCN, Ōtautahi", "slug": "riverside-pcn"}')]
    # a missing value is NULL, not the JSON text null
    assert raw_query(store_location, "SELECT field_id, seq, value FROM field_values ORDER BY seq") == [
        ("cover.details.name", 1, '"Zoë Łukasiewicz"'), ("competencies.a.x.achieved", 2, "true"),
        ("patient_feedback.ratings.respect", 3, '"happy"'), ("cover.details.start_date", 4, None),
        ("cover.details.extra", 5, '"kept"')]
    assert raw_query(store_location, "SELECT seq, field_id FROM warnings ORDER BY seq") == [
        (1, "cover.details.extra"), (2, None)]
    assert raw_query(store_location, "SELECT fields_json FROM definitions") == [
        ('[{"id": "patient_feedback.q", "kind": "text", "label": "Q: Ö", "options": []}]',)]
    assert raw_query(store_location, "SELECT value FROM scan_reviews") == [('"Zoë Ó"',)]


def test_values_flags_and_warnings_of_given_copies_only_or_of_all(store_location):
    with open_store(store_location) as store:
        with store.transaction():
            one = store.add_submission(submission(sha="1" * 64, values=[FieldValue("a", "read", "x")],
                                                  warnings=[("a", "a: one")], flags=[("a", "postcode")]), 1, None)
            two = store.add_submission(submission(sha="2" * 64, instance="i-2", values=[FieldValue("b", "read", "y")],
                                                  warnings=[(None, "two")], flags=[("b", "nhs_number")]), 1, None)
        assert store.values([two]) == {two: [FieldValue("b", "read", "y")]}
        assert store.values() == {one: [FieldValue("a", "read", "x")], two: [FieldValue("b", "read", "y")]}
        assert store.flags([one]) == {one: [("a", "postcode")]}
        assert store.flags() == {one: [("a", "postcode")], two: [("b", "nhs_number")]}
        assert store.warning_rows([two]) == {two: [(None, "two")]}
        assert store.warning_rows() == {one: [("a", "a: one")], two: [(None, "two")]}
        assert store.values([]) == {} and store.flags([]) == {} and store.warning_rows([]) == {}


def test_an_audit_entry_without_detail_stores_an_empty_one_and_the_first_entry_of_none_is_none(store_location):
    with open_store(store_location) as store:
        assert store.ledger_first() is None
        with store.transaction():
            store.add_audit("rejected", filename="x.txt")
        assert [(e.action, e.filename, e.detail) for e in store.audit()] == [("rejected", "x.txt", "")]
        assert (store.ledger_first().seq, store.ledger_first().kind) == (1, "audit")


def shown(location: str) -> str:
    """How messages name a store: its path, or its URL without the password."""
    return re.sub(r"^(postgresql://[^:@/]+):[^@/]*@", r"\1@", location)


def test_a_write_to_a_store_opened_for_reading_or_outside_a_transaction_is_refused_by_name(store_location):
    with open_store(store_location) as store:
        with pytest.raises(StoreError) as raised:
            store.add_audit("rejected")
        assert str(raised.value) == "write outside a transaction (use 'with store.transaction():')"
    with open_store(store_location, read_only=True) as store:
        with pytest.raises(StoreError) as raised:
            store.add_audit("rejected")  # refused as read-only before the transaction is looked at
        assert str(raised.value) == f"{shown(store_location)}: opened for reading only"


def test_a_sqlite_store_opened_for_reading_refuses_a_transaction_by_name(tmp_path):
    path = str(tmp_path / "records.sqlite")
    with open_store(path):
        pass
    with open_store(path, read_only=True) as store:
        with pytest.raises(StoreError) as raised:
            with store.transaction():
                pass
        assert str(raised.value) == f"{path}: opened for reading only"


def test_a_store_or_folder_that_cannot_be_written_is_refused_before_anything_is_read(tmp_path):
    from tests.records.test_store_read_only import read_only
    folder = tmp_path / "records"
    folder.mkdir()
    path = folder / "r.sqlite"
    with open_store(str(path)):
        pass
    with read_only(path):
        with pytest.raises(StoreError) as raised:
            open_store(str(path))
    assert str(raised.value) == (f"{path}: the records store is read-only; nothing was read or stored: make it "
                                 "writable (chmod u+w) or choose another --store")
    with read_only(folder):
        with pytest.raises(StoreError) as raised:
            open_store(str(path))
    assert str(raised.value) == (f"{path}: the folder {folder} is read-only (the store needs to write its -wal and "
                                 "-shm files beside it); nothing was read or stored: choose another --store")


def test_missing_guard_triggers_are_named_by_the_first_and_counted(tmp_path):
    import sqlite3
    path = tmp_path / "records.sqlite"
    with open_store(str(path)):
        pass
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER packs_issued_no_update")
    db.commit()
    with open_store(str(path)) as store:
        assert store.guard_problems() == ["the store's guard trigger packs_issued_no_update is missing: "
                                          "it was dropped outside the tool"]
    db.execute("DROP TRIGGER definitions_no_delete")
    db.commit()
    with open_store(str(path)) as store:
        assert store.guard_problems() == ["the store's guard trigger definitions_no_delete is missing "
                                          "(and 1 more): it was dropped outside the tool"]
    db.execute("DROP TRIGGER definitions_no_update")
    db.commit()
    db.close()
    with open_store(str(path)) as store:
        assert store.guard_problems() == ["the store's guard trigger definitions_no_update is missing "
                                          "(and 2 more): it was dropped outside the tool"]


def test_a_failed_upgrade_is_rolled_back_and_its_own_error_raised(tmp_path, monkeypatch):
    import sqlite3

    from generator.records import sqlite as engine
    path = tmp_path / "r.sqlite"
    older_store(path, monkeypatch, engine.SCHEMA_VERSION - 1)

    def fails(store):
        store._db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("the upgrade stopped here")
    monkeypatch.setattr(engine, "MIGRATIONS", {**engine.MIGRATIONS, engine.SCHEMA_VERSION: (
        *engine.MIGRATIONS[engine.SCHEMA_VERSION], fails)})
    with pytest.raises(RuntimeError, match="^the upgrade stopped here$"):
        open_store(str(path))
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == engine.SCHEMA_VERSION - 1
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    finally:
        db.close()


class _Pragmas:
    """Answers the journal-mode pragma as a store being set up by another process does: errors first."""

    def __init__(self, *errors: str):
        self.errors = list(errors)

    def execute(self, sql: str):
        assert sql.lower() == "pragma journal_mode = wal"  # SQLite reads it in either case
        if self.errors:
            import sqlite3
            raise sqlite3.OperationalError(self.errors.pop(0))
        return self

    def fetchone(self):
        return ("wal",)


def test_switching_to_wal_waits_while_the_file_is_locked_and_only_then(monkeypatch):
    from generator.records import sqlite as engine
    slept = []
    monkeypatch.setattr(engine.time, "sleep", slept.append)
    store = object.__new__(engine.SQLiteStore)
    store._db = _Pragmas("database is locked", "database is locked")
    assert store._wal() == "wal" and slept == [0.05, 0.05]
    store._db = _Pragmas("disk I/O error")
    with pytest.raises(engine.sqlite3.OperationalError, match="^disk I/O error$"):
        store._wal()
    monkeypatch.setattr(engine, "BUSY_TIMEOUT", -1)  # past the deadline at once
    store._db = _Pragmas("database is locked")
    with pytest.raises(engine.sqlite3.OperationalError, match="^database is locked$"):
        store._wal()
    assert slept == [0.05, 0.05]


def test_the_actor_is_unknown_where_the_user_has_no_name(monkeypatch):
    from generator.records import sqlite as engine

    def no_name():
        raise KeyError("getpwuid(): uid not found: 4242")
    monkeypatch.setattr(engine.getpass, "getuser", no_name)
    assert engine.actor() == "unknown"


def test_a_missing_store_a_folder_named_as_one_or_no_wal_mode_is_refused_by_name(tmp_path, monkeypatch):
    from generator.records import sqlite as engine
    missing = tmp_path / "none.sqlite"
    with pytest.raises(StoreError) as raised:
        open_store(str(missing), create=False)
    assert str(raised.value) == (f"{missing}: no records store here; run 'portfolio ingest' first or name the "
                                 "store with --store (or $PORTFOLIO_STORE)")
    assert not missing.exists()
    folder = tmp_path / "records"
    folder.mkdir()
    with pytest.raises(StoreError) as raised:
        open_store(str(folder))  # nothing is half-open: the error is the store's own, not an AttributeError
    assert str(raised.value).startswith(f"{folder}: cannot be opened as a records store (unable to open database "
                                        "file)")
    monkeypatch.setattr(engine.SQLiteStore, "_wal", lambda store: "delete")  # a file system without WAL mode
    with pytest.raises(StoreError) as raised:
        open_store(str(tmp_path / "r.sqlite"))
    assert str(raised.value) == f"{tmp_path / 'r.sqlite'}: cannot switch the store to WAL mode (got delete)"


def test_a_store_closed_twice_and_a_batch_of_two_transactions(store_location):
    store = open_store(store_location)
    with store.batch():
        with store.transaction():
            store.add_audit("rejected", filename="a.txt")
        with store.transaction():
            store.add_audit("rejected", filename="b.txt")
    assert [e.filename for e in store.audit()] == ["a.txt", "b.txt"]
    store.close()
    store.close()  # harmless, as leaving a with block after an explicit close is


# ---------------------------------------------------------------- PostgreSQL: opening, naming, refusals

def test_a_postgresql_store_is_made_and_written_unless_told_otherwise(pg_url):
    from generator.records.postgres import PostgresStore
    store = PostgresStore(pg_url)  # the defaults: create the schema, open for writing
    try:
        with store.transaction():
            store.add_audit("rejected", filename="a.txt")
        # the server knows which sessions are the tool's (an administrator reads pg_stat_activity)
        assert store._db.execute("SELECT current_setting('application_name')").fetchone() == ("portfolio",)
    finally:
        store.close()
    assert raw_query(pg_url, "SELECT action, filename FROM audit_log") == [("rejected", "a.txt")]


def test_a_postgresql_database_with_no_store_is_refused_where_none_may_be_made(pg_url):
    from generator.records.postgres import PostgresStore
    with pytest.raises(StoreError) as raised:
        PostgresStore(pg_url, create=False)
    assert str(raised.value) == (f"{shown(pg_url)}: no records store here; run 'portfolio ingest' first or name "
                                 "the store with --store (or $PORTFOLIO_STORE)")
    assert raw_query(pg_url, "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                             "current_schema()") == []


@pytest.mark.parametrize("tables, named", [
    (("invoices", "clients", "budget"), "budget, clients, invoices"),
    (("invoices", "clients", "budget", "accounts"), "accounts, budget, clients, …"),
])
def test_another_applications_postgresql_database_is_named_by_its_first_three_tables(pg_url, tables, named):
    from tests.pg import raw_execute
    for table in tables:
        raw_execute(pg_url, f"CREATE TABLE {table} (id INTEGER)")
    with pytest.raises(StoreError) as raised:
        open_store(pg_url)
    assert str(raised.value) == (f"{shown(pg_url)}: this database holds another application's tables ({named}), "
                                 "not a records store; give the records store a database of its own "
                                 "(createdb portfolio) and name it in --store")


def test_a_half_made_postgresql_store_is_refused_with_the_servers_reason_and_the_fix(pg_url):
    from tests.pg import raw_execute
    raw_execute(pg_url, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    raw_execute(pg_url, "CREATE VIEW submissions AS SELECT 1 AS id")  # in the way of the store's own table
    with pytest.raises(StoreError) as raised:
        open_store(pg_url)
    message = str(raised.value)
    assert message.startswith(f"{shown(pg_url)}: cannot be opened as a records store (")
    assert "submissions" in message.split("(", 1)[1]  # the server's first line, naming what is in the way
    assert message.endswith("): check that --store names the records store's database and that its user has the "
                            "README's GRANTs")
    assert raw_query(pg_url, "SELECT COUNT(*) FROM schema_version") == [(0,)]  # the upgrade was rolled back


def test_a_postgresql_url_libpq_cannot_parse_is_refused_with_its_form():
    from generator.records.postgres import PostgresStore
    with pytest.raises(StoreError) as raised:
        PostgresStore("postgresql://ann@h:notaport:x/db?bad=1")
    message = str(raised.value)
    assert message.startswith("postgresql://(a URL that cannot be parsed): not a PostgreSQL URL libpq understands (")
    assert message.endswith("); write it as postgresql://user@host:port/database")


def test_a_refused_postgresql_connection_names_the_store_and_the_fix():
    import socket
    from generator.records.postgres import PostgresStore
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = s.getsockname()[1]
        with pytest.raises(StoreError) as raised:
            PostgresStore(f"postgresql://ann:pw-never-shown@127.0.0.1:{port}/cohort")
    assert str(raised.value) == (f"postgresql://ann@127.0.0.1:{port}/cohort: no PostgreSQL server answers there; "
                                 "check the host and port in --store, and that the server is running")


def test_a_server_that_never_answers_is_given_up_after_the_connect_timeout(monkeypatch):
    import socket
    import threading

    from generator.records import postgres as engine
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 2)  # libpq's least
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts, never answers
        port = listener.getsockname()[1]
        outcome: list[str] = []

        def connect() -> None:
            try:
                engine.PostgresStore(f"postgresql://ann@127.0.0.1:{port}/records")
            except StoreError as exc:
                outcome.append(str(exc))
        thread = threading.Thread(target=connect, daemon=True)
        thread.start()
        thread.join(60)  # a bound on a hang, not a speed check
        assert not thread.is_alive(), "a connection to a server that never answers must give up"
    assert outcome == [f"postgresql://ann@127.0.0.1:{port}/records: the server did not answer within 2 s; check "
                       "the host and port, and that a firewall lets you through"]


def test_a_failed_transaction_without_a_server_code_is_named_by_its_first_line():
    from generator.records.postgres import _rolled_back
    assert str(_rolled_back("postgresql://h/r", ValueError("lost\nmore"))) == (
        "postgresql://h/r: lost; the transaction was rolled back")


@pytest.mark.parametrize("statements, problems", [
    (["DROP TRIGGER packs_issued_no_truncate ON packs_issued",
      "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"],
     ["the store's guard trigger packs_issued_no_truncate is missing: it was dropped outside the tool",
      "the store's guard trigger audit_log_no_change is disabled: it was switched off outside the tool"]),
    (["DROP TRIGGER packs_issued_no_change ON packs_issued", "DROP TRIGGER packs_issued_no_truncate ON packs_issued",
      "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
      "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate"],
     ["the store's guard trigger packs_issued_no_change is missing (and 1 more): it was dropped outside the tool",
      "the store's guard trigger audit_log_no_change is disabled (and 1 more): it was switched off outside the "
      "tool"]),
    (["DROP TRIGGER packs_issued_no_change ON packs_issued", "DROP TRIGGER packs_issued_no_truncate ON packs_issued",
      "DROP TRIGGER ledger_no_change ON ledger", "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
      "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate",
      "ALTER TABLE ledger DISABLE TRIGGER ledger_no_truncate"],
     ["the store's guard trigger packs_issued_no_change is missing (and 2 more): it was dropped outside the tool",
      "the store's guard trigger audit_log_no_change is disabled (and 2 more): it was switched off outside the "
      "tool"]),
])
def test_missing_or_disabled_postgresql_guard_triggers_are_named_by_the_first_and_counted(pg_url, statements,
                                                                                          problems):
    from tests.pg import raw_execute
    open_store(pg_url).close()
    for statement in statements:
        raw_execute(pg_url, statement)
    with open_store(pg_url) as store:
        assert store.guard_problems() == problems


def test_copied_rows_are_plain_bytes_in_text_key_byte_order_on_a_server_that_sorts_by_language(pg_server):
    """A server whose databases sort text by language (ICU) still hands a copy its rows in byte order, as
    SQLite sorts, and blobs as bytes; the copy's reader names itself to the server."""
    name = pg_server.new_database("LOCALE_PROVIDER icu ICU_LOCALE 'en-GB'")
    url = pg_server.url(name)
    try:
        with open_store(url) as store:
            with store.transaction():
                store.add_issued([dataclasses.replace(PACK, instance_id=i) for i in ("b-2", "B-1", "a-3")],
                                 "north/issued.csv")
                store.add_submission(submission(sha="1" * 64, data=b"%PDF-1.7 one"), 1, None)
            assert raw_query(url, "SELECT instance_id FROM packs_issued ORDER BY instance_id") == [
                ("a-3",), ("B-1",), ("b-2",)]  # the server's own order: by letter, then case
            outside = store.table_rows("packs_issued", ["instance_id"], ("instance_id", "file"))
            assert next(outside) == ("B-1",)
            sessions = raw_query(url, "SELECT application_name FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND application_name LIKE 'portfolio%' "
                                      "ORDER BY 1")
            assert list(outside) == [("a-3",), ("b-2",)]  # "B" (0x42) before "a" (0x61)
            assert sessions == [("portfolio",), ("portfolio copy",)]
            with store.snapshot():
                assert list(store.table_rows("packs_issued", ["instance_id"], ("instance_id", "file"))) == [
                    ("B-1",), ("a-3",), ("b-2",)]
                inside = list(store.table_rows("originals", ["sha256", "data"], ("sha256",)))
            outside_blobs = list(store.table_rows("originals", ["sha256", "data"], ("sha256",)))
        for rows in (inside, outside_blobs):
            assert rows == [("1" * 64, b"%PDF-1.7 one")] and type(rows[0][1]) is bytes
    finally:
        pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_postgresql_database_with_another_applications_schema_version_table_is_refused(pg_url):
    from tests.pg import raw_execute
    raw_execute(pg_url, "CREATE TABLE schema_version (id INTEGER, release TEXT)")
    with pytest.raises(StoreError) as raised:
        open_store(pg_url)
    assert str(raised.value) == (f"{shown(pg_url)}: this database holds another application's schema_version "
                                 "table, not a records store; give the records store a database of its own "
                                 "(createdb portfolio) and name it in --store")


def test_a_postgresql_user_who_may_not_create_the_schema_is_told_who_can(pg_server, pg_url):
    """PostgreSQL 15 lets only a database's owner create tables in its public schema."""
    import secrets
    role, password = f"clerk_{secrets.token_hex(4)}", secrets.token_hex(8)
    pg_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        location = pg_server.url(pg_url.rsplit("/", 1)[1], user=role, password=password)
        with pytest.raises(StoreError) as raised:
            open_store(location)
        assert re.fullmatch(
            rf"{re.escape(shown(location))}: the store needs schema \d+ and this user may not change the schema "
            r"\(permission denied for schema public\); run the command once as the database's owner, who applies "
            r"the new schema, then again as this user", str(raised.value)), str(raised.value)
    finally:
        pg_server.execute(f"DROP ROLE IF EXISTS {role}")
