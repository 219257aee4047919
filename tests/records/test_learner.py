"""One learner's records as the learner page shows them, and the audited way to a flagged value."""

from __future__ import annotations

from generator import api
from generator.records.ingest import ingest
from generator.records.learner import flagged_value, learner_record
from generator.records.register import learner_key
from generator.records.review import clear
from generator.records.store import IssuedPack
from tests.records.test_ingest import LEARNER, PCN, blank_docx, docx_copy, iid, store  # noqa: F401  (fixtures)

ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"
OVERVIEW = "case_studies.studies.case_1.overview"
ZOE = learner_key(PCN["slug"], LEARNER["practice"], LEARNER["name"])
OTHER = {"name": "Dafydd ap Gruffudd", "practice": "Riverside Surgery"}


def stored(tmp_path, store, form, blank_docx):
    """Zoë's copy in two versions (the second with a likely NHS number), and another learner's copy."""
    for n, (name, values, learner) in enumerate([
            ("v1.docx", {ACHIEVED: True}, LEARNER),
            ("v2.docx", {ACHIEVED: True, OVERVIEW: "Met the patient (NHS 943 476 5919)"}, LEARNER),
            ("other.docx", {OVERVIEW: "Nothing identifying"}, OTHER)]):
        folder = tmp_path / f"in{n}"
        folder.mkdir()
        (folder / name).write_bytes(docx_copy(form, blank_docx, iid(700 if learner is LEARNER else 701), values,
                                              learner=learner))
        [outcome] = ingest([folder], store, supersede=True, jobs=1).files
        assert outcome.status == ("superseded" if name == "v2.docx" else "new"), outcome
    with store.transaction():
        store.add_issued([IssuedPack(iid(700), "pack", LEARNER["name"], LEARNER["practice"], PCN["slug"], "", "",
                                     "01/09/2026", "", "zoe.docx", "care-coordination-portfolio", "1.0.0",
                                     "2026-09-01T10:00:00+00:00", ZOE)], "issued.csv")


def test_a_learners_record_holds_the_current_copy_its_versions_and_its_labelled_answers(tmp_path, store, form,
                                                                                       blank_docx):
    stored(tmp_path, store, form, blank_docx)
    record = learner_record(store, ZOE)
    assert record.key == ZOE and record.issued == [iid(700)] and record.files == {iid(700): ["zoe.docx"]}
    [copy] = record.copies
    assert (copy.row.instance_id, copy.row.version) == (iid(700), 2)
    assert [(s.version, s.current) for s in copy.history] == [(1, False), (2, True)]
    assert sorted(copy.names.values()) == ["v1.docx", "v2.docx"]
    answers = {a.field_id: a for a in copy.answers if a.state == "read"}
    assert set(answers) == {ACHIEVED, OVERVIEW}  # nothing else was written on the copy
    assert (answers[ACHIEVED].label, answers[ACHIEVED].value, answers[ACHIEVED].flagged) == (
        "Personalised Care: Focus on what matters: Achieved", True, "")
    assert (answers[OVERVIEW].label, answers[OVERVIEW].flagged) == (
        "Case studies: Case study 1: Overview of coordination needs", "nhs number")
    assert any(w.startswith(f"{OVERVIEW}: possible nhs number (value not shown)") for w in copy.warnings)
    # another learner's copy is theirs alone; a learner with nothing stored has an empty record
    [other] = learner_record(store, learner_key(PCN["slug"], OTHER["practice"], OTHER["name"])).copies
    assert other.row.instance_id == iid(701) and other.row.learner == OTHER
    assert learner_record(store, "riverside-pcn|nowhere|nobody").copies == []


def test_a_cleared_flag_is_no_longer_marked(tmp_path, store, form, blank_docx):
    stored(tmp_path, store, form, blank_docx)
    [copy] = learner_record(store, ZOE).copies
    clear(store, str(copy.row.id), "checked: a made-up number")
    [after] = learner_record(store, ZOE).copies
    assert [a.flagged for a in after.answers if a.field_id == OVERVIEW] == [""]


def test_a_flagged_value_is_given_only_for_a_flagged_answer_and_audited_first(tmp_path, store, form, blank_docx):
    stored(tmp_path, store, form, blank_docx)
    [copy] = learner_record(store, ZOE).copies
    before = len(store.audit())
    assert flagged_value(store, copy.row.id, ACHIEVED) is None  # not flagged
    assert flagged_value(store, copy.row.id + 100, OVERVIEW) is None  # no such submission
    assert len(store.audit()) == before  # nothing shown, nothing audited
    store.actor = "web:provider@training.example"
    shown = flagged_value(store, copy.row.id, OVERVIEW)
    assert shown is not None and shown.value == "Met the patient (NHS 943 476 5919)"
    entry = store.audit()[-1]
    assert (entry.action, entry.actor, entry.submission_id, entry.instance_id, entry.detail) == (
        "flag shown", "web:provider@training.example", copy.row.id, iid(700), f"field {OVERVIEW}")


def test_the_api_use_cases_name_the_actor(tmp_path, store, form, blank_docx):
    stored(tmp_path, store, form, blank_docx)
    record = api.learner(ZOE, store)
    assert [c.row.version for c in record.copies] == [2]
    shown = api.show_flagged(record.copies[0].row.id, OVERVIEW, store, actor="web:lead@training.example")
    assert shown.value == "Met the patient (NHS 943 476 5919)"
    assert store.audit()[-1].actor == "web:lead@training.example"
