"""Copy a whole records store to another (SQLite to PostgreSQL and back), and prove the copy whole.

In: two open stores (``Store``), the source and the destination. Out: a
``CopyResult`` with, for every table, the rows copied now, the rows in both, and
the SHA-256 of the table's rows in key order, the same on both sides.

Every row keeps its id, so superseded versions, audit entries and any hash chain
over them mean the same in the copy. The destination must be empty or an
earlier (perhaps interrupted) copy of the same source: its rows are checked
against the source's before anything is written, and a destination holding other
records is refused. Rows already there are not copied again, so a rerun copies
nothing twice; rows are written in transactions of a few hundred, so an
interrupted copy keeps what it wrote and the rerun adds the rest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Iterator

from generator.records.store import COPY_TABLES, Store, StoreError

#: Rows written per transaction.
BATCH = 500


@dataclass
class TableCopy:
    table: str
    copied: int = 0
    rows: int = 0
    sha256: str = ""


@dataclass
class CopyResult:
    source: str
    destination: str
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def copied(self) -> int:
        return sum(t.copied for t in self.tables)


def _canonical(row: tuple) -> bytes:
    return json.dumps([{"bytes": v.hex()} if isinstance(v, (bytes, bytearray, memoryview)) else v
                       for v in (bytes(v) if isinstance(v, memoryview) else v for v in row)],
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _existing(store: Store, table: str, columns: list[str], keys: tuple[str, ...]) -> dict[tuple, bytes]:
    """Key -> SHA-256 of the row, for every row of ``table`` in ``store``."""
    width = len(keys)
    return {row[:width]: hashlib.sha256(_canonical(row)).digest() for row in store.table_rows(table, columns, keys)}


def _missing(source: Store, table: str, columns: list[str], keys: tuple[str, ...], existing: dict[tuple, bytes],
             where: str) -> Iterator[tuple]:
    """The source's rows of ``table`` the destination lacks; a destination row the source has not, or has
    otherwise, is refused (the destination is not a copy of this source)."""
    width = len(keys)
    matched = 0
    for row in source.table_rows(table, columns, keys):
        key = row[:width]
        have = existing.get(key)
        if have is None:
            yield row
        elif have != hashlib.sha256(_canonical(row)).digest():
            raise StoreError(f"{where}: holds other records than the source ({table} {_key(key)} differs); "
                             "copy into a new, empty store")
        else:
            matched += 1
    if matched != len(existing):
        raise StoreError(f"{where}: holds records the source has not ({len(existing) - matched} in {table}); "
                         "copy into a new, empty store")


def _key(key: tuple) -> str:
    return " ".join(str(k) for k in key)


def _columns(source: Store, destination: Store, table: str, keys: tuple[str, ...]) -> list[str]:
    have, want = source.columns(table), destination.columns(table)
    if set(have) != set(want):
        raise StoreError(f"{destination.path}: table {table} has other columns than in {source.path}; "
                         "open both stores with the same version of this tool")
    return list(keys) + [c for c in have if c not in keys]


def _write(destination: Store, table: str, columns: list[str], rows: list[tuple]) -> int:
    with destination.transaction():
        destination.insert_rows(table, columns, rows)
    return len(rows)


def copy_store(source: Store, destination: Store,
               progress: Callable[[str, int], None] | None = None) -> CopyResult:
    """Copy every row ``destination`` lacks from ``source``, then verify counts and hashes of every table."""
    if source.schema_version() != destination.schema_version():
        raise StoreError(f"{destination.path}: schema {destination.schema_version()}, but {source.path} has "
                         f"schema {source.schema_version()}; open both with the same version of this tool")
    result = CopyResult(source.path, destination.path)
    plan: list[tuple[str, tuple[str, ...], list[str]]] = []
    for table, keys in COPY_TABLES:  # check the whole destination before writing anything
        columns = _columns(source, destination, table, keys)
        plan.append((table, keys, columns))
        for _ in _missing(source, table, columns, keys, _existing(destination, table, columns, keys),
                          destination.path):
            pass
    for table, keys, columns in plan:
        done = TableCopy(table)
        existing = _existing(destination, table, columns, keys)
        batch: list[tuple] = []
        for row in _missing(source, table, columns, keys, existing, destination.path):
            batch.append(row)
            if len(batch) >= BATCH or (table == "originals" and len(batch) >= 20):
                done.copied += _write(destination, table, columns, batch)
                batch = []
        if batch:
            done.copied += _write(destination, table, columns, batch)
        result.tables.append(done)
        if progress:
            progress(table, done.copied)
    destination.after_copy()
    for done, (table, keys, columns) in zip(result.tables, plan):
        sums = []
        for side in (source, destination):
            digest = hashlib.sha256()
            count = 0
            for row in side.table_rows(table, columns, keys):
                digest.update(_canonical(row) + b"\n")
                count += 1
            sums.append((count, digest.hexdigest()))
        if sums[0] != sums[1]:
            raise StoreError(f"{destination.path}: the copy of {table} does not match the source "
                             f"({sums[1][0]} rows, {sums[0][0]} expected); run the copy again")
        done.rows, done.sha256 = sums[0]
    return result
