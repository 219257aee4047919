"""Cohort progress report: an HTML page, a printable PDF and a CSV.

In: ``LearnerProgress`` for every learner (from ``progress``), the theme and a
title. Out: the HTML page with every learner's detail (``render_report``, from
``templates/report/report.html.j2``, CSS inlined, inline SVG bar charts); the
PDF (``render_summary`` laid out by WeasyPrint): the cohort's figures with
charts drawn once and one compact row per learner, in fixed-layout tables, so
1,000 learners print in seconds rather than minutes; the CSV (``report_csv``):
one row per learner with every figure the HTML shows (each domain, sign-off
and feedback question). ``write_report`` writes any of them into a folder and
returns a ``ReportResult``.

The report shows progress only (counts, ticks, sign-offs, mean feedback scores),
never free-text answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from generator.content.theme import TEMPLATES_DIR, Theme, load_theme, template_env
from generator.dates import format_date
from generator.files import csv_text, write_atomic
from generator.records.progress import LearnerProgress

REPORT_FORMATS = ("html", "pdf", "csv")
#: Colours of the five scale positions, "very happy" first.
SCALE_COLOURS = ["#007F3B", "#78BE20", "#FFB81C", "#ED8B00", "#DA291C"]
REPORT_NAME = "cohort-progress"



_ENV = template_env("report")


@dataclass
class ReportResult:
    learners: int
    outputs: dict[str, Path] = field(default_factory=dict)


def _percent(done: int, total: int) -> float:
    return 100.0 * done / total if total else 0.0


def _summary(learners: list[LearnerProgress]) -> dict[str, Any]:
    returned = [lp for lp in learners if lp.returned]
    return {
        "learners": len(learners),
        "returned": len(returned),
        "not_returned": len(learners) - len(returned),
        "final_signed": sum(lp.final.signed for lp in returned),
        "feedback_forms": sum(lp.feedback.forms for lp in returned),
    }


@dataclass
class CohortDomain:
    title: str
    achieved: int = 0  # areas achieved, summed over learners
    total: int = 0  # areas, summed over learners
    signed_off: int = 0  # learners whose assessor signed this domain off
    learners: int = 0  # learners whose pack has this domain


@dataclass
class CohortQuestion:
    text: str
    answers: int
    mean: float | None
    counts: list[int]


@dataclass
class Cohort:
    """The cohort's figures for the printed report, computed once from every learner's."""

    returned: list[LearnerProgress]
    waiting: list[LearnerProgress]
    with_pack: int
    with_feedback: int
    domains: list[CohortDomain]
    values_complete: int
    cases_complete: int
    initial_signed: int
    final_signed: int
    bands: list[dict[str, Any]]
    questions: list[CohortQuestion]
    scale: list[str]
    review: list[tuple[LearnerProgress, dict[str, Any]]]
    to_check: list[LearnerProgress]


#: Bands of the share of competency areas achieved: (label, lowest percent included).
BANDS = (("all of them", 100), ("75% or more", 75), ("50% to 74%", 50), ("25% to 49%", 25), ("under 25%", 0))


def cohort(learners: list[LearnerProgress]) -> Cohort:
    """Sum every learner's figures into the cohort's: per domain, per part, per feedback question."""
    returned = [lp for lp in learners if lp.returned]
    packs = [lp for lp in returned if lp.pack_submission is not None]
    domains: dict[str, CohortDomain] = {}
    for lp in packs:
        for d in lp.domains:
            row = domains.setdefault(d.title, CohortDomain(d.title))
            row.achieved += d.achieved
            row.total += d.total
            row.signed_off += d.signed_off
            row.learners += 1
    counts = {label: 0 for label, _ in BANDS}
    for lp in packs:
        share = _percent(*lp.competencies)
        label = next(label for label, lowest in BANDS if share >= lowest)
        counts[label] += 1
    questions: dict[str, list[int]] = {}
    scale: list[str] = []
    for lp in returned:
        scale = scale or lp.feedback.scale
        for q in lp.feedback.questions:
            total = questions.setdefault(q.text, [0] * len(q.counts))
            for index, n in enumerate(q.counts[:len(total)]):
                total[index] += n
    return Cohort(
        returned=returned, waiting=[lp for lp in learners if not lp.returned], with_pack=len(packs),
        with_feedback=sum(1 for lp in returned if lp.feedback.forms),
        domains=list(domains.values()),
        values_complete=sum(1 for lp in packs if lp.values.total and lp.values.done == lp.values.total),
        cases_complete=sum(1 for lp in packs if lp.case_studies.total and lp.case_studies.done == lp.case_studies.total),
        initial_signed=sum(lp.initial.signed for lp in packs), final_signed=sum(lp.final.signed for lp in packs),
        bands=[{"label": label, "learners": counts[label]} for label, _ in BANDS],
        questions=[CohortQuestion(text, sum(c), _mean(c), c) for text, c in questions.items()],
        scale=scale,
        review=[(lp, flagged) for lp in returned for flagged in lp.review],
        to_check=[lp for lp in returned if lp.missing_fields or lp.unmapped_fields],
    )


def _mean(counts: list[int]) -> float | None:
    answers = sum(counts)
    return sum(position * n for position, n in enumerate(counts, 1)) / answers if answers else None


def render_report(learners: list[LearnerProgress], *, title: str = "Cohort progress",
                  theme: Theme | None = None, generated: datetime | None = None, source: str = "") -> str:
    """The report as one HTML page (CSS inlined, charts as inline SVG)."""
    theme = theme or load_theme()
    generated = generated or datetime.now(timezone.utc)
    return _ENV.get_template("report.html.j2").render(
        title=title, theme=theme, learners=learners, summary=_summary(learners), source=source,
        generated=f"{format_date(generated.date())} {generated:%H:%M} UTC", percent=_percent,
    )


def render_summary(learners: list[LearnerProgress], *, title: str = "Cohort progress",
                   theme: Theme | None = None, generated: datetime | None = None, source: str = "",
                   name: str = REPORT_NAME) -> str:
    """The printed report's HTML: the cohort's figures and one row per learner (for ``html_to_pdf``)."""
    theme = theme or load_theme()
    generated = generated or datetime.now(timezone.utc)
    return _ENV.get_template("summary.html.j2").render(
        title=title, theme=theme, summary=_summary(learners), cohort=cohort(learners), source=source, name=name,
        generated=f"{format_date(generated.date())} {generated:%H:%M} UTC", percent=_percent,
        SCALE_COLOURS=SCALE_COLOURS,
    )


def report_csv(learners: list[LearnerProgress]) -> str:
    """One row per learner with every figure of the report; a column per domain and feedback question."""
    domains: list[str] = []
    questions: list[str] = []
    for lp in learners:
        domains += [d.title for d in lp.domains if d.title not in domains]
        questions += [q.text for q in lp.feedback.questions if q.text not in questions]
    head = ["learner", "pcn", "practice", "issued", "submissions", "last_received", "areas_achieved", "areas",
            "signoffs", "domains", "values_complete", "values", "cases_complete", "cases", "initial_signed",
            "initial_waiting_for", "final_signed", "final_waiting_for", "feedback_forms", "fields_missing",
            "values_unmapped", "copies_to_review"]
    for title in domains:
        head += [f"{title}: areas achieved", f"{title}: areas", f"{title}: signed off", f"{title}: assessor achieved"]
    for text in questions:
        head += [f"feedback: {text}: answers", f"feedback: {text}: mean"]
    rows: list[list[Any]] = [head]

    def flag(value: bool | None) -> str:
        return "" if value is None else ("yes" if value else "no")

    for lp in learners:
        has_pack = lp.pack_submission is not None
        row: list[Any] = [
            lp.name, lp.pcn, lp.practice, lp.issued, len(lp.submissions), lp.last_ingested[:10],
            *lp.competencies, *lp.signoffs, lp.values.done, lp.values.total, lp.case_studies.done,
            lp.case_studies.total, flag(lp.initial.signed) if has_pack else "", " ".join(lp.initial.missing),
            flag(lp.final.signed) if has_pack else "", " ".join(lp.final.missing), lp.feedback.forms,
            lp.missing_fields, lp.unmapped_fields, len(lp.review)]
        by_title = {d.title: d for d in lp.domains}
        for title in domains:
            d = by_title.get(title)
            row += [d.achieved, d.total, flag(d.signed_off), flag(d.assessor_achieved)] if d else ["", "", "", ""]
        by_text = {q.text: q for q in lp.feedback.questions}
        for text in questions:
            q = by_text.get(text)
            row += [q.answers, "" if q.mean is None else f"{q.mean:.2f}"] if q else ["", ""]
        rows.append(row)
    return csv_text(rows)  # names come from returned copies: escaped as every CSV the tool writes


def html_to_pdf(html: str) -> bytes:
    """The report's PDF, laid out by WeasyPrint."""
    from generator.formats.pdf.renderer import HTML
    return HTML(string=html, base_url=str(TEMPLATES_DIR / "report")).write_pdf()


def write_report(learners: list[LearnerProgress], out_dir: Path, *, formats: tuple[str, ...] = REPORT_FORMATS,
                 title: str = "Cohort progress", theme: Theme | None = None, source: str = "",
                 name: str = REPORT_NAME) -> ReportResult:
    """Write OUT_DIR/NAME.html, .pdf and/or .csv (whole files or nothing)."""
    rendered: dict[str, bytes] = {}
    if "html" in formats:
        rendered["html"] = render_report(learners, title=title, theme=theme, source=source).encode("utf-8")
    if "pdf" in formats:
        rendered["pdf"] = html_to_pdf(render_summary(learners, title=title, theme=theme, source=source, name=name))
    if "csv" in formats:
        rendered["csv"] = report_csv(learners).encode("utf-8")
    result = ReportResult(len(learners))
    for fmt in formats:
        path = Path(out_dir) / f"{name}.{fmt}"
        write_atomic(path, rendered[fmt])
        result.outputs[fmt] = path
    return result
