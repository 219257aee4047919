"""Command line for reviewing copies: identifier flags, and what scanned paper copies left to a person.

Parses arguments, calls ``generator.api`` (review_clear, scan_pending, scan_crop,
scan_enter, scan_unidentified) and turns its errors into messages (exit code 1).
Registered on ``generator.cli.main`` when imported.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator import api
from generator.cli.common import fail, main, shown
from generator.errors import PortfolioError
from generator.records.store import DEFAULT_STORE, STORE_ENV


@main.group()
def review() -> None:
    """Review flagged copies, and what scanned paper copies left to a person."""


@review.command("clear")
@click.argument("target", metavar="FILE-OR-ID")
@click.option("--reason", required=True, help="What the reviewer found (e.g. 'the number is a course code').")
@click.option("--store", "store_file", type=click.Path(dir_okay=False, path_type=Path), envvar=STORE_ENV,
              default=DEFAULT_STORE, show_default=True, show_envvar=True, help="The records store (an SQLite file).")
def review_clear(target: str, reason: str, store_file: Path) -> None:
    """Clear a checked copy's identifier flags, so that its values export as they are.

    FILE-OR-ID is the returned file, or its submission id (the submission_id
    column of 'portfolio export --all-versions'). The clearance, who made it and the reason
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


STORE = click.option("--store", "store_file", metavar="FILE|URL", envvar=STORE_ENV, default=DEFAULT_STORE,
                     show_default=True, show_envvar=True,
                     help="The records store: an SQLite file or a postgresql:// URL.")


@review.command("scans")
@STORE
def review_scans(store_file: str) -> None:
    """List the fields of scanned copies waiting for a person: handwriting to transcribe, and tick
    boxes or radio groups the reader could not decide (with each bubble's ink).

    Example: portfolio review scans
    """
    try:
        pending = api.scan_pending(store_file)
        lost = api.scan_unidentified(store_file)
    except PortfolioError as exc:
        fail(exc)
    for p in pending:
        if p.status == "needs transcription":
            what = "handwriting (portfolio review crop to see it)"
        else:
            what = "mark " + ", ".join(f"{o or 'box'} {ink:.0%} {d}" for o, ink, d in p.marks)
        options = f" [options: {', '.join(p.options)}]" if p.options else ""
        click.echo(f"{p.submission_id:>6} {shown(p.field_id)} (page {p.page}, {shown(p.learner)}): "
                   f"{p.status}: {what}{options}")
    click.echo(f"{len(pending)} field(s) waiting; {len(lost)} unidentified scanned page(s)"
               + (" (portfolio review pages)" if lost else ""))


@review.command("crop")
@click.argument("submission_id", type=int)
@click.argument("field_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PNG image of the field.")
@STORE
def review_crop(submission_id: int, field_id: str, out: Path, store_file: str) -> None:
    """Write the scanned image of a handwritten field to a PNG file.

    Example: portfolio review crop 12 signoff.assessor.name --out build/name.png
    """
    try:
        data = api.scan_crop(submission_id, field_id, store_file)
    except PortfolioError as exc:
        fail(exc)
    out.write_bytes(data)
    click.echo(f"wrote {shown(str(out))} ({len(data):,} bytes)")


@review.command("enter")
@click.argument("submission_id", type=int)
@click.argument("field_id")
@click.argument("value")
@click.option("--by", "actor", help="Who read it (default: the user running the command).")
@STORE
def review_enter(submission_id: int, field_id: str, value: str, actor: str | None, store_file: str) -> None:
    """Record what the scan says for a field: the handwritten text typed in, or the decided mark
    ('ticked' or 'empty' for a tick box; an option's value or its position for a radio group;
    '' for blank). Who entered it is kept with it and in the audit log.

    Example: portfolio review enter 12 signoff.assessor.name "Dr A Okafor"
    """
    try:
        stored = api.scan_enter(submission_id, field_id, value, store_file, actor)
    except PortfolioError as exc:
        fail(exc)
    if isinstance(stored, str) and stored.startswith("[withheld: possible "):
        click.echo(f"submission {submission_id}: {shown(field_id)}: the text looks like a patient identifier "
                   f"({stored[len('[withheld: '):-1]}), so it was not stored; {shown(stored)} was recorded in its "
                   "place and in the audit log (portfolios must not hold patient identifiers)")
        return
    click.echo(f"submission {submission_id}: {shown(field_id)} = {shown(repr(stored))}; recorded in the audit log")


@review.command("pages")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="A folder to write each page's image to (PNG).")
@STORE
def review_pages(out: Path | None, store_file: str) -> None:
    """List scanned pages that could not be matched to an issued copy, with the reason.

    Example: portfolio review pages --out build/unidentified/
    """
    try:
        pages = api.scan_unidentified(store_file)
    except PortfolioError as exc:
        fail(exc)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for page in pages:
        line = f"{shown(page.filename)} page {page.page_index}: {shown(page.reason)}"
        if out is not None and page.image:
            target = out / f"{page.source_sha256[:12]}-page-{page.page_index}.png"
            target.write_bytes(page.image)
            line += f" -> {shown(str(target))}"
        click.echo(line)
    click.echo(f"{len(pages)} unidentified scanned page(s)")
