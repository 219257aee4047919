"""Open the records store named by a URL or a path.

In: ``records.sqlite``, ``sqlite:///path/records.sqlite`` (or $PORTFOLIO_STORE).
Out: an object implementing ``Store``. Only this module knows which engines exist.
"""

from __future__ import annotations

from pathlib import Path

from generator.records.sqlite import SQLiteStore
from generator.records.store import store_path


def open_store(path: str | Path | None = None, *, create: bool = True) -> SQLiteStore:
    """Open (and create or migrate) the store at ``path`` (see ``store_path``).

    ``create=False`` refuses a store that does not exist yet, for the commands that
    only read.
    """
    return SQLiteStore(store_path(path), create=create)

