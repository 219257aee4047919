"""Cohort progress report: an HTML page and the same as PDF.

In: ``LearnerProgress`` for every learner (from ``progress``), the theme and a
title. Out: the HTML text (``render_report``) rendered from
``templates/report/report.html.j2`` with its CSS inlined and simple inline SVG
bar charts; its PDF made by WeasyPrint; ``write_report`` writes either or both
into a folder and returns a ``ReportResult``.

The page shows progress only (counts, ticks, sign-offs, mean feedback scores),
never free-text answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from generator.content.theme import TEMPLATES_DIR, Theme, load_theme, template_env
from generator.dates import format_date
from generator.files import write_atomic
from generator.records.progress import LearnerProgress

REPORT_FORMATS = ("html", "pdf")
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


def render_report(learners: list[LearnerProgress], *, title: str = "Cohort progress",
                  theme: Theme | None = None, generated: datetime | None = None, source: str = "") -> str:
    """The report as one HTML page (CSS inlined, charts as inline SVG)."""
    theme = theme or load_theme()
    generated = generated or datetime.now(timezone.utc)
    return _ENV.get_template("report.html.j2").render(
        title=title, theme=theme, learners=learners, summary=_summary(learners), source=source,
        generated=f"{format_date(generated.date())} {generated:%H:%M} UTC", percent=_percent,
    )


def html_to_pdf(html: str) -> bytes:
    """The report's PDF, laid out by WeasyPrint."""
    from weasyprint import HTML
    return HTML(string=html, base_url=str(TEMPLATES_DIR / "report")).write_pdf()


def write_report(learners: list[LearnerProgress], out_dir: Path, *, formats: tuple[str, ...] = REPORT_FORMATS,
                 title: str = "Cohort progress", theme: Theme | None = None, source: str = "",
                 name: str = REPORT_NAME) -> ReportResult:
    """Write OUT_DIR/NAME.html and/or .pdf (whole files or nothing)."""
    html = render_report(learners, title=title, theme=theme, source=source)
    rendered = {"html": html.encode("utf-8")}
    if "pdf" in formats:
        rendered["pdf"] = html_to_pdf(html)
    result = ReportResult(len(learners))
    for fmt in formats:
        path = Path(out_dir) / f"{name}.{fmt}"
        write_atomic(path, rendered[fmt])
        result.outputs[fmt] = path
    return result
