"""Command line: parses arguments, calls ``generator.api``, turns its errors into messages.

Every command has --help. Library errors become a one-line (or one-per-problem)
message on stderr and exit code 1; bad arguments exit 2 (click's convention).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from generator import api
from generator.cli.common import CONTENT_OPTION, ProgressBar, fail, fail_problems, main, shown
from generator.errors import ContentError, PortfolioError, RosterError


@main.command()
@CONTENT_OPTION
@click.option("--profile", "profile_slug", metavar="SLUG",
              help="Build a PCN's branded pack from content/pcns/SLUG/profile.yaml.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Folder to write the packs to.")
@click.option("--format", "formats", type=click.Choice(["pdf", "docx", "all"]), default="all",
              show_default=True, help="Which documents to build.")
@click.option("--include", "optional", multiple=True, metavar="SECTION",
              help="Switch on an optional form (mdt_review, pcsp); repeat for more.")
@click.option("--rebuild", is_flag=True, help="Render again even when nothing changed since the last build.")
def build(content_dir: Path | None, profile_slug: str | None, out_dir: Path, formats: str,
          optional: Sequence[str], rebuild: bool) -> None:
    """Build the fillable PDF and Word pack.

    Without --profile, the provider's default pack is written to
    OUT/care-coordination-portfolio.pdf and .docx; with --profile SLUG, to
    OUT/SLUG/. When the files there were built from the same content,
    profile, theme, templates and tool version, nothing is rendered again.
    Optional forms switched on (by --include or the profile) are named in
    the file name: care-coordination-portfolio+mdt_review+pcsp.pdf.

    Example: portfolio build --profile riverside-pcn --include pcsp
    """
    wanted = api.PACK_FORMATS if formats == "all" else (formats,)
    try:
        result = api.build(out_dir, content_dir=content_dir, profile=profile_slug, formats=wanted,
                           include=optional, cache=not rebuild)
    except PortfolioError as exc:
        fail(exc)
    fields = len(result.form.fields)
    for fmt, path in result.outputs.items():
        if fmt in result.unchanged:
            click.echo(f"unchanged {Path(path).resolve()} (nothing changed since it was built; not rendered again)")
        else:
            click.echo(f"wrote {Path(path).resolve()} ({fields} fields, {result.timings[fmt]:.2f} s)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@CONTENT_OPTION
def check(content_dir: Path | None) -> None:
    """Validate the content and print every problem with its file and path.

    Example: portfolio check --content content/
    """
    try:
        result = api.check(content_dir)
    except ContentError as exc:
        fail_problems(exc)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"content OK: {result.content_id} {result.version}, {result.sections} sections, "
               f"{result.fields} fields (optional forms included)")
    click.echo(f"profiles OK: {len(result.profiles)} ({', '.join(result.profiles) or 'none'})")


@main.command()
@CONTENT_OPTION
@click.argument("roster", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--cohort", required=True, help="Cohort name, e.g. '2026 autumn'; names the output folder.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Folder the cohort folder is created in.")
@click.option("--format", "formats", type=click.Choice(["pdf", "docx", "all"]), default="all",
              show_default=True, help="Which documents each learner gets.")
@click.option("--feedback-forms", type=click.IntRange(0, 50), default=0, show_default=True,
              help="Separate patient feedback forms (PDF) per learner, each with its own instance id.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: one per core).")
@click.option("--store", "store_file", metavar="FILE|URL",
              envvar="PORTFOLIO_STORE", default=None, show_envvar=True,
              help="Records store to record the issued packs in, if it exists (default: ./records.sqlite, "
                   "when the cohort is written inside the working directory).")
@click.option("--replace", is_flag=True,
              help="Issue new copies over files issued before in this cohort (they get new instance ids).")
@click.option("--rebuild", is_flag=True,
              help="Render each PCN's blank again even when nothing changed since it was last rendered "
                   "(kept in OUT/.render-cache).")
@click.option("--print", "print_forms", is_flag=True,
              help="With --feedback-forms N: instead of N separate fillable files, one print-ready PDF per "
                   "learner (NAME-feedback-forms.pdf) holding the N forms, each with its own instance id on "
                   "its QR codes and in issued.csv, so a stack of scanned forms maps back to learners.")
@click.option("--return-url", metavar="URL", default="",
              help="The web app's address (e.g. https://portfolio.example.org): each PDF copy's cover shows "
                   "the learner's personal return link and its QR code. Needs --return-by and a records store.")
@click.option("--return-by", metavar="DATE", default="",
              help="The day (DD/MM/YYYY) the return links stop working; the cover asks for the copy by then.")
def issue(content_dir: Path | None, roster: Path, cohort: str, out_dir: Path, formats: str,
          feedback_forms: int, jobs: int | None, store_file: str, replace: bool, rebuild: bool,
          print_forms: bool, return_url: str, return_by: str) -> None:
    """Issue personalised packs to every learner in ROSTER (CSV or .xlsx).

    ROSTER (a CSV file, or an Excel workbook's first sheet) has a header row
    with the columns name, practice, pcn (a profile slug), supervisor,
    facilitator, start_date (DD/MM/YYYY) and, optionally, email. Every bad
    row is reported, with its line or row number, before anything is
    written. Each learner gets OUT/COHORT/PCN/NAME.pdf and .docx with the cover
    filled in and a unique instance id; every id is recorded in
    OUT/COHORT/issued.csv and, where the records store exists, in the store
    (otherwise 'portfolio ingest --register OUT/COHORT/issued.csv' imports it).

    Example: portfolio issue cohort.csv --cohort "2026 autumn" --feedback-forms 5

    Paper: portfolio issue cohort.csv --cohort "2026 autumn" --feedback-forms 20 --print
    (every page of every PDF carries a QR page code naming its copy, for scanning back).
    """
    wanted = api.PACK_FORMATS if formats == "all" else (formats,)
    try:
        plan = api.plan_issue(roster, cohort, out_dir=out_dir, content_dir=content_dir, formats=wanted,
                              feedback_forms=feedback_forms, replace=replace, print_forms=print_forms,
                              return_url=return_url, return_by=return_by)
    except RosterError as exc:
        fail_problems(exc, f"in {roster.name}; nothing was issued")
    except PortfolioError as exc:
        fail(exc)
    for warning in plan.warnings:  # may quote the roster's names
        click.echo(f"warning: {shown(warning)}", err=True)
    click.echo(f"Rendering {len(plan.pcns)} PCN layout(s) once ({', '.join(plan.pcns)}), then stamping "
               f"{len(plan.learners)} learner(s)…", err=True)
    try:
        with ProgressBar("Issuing") as bar:
            outcome = api.issue(plan, jobs=jobs, store=store_file, progress=bar, cache=not rebuild)
    except PortfolioError as exc:
        fail(exc)
    result = outcome.result
    click.echo(f"issued {result.learners} learners, {result.files} files in {Path(result.cohort_dir).resolve()} "
               f"(render {result.timings['render']:.1f} s, stamp {result.timings['stamp']:.1f} s)")
    if result.reused:
        click.echo(f"rendered nothing for {', '.join(result.reused)}: nothing changed since "
                   f"{'it was' if len(result.reused) == 1 else 'they were'} rendered (--rebuild renders again)")
    register = Path(result.register).resolve()
    click.echo(f"instance ids recorded in {register}")
    if outcome.store is None:
        if store_file:
            from generator.records.connect import describe_store
            named = describe_store(store_file)
            click.echo(f"not recorded in a records store: {named} does not exist yet; to create it and record "
                       f"them: portfolio ingest --register {register} --store {named}")
        else:
            click.echo(f"not recorded in a records store (none named with --store or $PORTFOLIO_STORE); to "
                       f"record them: portfolio ingest --register {register} --store STORE")
        return
    location = outcome.store if "://" in outcome.store else Path(outcome.store).resolve()  # a URL without password
    click.echo(f"and in the records store {location} ({outcome.store_new} new of "
               f"{outcome.store_rows} issued files)")


@main.group()
def profile() -> None:
    """Manage PCN profiles (content/pcns/SLUG/profile.yaml)."""


@profile.command("new")
@CONTENT_OPTION
@click.argument("slug")
@click.option("--name", help="The PCN's full name (default: from the slug).")
def profile_new(content_dir: Path | None, slug: str, name: str | None) -> None:
    """Create a PCN profile with every key explained in comments.

    Example: portfolio profile new hillside-pcn --name "Hillside Primary Care Network"
    """
    try:
        path = api.profile_new(slug, name, content_dir)
    except PortfolioError as exc:
        fail(exc)
    path = path.resolve()
    folder = path.parents[2]
    option = "" if content_dir is None else f" --content {folder}"
    click.echo(f"wrote {path}\n(in the content folder {folder}, which build, check and issue read"
               f"{'' if content_dir is None else ' when given --content ' + str(folder)})\n"
               f"Edit it, add a logo beside it, then run: portfolio check{option}")


@profile.command("list")
@CONTENT_OPTION
def profile_list(content_dir: Path | None) -> None:
    """List the PCN profiles.

    Example: portfolio profile list
    """
    for slug in api.profile_list(content_dir):
        click.echo(slug)


@main.command()
@CONTENT_OPTION
@click.option("--profile", "profile_slug", metavar="SLUG", help="List the fields of a PCN's pack.")
@click.option("--include", "optional", multiple=True, metavar="SECTION", help="Include an optional form.")
def fields(content_dir: Path | None, profile_slug: str | None, optional: Sequence[str]) -> None:
    """List every field of the pack as JSON (id, kind, label, options).

    Example: portfolio fields --profile riverside-pcn > fields.json
    """
    try:
        definitions = api.fields(content_dir=content_dir, profile=profile_slug, include=optional)
    except PortfolioError as exc:
        fail(exc)
    json.dump(definitions, sys.stdout, indent=1, ensure_ascii=False)
    click.echo()


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the record to this file instead of standard output.")
def read(file: Path, output: Path | None) -> None:
    """Read one completed copy (PDF or DOCX) and print its record as JSON.

    Every field of the pack appears, typed by its kind (text, true/false, the
    chosen option's value, ISO dates), null when empty; problems are listed
    under "warnings".

    Example: portfolio read returned/zoe-lukasiewicz.pdf
    """
    try:
        result = api.read(file, output)
    except PortfolioError as exc:
        fail(exc)
    record = result.record
    for flag in record.flags:
        click.echo(f"review: {shown(flag)}", err=True)
    if output:
        count = len(record.warnings)
        click.echo(f"wrote {output.resolve()} ({len(record.fields)} fields, {count} warning{'' if count == 1 else 's'})",
                   err=True)
    else:
        click.echo(result.json, nl=False)


@main.command()
@click.argument("pack", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("record", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the filled copy.")
def fill(pack: Path, record: Path, output: Path) -> None:
    """Write the values of RECORD (JSON) into PACK (PDF or DOCX).

    RECORD is either a record as 'portfolio read' prints it or a plain
    {"field id": value} object. Used to pre-fill copies and to test round trips.

    Example: portfolio fill build/care-coordination-portfolio.pdf answers.json -o filled.pdf
    """
    try:
        result = api.fill(pack, record, output)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"wrote {Path(result.output).resolve()} ({result.values} values)")


def run(argv: Sequence[str] | None = None) -> Any:
    """Entry point usable from tests: ``run(["build", "--out", tmp])``."""
    return main.main(args=list(argv) if argv is not None else None, prog_name="portfolio")
