"""Web app accounts and return links in the records store: hashing, lockout, disabling, audit."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from generator.records.connect import open_store
from generator.records.users import (
    UserError,
    add_user,
    check_return_token,
    new_return_token,
    set_disabled,
    sign_in,
)

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "r.sqlite") as s:
        yield s


def test_an_account_keeps_an_argon2_hash_never_the_password(store, tmp_path):
    add_user(store, " Lead@Riverside.Example ", "pcn", "riverside-pcn", PASSWORD)
    user = store.user("lead@riverside.example")
    assert (user.email, user.role, user.pcn, user.disabled) == ("lead@riverside.example", "pcn", "riverside-pcn", False)
    assert user.password_hash.startswith("$argon2id$")
    raw = (tmp_path / "r.sqlite").read_bytes() + (tmp_path / "r.sqlite-wal").read_bytes()
    assert PASSWORD.encode() not in raw
    assert [e.action for e in store.audit()] == ["user added"]
    assert PASSWORD not in store.audit()[0].detail


@pytest.mark.parametrize("email, role, pcn, password, message", [
    ("not-an-email", "provider", None, PASSWORD, "is not an email address"),
    ("a@b.example", "pcn", None, PASSWORD, "needs --pcn"),
    ("a@b.example", "provider", "riverside-pcn", PASSWORD, "leave out --pcn"),
    ("a@b.example", "admin", None, PASSWORD, "is not one of provider, pcn"),
    ("a@b.example", "provider", None, "short", "at least 12 characters"),
])
def test_bad_accounts_are_refused_with_the_reason(store, email, role, pcn, password, message):
    with pytest.raises(UserError, match=message):
        add_user(store, email, role, pcn, password)
    assert store.users() == []


def test_an_email_is_one_account_whatever_its_case(store):
    add_user(store, "a@b.example", "provider", None, PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        add_user(store, "A@B.example", "provider", None, PASSWORD)


def test_sign_in_checks_the_password(store):
    add_user(store, "a@b.example", "provider", None, PASSWORD)
    assert sign_in(store, "A@b.example", PASSWORD, T0).user.email == "a@b.example"
    wrong = sign_in(store, "a@b.example", "wrong password!!", T0)
    unknown = sign_in(store, "nobody@b.example", PASSWORD, T0)
    assert wrong.user is None and unknown.user is None
    assert wrong.reason == unknown.reason == "The email or password is not right."


def test_five_failures_lock_the_account_for_fifteen_minutes(store):
    add_user(store, "a@b.example", "provider", None, PASSWORD)
    for n in range(4):
        assert "not right" in sign_in(store, "a@b.example", "wrong", T0 + timedelta(seconds=n)).reason
    assert "locked" in sign_in(store, "a@b.example", "wrong", T0 + timedelta(seconds=5)).reason
    # the right password does not help while locked
    locked = sign_in(store, "a@b.example", PASSWORD, T0 + timedelta(minutes=14))
    assert locked.user is None and "locked" in locked.reason
    assert sign_in(store, "a@b.example", PASSWORD, T0 + timedelta(minutes=15, seconds=6)).user is not None
    actions = [e.action for e in store.audit()]
    assert actions.count("sign-in failed") == 5 and "sign-in refused" in actions and actions[-1] == "signed in"


def test_a_success_resets_the_count_of_failures(store):
    add_user(store, "a@b.example", "provider", None, PASSWORD)
    for _ in range(4):
        sign_in(store, "a@b.example", "wrong", T0)
    assert sign_in(store, "a@b.example", PASSWORD, T0).user is not None
    for _ in range(4):
        sign_in(store, "a@b.example", "wrong", T0)
    assert sign_in(store, "a@b.example", PASSWORD, T0).user is not None


def test_a_disabled_account_cannot_sign_in_and_is_never_deleted(store, tmp_path):
    add_user(store, "a@b.example", "provider", None, PASSWORD)
    set_disabled(store, "a@b.example")
    assert sign_in(store, "a@b.example", PASSWORD, T0).user is None
    assert store.user("a@b.example").disabled
    with pytest.raises(UserError, match="no user x@b.example"):
        set_disabled(store, "x@b.example")
    db = sqlite3.connect(tmp_path / "r.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM users")


def test_a_return_token_is_kept_as_a_hash_and_expires(store, tmp_path):
    token = new_return_token(store, "00000000-0000-4000-8000-000000000007", T0 + timedelta(days=30))
    row = check_return_token(store, token, T0)
    assert row.instance_id == "00000000-0000-4000-8000-000000000007"
    assert check_return_token(store, token, T0 + timedelta(days=31)) is None
    assert check_return_token(store, token + "x", T0) is None
    raw = (tmp_path / "r.sqlite").read_bytes() + (tmp_path / "r.sqlite-wal").read_bytes()
    assert token.encode() not in raw
