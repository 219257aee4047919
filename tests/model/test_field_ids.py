"""Field ids: composed from section, block, row, column and item ids, and split back where they are read.

Composition (``generator.model.form``): ``section.block.field``, a signature's ``.name``/``.date``,
``section.block.copy_n.field`` for repeated blocks, ``section.block.row.column`` for tables,
``section.block.rowN.column`` for logs, ``section.block.row.mN`` for schedules and
``section.block.item`` for scales; the known answers are written out here from the YAML.
Splitting back: the PDF keeps an id as a tree of partial names (one per segment, ISO 32000 allows no
period in a partial name) that the reader joins again; a Word scale cell's tag is ``id=value``;
a pack role's pattern (``skills.{group}_check.mentor.{item}``) takes a field id apart into its group
and item. Each is checked with known answers and a property: split(compose(parts)) == parts.
"""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pikepdf import Array, Dictionary, Name, String

from generator.content.loader import load_content
from generator.content.roles import compile_pattern
from generator.formats.docx.access import grid_tag, split_grid_tag
from generator.formats.pdf.objects import terminal_fields
from generator.model.form import build_form

MENTORING = Path(__file__).resolve().parent.parent / "packs" / "mentoring"

#: A segment of an id as content writes one: lower-case letters, digits and underscores.
SEGMENT = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
IDS = st.lists(SEGMENT, min_size=1, max_size=5).map(".".join)


# ---------------------------------------------------------------- composed from the content

def test_the_second_packs_ids_are_composed_from_its_yaml():
    form = build_form(load_content(MENTORING))
    assert [f.id for f in form.fields] == [
        "front.about.trainee", "front.about.site", "front.about.network", "front.about.mentor",  # fields
        "front.about.lead", "front.about.began",
        "skills.listening.attends.met", "skills.listening.summarises.met",  # table: row.column
        "skills.listening_check.mentor.name", "skills.listening_check.mentor.date",  # a signature: two fields
        "skills.listening_check.met_overall",
        "reflections.entries.first.happened", "reflections.entries.first.learned",
        "reflections.entries.second.happened", "reflections.entries.second.learned",
        "closing.sign.trainee.name", "closing.sign.trainee.date", "closing.sign.mentor.name",
        "closing.sign.mentor.date",
        "visitor_survey.scores.welcome", "visitor_survey.scores.clarity",  # a scale: one field per item
        "visitor_survey.notes.remarks"]


def test_the_shipped_packs_repeated_logged_and_scheduled_ids(form):
    ids = [f.id for f in form.fields]
    # a block given 'copies: 3' and 'copy_id: case': case_1 .. case_3
    assert [i for i in ids if i.startswith("case_studies.studies.")][:4] == [
        "case_studies.studies.case_1.overview", "case_studies.studies.case_1.coordination",
        "case_studies.studies.case_1.outcomes", "case_studies.studies.case_2.overview"]
    assert "case_studies.studies.case_3.outcomes" in ids and "case_studies.studies.case_4.overview" not in ids
    # a log of 10 rows: row1 .. row10
    assert [i for i in ids if i.startswith("action_plan.tasks.row1.")] == [
        "action_plan.tasks.row1.task", "action_plan.tasks.row1.agreed", "action_plan.tasks.row1.target",
        "action_plan.tasks.row1.done"]
    assert "action_plan.tasks.row10.task" in ids and "action_plan.tasks.row11.task" not in ids
    # a schedule of 6 months: m1 .. m6 per row
    assert [i for i in ids if i.startswith("schedule.plan.ws1.")] == [f"schedule.plan.ws1.m{n}" for n in range(1, 7)]


def test_every_id_is_segments_of_content_ids(form):
    """No segment is empty or holds a period: what the PDF tree and the role patterns rely on."""
    sections = {f.id.split(".")[0] for f in form.fields}
    assert {"cover", "schedule", "competencies", "case_studies", "action_plan", "patient_feedback"} <= sections
    for f in form.fields:
        assert all(part and part.replace("_", "").isalnum() and part == part.lower() for part in f.id.split(".")), f.id


# ---------------------------------------------------------------- the PDF's partial names

def pdf_with(ids: list[str]) -> pikepdf.Pdf:
    """A form whose field tree holds each id as one partial name per segment, shared prefixes shared."""
    pdf = pikepdf.new()
    roots = Array()
    nodes: dict[str, Dictionary] = {}
    for fid in ids:
        parts = fid.split(".")
        parent = None
        for depth in range(1, len(parts) + 1):
            key = ".".join(parts[:depth])
            node = nodes.get(key)
            if node is None:
                node = pdf.make_indirect(Dictionary(T=String(parts[depth - 1])))
                if depth == len(parts):
                    node.FT = Name.Tx
                nodes[key] = node
                if parent is None:
                    roots.append(node)
                else:
                    node.Parent = parent
                    if "/Kids" not in parent:
                        parent.Kids = Array()
                    parent.Kids.append(node)
            parent = node
    pdf.Root.AcroForm = Dictionary(Fields=roots)
    return pdf


