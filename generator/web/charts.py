"""Charts drawn on the server as inline SVG (no JavaScript): the cohort's progress and
the patient feedback means.

In: ``LearnerProgress`` rows. Out: ``Chart`` data (bars with labels and values)
that ``templates/web/_chart.html`` draws; every chart also has a text
alternative and the same figures as a table for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.records.progress import LearnerProgress


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..maximum
    text: str  # the figure as shown beside the bar


@dataclass(frozen=True)
class Chart:
    title: str
    maximum: float
    bars: list[Bar] = field(default_factory=list)
    unit: str = ""
    empty: str = "Nothing returned yet."  # shown instead of bars when there are none

    @property
    def height(self) -> int:
        return 28 * len(self.bars) + 8

    def width_of(self, bar: Bar, full: int = 300) -> int:
        if self.maximum <= 0:
            return 0
        return round(full * max(0.0, min(bar.value, self.maximum)) / self.maximum)


def _percent(done: int, total: int) -> float:
    return 100.0 * done / total if total else 0.0


def progress_chart(learners: list[LearnerProgress]) -> Chart:
    """Per measure, the share of the cohort's items done (percent), over every learner shown: one who has
    not returned a pack counts as nothing done, with as many items as the returned packs have on average."""
    packs = [lp for lp in learners if lp.pack_submission is not None]
    waiting = len(learners) - len(packs)
    measures = [
        ("Competency areas", sum(lp.competencies[0] for lp in packs), sum(lp.competencies[1] for lp in packs)),
        ("Assessor sign-offs", sum(lp.signoffs[0] for lp in packs), sum(lp.signoffs[1] for lp in packs)),
        ("Values worksheet", sum(lp.values.done for lp in packs), sum(lp.values.total for lp in packs)),
        ("Case studies", sum(lp.case_studies.done for lp in packs), sum(lp.case_studies.total for lp in packs)),
        ("Initial discussion", sum(lp.initial.signed for lp in packs), len(packs)),
        ("Final review", sum(lp.final.signed for lp in packs), len(packs)),
    ]
    bars = []
    for label, done, total in measures:
        total += round(total / len(packs) * waiting) if packs else 0
        bars.append(Bar(label, _percent(done, total), f"{_percent(done, total):.0f}% ({done}/{total})"))
    returned = sum(lp.returned for lp in learners)
    others = f"; the {waiting} without one count as nothing done" if packs and waiting else ""
    return Chart(f"Cohort progress: {len(packs)} of {len(learners)} learners returned a pack"
                 f" ({returned} returned anything){others}", 100.0, bars, "%")


def feedback_chart(learners: list[LearnerProgress]) -> Chart:
    """The mean answer per patient feedback question over every form received (1 = the first option)."""
    sums: dict[str, list[float]] = {}
    texts: dict[str, str] = {}
    scale: list[str] = []
    forms = 0
    for lp in learners:
        forms += lp.feedback.forms
        scale = scale or lp.feedback.scale
        for q in lp.feedback.questions:
            texts.setdefault(q.id, q.text)
            if q.mean is not None and q.answers:
                total = sums.setdefault(q.id, [0.0, 0])
                total[0] += q.mean * q.answers
                total[1] += q.answers
    bars = [Bar(texts[qid], s / n, f"{s / n:.1f} ({int(n)} answers)") for qid, (s, n) in sums.items() if n]
    maximum = float(len(scale) or 5)
    where = f"; 1 = {scale[0]} … {len(scale)} = {scale[-1]}" if scale else ""
    return Chart(f"Patient feedback: mean answer over {forms} form(s){where}", maximum, bars,
                 empty="No patient feedback returned yet.")
