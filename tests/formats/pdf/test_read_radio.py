"""Radio groups read each way separately: on-state named by its value, an index into /Opt, the widget's
position, and /V when no widget shows a state.

Each copy is arranged so that the other ways would give a different answer than the one under test
(for /Opt the widgets are put in reverse order, so reading by position would give the mirror option),
and the expected value is written in the test. The copies are changed with pypdf's object model,
walking the field tree here, not with the reader's own helpers.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from generator.formats.pdf.fill import fill_pdf
from generator.reading.read import read_bytes

RATING = "patient_feedback.ratings.respect"
OPTIONS = ["very_happy", "happy", "unsure", "unhappy", "very_unhappy"]  # the pack's order


def find_field(writer: PdfWriter, fid: str) -> DictionaryObject:
    """The field dictionary whose fully qualified name (partial names joined by '.') is ``fid``."""
    def walk(refs, prefix: str):
        for ref in refs:
            node = ref.get_object()
            name = f"{prefix}.{node['/T']}" if prefix and "/T" in node else str(node.get("/T", prefix))
            if name == fid and "/T" in node:
                return node
            if "/Kids" in node and fid.startswith(name + "."):
                found = walk(node["/Kids"], name)
                if found is not None:
                    return found
        return None
    found = walk(writer.root_object["/AcroForm"]["/Fields"], "")
    assert found is not None, fid
    return found


def rewritten(data: bytes, change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(find_field(writer, RATING))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def widgets(group: DictionaryObject) -> list[DictionaryObject]:
    return [ref.get_object() for ref in group["/Kids"]]


def on_name(widget: DictionaryObject) -> str:
    return next(str(k) for k in widget["/AP"]["/N"] if k != "/Off")


def rename_state(group: DictionaryObject, widget: DictionaryObject, new: str) -> None:
    old = on_name(widget)
    for appearance in ("/N", "/D"):
        states = widget["/AP"].get(appearance)
        if states is not None and old in states:
            states[NameObject(new)] = states.pop(old)
    if widget.get("/AS") == old:
        widget[NameObject("/AS")] = NameObject(new)
    if group.get("/V") == old:
        group[NameObject("/V")] = NameObject(new)


@pytest.fixture(scope="module")
def happy(pdf_path) -> bytes:
    """A copy with 'happy' (the second option) chosen."""
    return fill_pdf(pdf_path.read_bytes(), {RATING: "happy"})


def test_the_copy_as_filled_gives_happy_at_position_two(happy):
    record = read_bytes(happy, "happy.pdf")
    assert record.fields[RATING] == "happy" and record.positions[RATING] == 2


def test_index_states_are_looked_up_in_opt_not_taken_by_position(happy):
    """Widgets reversed, states /0../4 in the new order, values in /Opt: only /Opt gives 'happy'
    (the widget is now fourth, so its position would say 'unhappy')."""
    def change(group):
        kids = list(group["/Kids"])[::-1]
        group[NameObject("/Kids")] = ArrayObject(kids)
        opt = []
        for index, widget in enumerate(widgets(group)):
            opt.append(TextStringObject(on_name(widget)[1:]))
            rename_state(group, widget, f"/{index}")
        group[NameObject("/Opt")] = ArrayObject(opt)
    data = rewritten(happy, change)
    check = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    group = find_field(check, RATING)
    assert [str(o) for o in group["/Opt"]] == OPTIONS[::-1] and group["/V"] == "/3"
    record = read_bytes(data, "opt.pdf")
    assert record.fields[RATING] == "happy" and record.positions[RATING] == 2
    assert record.warnings == []


def test_renamed_states_without_opt_are_taken_by_position(happy):
    """States renamed to /Choice1../Choice5 in option order, no /Opt: only the position says 'happy'."""
    def change(group):
        for index, widget in enumerate(widgets(group)):
            rename_state(group, widget, f"/Choice{index + 1}")
        group.pop("/Opt", None)
    data = rewritten(happy, change)
    assert find_field(PdfWriter(clone_from=PdfReader(io.BytesIO(data))), RATING)["/V"] == "/Choice2"
    record = read_bytes(data, "renamed.pdf")
    assert record.fields[RATING] == "happy" and record.positions[RATING] == 2


def test_value_named_state_wins_over_position(happy):
    """Widgets reversed but states still the option values: the state's name is the answer."""
    def change(group):
        group[NameObject("/Kids")] = ArrayObject(list(group["/Kids"])[::-1])
    record = read_bytes(rewritten(happy, change), "reversed.pdf")
    assert record.fields[RATING] == "happy" and record.positions[RATING] == 2


def test_group_value_is_used_when_no_widget_shows_a_state(happy):
    """Every widget's /AS is /Off (an editor that only set /V): the group's /V gives the answer."""
    def change(group):
        for widget in widgets(group):
            widget[NameObject("/AS")] = NameObject("/Off")
        assert group["/V"] == "/happy"
    record = read_bytes(rewritten(happy, change), "v-only.pdf")
    assert record.fields[RATING] == "happy"


def test_group_value_as_an_index_is_looked_up_in_opt(happy):
    """Only /V set, as an index into /Opt, widgets reversed: /Opt gives 'happy', position would not."""
    def change(group):
        group[NameObject("/Kids")] = ArrayObject(list(group["/Kids"])[::-1])
        opt = []
        for index, widget in enumerate(widgets(group)):
            opt.append(TextStringObject(on_name(widget)[1:]))
            rename_state(group, widget, f"/{index}")
            widget[NameObject("/AS")] = NameObject("/Off")
        group[NameObject("/Opt")] = ArrayObject(opt)
        assert group["/V"] == "/3"
    record = read_bytes(rewritten(happy, change), "v-opt.pdf")
    assert record.fields[RATING] == "happy"


def test_nothing_chosen_reads_as_empty(happy):
    def change(group):
        for widget in widgets(group):
            widget[NameObject("/AS")] = NameObject("/Off")
        group[NameObject("/V")] = NameObject("/Off")
    record = read_bytes(rewritten(happy, change), "none.pdf")
    assert record.fields[RATING] is None and RATING not in record.positions
