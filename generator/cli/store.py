"""Command line for whole stores: ``portfolio store copy FROM TO`` and ``portfolio store verify``.

Parses the two store locations (SQLite files or postgresql:// URLs), calls
``generator.api.copy_store`` and prints, per table, what was copied and
the SHA-256 both sides agree on. Registered on ``generator.cli.main`` when this
module is imported.
"""

from __future__ import annotations

import click

from generator import api
from generator.cli.common import fail, main, shown
from generator.errors import PortfolioError, StoreError
from generator.records.store import DEFAULT_STORE, STORE_ENV


@main.group()
def store() -> None:
    """Work on whole records stores (SQLite files or PostgreSQL databases)."""


@store.command("copy")
@click.argument("source", metavar="FROM")
@click.argument("destination", metavar="TO")
def copy(source: str, destination: str) -> None:
    """Copy the whole store FROM into TO, audit log and kept originals included.

    FROM and TO are SQLite files or postgresql://user@host:port/database URLs,
    either way round. Every row keeps its number. TO must be new or empty, or
    an earlier copy of FROM: what it holds already is checked, and not copied
    again, so rerunning a copy (or finishing an interrupted one) copies only
    what is missing. At the end the rows and SHA-256 of every table are compared
    on both sides. Exits with 1, writing nothing, when TO holds other records.

    Example: portfolio store copy records.sqlite postgresql://portfolio@db.example/records
    """
    try:
        result = api.copy_store(source, destination)
    except PortfolioError as exc:
        fail(exc)
    for table in result.tables:
        click.echo(f"{table.table:<17} {table.copied:>7} copied, {table.rows:>7} in both, "
                   f"SHA-256 {table.sha256[:16]}")
    click.echo(f"copied {result.copied} row(s) from {result.source} to {result.destination}; "
               "counts and hashes match")


@store.command("verify")
@click.option("--store", "store_file", metavar="FILE|URL", envvar=STORE_ENV, default=DEFAULT_STORE,
              show_default=True, show_envvar=True,
              help="The records store: an SQLite file, or postgresql://user@host:port/database.")
def verify(store_file: str) -> None:
    """Check that nothing in the records store was changed, deleted or added around the tool.

    Recomputes the store's SHA-256 ledger, which chains every submission (file
    hash, values, warnings, identifier flags), issued pack and audit entry, checks
    the kept originals against their SHA-256 and the store's guard triggers.
    Prints the number of entries and the ledger's head hash (keep it somewhere
    else too: a store rewritten as a whole, ledger and all, has another head).
    Exits with 1 naming the first entry or row that no longer matches; 0 when
    the store is intact. Reads only: it never writes to the store.

    Example: portfolio store verify --store records.sqlite
    """
    try:
        result, where = api.verify_store(store_file)
    except PortfolioError as exc:
        fail(exc)
    if not result.ok:
        for problem in result.problems[1:]:
            click.echo(f"also: {shown(problem)}", err=True)
        fail(StoreError(f"{where}: NOT intact: {result.problems[0]}; restore the store from a backup "
                        "and find out who changed it"))
    click.echo(f"{where}: intact: {result.entries} ledger entries, head {result.head}")
