"""Progress kept up to date incrementally: each submission's figures are worked out once
(``summarise(figures=...)``, ``CohortProgress``) and the cohort's figures stay what a fresh
``cohort_progress`` gives."""

from __future__ import annotations

from generator.records.connect import open_store
from generator.records.progress import CohortProgress, cohort_progress, summarise
from tests.records.test_report import FEEDBACK, PACK, PACK_VALUES, sub, vals
from tests.records.test_store import submission


def figures_of(lp) -> tuple:
    return (lp.competencies, lp.signoffs, (lp.values.done, lp.values.total),
            (lp.case_studies.done, lp.case_studies.total), lp.initial.signed, lp.final.signed, lp.feedback.forms,
            [(q.answers, q.mean, q.counts) for q in lp.feedback.questions], lp.pack_submission, lp.submissions)


def test_kept_figures_need_no_values_the_second_time():
    subs = [sub(1, PACK), sub(2, FEEDBACK), sub(3, FEEDBACK)]
    values = {1: PACK_VALUES, 2: vals(**{"patient_feedback.ratings.kind": "very_happy"}),
              3: vals(**{"patient_feedback.ratings.kind": "unhappy"})}
    definitions = {PACK.id: PACK, FEEDBACK.id: FEEDBACK}
    kept: dict = {}
    [first] = summarise(subs, values, definitions, figures=kept)
    assert sorted(kept) == [(1, f"{1:064d}"), (2, f"{2:064d}"), (3, f"{3:064d}")]
    [again] = summarise(subs, {}, definitions, figures=kept)  # no values given: every figure comes from ``kept``
    expected = ((3, 4), (1, 2), (1, 2), (1, 2), True, False, 3, [(3, round(7 / 3, 2), [1, 1, 0, 1, 0])], 1,
                [1, 2, 3])
    assert figures_of(first) == figures_of(again) == expected


def test_a_new_version_replaces_the_kept_pack_figures():
    definitions = {PACK.id: PACK}
    kept: dict = {}
    one = {1: vals(**{"competencies.beta.only.achieved": True})}
    [lp] = summarise([sub(1, PACK)], one, definitions, figures=kept)
    assert lp.competencies == (1, 4)
    # version 2 arrives: only its values are read; version 1 is no longer current
    two = {2: vals(**{"competencies.beta.only.achieved": False, "competencies.alpha.one.achieved": True,
                      "competencies.alpha.two.achieved": True})}
    [lp] = summarise([sub(1, PACK, superseded_by=2), sub(2, PACK, at="2026-11-01")], two, definitions, figures=kept)
    assert (lp.competencies, lp.pack_submission, lp.submissions) == ((2, 4), 2, [2])


def test_cohort_progress_kept_up_to_date_equals_a_fresh_one(tmp_path):
    """Copies arrive one by one (a pack, a feedback form, a new version, another learner): after each,
    the kept figures equal a fresh computation, and only the new copy is worked out."""
    update = CohortProgress()
    zoe = dict(learner_key="k-zoe", learner_name="Zoë")
    arrivals = [
        (submission("1" * 64, "i-1", definition=PACK, values=PACK_VALUES, **zoe), 1, None),
        (submission("2" * 64, "i-2", definition=FEEDBACK, part="patient_feedback",
                    values=vals(**{"patient_feedback.ratings.kind": "very_happy"}), **zoe), 1, None),
        (submission("3" * 64, "i-1", definition=PACK, values=vals(**{"competencies.beta.only.achieved": True}),
                    **zoe), 2, 1),
        (submission("4" * 64, "i-4", definition=PACK, values=PACK_VALUES, learner_key="k-aled",
                    learner_name="Aled"), 1, None),
    ]
    with open_store(tmp_path / "records.sqlite") as store:
        assert update(store) == [] == cohort_progress(store)
        for n, (new, version, supersedes) in enumerate(arrivals, start=1):
            with store.transaction():
                store.add_submission(new, version, supersedes)
            kept = update(store)
            assert [lp.to_json() for lp in kept] == [lp.to_json() for lp in cohort_progress(store)]
            assert len(update.figures) == n
    aled, zoe_now = kept
    assert (aled.name, aled.competencies, aled.feedback.forms) == ("Aled", (3, 4), 1)
    # Zoë: version 2 of her pack (one area achieved, no rating on it) and the separate form's rating
    assert (zoe_now.name, zoe_now.competencies, zoe_now.pack_submission, zoe_now.feedback.forms) == ("Zoë", (1, 4), 3, 1)
    assert [(q.answers, q.mean) for q in zoe_now.feedback.questions] == [(1, 1.0)]
