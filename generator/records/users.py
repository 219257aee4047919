"""Web app accounts and learners' return links, kept in the records store.

In: an open ``Store``, emails, roles, passwords (never stored: argon2 hashes are),
return-link tokens (never stored: their SHA-256 is). Out: ``User`` rows, the
outcome of a sign-in (``SignIn``), the instance id a return token accepts.

Sign-in rules: a disabled account never signs in; ``MAX_FAILURES`` failed
attempts in a row lock the account for ``LOCK_MINUTES``, during which even the
right password is refused. Every change is written to the audit log (who and
when), never with the password.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from generator.errors import UserError
from generator.records.store import ReturnToken, Store, User, now

ROLES = ("provider", "pcn")
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HASHER = PasswordHasher()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def normal_email(email: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise UserError(f"{email!r} is not an email address (e.g. manager@riverside.example)")
    return email.lower()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def add_user(store: Store, email: str, role: str, pcn: str | None, password: str) -> User:
    """Add an account; a PCN manager ('pcn') needs ``pcn``, a provider has none."""
    email = normal_email(email)
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role == "pcn" and not pcn:
        raise UserError("a PCN manager needs --pcn SLUG (the PCN profile they manage)")
    if role == "provider" and pcn:
        raise UserError("a provider sees every PCN: leave out --pcn")
    user = User(email, role, pcn if role == "pcn" else None, hash_password(password), created_at=now())
    with store.transaction():
        if store.user(email) is not None:
            raise UserError(f"a user {email} exists already")
        store.add_user(user)
        store.add_audit("user added", detail=f"{email} as {role}" + (f" of {pcn}" if pcn else ""))
    return user


def set_disabled(store: Store, email: str, disabled: bool = True) -> User:
    email = normal_email(email)
    with store.transaction():
        user = store.user(email)
        if user is None:
            raise UserError(f"no user {email} (see 'portfolio user list')")
        store.set_user_state(email, disabled=disabled, failed_logins=0, locked_until=None)
        store.add_audit("user disabled" if disabled else "user enabled", detail=email)
    return replace(user, disabled=disabled, failed_logins=0, locked_until=None)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: ``user`` when it succeeded, else ``reason``."""

    user: User | None
    reason: str = ""


def sign_in(store: Store, email: str, password: str, at: datetime | None = None) -> SignIn:
    """Check a password, counting failures and locking the account after ``MAX_FAILURES``.

    The reason given for a failure does not tell an unknown account from a wrong
    password; a locked account says so (its owner needs to know to wait).
    """
    at = at or datetime.now(timezone.utc)
    wrong = SignIn(None, "The email or password is not right.")
    try:
        email = normal_email(email)
    except UserError:
        return wrong
    with store.transaction():
        user = store.user(email)
        if user is None:
            _HASHER.hash(password or "x")  # about as long as a real check, so timing tells nothing
            store.add_audit("sign-in failed", detail="unknown account")
            return wrong
        if user.locked_until and _utc(user.locked_until) > at:
            store.add_audit("sign-in refused", detail=f"{email}: locked")
            return SignIn(None, f"This account is locked after {MAX_FAILURES} failed attempts; "
                                f"try again after {LOCK_MINUTES} minutes.")
        try:
            ok = _HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and not user.disabled:
            store.set_user_state(email, disabled=False, failed_logins=0, locked_until=None)
            store.add_audit("signed in", detail=email)
            return SignIn(replace(user, failed_logins=0, locked_until=None))
        if user.disabled:
            store.add_audit("sign-in refused", detail=f"{email}: disabled")
            return wrong
        failures = user.failed_logins + 1
        locked = None
        if failures >= MAX_FAILURES:
            locked = (at + timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds")
            failures = 0
        store.set_user_state(email, disabled=False, failed_logins=failures, locked_until=locked)
        store.add_audit("sign-in failed", detail=f"{email}" + ("; locked" if locked else ""))
        if locked:
            return SignIn(None, f"This account is locked after {MAX_FAILURES} failed attempts; "
                                f"try again after {LOCK_MINUTES} minutes.")
        return wrong


# ---------------------------------------------------------------- return links

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_return_token(store: Store, instance_id: str, expires: datetime) -> str:
    """A new return link token for one issued copy; only its hash is stored."""
    token = secrets.token_urlsafe(24)
    with store.transaction():
        store.add_return_token(ReturnToken(token_hash(token), instance_id, expires.isoformat(timespec="seconds"),
                                           store.actor, now()))
        store.add_audit("return link made", instance_id=instance_id, detail=f"expires {expires.date()}")
    return token


def check_return_token(store: Store, token: str, at: datetime | None = None) -> ReturnToken | None:
    """The token's row when it exists and has not expired, else None."""
    if not token or len(token) > 100:
        return None
    row = store.return_token(token_hash(token))
    if row is None or _utc(row.expires) <= (at or datetime.now(timezone.utc)):
        return None
    return row
