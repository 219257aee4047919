"""The Word reader's three ways of finding a control's field, each proven where the others disagree.

Tag first; without tags, position and title together when every control is there; title alone when
one is gone. Each copy below is arranged so that the other ways would give a different answer, and
the expected values are written here.
"""

from __future__ import annotations

import pytest

from generator.formats.docx.fill import fill_docx
from generator.reading.read import read_bytes
from tests.formats.docx.test_read import NS, drop, mutate, outer_controls, wq
from tests.formats.docx.scale import scale_ids

NAME = "cover.details.name"
PRACTICE = "cover.details.practice"
SUPERVISOR = "cover.details.supervisor"


@pytest.fixture(scope="module")
def copy(docx_path) -> bytes:
    return fill_docx(docx_path.read_bytes(), {NAME: "Zoë Łukasiewicz", PRACTICE: "Riverside Surgery",
                                              SUPERVISOR: "Dr Ngozi Okonkwo"})


def _tag(sdt) -> str | None:
    tag = sdt.find("w:sdtPr/w:tag", NS)
    return None if tag is None else tag.get(wq("val"))


def _by_tag(root) -> dict:
    return {_tag(s): s for s in outer_controls(root)}


def test_the_copy_as_filled(copy):
    record = read_bytes(copy, "copy.docx")
    assert (record.fields[NAME], record.fields[PRACTICE], record.fields[SUPERVISOR]) == (
        "Zoë Łukasiewicz", "Riverside Surgery", "Dr Ngozi Okonkwo")
    assert record.warnings == []


def test_the_tag_wins_over_title_and_position(copy):
    """Two controls' tags swapped (titles and places unchanged): each value goes where its tag says."""
    def change(root):
        controls = _by_tag(root)
        controls[NAME].find("w:sdtPr/w:tag", NS).set(wq("val"), PRACTICE)
        controls[PRACTICE].find("w:sdtPr/w:tag", NS).set(wq("val"), NAME)
    record = read_bytes(mutate(copy, change), "swapped-tags.docx")
    assert record.fields[NAME] == "Riverside Surgery" and record.fields[PRACTICE] == "Zoë Łukasiewicz"
    assert record.warnings == []


def test_without_tags_position_and_title_must_agree(copy, form):
    """Every tag dropped and two titles swapped: those two controls match neither field (position and
    title disagree), so their values are kept aside, never put in the wrong field."""
    labels = {f.id: f.label for f in form.fields}

    def change(root):
        controls = _by_tag(root)
        controls[NAME].find("w:sdtPr/w:alias", NS).set(wq("val"), labels[PRACTICE])
        controls[PRACTICE].find("w:sdtPr/w:alias", NS).set(wq("val"), labels[NAME])
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag")
    record = read_bytes(mutate(copy, change), "swapped-titles.docx")
    assert record.fields[NAME] is None and record.fields[PRACTICE] is None
    assert record.fields[SUPERVISOR] == "Dr Ngozi Okonkwo"
    ids = [f.id for f in form.fields]
    assert record.unmapped == {
        f"untagged control {ids.index(NAME) + 1} ({labels[PRACTICE]})": "Zoë Łukasiewicz",
        f"untagged control {ids.index(PRACTICE) + 1} ({labels[NAME]})": "Riverside Surgery"}
    n = len(form.fields) - len(scale_ids(form))  # the scale's grid cells are matched by their own titles
    assert record.warnings[0] == (f"{n} control(s) had lost their field ids (the editor dropped the tags); "
                                  f"matched {n - 2} by title and position, 0 by position alone; "
                                  f"2 could not be matched")


def test_with_a_control_gone_the_title_alone_places_the_rest(copy, form):
    """Every tag dropped, one control deleted and two titled controls swapped in place: position would
    put each value in the other field; the titles put them right."""
    labels = {f.id: f.label for f in form.fields}

    def change(root):
        controls = _by_tag(root)
        a, b = controls[NAME], controls[PRACTICE]
        a_content, b_content = a.find("w:sdtContent", NS), b.find("w:sdtContent", NS)
        a_pr, b_pr = a.find("w:sdtPr", NS), b.find("w:sdtPr", NS)
        a.replace(a_pr, b_pr)  # swap the properties (title) and keep the contents: same as moving them
        b.insert(0, a_pr)
        assert a.find("w:sdtContent", NS) is a_content and b.find("w:sdtContent", NS) is b_content
        victim = controls["initial_discussion.signatures.facilitator.name"]
        victim.getparent().remove(victim)
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag")
    record = read_bytes(mutate(copy, change), "moved.docx")
    assert record.fields[PRACTICE] == "Zoë Łukasiewicz"  # the title of PRACTICE now sits on that control
    assert record.fields[NAME] == "Riverside Surgery"
    assert record.fields[SUPERVISOR] == "Dr Ngozi Okonkwo"
    assert labels[PRACTICE] != labels[NAME]
