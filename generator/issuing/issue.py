"""Issue personalised packs to a cohort: render once per PCN, stamp each learner.

In: checked ``Learner``s (see ``roster``), the content, the formats wanted and
how many patient feedback forms each learner gets. Out: files under
``<out>/<cohort>/<pcn>/<learner>.pdf|.docx`` (and ``…-feedback-NN.pdf``, or with
``print_forms`` one print-ready ``…-feedback-forms.pdf`` holding them all), a
register ``issued.csv`` of every instance id, and an ``IssueResult`` with counts
and timings. With ``return_link`` (instance id -> the learner's personal link),
each copy's cover (PDF and Word) shows its link, as a link a reader can open, and a QR
code of it.

Each (content, PCN profile) layout is rendered once; every learner's copy is a
stamp of it (``stamp.PdfStamp``, ``word_stamp.DocxStamp``): cover values and
a manifest with the copy's own instance id. Stamping runs in worker processes
(one per core by default) that inherit the rendered templates.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from generator.content.loader import Content
from generator.content.profile import Profile, load_profile
from generator.content.theme import load_theme
from generator.errors import IssueError, PortfolioError
from generator.files import csv_text, csv_value, write_atomic
from generator.formats.pdf.stamp import PdfStamp, print_ready
from generator.issuing.cache import ISSUE_CACHE_DIR
from generator.issuing.roster import Learner, safe_name
from generator.model.form import Form, build_form
from generator.model.manifest import make_manifest
from generator.records.register import REGISTER_COLUMNS


@dataclass
class Templates:
    """What one PCN's copies are stamped from."""

    profile: Profile
    form: Form
    pdf: PdfStamp | None
    docx: Any | None  # word_stamp.DocxStamp
    feedback_form: Form | None
    feedback_pdf: PdfStamp | None


#: File name ending of a learner's print-ready feedback forms (``print_forms``).
PRINT_SUFFIX = "-feedback-forms.pdf"


@dataclass
class IssueResult:
    cohort_dir: Path
    learners: int = 0
    files: int = 0
    register: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)  # blanks taken from the render cache, not rendered


# Set in the parent before workers fork; workers read it instead of receiving pickles.
_TEMPLATES: dict[str, Templates] = {}


def prepare_templates(content: Content, slugs: set[str], formats: tuple[str, ...],
                      feedback_forms: int, cache_dir: Path | None = None,
                      reused: list[str] | None = None, return_by: str = "") -> dict[str, Templates]:
    """Render each PCN's pack (and feedback form) once. With ``cache_dir``, a blank rendered there
    before from the same inputs (``cache.render_key``: content, profile, theme, templates, generator
    version) is used as it is, and its name is added to ``reused``. With ``return_by`` (a date as the
    cover shows it) the PDF and Word covers keep a slot for each copy's return link."""
    from generator.issuing.cache import cached_render, render_key
    theme = load_theme()
    roles = content.roles
    cover_ids = roles.cover_ids
    if feedback_forms and roles.separate_part not in content.sections:
        raise IssueError(f"pack {content.id} declares no separately issued form (roles.separate_part in "
                         "pack.yaml names a section); issue it without --feedback-forms")

    def render(name: str, fmt: str, form: Form, layout: Any, profile: Profile, manifest: dict[str, Any],
               return_by: str = "") -> bytes:
        def write() -> bytes:
            if fmt == "pdf":
                from generator.formats.pdf.write import write_pdf
                return write_pdf(form, profile.theme, manifest, pcn=profile.layout.pcn, return_by=return_by)
            from generator.formats.docx.write import write_docx
            return write_docx(form, profile.theme, manifest, pcn=profile.layout.pcn, return_by=return_by)
        # A cover with a return link slot (and its date) is another rendering of the pack.
        key = render_key(fmt, manifest, layout, profile.theme, {"return_by": return_by} if return_by else None,
                         profile.layout.pcn)
        data, again = cached_render(cache_dir, f"{name}.{fmt}", key, write)
        if again and reused is not None:
            reused.append(f"{name}.{fmt}")
        return data

    out: dict[str, Templates] = {}
    for slug in sorted(slugs):
        profile = load_profile(slug, content, theme)
        form = build_form(content, profile.layout)
        blank_manifest = make_manifest(form, pcn={"slug": slug, "name": profile.name})
        pdf = docx = fb_form = fb_pdf = None
        missing = [fid for fid in cover_ids if fid not in {f.id for f in form.fields}]
        if missing:
            raise IssueError(f"pack.yaml: roles.cover names field(s) the {slug} pack does not have: "
                             f"{', '.join(missing)} (run 'portfolio check')")
        if "pdf" in formats:
            pdf = PdfStamp.from_pdf(render(slug, "pdf", form, profile.layout, profile, blank_manifest, return_by),
                                    cover_ids)
        if "docx" in formats:
            from generator.formats.docx.stamp import DocxStamp
            docx = DocxStamp(render(slug, "docx", form, profile.layout, profile, blank_manifest, return_by),
                             cover_ids)
        if feedback_forms:
            fb_layout = replace(profile.layout, only_sections=(roles.separate_part,))
            fb_form = build_form(content, fb_layout)
            fb_manifest = make_manifest(fb_form, pcn={"slug": slug, "name": profile.name})
            fb_pdf = PdfStamp.from_pdf(render(f"{slug}-{roles.separate_part}", "pdf", fb_form, fb_layout, profile,
                                              fb_manifest), [])
        out[slug] = Templates(profile, form, pdf, docx, fb_form, fb_pdf)
    return out


