"""The use cases the command line and the web app both call.

In: plain arguments (paths, slugs, names, flags). Out: plain dataclasses (or the
stage's own result dataclass), never printed output. Every function raises a
``generator.errors.PortfolioError`` subclass when the input cannot be used; its
message names the file, the place and the fix. Long jobs report progress through
an optional ``progress(done, total)`` callback: called once with ``(0, total)``
before the first item and then after each batch, ``done`` counting up to
``total``.

``store`` arguments name the records store: a path (``records.sqlite``), an
``sqlite:///…`` URL, a ``postgresql://user@host:port/database`` URL, or None for
$PORTFOLIO_STORE or ./records.sqlite; or they are a store already open (the web
app opens one per request), which is used as it is and left open. ``actor`` (where
a use case takes it) is who the audit log names for what it writes (e.g.
``web:lead@training.example``); None keeps the store's own.

Heavy stages (WeasyPrint, the readers, the store) are imported inside the
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from generator.errors import (ContentError, FillError, IssueError, OptionError, PortfolioError, Problem, RecordsError,
                              RosterError)

if TYPE_CHECKING:
    from generator.content.loader import Content

#: ``progress(done, total)``; see the module docstring.
Progress = Callable[[int, int], None]

#: The pack formats ``build`` and ``issue`` write.
PACK_FORMATS = ("pdf", "docx")
#: The formats ``export`` writes ("csv-long": a row per submission and field).
EXPORT_FORMATS = ("csv", "csv-long", "json", "fhir")


def load_content(content_dir: Path | str | None = None) -> Content:
    """The pack's content (``generator.content.loader.load_content``), imported on first use so that
    commands which never load content (``read``, ``records``) start without YAML checks and Jinja."""
    from generator.content.loader import load_content as load
    return load(content_dir)


@contextmanager
def _opened(store: Any, *, create: bool = True, actor: str | None = None, read_only: bool = False) -> Iterator[Any]:
    """The store ``store`` names, opened (and closed afterwards); or ``store`` itself when it is open already."""
    if hasattr(store, "transaction"):  # an open Store: the caller opened it and closes it
        before = store.actor
        if actor is not None:
            store.actor = actor
        try:
            yield store
        finally:
            store.actor = before
        return
    from generator.records.connect import open_store
    with (open_store(store, read_only=True) if read_only else open_store(store, create=create)) as opened:
        if actor is not None:
            opened.actor = actor
        yield opened


def _counter(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    """An ``update(n)`` callback (as the stages take) feeding ``progress(done, total)``."""
    if progress is None:
        return None
    done = 0
    progress(0, total)

    def update(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)
    return update


def _formats(formats: Iterable[str], allowed: Sequence[str], option: str = "formats") -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in allowed]
    if unknown or not wanted:
        raise OptionError(option, f"choose from: {', '.join(allowed)} (got {', '.join(unknown) or 'none'})")
    return wanted


# ---------------------------------------------------------------- content: check, build, fields

@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found valid."""

    content_id: str
    version: str
    sections: int
    fields: int  # with every optional form included
    profiles: list[str]  # PCN profile slugs, all valid


def check(content_dir: Path | str | None = None) -> CheckResult:
    """Validate the content folder (None: the content shipped with the tool) and every PCN profile in it.

    The pack roles (pack.yaml ``roles``) must name fields and sections of the pack.
    Raises ContentError listing every problem (file, path, message, code).
    """
    from generator.content.layout import Layout
    from generator.content.profile import check_all_profiles, list_profiles
    from generator.content.roles import check_roles
    from generator.model.form import build_form
    content = load_content(content_dir)
    layout = Layout(optional_sections=frozenset(content.pack.get("optional_sections") or []))
    problems: list[Problem] = []
    try:
        form = build_form(content, layout)  # renders prose too, so variable mistakes show
    except ContentError as exc:  # the profiles are checked all the same: every problem in one run
        form = None
        problems.extend(exc.problems)
    if form is not None:
        problems += check_roles(content.roles, [f.id for f in form.fields], [s.id for s in form.sections])
    problems += check_all_profiles(content)
    if problems or form is None:
        raise ContentError(problems)
    return CheckResult(content.id, content.version, len(content.sections), len(form.fields),
                       list_profiles(content.directory))


def _layout(content: Content, profile: str | None, include: Sequence[str], check_include: bool = True):
    """The layout and theme for ``profile`` (None: the provider's default) with ``include`` switched on."""
    from generator.content.layout import Layout
    from generator.content.profile import load_profile
    from generator.content.theme import load_theme
    if check_include:
        known = set(content.pack.get("optional_sections") or [])
        for name in include:
            if name not in known:
                raise OptionError("include", f"'{name}' is not an optional section (choose from: "
                                             f"{', '.join(sorted(known)) or 'none'})")
    theme = load_theme()
    layout = Layout(organisation=theme.organisation)
    if profile:
        loaded = load_profile(profile, content, theme)
        layout, theme = loaded.layout, loaded.theme
    return replace(layout, optional_sections=layout.optional_sections | frozenset(include)), theme