def test_partial_names_are_joined_back_into_ids():
    pdf = pdf_with(["cover.details.name", "cover.details.practice", "cover.sign.name", "schedule.plan.ws1.m1"])
    assert list(terminal_fields(pdf)) == ["cover.details.name", "cover.details.practice", "cover.sign.name",
                                          "schedule.plan.ws1.m1"]


def test_a_widget_without_a_partial_name_is_part_of_its_field():
    pdf = pikepdf.new()
    field = pdf.make_indirect(Dictionary(T=String("name"), FT=Name.Tx))
    field.Kids = Array([pdf.make_indirect(Dictionary(Type=Name.Annot, Subtype=Name.Widget, Parent=field))])
    top = pdf.make_indirect(Dictionary(T=String("cover"), Kids=Array([field])))
    pdf.Root.AcroForm = Dictionary(Fields=Array([top]))
    assert list(terminal_fields(pdf)) == ["cover.name"]


@given(st.lists(IDS, min_size=1, max_size=8, unique=True))
def test_split_then_joined_is_the_same_ids(ids):
    # an id that is a prefix of another would be a node with kids, not a field: no content makes one
    ids = [i for i in ids if not any(j.startswith(i + ".") for j in ids)]
    found = terminal_fields(pdf_with(ids))
    assert sorted(found) == sorted(ids)


# ---------------------------------------------------------------- a Word scale cell's tag

@pytest.mark.parametrize("fid, value, tag", [
    ("patient_feedback.ratings.respect", "very_happy", "patient_feedback.ratings.respect=very_happy"),
    ("visitor_survey.scores.welcome", "five", "visitor_survey.scores.welcome=five"),
])
def test_grid_tags_known_answers(fid, value, tag):
    assert grid_tag(fid, value) == tag
    assert split_grid_tag(tag) == (fid, value)


@pytest.mark.parametrize("tag", [None, "", "patient_feedback.ratings.respect"])
def test_a_tag_without_the_separator_is_no_grid_cell(tag):
    assert split_grid_tag(tag) is None


def test_a_value_holding_the_separator_stays_whole():
    assert split_grid_tag("a.b=c=d") == ("a.b", "c=d")


@given(IDS, st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True))
def test_grid_tag_split_is_the_inverse(fid, value):
    assert split_grid_tag(grid_tag(fid, value)) == (fid, value)


# ---------------------------------------------------------------- role patterns

@pytest.mark.parametrize("pattern, fid, parts", [
    ("skills.{group}_check.mentor.{item}", "skills.listening_check.mentor.name", ("listening", "name")),
    ("skills.{group}_check.mentor.{item}", "skills.listening_check.mentor.name.extra", ("listening", "name.extra")),
    ("skills.{group}.{item}.met", "skills.listening.attends.met", ("listening", "attends")),
    ("visitor_survey.scores.{group}", "visitor_survey.scores.welcome", ("welcome", "")),
    ("competencies.{group}_signoff.achieved", "competencies.personalised_care_signoff.achieved",
     ("personalised_care", "")),
])
def test_role_patterns_take_ids_apart(pattern, fid, parts):
    regex = compile_pattern(pattern)
    m = regex.fullmatch(fid)
    assert (m["group"], m.groupdict().get("item") or "") == parts


@pytest.mark.parametrize("pattern, fid", [
    ("skills.{group}_check.mentor.{item}", "skills.listening.mentor.name"),  # no _check
    ("visitor_survey.scores.{group}", "visitor_survey.scores.welcome.more"),  # a group is one segment
    ("skills.{group}.{item}.met", "skills.listening.met"),  # no item
    ("skills.{group}.{item}.met", "skillsxlistening.attends.met"),  # '.' is literal
])
def test_role_patterns_refuse_other_ids(pattern, fid):
    assert compile_pattern(pattern).fullmatch(fid) is None


PATTERNS = ["skills.{group}_check.mentor.{item}", "skills.{group}.{item}.met", "visitor_survey.scores.{group}",
            "competencies.{group}_signoff.achieved", "closing.sign.{group}.{item}"]


@given(st.sampled_from(PATTERNS), SEGMENT, st.lists(SEGMENT, min_size=1, max_size=3).map(".".join))
def test_a_pattern_filled_in_is_taken_apart_into_the_same_group_and_item(pattern, group, item):
    fid = pattern.replace("{group}", group).replace("{item}", item)
    m = compile_pattern(pattern).fullmatch(fid)
    assert m is not None
    assert m["group"] == group
    assert (m.groupdict().get("item") or "") == (item if "{item}" in pattern else "")