def _file_names(learners: list[Learner]) -> dict[int, str]:
    """A unique, safe file stem per learner (by roster line) within each PCN folder."""
    used: set[tuple[str, str]] = set()
    out = {}
    for learner in learners:
        base = safe_name(learner.name)
        if base == "learner":  # a name with no Latin letters
            base = f"learner-line-{learner.line}"
        stem, n = base, 1
        while (learner.pcn, stem) in used:  # "Jo Smith" twice and "Jo Smith 2" must not meet
            n += 1
            stem = f"{base}-{n}"
        used.add((learner.pcn, stem))
        out[learner.line] = stem
    return out


def _issue_one(learner: Learner, stem: str, folder: Path, feedback_forms: int,
               issued_at: str, print_forms: bool = False, instance: str = "",
               link: str = "") -> list[dict[str, str]]:
    t = _TEMPLATES[learner.pcn]
    pcn = {"slug": learner.pcn, "name": t.profile.name}
    base = {"learner": learner.name, "practice": learner.practice, "pcn": learner.pcn,
            "supervisor": learner.supervisor, "facilitator": learner.facilitator,
            "start_date": learner.start_date, "email": learner.email,
            "content_id": t.form.content_id, "content_version": t.form.content_version, "issued_at": issued_at}
    rows = []
    instance = instance or str(uuid.uuid4())
    manifest = make_manifest(t.form, instance_id=instance, learner=learner.manifest_facts(), pcn=pcn)
    values = t.form.roles.cover_values(learner.cover(t.profile.name))
    if t.pdf is not None:
        path = folder / f"{stem}.pdf"
        write_atomic(path, t.pdf.stamp(values, manifest, link))
        rows.append({**base, "instance_id": instance, "document": "pack", "file": _relative(path)})
    if t.docx is not None:
        path = folder / f"{stem}.docx"
        write_atomic(path, t.docx.stamp(values, manifest, link))
        rows.append({**base, "instance_id": instance, "document": "pack", "file": _relative(path)})
    if t.feedback_pdf is not None and feedback_forms:
        part = t.feedback_form.sections[0].id
        forms = []
        for n in range(1, feedback_forms + 1):
            fb_manifest = make_manifest(t.feedback_form, instance_id=str(uuid.uuid4()),
                                        learner=learner.manifest_facts(), pcn=pcn)
            fb_manifest["part"] = part
            forms.append(fb_manifest)
        if print_forms:
            path = folder / f"{stem}{PRINT_SUFFIX}"
            write_atomic(path, print_ready(t.feedback_pdf, forms,
                                           f"{t.feedback_form.title}: {feedback_forms} forms for {learner.name}"))
            rows += [{**base, "instance_id": m["instance_id"], "document": part, "file": _relative(path)}
                     for m in forms]
        else:
            for n, fb_manifest in enumerate(forms, start=1):
                path = folder / f"{stem}-feedback-{n:02d}.pdf"
                write_atomic(path, t.feedback_pdf.stamp({}, fb_manifest))
                rows.append({**base, "instance_id": fb_manifest["instance_id"], "document": part,
                             "file": _relative(path)})
    return rows


def _write_register(result: IssueResult, rows: list[dict[str, str]]) -> None:
    """Add this run's rows to ``<cohort>/issued.csv`` (earlier runs' rows are kept)."""
    rows = sorted(rows, key=lambda r: (r["pcn"], r["learner"], r["document"], r["file"]))
    result.files = len({r["file"] for r in rows})  # a print-ready file holds several forms, a row each
    result.register = result.cohort_dir / "issued.csv"
    if result.register.exists():
        with result.register.open(newline="", encoding="utf-8") as handle:
            rows = [{k: csv_value(v or "") for k, v in row.items()} for row in csv.DictReader(handle)] + rows
    table = [REGISTER_COLUMNS] + [[row.get(c, "") for c in REGISTER_COLUMNS] for row in rows]
    write_atomic(result.register, csv_text(table, lineterminator="\r\n").encode("utf-8"))


def _relative(path: Path) -> str:
    """The file's path inside the cohort folder (PCN folder and file name)."""
    return f"{path.parent.name}/{path.name}"


def _issue_batch(batch: list[tuple[Learner, str, str, str, str]], feedback_forms: int,
                 issued_at: str, print_forms: bool = False) -> tuple[list[dict[str, str]], str | None]:
    """Rows for the copies written, and what stopped the batch (None when nothing did)."""
    rows: list[dict[str, str]] = []
    for learner, stem, folder, instance, link in batch:
        try:
            rows.extend(_issue_one(learner, stem, Path(folder), feedback_forms, issued_at, print_forms,
                                   instance, link))
        except (OSError, PortfolioError) as exc:
            return rows, f"roster line {learner.line}: {exc}"
    return rows, None


