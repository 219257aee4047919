"""Command line for reviewing copies flagged as holding possible patient identifiers.

Parses arguments, calls ``generator.api`` (review_clear) and turns its errors into
messages (exit code 1). Registered on ``generator.cli.main`` when imported.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import api
from generator.cli.common import fail, main
from generator.errors import PortfolioError
from generator.records.store import DEFAULT_STORE, STORE_ENV


@main.group()
def review() -> None:
    """Review copies flagged as holding possible patient identifiers."""


@review.command("clear")
@click.argument("target", metavar="FILE-OR-ID")
@click.option("--reason", required=True, help="What the reviewer found (e.g. 'the number is a course code').")
@click.option("--store", "store_file", type=click.Path(dir_okay=False, path_type=Path), envvar=STORE_ENV,
              default=DEFAULT_STORE, show_default=True, show_envvar=True, help="The records store (an SQLite file).")
def review_clear(target: str, reason: str, store_file: Path) -> None:
    """Clear a checked copy's identifier flags, so that its values export as they are.

    FILE-OR-ID is the returned file, or its submission id (the submission_id
    column of 'portfolio export'). The clearance, who made it and the reason
    are appended to the store's audit log; nothing stored is changed.

    Example: portfolio review clear returned/zoe.pdf --reason "the number is a course code"
    """
    try:
        done = api.review_clear(target, reason, store_file)
    except PortfolioError as exc:
        fail(exc)
    flags = ", ".join(f"{fid} ({kind.replace('_', ' ')})" for fid, kind in done.flags)
    if done.already is not None:
        click.echo(f"{done.filename} (submission {done.submission_id}) was cleared already, on "
                   f"{done.already.at[:16].replace('T', ' ')} by {done.already.actor}; nothing new recorded")
        return
    click.echo(f"cleared {done.filename} (submission {done.submission_id}): {flags}; recorded in the audit log "
               f"of {api.store_location(store_file)}")