def build(out_dir: Path | str = "build", *, content_dir: Path | str | None = None, profile: str | None = None,
          formats: Iterable[str] = PACK_FORMATS, include: Sequence[str] = (), cache: bool = True):
    """Build the blank fillable pack; returns ``generator.issuing.build.BuildResult``.

    Without ``profile`` the provider's default pack is written to
    ``out_dir/<content id>.pdf|.docx``; with a PCN profile slug, to
    ``out_dir/<slug>/``. ``include`` switches on optional forms (OptionError
    names an unknown one). ``result.outputs`` maps format to path,
    ``result.timings`` format to seconds, ``result.warnings`` lists what to tell
    the user. With ``cache``, files already built from the same inputs are kept
    and listed in ``result.unchanged`` instead of being rendered again.
    """
    from generator.issuing.build import build_pack
    wanted = _formats(formats, PACK_FORMATS)
    content = load_content(content_dir)
    layout, theme = _layout(content, profile, include)
    out = Path(out_dir) / profile if profile else Path(out_dir)
    return build_pack(out, content=content, layout=layout, theme=theme, formats=wanted, cache=cache)


def fields(*, content_dir: Path | str | None = None, profile: str | None = None,
           include: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every field of the pack as the manifest defines it (id, kind, label, options, …)."""
    from generator.content.layout import Layout
    from generator.content.profile import load_profile
    from generator.model.form import build_form
    from generator.model.manifest import field_definitions
    content = load_content(content_dir)
    layout = load_profile(profile, content).layout if profile else Layout()
    form = build_form(content, replace(layout, optional_sections=layout.optional_sections | frozenset(include)))
    return field_definitions(form)


# ---------------------------------------------------------------- profiles

def profile_new(slug: str, name: str | None = None, content_dir: Path | str | None = None) -> Path:
    """Create content/pcns/SLUG/profile.yaml with every key explained; returns its path."""
    from generator.content.profile import scaffold_profile
    return scaffold_profile(slug, name, Path(content_dir) if content_dir else None)


def profile_list(content_dir: Path | str | None = None) -> list[str]:
    """The PCN profile slugs, sorted."""
    from generator.content.profile import list_profiles
    return list_profiles(Path(content_dir) if content_dir else None)


def profile_preview(slug: str | None = None, content_dir: Path | str | None = None, *, width: int = 600,
                    profiles_dir: Path | str | None = None) -> bytes:
    """The cover page of SLUG's pack (or, with None, the provider's default pack) as PNG bytes.

    For a profile editor: shows the PCN's logo, colours and names as learners will see
    them. ``profiles_dir`` is a folder whose ``pcns/SLUG/`` holds the profile to show
    (an editor's unsaved candidate) instead of the content's own. ContentError lists
    the profile's problems.
    """
    return profile_pages(slug, content_dir, width=width, profiles_dir=profiles_dir)[0]


def profile_pages(slug: str | None = None, content_dir: Path | str | None = None, *,
                  sections: Sequence[str] = (), width: int = 600,
                  profiles_dir: Path | str | None = None) -> list[bytes]:
    """``profile_preview`` for several pages: the first page of each of ``sections`` (e.g.
    ("cover", "schedule"); none: the cover) as PNG bytes, the sections laid out together once."""
    from generator.issuing.preview import pages_png
    content = load_content(content_dir)
    if profiles_dir is not None:
        content = replace(content, directory=Path(profiles_dir))
    layout, theme = _layout(content, slug, ())
    known = content.pack["sections"]
    unknown = [s for s in sections if s not in known]
    if unknown:
        raise OptionError("sections", f"'{unknown[0]}' is not a section of the pack (choose from: {', '.join(known)})")
    return pages_png(content, layout, theme, tuple(sections) or (known[0],), width=width)


def profile_save(folder: Path | str, profile_yaml: bytes, store: Any = None, *, logo: bytes | None = None,
                 changed: Sequence[str] = ()) -> None:
    """Write a checked PCN profile into its folder (``content/pcns/SLUG``): ``profile.yaml`` and, when
    given, the cleaned ``logo.png``, each whole or not at all; then record it in the audit log
    ("profile saved", with the keys ``changed``). For an editor that checked the profile first."""
    from generator.files import write_atomic
    folder = Path(folder)
    if logo is not None:
        write_atomic(folder / "logo.png", logo)
    write_atomic(folder / "profile.yaml", profile_yaml)
    with _opened(store, create=False) as opened, opened.transaction():
        opened.add_audit("profile saved", filename=f"pcns/{folder.name}/profile.yaml",
                         detail=f"{folder.name}: " + (", ".join(changed) or "no change"))


def profile_check(slug: str | None = None, content_dir: Path | str | None = None) -> list[Problem]:
    """Problems in one PCN profile (or, with None, in every profile); an empty list when valid."""
    from generator.content.profile import check_all_profiles, load_profile
    content = load_content(content_dir)
    if slug is None:
        return check_all_profiles(content)
    try:
        load_profile(slug, content)
    except ContentError as exc:
        return list(exc.problems)
    return []


# ---------------------------------------------------------------- issuing

@dataclass
class IssuePlan:
    """A checked roster, ready to issue: nothing has been written yet.

    ``warnings`` are worth showing before issuing (e.g. a practice the PCN's
    profile does not list); ``pcns`` are the profile slugs that will be rendered.
    """

    content: Content
    learners: list[Any]  # generator.issuing.roster.Learner
    cohort: str
    out_dir: Path
    formats: tuple[str, ...]
    feedback_forms: int
    replace: bool
    cohort_dir: Path
    pcns: list[str]
    warnings: list[str] = field(default_factory=list)
    print_forms: bool = False  # each learner's feedback forms as one print-ready PDF
    return_url: str = ""  # base URL of the web app: each PDF cover shows the learner's return link
    return_by: str = ""  # ISO date the return links expire at the end of


@dataclass
class IssueOutcome:
    """What ``issue`` wrote: ``result`` is ``generator.issuing.issue.IssueResult``.

    ``store_rows``/``store_new`` count the register rows imported into the
    records store (None when no store existed to record them in).
    """

    result: Any
    store: str | None = None
    store_rows: int | None = None
    store_new: int | None = None


def plan_issue(roster: Path | str, cohort: str, *, out_dir: Path | str = "build",
               content_dir: Path | str | None = None, formats: Iterable[str] = PACK_FORMATS,
               feedback_forms: int = 0, replace: bool = False, print_forms: bool = False,
               return_url: str = "", return_by: str = "") -> IssuePlan:
    """Read and check a roster CSV and the cohort before anything is written.

    ``print_forms``: each learner's feedback forms as one print-ready PDF instead of one file each.
    ``return_url`` (the web app's address) and ``return_by`` (a date): each PDF cover shows the
    learner's personal return link, valid to the end of that day (UTC).

    Raises RosterError (a ContentError: every bad row with its line number),
    or IssueError when the cohort name is unusable or copies handed out would
    be overwritten (unless ``replace``).
    """
    from generator.content.profile import load_profile, profile_names
    from generator.issuing.issue import check_cohort
    from generator.issuing.roster import cover_labels, is_workbook, read_roster
    roster = Path(roster)
    wanted = _formats(formats, PACK_FORMATS)
    if not 0 <= feedback_forms <= 50:
        raise OptionError("feedback_forms", f"{feedback_forms} is not between 0 and 50")
    if print_forms and not feedback_forms:
        raise OptionError("print", "--print prints the feedback forms: say how many with --feedback-forms N")
    return_url, return_by = return_link_options(return_url, return_by)
    try:
        content = load_content(content_dir)
        warnings: list[str] = []
        learners = read_roster(roster, profile_names(content.directory), cover_labels(content), warnings)
    except RosterError:
        raise
    except ContentError as exc:
        raise RosterError(exc.problems) from None
    cohort_dir = check_cohort(learners, cohort, Path(out_dir), wanted, feedback_forms, replace, print_forms)
    pcns = sorted({learner.pcn for learner in learners})
    where = "row" if is_workbook(roster) else "line"  # as the roster's own problems say
    for slug in pcns:  # a practice the profile does not list is probably a typo, but not an error
        practices = set(load_profile(slug, content).practices)
        for learner in learners:
            if practices and learner.pcn == slug and learner.practice not in practices:
                warnings.append(f"{roster.name}: {where} {learner.line}: practice '{learner.practice}' is not "
                                f"among {slug}'s practices ({', '.join(sorted(practices))})")
    return IssuePlan(content, learners, cohort, Path(out_dir), wanted, feedback_forms, replace, cohort_dir, pcns,
                     warnings, print_forms, return_url, return_by)


def return_link_options(url: str, by: str) -> tuple[str, str]:
    """The return link base URL and expiry date (ISO) once both are usable; ("", "") for none."""
    from urllib.parse import urlsplit

    from generator.dates import parse_date
    if not url and not by:
        return "", ""
    if not url or not by:
        raise OptionError("return_url" if not url else "return_by",
                          "a return link needs both --return-url (the web app's address) and --return-by (a date)")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise OptionError("return_url", f"{url!r} is not the web app's address: give it as "
                                        "https://portfolio.example.org (http or https, no query)")
    day = parse_date(by)
    if day is None:
        raise OptionError("return_by", f"{by!r} is not a date: give it as DD/MM/YYYY, e.g. 31/03/2027")
    if day <= datetime.now(timezone.utc).date().isoformat():
        raise OptionError("return_by", f"{by} is not in the future: the links would never work")
    return url.strip().rstrip("/"), day


def return_links(store: Any, base: str, day: str) -> Callable[[str], str]:
    """A function making one instance's return link (``users.new_return_token``: only its hash is stored)."""
    from generator.records.users import new_return_token
    expires = datetime.combine(date.fromisoformat(day), time(23, 59, 59), timezone.utc)
    return lambda instance: f"{base}/return/{new_return_token(store, instance, expires)}"


def return_link_valid(token: str, store: Any = None):
    """The return link a token is (``generator.records.store.ReturnToken``: its instance id and
    expiry), or None when it is unknown or has expired."""
    from generator.records.users import check_return_token
    with _opened(store, create=False) as opened:
        return check_return_token(opened, token)


@dataclass(frozen=True)
class LinkReturn:
    """What became of a copy sent to a learner's return link.

    ``status`` is ingest's for the copy (new, unchanged, superseded, conflict, rejected,
    failed), or "unreadable" (not a portfolio copy) or "other copy" (a copy of another
    instance than the link's): those two store nothing. ``outcome`` is ingest's
    ``FileOutcome`` when the copy was ingested.
    """

    status: str
    outcome: Any = None


def _instances_in(read: Any) -> set[str]:
    """The instance ids a returned file holds (a ``ReadOutcome``): a copy's own, or every page's of a
    scan, identified or not; empty when nothing in it is a copy this tool issued."""
    if read.record is not None:
        return {str(read.record.pack.get("instance_id") or "")} - {""}
    if read.scan is None:
        return set()
    return {c.instance_id for c in read.scan.copies} | {p.instance_id for p in read.scan.unidentified if p.instance_id}


def return_by_link(token: str, data: bytes, kind: str, store: Any = None, *,
                   jobs: int | None = None) -> LinkReturn | None:
    """Take a learner's filled copy (``data``, of sniffed ``kind`` "pdf" or "docx") sent to the return
    link ``token``: read in a child process within the reading limits; stored as ``ingest`` stores it
    only when it is a copy of the link's own instance; audited either way. None when the link is
    unknown or has expired (nothing is read)."""
    import tempfile

    from generator.reading.sandbox import DEFAULT_LIMITS, call_isolated
    from generator.records.ingest import known_layouts, read_copy, reading_time
    from generator.records.ingest import ingest as run_ingest
    from generator.records.users import check_return_token
    with _opened(store, create=False) as opened:
        link = check_return_token(opened, token)
        if link is None:
            return None
        # a copy printed, filled by hand and scanned is read against the layout of this link's copy alone
        name = f"returned.{kind}"
        read = call_isolated(read_copy, (data, name, DEFAULT_LIMITS.memory, known_layouts(opened, link.instance_id)),
                             replace(DEFAULT_LIMITS, seconds=reading_time(data, DEFAULT_LIMITS.seconds)))
        instances = _instances_in(read.value) if read.status == "ok" else set()
        if not instances:
            return LinkReturn("unreadable")
        if instances != {link.instance_id}:
            with opened.transaction():
                opened.add_audit("return refused", instance_id=link.instance_id,
                                 detail="a copy of another instance was sent to this return link")
            return LinkReturn("other copy")
        with tempfile.TemporaryDirectory(prefix="return-") as tmp:  # a name the server makes
            path = Path(tmp) / f"returned.{kind}"
            path.write_bytes(data)
            outcome = run_ingest([path], opened, jobs=jobs).files[0]
        with opened.transaction():
            opened.add_audit("returned by link", sha256=outcome.sha256, instance_id=link.instance_id,
                             submission_id=outcome.submission_id, detail=outcome.status)
        return LinkReturn(outcome.status, outcome)


def issue(plan: IssuePlan, *, jobs: int | None = None, store: Path | str | None = None,
          progress: Progress | None = None, cache: bool = True,
          actor: str | None = None) -> IssueOutcome:
    """Issue every learner of ``plan`` (see ``plan_issue``) and record the copies.

    Each PCN's layout is rendered once and every learner's copy stamped from it,
    in ``jobs`` worker processes (None: one per core). The register of instance
    ids is written to the cohort folder and imported into the records store
    ``store`` names, when it exists; with ``store`` None (and no $PORTFOLIO_STORE),
    into ./records.sqlite only when the cohort is written inside the working
    directory (``generator.records.register.issue_store``). With ``cache``, each PCN's blank rendered
    before from the same inputs is used again (``result.reused`` names them).
    """
    from generator.dates import format_date
    from generator.issuing.issue import issue_cohort
    from generator.records.register import import_register, issue_store
    target = issue_store(store, plan.out_dir)
    if plan.return_url:
        if target is None:
            raise IssueError("return links need a records store to keep their tokens in: name it with --store "
                             "(or $PORTFOLIO_STORE), the one the web app serves; nothing was issued")
        with _opened(target, create=False, actor=actor) as opened:  # the tokens' audit entries name the actor
            result = issue_cohort(plan.learners, plan.cohort, plan.out_dir, plan.content, plan.formats,
                                  plan.feedback_forms, jobs, _counter(progress, len(plan.learners)), plan.replace,
                                  cache=cache, print_forms=plan.print_forms,
                                  return_link=return_links(opened, plan.return_url, plan.return_by),
                                  return_by=format_date(plan.return_by))
    else:
        result = issue_cohort(plan.learners, plan.cohort, plan.out_dir, plan.content, plan.formats,
                              plan.feedback_forms, jobs, _counter(progress, len(plan.learners)), plan.replace,
                              cache=cache, print_forms=plan.print_forms)
    outcome = IssueOutcome(result)
    if target is not None:
        with _opened(target, create=False, actor=actor) as opened:
            outcome.store_rows, outcome.store_new = import_register(opened, result.register)
            from generator.records.connect import describe_store
            outcome.store = describe_store(opened.path, absolute=True)
    return outcome


def store_exists(store: Path | str | None) -> bool:
    """Whether the records store ``store`` names exists already."""
    from generator.records.connect import store_exists as exists
    return exists(store)


# ---------------------------------------------------------------- one copy: read, fill

@dataclass(frozen=True)
class ReadResult:
    """One copy read: ``record`` is ``generator.reading.read.Record``; ``json`` its text."""

    record: Any
    json: str
    output: Path | None = None


def read(file: Path | str, output: Path | str | None = None) -> ReadResult:
    """Read one completed copy (PDF or DOCX) in a child process with time and memory limits.

    With ``output``, the record's JSON is also written there (whole or not at
    all). Raises ReadError naming the file and the reason.
    """
    from generator.files import write_atomic
    from generator.reading.read import dumps
    from generator.reading.sandbox import read_isolated
    record = read_isolated(Path(file))
    text = dumps(record) + "\n"
    if output is not None:
        write_atomic(Path(output), text.encode("utf-8"))
    return ReadResult(record, text, Path(output) if output is not None else None)


@dataclass(frozen=True)
class FillResult:
    output: Path
    format: str  # "pdf" or "docx"
    values: int  # how many values (not null) were written


def record_values(record: Path | str | Mapping[str, Any]) -> dict[str, Any]:
    """Field id -> value from a record as ``read`` prints it, a plain object, or a JSON file of either."""
    if isinstance(record, Mapping):
        data: Any = record
        name = "record"
    else:
        path = Path(record)
        name = path.name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FillError(f"{name}: not a JSON record ({exc})") from None
    values = data.get("fields", data) if isinstance(data, Mapping) else None
    if not isinstance(values, Mapping):
        raise FillError(f"{name}: expected a JSON object of field id -> value")
    return dict(values)


def fill(pack: Path | str, record: Path | str | Mapping[str, Any], output: Path | str) -> FillResult:
    """Write the values of ``record`` (see ``record_values``) into ``pack`` (PDF or DOCX) as ``output``.

    Raises FillError when a value does not fit its field, or when ``output`` is
    not named like the pack's format.
    """
    from generator.files import write_atomic
    from generator.reading.sandbox import fill_isolated
    pack, output = Path(pack), Path(output)
    values = record_values(record)
    filled, fmt = fill_isolated(pack, values)  # the pack may be a returned copy: the limits and isolation of 'read'

    if output.suffix.lower().lstrip(".") != fmt:
        raise FillError(f"{output}: the pack is a {fmt.upper()}; name the output .{fmt}")
    write_atomic(output, filled)
    return FillResult(output, fmt, sum(v is not None for v in values.values()))


# ---------------------------------------------------------------- records store

def ingest(paths: Iterable[Path | str], *, store: Any = None, supersede: bool = False,
           registers: Sequence[Path | str] = (), jobs: int | None = None, progress: Progress | None = None,
           accept_changed_learner: bool = False, only_pcn: str | None = None, actor: str | None = None):
    """Read returned copies (files, or folders searched recursively) into the store (created if need be).

    ``accept_changed_learner`` stores (and audits) copies whose cover names another
    learner than the one they were issued to; otherwise those are conflicts.
    ``only_pcn`` (a PCN slug: a PCN manager's upload) stores only copies of that
    PCN's learners; any other is rejected with code E-SCOPE, audited, and told
    nothing of what the store holds of it.
    ``registers`` (issue registers, ``issued.csv``) are checked before the store
    is opened and imported first; a bad one raises ContentError and nothing is
    imported. Returns ``generator.records.ingest.IngestResult`` (one outcome per
    file; ``result.ok`` is False when any was rejected, conflicting or failed).
    """
    from generator.records.ingest import find_files
    from generator.records.ingest import ingest as run_ingest
    from generator.records.register import read_register
    for register in registers:  # checked before the store is opened (or created)
        read_register(Path(register))
    files = find_files(paths)
    with _opened(store, actor=actor) as opened:
        return run_ingest(files, opened, supersede=supersede, jobs=jobs, registers=registers,
                          progress=_counter(progress, len(files)), accept_changed_learner=accept_changed_learner,
                          only_pcn=only_pcn)


@dataclass
class Uploaded:
    """One file of ``upload``: what ingest made of it, whose copy it is, and for a conflict what differs."""

    file: int  # its file's position in ``files``
    name: str  # as uploaded
    outcome: Any  # ``generator.records.ingest.FileOutcome``
    pcn: str | None = None  # of the stored submission it is, replaces or conflicts with (None: there is none)
    learner_key: str | None = None
    differing: list[str] = field(default_factory=list)  # a conflict the uploader may see: fields whose answers differ


def upload(files: Sequence[tuple[str, str, bytes]], store: Any = None, *, refused: Sequence[tuple[str, str]] = (),
           supersede: bool = False, jobs: int | None = None, only_pcn: str | None = None) -> list[Uploaded]:
    """Files sent through the web app, ingested as ``ingest`` does: an ``Uploaded`` for each outcome, in
    order (one a file, but a scanned stack has one for each copy found in it and one for its unknown pages).

    ``files`` are (name as uploaded, name to write it under, bytes): the second is made by the server,
    ending in the kind its bytes were sniffed as, and each is written in a folder of its own, so the
    copy is stored under the learner's file name. ``refused`` are (name, reason) of files the front end
    refused unread. Both are audited ("upload rejected", "uploaded"), each kind in one transaction.
    ``only_pcn`` stores only that PCN's copies (a PCN manager's upload); a conflict of a copy the
    uploader may see (its PCN's, or any with None) lists the fields whose answers differ."""
    import tempfile
    with _opened(store, create=False) as opened:
        if refused:
            with opened.transaction():
                for name, reason in refused:
                    opened.add_audit("upload rejected", filename=name, detail=reason)
        if not files:
            return []
        out: list[Uploaded] = []
        with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            paths = []
            for number, (_, file_name, data) in enumerate(files, 1):
                folder = Path(tmp) / f"{number:04d}"  # the server's name; the file keeps the learner's
                folder.mkdir()
                paths.append(folder / file_name)
                paths[-1].write_bytes(data)
            result = ingest(paths, store=opened, supersede=supersede, jobs=jobs, only_pcn=only_pcn)
            by_folder: dict[str, list[Any]] = {}
            for o in result.files:
                by_folder.setdefault(Path(o.path).parent.name, []).append(o)
            owners = {s.id: (s.pcn, s.learner_key) for s in opened.submissions(current_only=False)}
            for number, ((name, _, _), path) in enumerate(zip(files, paths)):
                for o in by_folder[path.parent.name]:
                    pcn, key = owners.get(o.submission_id or o.previous_id or 0, (None, None))
                    done = Uploaded(number, name, o, pcn, key)
                    if o.status == "conflict" and o.previous_id is not None and only_pcn in (None, pcn):
                        done.differing = _differing(opened, path, o.previous_id)
                    out.append(done)
        with opened.transaction():
            for done in out:
                o = done.outcome
                opened.add_audit("uploaded", filename=done.name, sha256=o.sha256, instance_id=o.instance_id,
                                 submission_id=o.submission_id, detail=f"{o.status} through the web app")
        return out


def _differing(store: Any, path: Path, previous_id: int) -> list[str]:
    """Field ids whose answers differ between a conflicting copy and the stored one (read in isolation),
    compared as ingest compares them (by their words where either was read from a printed page)."""
    from generator.reading.sandbox import call_isolated
    from generator.records.ingest import differing_fields, new_submission, read_copy
    outcome = call_isolated(read_copy, (path.read_bytes(), path.name))
    read = outcome.value if outcome.status == "ok" else None
    if read is None or read.record is None:
        return []
    new = new_submission(path, "", 0, read)
    stored = store.submission(previous_id)
    words = "scan" in (new.format, stored.format if stored is not None else "")
    return sorted(differing_fields(store.values([previous_id]).get(previous_id, []), new.values, words))


def _progress(store: Any, kept: Any = None):
    from generator.records.progress import cohort_progress
    with _opened(store, read_only=True) as opened:  # a store in a read-only folder can be read
        return (kept or cohort_progress)(opened), opened.path


def records(store: Any = None, pcns: Sequence[str] = (), *, kept: Any = None,
            cohorts: Sequence[str] = ()) -> list[Any]:
    """Every learner's progress (``generator.records.progress.LearnerProgress``), sorted as stored.

    ``pcns`` keeps only learners of those PCN slugs, ``cohorts`` only those issued in those cohorts
    (``IssuedPack.cohort``); one with no learner in the store raises RecordsError naming what is there. ``kept`` (a
    ``generator.records.progress.CohortProgress``, for a long-running process)
    works out only the submissions it has not seen before; the figures are the same.
    """
    learners, _ = _progress(store, kept)
    return _only(learners, pcns, cohorts)


def _only(learners: list[Any], pcns: Sequence[str] = (), cohorts: Sequence[str] = ()) -> list[Any]:
    """The learners of those PCN slugs and of those cohorts (the folders their registers were written
    to); RecordsError naming what the store holds for a PCN or cohort no learner is in. A cohort may
    be named as it was given to ``issue`` ("2026 autumn") or as its folder is ("2026-autumn")."""
    if cohorts:
        from generator.issuing.roster import safe_name
        folders = {c for lp in learners for c in lp.cohorts}
        cohorts = [c if c in folders or safe_name(c) not in folders else safe_name(c) for c in cohorts]
    for wanted, of, what in ((pcns, lambda lp: [lp.pcn], "PCN"), (cohorts, lambda lp: lp.cohorts, "cohort")):
        if not wanted:
            continue
        there = {x for lp in learners for x in of(lp)}
        unknown = sorted(set(wanted) - there)
        if unknown:
            raise RecordsError(f"no learners in {what} {', '.join(unknown)} "
                               f"({what}s in the store: {', '.join(sorted(there)) or 'none'})")
        learners = [lp for lp in learners if set(of(lp)) & set(wanted)]
    return learners


def learner(learner_key: str, store: Any = None):
    """One learner's current copies with every answer (labelled), warning and version, and the
    instance ids issued to them (``generator.records.learner.LearnerRecord``). Flagged answers are
    marked, with their values there for ``show_flagged`` only; scope checks are the caller's."""
    from generator.records.learner import learner_record
    with _opened(store, create=False) as opened:
        return learner_record(opened, learner_key)


def show_flagged(submission_id: int, field_id: str, store: Any = None, *, actor: str | None = None):
    """A flagged answer's value (``generator.records.learner.Shown``), once the audit log says that
    ``actor`` saw it; None when the submission has no such flagged answer."""
    from generator.records.learner import flagged_value
    with _opened(store, create=False, actor=actor) as opened:
        return flagged_value(opened, submission_id, field_id)


# ---------------------------------------------------------------- accounts

def sign_in(email: str, password: str, store: Any = None):
    """Check an account's password (``generator.records.users.SignIn``: the user, or the reason to show).
    Failures are counted and audited; the fifth in a row locks the account for 15 minutes."""
    from generator.records.users import sign_in as check
    with _opened(store, create=False) as opened:
        return check(opened, email, password)


def signed_in_user(email: str, store: Any = None):
    """The account a session names (``generator.records.store.User``), or None when it is gone or disabled."""
    with _opened(store, create=False) as opened:
        user = opened.user(email)
    return None if user is None or user.disabled else user


def sign_out(email: str, store: Any = None) -> None:
    """Audit that ``email`` signed out."""
    with _opened(store, create=False) as opened:
        with opened.transaction():
            opened.add_audit("signed out", detail=email)


@dataclass(frozen=True)
class ExportResult:
    """An export's text (and where it was written), and what happened to flagged values."""

    text: str
    output: Path | None = None
    withheld: int = 0  # flagged values replaced by a marker
    included: int = 0  # flagged values written in full (include_flagged)
    cleared: int = 0  # flagged copies a reviewer cleared, exported in full


def export(store: Any = None, fmt: str = "csv", *, all_versions: bool = False,
           fhir_base: str | None = None, output: Path | str | None = None,
           include_flagged: bool = False, audit: str | None = None) -> ExportResult:
    """The stored records as ``fmt`` (one of EXPORT_FORMATS), written to ``output`` when given.

    ``all_versions`` includes superseded versions; ``fhir_base`` is the base of
    the Questionnaires' canonical URLs (a URN or an http(s) URL). A value flagged
    as a possible patient identifier is withheld (a marker naming the kind takes
    its place) unless a reviewer cleared its copy (``review_clear``) or
    ``include_flagged`` is set; the result counts both. With ``audit``, the export
    is recorded in the audit log ("exported", that detail), as the web app's downloads are.
    """
    from generator.files import write_atomic
    from generator.records.export import DEFAULT_FHIR_BASE, export_records
    _formats((fmt,), EXPORT_FORMATS, "format")
    base = fhir_base or DEFAULT_FHIR_BASE
    if not (base.startswith("urn:") or base.startswith("https://") or base.startswith("http://")):
        raise OptionError("fhir_base", "give a URN (urn:…) or an http(s) URL")
    with _opened(store, read_only=not include_flagged and audit is None) as opened:  # writes only to the audit log
        done = export_records(opened, fmt, all_versions=all_versions, fhir_base=base,
                              include_flagged=include_flagged)
        if audit is not None:
            with opened.transaction():
                opened.add_audit("exported", detail=audit)
    if output is not None:
        write_atomic(Path(output), done.text.encode("utf-8"))
    return ExportResult(done.text, Path(output).resolve() if output is not None else None, done.withheld,
                        done.included, done.cleared)


def review_clear(target: Path | str, reason: str, store: Path | str | None = None):
    """Record that a reviewer checked a flagged copy (a returned file or a submission id) and found no
    patient identifier; its values then export as they are.

    Appends one audit-log entry; returns ``generator.records.review.Clearance``
    (``already`` set, and nothing written, when the copy was cleared before).
    Raises ReviewError for an unknown copy, one without flags, or no reason.
    """
    from generator.records.connect import open_store
    from generator.records.review import clear
    with open_store(store, create=False) as opened:
        return clear(opened, target, reason)


def scan_pending(store: Path | str | None = None) -> list[Any]:
    """The fields of scanned copies waiting for a person (``generator.records.review.PendingField``):
    handwriting to transcribe and marks the reader could not decide."""
    from generator.records.connect import open_store
    from generator.records.review import pending_fields
    with open_store(store, create=False) as opened:
        return pending_fields(opened)


def scan_pending_page(limit: int, offset: int = 0, store: Any = None) -> tuple[list[Any], int]:
    """``limit`` of the fields waiting for a person from ``offset`` on, and how many wait in all
    (``generator.records.review.pending_page``: only those fields are read). ``store`` may be an open store."""
    from generator.records.review import pending_page
    with _opened(store, create=False) as opened:
        return pending_page(opened, limit, offset)


def scan_crop(submission_id: int, field_id: str, store: Any = None) -> bytes:
    """The PNG image of a scanned text field, to read the handwriting from. ``store`` may be an open store."""
    from generator.records.review import field_crop
    with _opened(store, create=False) as opened:
        return field_crop(opened, submission_id, field_id)


def scan_enter(submission_id: int, field_id: str, text: str, store: Any = None,
               actor: str | None = None) -> Any:
    """Record the text a person typed (or the mark they decided) for a scanned field; the value stored.
    ``actor`` names who did it (default: the user running the command, or an open store's own actor)."""
    from generator.records.review import enter_value
    with _opened(store, create=False, actor=actor or None) as opened:
        return enter_value(opened, submission_id, field_id, text)


def scan_saved(submission_id: int, field_id: str, store: Any = None) -> Any:
    """The latest entry made for a scanned field (``generator.records.review.SavedEntry``), or None:
    what the review page confirms after "Save". ``store`` may be an open store."""
    from generator.records.review import saved_entry
    with _opened(store, create=False) as opened:
        return saved_entry(opened, submission_id, field_id)


def scan_unidentified(store: Any = None) -> list[Any]:
    """Scanned pages that could not be matched to an issued copy (``ScanPage``, with their images).
    ``store`` may be an open store."""
    with _opened(store, create=False) as opened:
        return opened.scan_pages(unidentified=True)


def copy_warnings(target: Path | str, store: Path | str | None = None) -> tuple[int, str, list[str]]:
    """(submission id, file name, every warning stored) for a returned file or submission id, quoted text
    blanked as ingest prints it."""
    from generator.records.connect import open_store
    from generator.records.review import stored_warnings
    with open_store(store, read_only=True) as opened:
        return stored_warnings(opened, target)


def store_location(store: Path | str | None = None) -> str:
    """The records store ``store`` names as it may be printed: a file's absolute path, or a
    server URL without its password (see the module docstring)."""
    from generator.records.connect import describe_store
    return describe_store(store, absolute=True)


def report(store: Path | str | None = None, out_dir: Path | str = "build", *,
           formats: Iterable[str] = ("html", "pdf", "csv"), title: str = "Cohort progress",
           pcns: Sequence[str] = (), cohorts: Sequence[str] = ()):
    """Write the cohort progress report (HTML, PDF and/or CSV) to ``out_dir``.

    ``pcns`` and ``cohorts`` keep only those learners, as ``records``. Returns
    ``generator.records.report.ReportResult`` (``outputs``: format -> path).
    """
    from generator.records.report import REPORT_FORMATS, write_report
    wanted = _formats(formats, REPORT_FORMATS)
    learners, path = _progress(store)
    learners = _only(learners, pcns, cohorts)
    from generator.records.connect import describe_store
    return write_report(learners, Path(out_dir), formats=wanted, title=title,
                        source=describe_store(path, name_only=True))


def report_document(store: Any = None, fmt: str = "html", *, title: str = "Cohort progress",
                    pcns: Sequence[str] = (), source: str | None = None, cohorts: Sequence[str] = (),
                    audit: str | None = None) -> bytes:
    """The cohort progress report as one document's bytes (``fmt`` "html", "pdf" or "csv"), for a download.

    ``source`` is what the report says it was made from (None: the store's name). With ``audit``,
    the download is recorded in the audit log ("exported", that detail).
    """
    from generator.records.connect import describe_store
    from generator.records.report import REPORT_FORMATS, html_to_pdf, render_report, render_summary, report_csv
    (fmt,) = _formats((fmt,), REPORT_FORMATS, "format")
    learners, path = _progress(store)
    learners = _only(learners, pcns, cohorts)
    source = source or describe_store(path, name_only=True)
    if fmt == "csv":
        document = report_csv(learners).encode("utf-8")
    elif fmt == "pdf":  # the cohort's figures and a line per learner, as 'portfolio report' writes it
        document = html_to_pdf(render_summary(learners, title=title, source=source))
    else:
        document = render_report(learners, title=title, source=source).encode("utf-8")
    if audit is not None:
        with _opened(store, create=False) as opened, opened.transaction():
            opened.add_audit("exported", detail=audit)
    return document


@dataclass(frozen=True)
class AuditLog:
    entries: list[Any]  # ``generator.records.store.AuditEntry``, newest first
    total: int  # entries in the log


def audit_log(store: Any = None, latest: int = 1000) -> AuditLog:
    """The ``latest`` entries of the store's audit log, newest first, and how many it holds."""
    with _opened(store, read_only=True) as opened:
        entries = opened.audit()
    return AuditLog(entries[::-1][:latest], len(entries))


@dataclass(frozen=True)
class StoreSummary:
    """What a records store holds (``records --summary``)."""

    store: str  # as it may be printed (a URL without its password)
    schema: int
    submissions: int
    current: int
    learners_returned: int
    learners_issued: int
    learners: int
    issued_files: int
    field_values: int
    audit_entries: int
    audit_actions: dict[str, int]
    originals: int
    originals_bytes: int


def store_summary(store: Path | str | None = None) -> StoreSummary:
    """Counts of what the store holds, and the number and size of the returned files kept in it."""
    from collections import Counter

    from generator.records.connect import open_store
    with open_store(store, read_only=True) as opened, opened.snapshot():  # counts of one state of the store
        every = opened.submissions(current_only=False)
        counts = opened.counts()
        files, size = opened.originals_size()
        actions = Counter(a.action for a in opened.audit())
        issued = {p.learner_key for p in opened.issued()}
        returned = {s.learner_key for s in every if s.current}
        return StoreSummary(opened.path, opened.schema_version(), len(every), sum(s.current for s in every),
                            len(returned), len(issued), len(returned | issued), counts["packs_issued"],
                            counts["field_values"], counts["audit_log"], dict(sorted(actions.items())), files, size)


@dataclass(frozen=True)
class OriginalResult:
    output: Path
    filename: str  # the name the file was returned under
    size: int
    sha256: str


def original(store: Path | str | None, submission_id: int, output: Path | str, *,
             replace: bool = False) -> OriginalResult:
    """Write the returned file submission ``submission_id`` was read from to ``output``, as it arrived.

    The bytes are checked against the submission's SHA-256 first; RecordsError when
    there is no such submission, no original kept for it, or one that does not match.
    An existing ``output`` is written over only with ``replace`` (OptionError otherwise):
    it may be another returned copy.
    """
    import hashlib

    from generator.files import replaces_file, write_atomic
    from generator.records.connect import open_store
    if not replace and replaces_file(Path(output)):
        raise OptionError("output", f"{output} already exists; nothing was written. Name another -o FILE, or add "
                                    "--replace to write over it")
    from generator.records.store import SUBMISSION_IDS
    with open_store(store, read_only=True) as opened:
        row = next((s for s in opened.submissions(current_only=False) if s.id == submission_id), None)
        if row is None:
            raise RecordsError(f"submission {submission_id}: not in the records store {opened.path} ({SUBMISSION_IDS})")
        data = opened.original(row.sha256)
        where = opened.path
    if data is None:
        raise RecordsError(f"{where}: submission {submission_id} ({row.filename}) was ingested before originals "
                           "were kept; only its values and SHA-256 are stored")
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise RecordsError(f"{where}: the original kept for submission {submission_id} does not match its "
                           "SHA-256; the store has been tampered with: nothing written")
    write_atomic(Path(output), data)
    return OriginalResult(Path(output), row.filename, len(data), row.sha256)


def copy_store(source: Path | str, destination: Path | str):
    """Copy the whole store ``source`` into ``destination`` (created if need be); see ``generator.records.copy``.

    Returns ``generator.records.copy.CopyResult`` (per table: rows copied now, rows in
    both, their SHA-256). OptionError when both name the same store.
    """
    from generator.records.connect import open_store, store_location
    from generator.records.copy import copy_store as run_copy
    if store_location(source) == store_location(destination):
        raise OptionError("to", "FROM and TO are the same store")
    with open_store(source, create=False) as src, open_store(destination) as dst:
        return run_copy(src, dst)


def verify_store(store: Path | str | None = None):
    """Recompute the store's tamper-evident ledger (``generator.records.store.verify_chain``).

    Returns ``(ChainReport, where)``: the report's ``ok``, ``entries``, ``head`` and
    ``problems`` (the first names the first entry or row that no longer matches), and
    the store as it may be printed. The store is opened for reading only.
    """
    from generator.records.connect import describe_store, open_store
    from generator.records.store import verify_chain
    with open_store(store, read_only=True) as opened:
        return verify_chain(opened), describe_store(store)


__all__ = [
    "AuditLog", "Uploaded", "audit_log", "profile_save", "upload", "verify_store", "CheckResult", "OriginalResult", "StoreSummary", "copy_store", "original", "store_summary", "EXPORT_FORMATS", "ExportResult", "FillResult", "IssueOutcome", "IssuePlan", "PACK_FORMATS",
    "PortfolioError", "Progress", "ReadResult", "build", "check", "export", "fields", "fill", "ingest", "issue",
    "plan_issue", "profile_check", "profile_list", "profile_new", "profile_preview", "read", "record_values",
    "records", "report", "review_clear", "scan_saved", "copy_warnings", "store_exists", "store_location",
]