def planned_files(learners: list[Learner], cohort_dir: Path, formats: tuple[str, ...],
                  feedback_forms: int, print_forms: bool = False) -> list[Path]:
    """Every file issuing would write, in roster order."""
    names = _file_names(learners)
    paths = []
    for learner in learners:
        folder = cohort_dir / safe_name(learner.pcn)
        stem = names[learner.line]
        paths += [folder / f"{stem}.{fmt}" for fmt in formats]
        if print_forms and feedback_forms:
            paths.append(folder / f"{stem}{PRINT_SUFFIX}")
        else:
            paths += [folder / f"{stem}-feedback-{n:02d}.pdf" for n in range(1, feedback_forms + 1)]
    return paths


def check_cohort(learners: list[Learner], cohort: str, out_dir: Path, formats: tuple[str, ...],
                 feedback_forms: int, replace: bool = False, print_forms: bool = False) -> Path:
    """The cohort's folder, once the name is usable and no copy handed out would be overwritten."""
    cohort_slug = safe_name(cohort)
    if not cohort_slug or cohort_slug == "learner":
        raise IssueError(f"cohort name {cohort!r} needs letters or digits (e.g. '2026 autumn')")
    cohort_dir = Path(out_dir) / cohort_slug
    existing = [p for p in planned_files(learners, cohort_dir, formats, feedback_forms, print_forms)
                if p.exists()]
    if existing and not replace:
        shown = ", ".join(str(p.relative_to(cohort_dir)) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise IssueError(f"{len(existing)} file(s) were issued before in {cohort_dir} ({shown}{more}); "
                         "nothing was written. Use another --cohort name, or --replace to issue new copies "
                         "(with new instance ids) over them")
    return cohort_dir


def issue_cohort(learners: list[Learner], cohort: str, out_dir: Path, content: Content,
                 formats: tuple[str, ...] = ("pdf", "docx"), feedback_forms: int = 0,
                 jobs: int | None = None, progress: Callable[[int], None] | None = None,
                 replace: bool = False, cache: bool = True, print_forms: bool = False,
                 return_link: Callable[[str], str] | None = None, return_by: str = "") -> IssueResult:
    """Issue every learner's copies; ``progress(n)`` is called as each batch of n learners is done.

    Files issued before are never overwritten unless ``replace``: a copy already
    handed out keeps its instance id, and a learner's PDF and Word copy share one.
    With ``cache`` (the default), each PCN's blank is kept in ``out_dir/.render-cache`` and a later
    issue with nothing changed renders nothing (``IssueResult.reused`` names what it used again).
    With ``print_forms`` a learner's feedback forms are one print-ready PDF (``print_ready``).
    With ``return_link``, each learner's instance id is drawn first and ``return_link(instance)``
    gives the link the PDF and Word covers show, with its QR code (``return_by``: the date the
    cover asks for it back by).
    """
    result = IssueResult(check_cohort(learners, cohort, out_dir, formats, feedback_forms, replace, print_forms),
                         learners=len(learners))
    start = time.perf_counter()
    global _TEMPLATES
    _TEMPLATES = prepare_templates(content, {l.pcn for l in learners}, formats, feedback_forms,
                                   cache_dir=Path(out_dir) / ISSUE_CACHE_DIR if cache else None,
                                   reused=result.reused, return_by=return_by if return_link else "")
    result.timings["render"] = time.perf_counter() - start

    start = time.perf_counter()
    names = _file_names(learners)
    issued_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    instances = [str(uuid.uuid4()) for _ in learners]
    links = [return_link(i) for i in instances] if return_link else [""] * len(learners)
    work = [(l, names[l.line], str(result.cohort_dir / safe_name(l.pcn)), instance, link)
            for l, instance, link in zip(learners, instances, links)]
    for folder in {w[2] for w in work}:
        Path(folder).mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    size = max(1, min(50, len(work) // (jobs * 4) or 1))
    batches = [work[i:i + size] for i in range(0, len(work), size)]
    rows: list[dict[str, str]] = []
    errors: list[str] = []

    def collect(outcome: tuple[list[dict[str, str]], str | None], count: int) -> None:
        rows.extend(outcome[0])
        if outcome[1]:
            errors.append(outcome[1])
        if progress:
            progress(count)

    try:
        if jobs == 1:
            for batch in batches:
                collect(_issue_batch(batch, feedback_forms, issued_at, print_forms), len(batch))
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {pool.submit(_issue_batch, batch, feedback_forms, issued_at, print_forms): len(batch)
                           for batch in batches}
                for future in as_completed(futures):
                    collect(future.result(), futures[future])
    finally:
        # Whatever was written is on record, even when a batch failed: a copy handed
        # out must never lack its register row.
        _write_register(result, rows)
    if errors:
        raise IssueError(f"{len(errors)} batch(es) stopped ({'; '.join(errors[:3])}); the {len(rows)} file(s) "
                         f"written are recorded in {result.register}")
    result.timings["stamp"] = time.perf_counter() - start
    return result
