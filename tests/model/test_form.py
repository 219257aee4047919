"""The form model as data: ids, kinds, labels and the golden listing."""

from __future__ import annotations

from generator.content.layout import Layout
from generator.model.form import FieldsBlock, LikertBlock, TableBlock, build_form
from tests.conftest import GOLDEN
from tests.fieldlist import golden, model_listing

GOLDEN_FIELDS = GOLDEN / "fields.json"


def test_fields_match_golden_listing(full_form):
    """Ids, kinds, labels and options are a contract with returned copies: change them on purpose only.

    To accept an intended change, rewrite the file on purpose and review its diff:
    python -m tests.fieldlist && git diff tests/golden/fields.json
    """
    assert model_listing(full_form) == golden(GOLDEN_FIELDS)


def test_ids_are_stable_paths_not_numbers(form):
    ids = [f.id for f in form.fields]
    assert "competencies.personalised_care.focus_on_what_matters.achieved" in ids
    assert "cover.details.name" in ids
    assert "patient_feedback.ratings.respect" in ids
    assert len(ids) == len(set(ids))
    assert all(part and not part[0].isdigit() for i in ids for part in i.split("."))


def test_labels_are_unique_and_say_where(form):
    labels = [f.label for f in form.fields]
    assert len(labels) == len(set(labels))
    by_id = {f.id: f.label for f in form.fields}
    assert by_id["competencies.relationships_signoff.achieved"] == "Relationship Skills: Assessor sign-off: Achieved"


def test_every_section_of_the_pack_in_order(form):
    assert [s.id for s in form.sections] == [
        "cover", "welcome", "schedule", "competencies", "resources", "values", "case_studies",
        "action_plan", "initial_discussion", "final_review", "interprofessional",
        "feedback_key_people", "feedback_staff", "patient_feedback", "acknowledgements"]


def test_competency_tables_row_counts(form):
    competencies = next(s for s in form.sections if s.id == "competencies")
    tables = [b for b in competencies.blocks if isinstance(b, TableBlock)]
    assert [len(t.rows) for t in tables] == [4, 10, 6, 7, 4]
    signoffs = [b for b in competencies.blocks if isinstance(b, FieldsBlock)]
    assert len(signoffs) == 5 and all(b.keep_together for b in signoffs)
    kinds = {f.kind for b in signoffs for g in b.groups for e in g.entries for f in (e.field, e.date) if f}
    assert kinds == {"signature", "date", "yesno", "longtext"}


def test_likert_is_one_choice_per_question_with_five_options(form):
    feedback = next(s for s in form.sections if s.id == "patient_feedback")
    [likert] = [b for b in feedback.blocks if isinstance(b, LikertBlock)]
    assert len(likert.items) == 5
    assert [o.value for o in likert.options] == ["very_happy", "happy", "unsure", "unhappy", "very_unhappy"]


def test_optional_sections_are_off_by_default(content, form):
    assert {"mdt_review", "pcsp"}.isdisjoint(s.id for s in form.sections)
    on = build_form(content, Layout(optional_sections=frozenset({"pcsp"})))
    assert [s.id for s in on.sections][-3:] == ["patient_feedback", "pcsp", "acknowledgements"]


def test_layout_changes_schedule_and_log_rows(content):
    layout = Layout(schedule_months=3, schedule_start_month="September",
                    schedule_rows=(("intro", "Introduction"), ("final", "Final meeting")),
                    log_rows={"action_plan.tasks": 2})
    form = build_form(content, layout)
    ids = [f.id for f in form.fields]
    assert [i for i in ids if i.startswith("schedule.")] == [
        "schedule.plan.intro.m1", "schedule.plan.intro.m2", "schedule.plan.intro.m3",
        "schedule.plan.final.m1", "schedule.plan.final.m2", "schedule.plan.final.m3"]
    assert next(f.label for f in form.fields if f.id == "schedule.plan.final.m3").endswith("Final meeting: November")
    assert len([i for i in ids if i.startswith("action_plan.tasks.")]) == 2 * 4
