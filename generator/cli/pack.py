"""Command line: parses arguments, calls the library, turns its errors into messages.

Every command has --help. Library errors become a one-line (or one-per-problem)
message on stderr and exit code 1; bad arguments exit 2 (click's convention).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from generator.cli.common import CONTENT_OPTION, fail, fail_problems, main
from generator.content.layout import Layout
from generator.content.loader import load_content
from generator.errors import ContentError, PortfolioError
from generator.model.form import build_form


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
def build(content_dir: Path | None, profile_slug: str | None, out_dir: Path, formats: str,
          optional: Sequence[str]) -> None:
    """Build the fillable PDF and Word pack.

    Without --profile, the provider's default pack is written to
    OUT/care-coordination-portfolio.pdf and .docx; with --profile SLUG, to
    OUT/SLUG/.

    Example: portfolio build --profile riverside-pcn --include pcsp
    """
    from dataclasses import replace

    from generator.content.profile import load_profile
    from generator.content.theme import load_theme
    from generator.issuing.build import FORMATS, build_pack
    try:
        content = load_content(content_dir)
        known = set(content.pack.get("optional_sections") or [])
        for name in optional:
            if name not in known:
                raise click.BadParameter(f"'{name}' is not an optional section (choose from: "
                                         f"{', '.join(sorted(known)) or 'none'})", param_hint="--include")
        theme = load_theme()
        layout = Layout(organisation=theme.organisation)
        if profile_slug:
            profile = load_profile(profile_slug, content, theme)
            layout, theme = profile.layout, profile.theme
            out_dir = out_dir / profile_slug
        layout = replace(layout, optional_sections=layout.optional_sections | frozenset(optional))
        wanted = FORMATS if formats == "all" else (formats,)
        result = build_pack(out_dir, content=content, layout=layout, theme=theme, formats=wanted)
    except PortfolioError as exc:
        fail(exc)
    fields = len(result.form.fields)
    for fmt, path in result.outputs.items():
        click.echo(f"wrote {path} ({fields} fields, {result.timings[fmt]:.2f} s)")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.command()
@CONTENT_OPTION
def check(content_dir: Path | None) -> None:
    """Validate the content and print every problem with its file and path.

    Example: portfolio check --content content/
    """
    try:
        content = load_content(content_dir)
        layout = Layout(optional_sections=frozenset(content.pack.get("optional_sections") or []))
        form = build_form(content, layout)  # renders prose too, so variable mistakes show
        from generator.content.profile import check_all_profiles, list_profiles
        profile_problems = check_all_profiles(content)
        if profile_problems:
            raise ContentError(profile_problems)
    except ContentError as exc:
        fail_problems(exc)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"content OK: {content.id} {content.version}, {len(content.sections)} sections, "
               f"{len(form.fields)} fields (optional forms included)")
    profiles = list_profiles(content.directory)
    click.echo(f"profiles OK: {len(profiles)} ({', '.join(profiles) or 'none'})")


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
@click.option("--store", "store_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="PORTFOLIO_STORE", default=Path("records.sqlite"), show_default=True, show_envvar=True,
              help="Records store to record the issued packs in, if it exists.")
@click.option("--replace", is_flag=True,
              help="Issue new copies over files issued before in this cohort (they get new instance ids).")
def issue(content_dir: Path | None, roster: Path, cohort: str, out_dir: Path, formats: str,
          feedback_forms: int, jobs: int | None, store_file: Path, replace: bool) -> None:
    """Issue personalised packs to every learner in ROSTER (CSV).

    ROSTER has a header row with the columns name, practice, pcn (a profile
    slug), supervisor, facilitator, start_date (DD/MM/YYYY) and, optionally,
    email. Every bad row is reported, with its line number, before anything is
    written. Each learner gets OUT/COHORT/PCN/NAME.pdf and .docx with the cover
    filled in and a unique instance id; every id is recorded in
    OUT/COHORT/issued.csv and, where the records store exists, in the store
    (otherwise 'portfolio ingest --register OUT/COHORT/issued.csv' imports it).

    Example: portfolio issue cohort.csv --cohort "2026 autumn" --feedback-forms 5
    """
    from generator.content.profile import list_profiles
    from generator.issuing.issue import check_cohort, issue_cohort
    from generator.issuing.roster import read_roster
    try:
        content = load_content(content_dir)
        learners = read_roster(roster, set(list_profiles(content.directory)))
    except ContentError as exc:
        fail_problems(exc, f"in {roster.name}; nothing was issued")
    except PortfolioError as exc:
        fail(exc)
    wanted = ("pdf", "docx") if formats == "all" else (formats,)
    try:
        check_cohort(learners, cohort, out_dir, wanted, feedback_forms, replace)
    except PortfolioError as exc:
        fail(exc)
    pcns = sorted({learner.pcn for learner in learners})
    from generator.content.profile import load_profile
    for slug in pcns:  # a practice the profile does not list is probably a typo, but not an error
        try:
            practices = set(load_profile(slug, content).practices)
        except PortfolioError as exc:
            fail(exc)
        for learner in learners:
            if practices and learner.pcn == slug and learner.practice not in practices:
                click.echo(f"warning: {roster.name}: line {learner.line}: practice '{learner.practice}' is not "
                           f"among {slug}'s practices ({', '.join(sorted(practices))})", err=True)
    click.echo(f"Rendering {len(pcns)} PCN layout(s) once ({', '.join(pcns)}), then stamping "
               f"{len(learners)} learner(s)…", err=True)
    show = sys.stderr.isatty()
    with click.progressbar(length=len(learners), label="Issuing", file=sys.stderr,
                           show_pos=True, hidden=not show) as bar:
        try:
            result = issue_cohort(learners, cohort, out_dir, content, wanted, feedback_forms, jobs, bar.update,
                                  replace)
        except PortfolioError as exc:
            fail(exc)
    click.echo(f"issued {result.learners} learners, {result.files} files in {result.cohort_dir} "
               f"(render {result.timings['render']:.1f} s, stamp {result.timings['stamp']:.1f} s)")
    click.echo(f"instance ids recorded in {result.register}")
    if store_file.exists():
        from generator.records.connect import open_store
        from generator.records.register import import_register
        try:
            with open_store(store_file, create=False) as store:
                rows, new = import_register(store, result.register)
        except PortfolioError as exc:
            fail(exc)
        click.echo(f"and in the records store {store_file} ({new} new of {rows} issued files)")


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
    from generator.content.profile import scaffold_profile
    try:
        path = scaffold_profile(slug, name, content_dir)
    except PortfolioError as exc:
        fail(exc)
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    click.echo(f"wrote {shown}\nEdit it, add a logo beside it, then run: portfolio check")


@profile.command("list")
@CONTENT_OPTION
def profile_list(content_dir: Path | None) -> None:
    """List the PCN profiles.

    Example: portfolio profile list
    """
    from generator.content.profile import list_profiles
    for slug in list_profiles(content_dir):
        click.echo(slug)


@main.command()
@CONTENT_OPTION
@click.option("--profile", "profile_slug", metavar="SLUG", help="List the fields of a PCN's pack.")
@click.option("--include", "optional", multiple=True, metavar="SECTION", help="Include an optional form.")
def fields(content_dir: Path | None, profile_slug: str | None, optional: Sequence[str]) -> None:
    """List every field of the pack as JSON (id, kind, label, options).

    Example: portfolio fields --profile riverside-pcn > fields.json
    """
    from dataclasses import replace

    from generator.content.profile import load_profile
    from generator.model.manifest import field_definitions
    try:
        content = load_content(content_dir)
        layout = load_profile(profile_slug, content).layout if profile_slug else Layout()
        form = build_form(content, replace(layout, optional_sections=layout.optional_sections | frozenset(optional)))
    except PortfolioError as exc:
        fail(exc)
    json.dump(field_definitions(form), sys.stdout, indent=1, ensure_ascii=False)
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
    from generator.files import write_atomic
    from generator.reading.read import dumps
    from generator.reading.sandbox import read_isolated
    try:
        record = read_isolated(file)
    except PortfolioError as exc:
        fail(exc)
    text = dumps(record) + "\n"
    for flag in record.flags:
        click.echo(f"review: {flag}", err=True)
    if output:
        write_atomic(output, text.encode("utf-8"))
        count = len(record.warnings)
        click.echo(f"wrote {output} ({len(record.fields)} fields, {count} warning{'' if count == 1 else 's'})",
                   err=True)
    else:
        click.echo(text, nl=False)


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
    from generator.files import write_atomic
    from generator.formats.fill import fill_bytes
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{record.name}: not a JSON record ({exc})") from None
    values = data.get("fields", data) if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise click.ClickException(f"{record.name}: expected a JSON object of field id -> value")
    try:
        filled, fmt = fill_bytes(pack.read_bytes(), values, pack.name)
    except PortfolioError as exc:
        fail(exc)
    if output.suffix.lower().lstrip(".") != fmt:
        raise click.ClickException(f"{output}: the pack is a {fmt.upper()}; name the output .{fmt}")
    write_atomic(output, filled)
    click.echo(f"wrote {output} ({sum(v is not None for v in values.values())} values)")


def run(argv: Sequence[str] | None = None) -> Any:
    """Entry point usable from tests: ``run(["build", "--out", tmp])``."""
    return main.main(args=list(argv) if argv is not None else None, prog_name="portfolio")
