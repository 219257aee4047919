"""Command line for whole stores: ``portfolio store copy FROM TO``.

Parses the two store locations (SQLite files or postgresql:// URLs), calls
``generator.api.copy_store`` and prints, per table, what was copied and
the SHA-256 both sides agree on. Registered on ``generator.cli.main`` when this
module is imported.
"""

from __future__ import annotations

import click

from generator import api
from generator.cli.common import fail, main
from generator.errors import PortfolioError


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
