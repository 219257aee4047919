"""Open the records store named by a URL or a path.

In: ``records.sqlite`` or ``sqlite:///path/records.sqlite`` (an SQLite file), or
``postgresql://user@host:port/database`` (a PostgreSQL server), as given with
``--store`` or $PORTFOLIO_STORE. Out: an object implementing ``Store``. Only this
module knows which engines exist; the rest of the package sees the protocol.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.records.store import DEFAULT_STORE, STORE_ENV, Store


def _is_postgres(location: str) -> bool:
    from generator.records.postgres import is_url
    return is_url(location)


def store_location(option: str | Path | None = None) -> str:
    """The store as text: ``option`` if given, else $PORTFOLIO_STORE, else ./records.sqlite.

    A URL is returned as given (``Path`` would fold its ``//``); ``sqlite:///x`` becomes ``x``
    and ``sqlite:////abs/x`` becomes ``/abs/x``.
    """
    text = str(option or os.environ.get(STORE_ENV) or DEFAULT_STORE)
    if text.lower().startswith("sqlite:///"):
        return text[len("sqlite:///"):]
    return text


def describe_store(location: str | Path | None = None, *, name_only: bool = False, absolute: bool = False) -> str:
    """The store as it may be printed (a URL without its password); ``name_only``: a file's name
    alone; ``absolute``: a file's absolute path."""
    text = store_location(location)
    if _is_postgres(text):
        from generator.records.postgres import describe
        return describe(text)
    if name_only:
        return Path(text).name
    return str(Path(text).resolve()) if absolute else text


def open_store(path: str | Path | None = None, *, create: bool = True, read_only: bool = False) -> Store:
    """Open (and create or migrate) the store at ``path`` (see ``store_location``).

    ``create=False`` refuses a store that does not exist yet, for the commands that
    only read; ``read_only=True`` (which implies it) opens it for reading only, so a
    store in a folder the user cannot write to can still be listed and exported, and
    any write is refused. Opened for writing, a store that cannot be written is
    refused at once, before anything is read.
    """
    location = store_location(path)
    if _is_postgres(location):
        from generator.records.postgres import PostgresStore
        return PostgresStore(location, create=create and not read_only, read_only=read_only)
    from generator.records.sqlite import SQLiteStore
    return SQLiteStore(Path(location), create=create and not read_only, read_only=read_only)


def store_exists(path: str | Path | None = None) -> bool:
    """True when the store has been created (for commands that record in it only if it does)."""
    from generator.records.store import StoreError
    location = store_location(path)
    if not _is_postgres(location):
        return Path(location).exists()
    try:
        open_store(location, create=False).close()
    except StoreError as exc:
        if "no records store here" in str(exc):
            return False
        raise
    return True
