"""Known answers for the store's protocol and both engines, from rows written in the test (milliseconds each).

These are the tests ``make mutate`` runs first for ``store``, ``store-sqlite`` and ``store-postgres``:
every expected value is typed here (hashes are worked with ``hashlib`` over JSON text written out by hand),
never taken from the code under test.
"""

from __future__ import annotations

import hashlib
import json

import pytest

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
    with_reviews,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PACK = IssuedPack("i-1", "pack", "Zoë", "Riverside Surgery", "riverside-pcn", "Dr A", "Ms B", "2026-09-01", "",
                  "build/z.pdf", "care-coordination-portfolio", "1.0.0", "2026-08-01", "key", "north/issued.csv")


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
