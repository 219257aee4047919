"""Command line for the records store: ingest, records, export, report.

Parses arguments, calls ``generator.api`` (ingest, records, export, report),
and turns its errors into messages (exit code 1). Registered on
``generator.cli.main`` when this module is imported. Field values are never
printed, only field ids, counts and reasons.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import click

from generator import api
from generator.cli.common import ProgressBar, fail, main, shown
from generator.errors import ContentError, PortfolioError
from generator.records.connect import describe_store
from generator.records.store import DEFAULT_STORE, STORE_ENV

STORE_OPTION = click.option(
    "--store", "store_file", metavar="FILE|URL", envvar=STORE_ENV, default=DEFAULT_STORE, show_default=True,
    show_envvar=True,
    help="The records store: an SQLite file, or postgresql://user@host:port/database for a shared server "
         "(the password from the URL, $PGPASSWORD or ~/.pgpass).")

#: How the ingest summary names each outcome.
STATUS_WORDS = {"new": "new", "unchanged": "unchanged", "superseded": "superseded", "conflict": "conflicting",
                "rejected": "rejected", "failed": "failed", "unidentified": "unidentified (scanned pages)"}
#: Outcomes listed file by file even without --verbose.
ALWAYS_LISTED = ("superseded", "conflict", "rejected", "failed", "unidentified")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@STORE_OPTION
@click.option("--supersede", is_flag=True,
              help="Store a changed copy of an already ingested form as a new version (the old one is kept).")
@click.option("--register", "registers", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Import an issue register (issued.csv) first, so 'records' lists who has not returned anything.")
@click.option("--accept-changed-learner", is_flag=True,
              help="Store copies whose cover names another learner than the one the copy was issued to "
                   "(otherwise a conflict); each is written to the audit log.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Reader processes (default: one per core).")
@click.option("-v", "--verbose", is_flag=True, help="List every file, every warning, and every missing or unknown "
                                                   "field id.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line (and errors).")
@click.option("--json", "as_json", is_flag=True, help="Print what happened to every file as JSON, for scripts.")
def ingest(paths: Sequence[Path], store_file: str, supersede: bool, registers: Sequence[Path],
           accept_changed_learner: bool, jobs: int | None, verbose: bool, quiet: bool, as_json: bool) -> None:
    """Read returned copies (files, or folders searched recursively) into the records store.

    Each copy is read, checked and stored once: a file ingested before is
    'unchanged'; a changed copy of a form already stored is a conflict and is
    not stored unless --supersede is given. A copy whose cover names another
    learner than the one it was issued to (or first stored for) is a conflict
    too, even with --supersede, unless --accept-changed-learner is given (and
    audited). Files that cannot be read are
    rejected with the reason. Fields missing from a copy and values for fields
    the pack does not define are stored and listed. A scanned page that matches
    no issued copy is kept with its image (one line per file names its pages;
    see 'portfolio review pages'). Exits with 1 when any file was rejected,
    conflicting or failed, or left a scanned page unidentified (the others are
    stored all the same); 2 for a usage mistake; 130 when interrupted.

    Example: portfolio ingest returned/ --register build/2026-autumn/issued.csv
    """
    if not paths and not registers:
        raise click.UsageError("name the returned files or folders to ingest (or a --register to import)")
    from generator.records.ingest import IngestInterrupted
    try:
        with ProgressBar("Ingesting") as bar:
            result = api.ingest(paths, store=store_file, supersede=supersede, registers=registers, jobs=jobs,
                                progress=bar, accept_changed_learner=accept_changed_learner)
    except IngestInterrupted as exc:
        click.echo(f"interrupted: {exc.stored} copy(ies) were stored before; the files being stored when it stopped "
                   "were rolled back, nothing half-written. Rerun the same command to store the rest (what is "
                   "stored already shows as unchanged)", err=True)
        click.get_current_context().exit(130)
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in the register; nothing was imported") from None
    except PortfolioError as exc:
        fail(exc)
    _print_ingest(result, verbose=verbose, quiet=quiet, as_json=as_json)
    if not result.ok:
        click.get_current_context().exit(1)


def _print_ingest(result, *, verbose: bool, quiet: bool, as_json: bool) -> None:
    """What ingest did, readable at a thousand files: warnings grouped per file, a count per kind."""
    from generator.records.ingest import result_json, summarise
    if as_json:
        click.echo(json.dumps(result_json(result), ensure_ascii=False, indent=1))
        return
    summary = summarise(result, shown=10**9 if verbose else 3)
    if not quiet:
        for register, (rows, added) in result.registers.items():
            click.echo(f"register {shown(Path(register).resolve())}: {rows} issued files, {added} new")
        for outcome in result.files:
            if verbose or outcome.status in ALWAYS_LISTED:
                reason = f": {shown(outcome.reason)}" if outcome.reason else ""  # names are printed escaped
                click.echo(f"{outcome.status:<10} {shown(outcome.path)}{reason}")
        if verbose:
            for outcome in result.files:
                if outcome.status in ("new", "superseded") and outcome.missing:
                    click.echo(f"{'missing':<10} {shown(outcome.path)}: {len(outcome.missing)} field(s) of the pack are "
                               f"not in the copy (stored as missing): {shown(', '.join(outcome.missing))}")
                if outcome.status in ("new", "superseded") and outcome.unmapped:
                    click.echo(f"{'unmapped':<10} {shown(outcome.path)}: {len(outcome.unmapped)} value(s) for fields the "
                               f"pack does not define (stored as unmapped): {shown(', '.join(outcome.unmapped))}")
        for group in summary.files:
            total = len(group.shown) + group.more
            click.echo(f"{'warning':<10} {shown(group.path)} ({total} warning{'' if total == 1 else 's'}):")
            for message in group.shown:
                click.echo(f"{'':<12}{shown(message)}")
            if group.more:
                click.echo(f"{'':<12}and {group.more} more; portfolio records --warnings {group.path}")
        if summary.kinds:
            click.echo("warnings: " + ", ".join(
                f"{n} {kind} (in {files} file{'' if files == 1 else 's'})" for kind, (n, files) in summary.kinds.items()))
    counts = result.counts
    parts = [f"{counts[s]} {STATUS_WORDS[s]}" for s in STATUS_WORDS if counts[s] or s not in ("failed", "unidentified")]
    files = len({outcome.path for outcome in result.files})  # a scanned stack is one file of many outcomes
    rate = f", {files / result.seconds:.1f} files/s" if result.seconds and files else ""
    click.echo(f"{files} file(s) in {result.seconds:.1f} s ({result.jobs} reader(s){rate}): "
               f"{', '.join(parts)}; store {describe_store(result.store, absolute=True)}")


def _print_warnings(store_file: Path, target: str) -> None:
    try:
        sid, filename, messages = api.copy_warnings(target, store_file)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"{filename} (submission {sid}): {len(messages)} warning{'' if len(messages) == 1 else 's'}")
    for message in messages:
        click.echo(f"  {message}")


def _progress_lines(lp) -> list[str]:
    if not lp.returned:
        return [f"  nothing returned yet ({lp.issued} file{'' if lp.issued == 1 else 's'} issued)"]
    lines = []
    if lp.pack_submission is not None:
        achieved, total = lp.competencies
        lines.append(f"  competencies   {achieved}/{total} areas: "
                     + ", ".join(f"{d.title} {d.achieved}/{d.total}" for d in lp.domains))
        signed, domains = lp.signoffs
        lines.append(f"  sign-offs      {signed}/{domains} assessor sign-offs"
                     + (f" (missing: {', '.join(d.title for d in lp.domains if not d.signed_off)})"
                        if signed < domains else ""))
        lines.append(f"  values         {lp.values.done}/{lp.values.total} worksheet entries complete")
        lines.append(f"  case studies   {lp.case_studies.done}/{lp.case_studies.total} complete")
        for label, sig in (("initial", lp.initial), ("final review", lp.final)):
            state = "signed" if sig.signed else "not signed"
            waiting = f" (waiting for: {', '.join(m.replace('_', ' ') for m in sig.missing)})" if sig.missing else ""
            lines.append(f"  {label:<14} {state}{waiting}")
    else:
        lines.append("  portfolio      not returned yet")
    fb = lp.feedback
    means = ", ".join(f"{q.id} {q.mean:.1f}" for q in fb.questions if q.mean is not None)
    scale = f" (1 = {fb.scale[0]} … {len(fb.scale)} = {fb.scale[-1]})" if fb.scale and means else ""
    lines.append(f"  feedback       {fb.forms} form(s)" + (f"; mean{scale}: {means}" if means else ""))
    for flagged in lp.review:
        kinds = ", ".join(f"{shown(f['field'])} ({f['kind'].replace('_', ' ')})" for f in flagged["flags"])
        lines.append(f"  REVIEW         {shown(flagged['file'])}: possible patient identifiers in {kinds}; "
                     "values not shown")
    if lp.missing_fields or lp.unmapped_fields:
        lines.append(f"  check          {lp.missing_fields} field(s) missing from copies, "
                     f"{lp.unmapped_fields} unknown value(s) kept")
    return lines


@main.command()
@STORE_OPTION
@click.option("--pcn", "pcns", multiple=True, metavar="SLUG", help="Only learners of this PCN; repeat for more.")
@click.option("--cohort", "cohorts", multiple=True, metavar="NAME",
              help="Only learners issued in this cohort (the folder of its issue register, e.g. 2026-autumn); "
                   "repeat for more.")
@click.option("--json", "as_json", is_flag=True, help="Print the progress as JSON.")
@click.option("--warnings", "warnings_of", metavar="FILE-OR-ID",
              help="Print every warning stored for one returned copy (a file, or a submission id: 'portfolio export "
                   "--all-versions' lists them).")
@click.option("--summary", is_flag=True, help="Print what the store holds (counts, size of the kept originals).")
@click.option("--original", "original_id", type=click.IntRange(1), metavar="SUBMISSION",
              help="Write the returned file kept for this submission (its id: 'portfolio export --all-versions' lists "
                   "them) to -o FILE.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The file --original writes (refused if it exists, unless --replace).")
@click.option("--replace", is_flag=True, help="With --original: write over -o FILE if it exists.")
def records(store_file: str, pcns: Sequence[str], cohorts: Sequence[str], as_json: bool, warnings_of: str | None,
            summary: bool, original_id: int | None, output: Path | None, replace: bool) -> None:
    """List learners with their progress, from the records store.

    For each learner: competency areas achieved per domain, assessor sign-offs,
    values worksheet and case studies complete, patient feedback forms received
    with the mean score per question, and whether the initial discussion and
    the final review are signed. Learners on an imported issue register who
    have returned nothing are listed too. --summary prints what the store holds;
    --original N -o FILE fetches back the file submission N was read from, as
    it was returned (checked against its SHA-256); an existing FILE is kept
    unless --replace is given.

    Example: portfolio records --pcn riverside-pcn --cohort 2026-autumn
    """
    if original_id is not None or output is not None or replace:
        if original_id is None or output is None:
            raise click.UsageError("--original SUBMISSION and -o FILE go together (and --replace with them)")
        _write_original(store_file, original_id, output, replace)
        return
    if summary:
        _summary(store_file)
        return
    if warnings_of is not None:
        _print_warnings(store_file, warnings_of)
        return
    try:
        learners = api.records(store_file, pcns, cohorts=cohorts)
    except PortfolioError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps([lp.to_json() for lp in learners], ensure_ascii=False, indent=1))
        return
    for lp in learners:  # names come from the copies' manifests and covers
        where = ", ".join(shown(x) for x in (lp.practice, lp.pcn) if x)
        click.echo(f"{shown(lp.name)} ({where})" if where else shown(lp.name))
        for line in _progress_lines(lp):
            click.echo(line)
    returned = sum(lp.returned for lp in learners)
    flagged = sum(len(lp.review) for lp in learners)
    click.echo(f"{len(learners)} learner(s), {returned} with returned copies"
               + (f"; {flagged} copy(ies) flagged for review" if flagged else ""))


def _write_original(store_file: str, submission_id: int, output: Path, replace: bool) -> None:
    try:
        result = api.original(store_file, submission_id, output, replace=replace)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"wrote {result.output} ({result.filename}, {result.size} bytes, SHA-256 {result.sha256[:12]}…)")


def _summary(store_file: str) -> None:
    try:
        s = api.store_summary(store_file)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"store          {s.store} (schema {s.schema})")
    click.echo(f"submissions    {s.submissions} ({s.current} current, {s.submissions - s.current} superseded)")
    click.echo(f"learners       {s.learners} ({s.learners_returned} with returned copies, "
               f"{s.learners_issued} on issue registers)")
    click.echo(f"issued files   {s.issued_files}")
    click.echo(f"field values   {s.field_values}")
    click.echo(f"audit entries  {s.audit_entries}"
               + (f" ({', '.join(f'{n} {a}' for a, n in s.audit_actions.items())})" if s.audit_actions else ""))
    click.echo(f"originals      {s.originals} file{'' if s.originals == 1 else 's'}, {_size(s.originals_bytes)}")


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1000 ** 2:
        return f"{n / 1000:.1f} kB"
    if n < 1000 ** 3:
        return f"{n / 1000 ** 2:.1f} MB"
    return f"{n / 1000 ** 3:.2f} GB"


@main.command()
@STORE_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "fhir"]), default="csv", show_default=True,
              help="csv: a row per submission; json: records; fhir: a FHIR R4 Bundle.")
@click.option("--long", "long_csv", is_flag=True, help="CSV in long format: a row per submission and field.")
@click.option("--all-versions", is_flag=True, help="Include superseded versions (default: current records only).")
@click.option("--fhir-base", default=None, metavar="URL",
              help="Base of the Questionnaires' canonical URLs (default: urn:portfolio:questionnaire).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.option("--include-flagged", is_flag=True,
              help="Write values flagged as possible patient identifiers in full (default: withheld).")
def export(store_file: str, fmt: str, long_csv: bool, all_versions: bool, fhir_base: str | None,
           output: Path | None, include_flagged: bool) -> None:
    """Export the stored records as CSV, JSON or FHIR R4.

    CSV has one row per submission and a column per field id (or, with
    --long, a row per submission and field). JSON has one record per
    submission, as 'portfolio read' prints it plus the submission's facts.
    FHIR writes a Bundle with the pack as a Questionnaire and every submission
    as a QuestionnaireResponse. A value flagged as a possible patient
    identifier is withheld ("[withheld: possible NHS number]") unless a
    reviewer cleared its copy ('portfolio review clear') or --include-flagged
    is given.

    Example: portfolio export --format fhir -o records.fhir.json
    """
    if long_csv and fmt != "csv":
        raise click.UsageError("--long applies to --format csv only")
    if fhir_base and fmt != "fhir":
        raise click.UsageError("--fhir-base applies to --format fhir only")
    try:
        result = api.export(store_file, "csv-long" if long_csv else fmt, all_versions=all_versions,
                            fhir_base=fhir_base, output=output, include_flagged=include_flagged)
    except PortfolioError as exc:
        fail(exc)
    if result.included:
        click.echo(f"warning: {result.included} value(s) flagged as possible patient identifiers are written in "
                   "full (--include-flagged); keep this export inside the organisation", err=True)
    elif result.withheld:
        click.echo(f"{result.withheld} flagged value(s) withheld (review the copies, then 'portfolio review clear', "
                   "or --include-flagged)", err=True)
    if output:
        click.echo(f"wrote {Path(output).resolve()}", err=True)
    else:
        click.echo(result.text, nl=False)


@main.command()
@STORE_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("build"),
              show_default=True, help="Folder to write cohort-progress.html, .pdf and .csv to.")
@click.option("--format", "formats", type=click.Choice(["html", "pdf", "csv", "all"]), default="all",
              show_default=True, help="Which files to write.")
@click.option("--title", default="Cohort progress", show_default=True, help="The report's title.")
@click.option("--pcn", "pcns", multiple=True, metavar="SLUG", help="Only learners of this PCN; repeat for more.")
@click.option("--cohort", "cohorts", multiple=True, metavar="NAME",
              help="Only learners issued in this cohort (the folder of its issue register, e.g. 2026-autumn); "
                   "repeat for more.")
def report(store_file: str, out_dir: Path, formats: str, title: str, pcns: Sequence[str],
           cohorts: Sequence[str]) -> None:
    """Write a cohort progress report (an HTML page, a PDF and a CSV).

    The HTML has a summary, an overview table, and per learner a table of
    competency domains with bar charts, sign-offs, values worksheet, case
    studies, initial and final review, and patient feedback means. The PDF
    prints the cohort's figures with charts and one line per learner; the
    CSV has a row per learner with every figure. No free-text answers
    appear in any of them.

    Example: portfolio report --cohort 2026-autumn --out reports/ --title "2026 autumn cohort"
    """
    wanted = ("html", "pdf", "csv") if formats == "all" else (formats,)
    try:
        result = api.report(store_file, out_dir, formats=wanted, title=title, pcns=pcns, cohorts=cohorts)
    except PortfolioError as exc:
        fail(exc)
    for fmt, path in result.outputs.items():
        click.echo(f"wrote {Path(path).resolve()} ({result.learners} learners)")
