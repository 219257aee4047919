"""The Word reader's raw values from packages of a few controls each, written out here as XML.

Each document holds exactly what one editor's habit produces (a tracked change, a dropped tag, a
checkbox in a wrapper, a long answer spilled out of its control, a grid row with its tags gone), so
each way the reader finds a value is proven on its own, and every expected value is written in the
test. The whole pack's round trips through python-docx and LibreOffice are in ``test_read.py``.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from generator.errors import ReadError
from generator.formats.docx.read import read_docx_raw

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"

OPTIONS = [{"value": "very_happy", "label": "Very happy"}, {"value": "happy", "label": "Happy"},
           {"value": "unsure", "label": "Unsure"}]
NAME = {"id": "cover.name", "kind": "text", "label": "Cover: Name"}
PRACTICE = {"id": "cover.practice", "kind": "text", "label": "Cover: Practice"}
START = {"id": "cover.start", "kind": "date", "label": "Cover: Start date"}
DONE = {"id": "review.done", "kind": "checkbox", "label": "Review: Done"}
NOTES = {"id": "review.notes", "kind": "longtext", "label": "Review: Notes"}
RESPECT = {"id": "feedback.respect", "kind": "choice", "label": "Feedback: Respect", "options": OPTIONS}
LISTEN = {"id": "feedback.listen", "kind": "choice", "label": "Feedback: Listened", "options": OPTIONS}


def manifest_namespace() -> str:
    from generator.formats.docx.access import DOCX_NAMESPACE
    return DOCX_NAMESPACE


def sdt(text: str | None = "", *, tag: str | None = None, alias: str | None = None, checked: str | bool | None = None,
        items: list[tuple[str | None, str | None]] | None = None, combo: bool = False, date: str | None = None,
        placeholder: bool = False, content: str | None = None) -> str:
    """A run-level content control; ``checked`` makes it a checkbox (True: no w14:val, a str: that val)."""
    pr = ""
    if alias is not None:
        pr += f'<w:alias w:val="{alias}"/>'
    if tag is not None:
        pr += f'<w:tag w:val="{tag}"/>'
    if placeholder:
        pr += "<w:showingPlcHdr/>"
    if checked is not None:
        mark = "" if checked is False else ("<w14:checked/>" if checked is True else f'<w14:checked w14:val="{checked}"/>')
        pr += f"<w14:checkbox>{mark}</w14:checkbox>"
    if items is not None:
        kind = "comboBox" if combo else "dropDownList"
        listed = "".join("<w:listItem" + (f' w:displayText="{d}"' if d is not None else "")
                         + (f' w:value="{v}"' if v is not None else "") + "/>" for d, v in items)
        pr += f"<w:{kind}>{listed}</w:{kind}>"
    if date is not None:
        pr += f'<w:date w:fullDate="{date}"/>' if date else "<w:date/>"
    body = content if content is not None else (f"<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r>" if text else "")
    return f"<w:sdt><w:sdtPr>{pr}</w:sdtPr><w:sdtContent>{body}</w:sdtContent></w:sdt>"


def box(tag: str | None, ticked: bool, alias: str | None = None) -> str:
    return sdt("☒" if ticked else "☐", tag=tag, alias=alias, checked="1" if ticked else "0")


def p(*inner: str) -> str:
    return f"<w:p>{''.join(inner)}</w:p>"


def docx(body: str, fields: list[dict], app: bytes | None = None, name_space: str | None = None) -> bytes:
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<w:document xmlns:w="{W}" xmlns:w14="{W14}"><w:body>{body}</w:body></w:document>')
    manifest = {"format": "portfolio-manifest/1", "pack_id": "care-pack",
                "instance_id": "00000000-0000-4000-8000-000000000001",
                "content": {"id": "care-pack", "version": "1.0.0", "hash": "0" * 64},
                "generator": {"name": "portfolio", "version": "0.1.0"}, "fields": fields}
    item = (f'<?xml version="1.0" encoding="UTF-8"?><manifest xmlns="{name_space or manifest_namespace()}">'
            f"{json.dumps(manifest)}</manifest>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        archive.writestr("word/document.xml", document)
        archive.writestr("customXml/item1.xml", item)
        if app is not None:
            archive.writestr("docProps/app.xml", app, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def read(body: str, fields: list[dict], **kw):
    return read_docx_raw(docx(body, fields, **kw), "copy.docx")


def value(control: str, definition: dict = NAME):
    return read(p(control.replace("<w:sdtPr>", f'<w:sdtPr><w:tag w:val="{definition["id"]}"/>', 1)),
                [definition]).values[definition["id"]]


# ---------------------------------------------------------------- visible text

def test_tracked_changes_insertions_kept_deletions_and_moves_ignored():
    content = ('<w:r><w:t>Zoë </w:t></w:r><w:ins><w:r><w:t>Ł.</w:t></w:r></w:ins>'
               '<w:del><w:r><w:t>Lukas</w:t></w:r></w:del><w:moveFrom><w:r><w:t>moved</w:t><w:br/></w:r></w:moveFrom>'
               '<w:moveTo><w:r><w:t> again</w:t></w:r></w:moveTo>')
    assert value(sdt(content=content)) == "Zoë Ł. again"


def test_line_breaks_tabs_and_hyphens_written_as_elements():
    content = ('<w:r><w:t>one</w:t><w:br/><w:t>two</w:t><w:cr/><w:t>a</w:t><w:tab/><w:t>b</w:t>'
               '<w:noBreakHyphen/><w:t>c</w:t><w:softHyphen/><w:t>d</w:t></w:r>'
               '<w:del><w:r><w:tab/><w:br/><w:noBreakHyphen/></w:r></w:del>')
    assert value(sdt(content=content)) == "one\ntwo\na\tb\u2011c\u00add"


def test_a_tab_stop_in_paragraph_properties_is_not_text():
    content = ('<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
               '<w:r><w:t>x</w:t></w:r></w:p>')
    assert value(sdt(content=content)) == "x"


def test_paragraphs_are_lines_and_a_deleted_paragraph_mark_joins_two():
    content = ("<w:p><w:r><w:t>first</w:t></w:r></w:p>"
               "<w:p><w:pPr><w:rPr><w:del/></w:rPr></w:pPr><w:r><w:t>sec</w:t></w:r></w:p>"
               "<w:p><w:r><w:t>ond</w:t></w:r></w:p>"
               "<w:p><w:pPr><w:rPr><w:moveFrom/></w:rPr></w:pPr><w:r><w:t>th</w:t></w:r></w:p>"
               "<w:p><w:r><w:t>ird</w:t></w:r></w:p>")
    assert value(sdt(content=content), NOTES) == "first\nsecond\nthird"


# ---------------------------------------------------------------- one control's value

@pytest.mark.parametrize("checked, ticked", [
    (True, True), ("1", True), ("true", True), ("On", True), ("0", False), ("false", False), (False, False),
])
def test_checkbox_states(checked, ticked):
    assert value(sdt("☒", checked=checked), DONE) is ticked


def test_a_tick_typed_as_a_character_is_its_text():
    assert value(sdt("  X "), DONE) == "X"


@pytest.mark.parametrize("control", [
    sdt("Zoë", placeholder=True),  # the placeholder flag, whatever the text
    sdt("Enter text"), sdt("Click or tap here to enter text."), sdt("  Type your name "), sdt(""), sdt("   "),
])
def test_placeholders_are_empty(control):
    assert value(control) is None


def test_text_is_kept_as_typed():
    assert value(sdt("  Zoë  ")) == "  Zoë  "


@pytest.mark.parametrize("control, expected", [
    (sdt("Happy", items=[("Very happy", "very_happy"), ("Happy", "happy")]), "happy"),  # by its text
    (sdt(" happy ", items=[("Very happy", "very_happy"), ("Happy", "happy")]), "happy"),  # by its value
    (sdt("Happy", items=[("Happy", None)]), "Happy"),  # an item without a value: its text
    (sdt("happy", items=[(None, "happy")]), "happy"),
    (sdt("Unsure", items=[]), "unsure"),  # the list dropped: the definition's labels
    (sdt("unsure", items=[]), "unsure"),
    (sdt("Glad", items=[("Happy", "happy")]), "Glad"),  # no option: as shown
    (sdt("Happy", items=[("Happy", "happy")], combo=True), "happy"),
])
def test_dropdowns(control, expected):
    assert value(control, RESPECT) == expected


def test_a_dropdown_without_a_definition_is_read_by_its_items_only():
    doc = read(p(sdt("Unsure", tag="extra.rating", items=[("Happy", "happy")])), [NAME])
    assert doc.unmapped == {"extra.rating": "Unsure"}


@pytest.mark.parametrize("control, expected", [
    (sdt("1/9/2026", date="2026-10-05T00:00:00Z"), "2026-09-01"),  # what the learner sees wins
    (sdt("early September", date="2026-09-03T00:00:00Z"), "2026-09-03"),  # else the picker's date
    (sdt("early September", date=""), "early September"),
    (sdt("", date="2026-09-03T00:00:00Z"), None),
    (sdt("1/9/2026"), "1/9/2026"),  # not a date control: text as typed
])
def test_date_controls(control, expected):
    assert value(control, START) == expected


def test_a_long_answer_spilled_out_of_its_control_into_the_cell():
    cell = ("<w:tbl><w:tr><w:tc>"
            + p(sdt("first", tag="review.notes")) + p("<w:r><w:t>second</w:t></w:r>") + p("<w:r><w:t>third</w:t></w:r>")
            + p(sdt("Zoë", tag="cover.name")) + p("<w:r><w:t>not notes</w:t></w:r>")
            + "</w:tc></w:tr></w:tbl>")
    assert read(cell, [NOTES, NAME]).values == {"review.notes": "first\nsecond\nthird", "cover.name": "Zoë"}


def test_a_long_answer_whose_first_line_looks_like_a_placeholder():
    cell = "<w:tbl><w:tr><w:tc>" + p(sdt("Enter text", tag="review.notes")) + p("<w:r><w:t>more</w:t></w:r>") \
        + "</w:tc></w:tr></w:tbl>"
    assert read(cell, [NOTES]).values == {"review.notes": "Enter text\nmore"}


def test_paragraphs_after_a_control_outside_a_table_are_not_its_answer():
    body = p(sdt("first", tag="review.notes")) + p("<w:r><w:t>after</w:t></w:r>")
    assert read(body, [NOTES]).values == {"review.notes": "first"}
    short = "<w:tbl><w:tr><w:tc>" + p(sdt("Zoë", tag="cover.name")) + p("<w:r><w:t>more</w:t></w:r>") \
        + "</w:tc></w:tr></w:tbl>"
    assert read(short, [NAME]).values == {"cover.name": "Zoë"}  # only long text spills


def test_spilled_lines_stop_at_anything_but_a_paragraph():
    cell = ("<w:tbl><w:tr><w:tc>" + p(sdt("first", tag="review.notes"))
            + "<w:tbl><w:tr><w:tc>" + p("<w:r><w:t>nested</w:t></w:r>") + "</w:tc></w:tr></w:tbl>"
            + p("<w:r><w:t>after</w:t></w:r>") + "</w:tc></w:tr></w:tbl>")
    assert read(cell, [NOTES]).values == {"review.notes": "first"}


def test_a_control_without_content_is_empty():
    doc = read(p('<w:sdt><w:sdtPr><w:tag w:val="cover.name"/></w:sdtPr></w:sdt>'), [NAME])
    assert doc.values == {"cover.name": None}


# ---------------------------------------------------------------- tags

def test_tagged_controls_and_unknown_tags():
    body = p(sdt("Zoë", tag="cover.name"), sdt("Second", tag="cover.name"), sdt("kept", tag="cover.other"),
             sdt("", tag="cover.blank"), box("cover.box", False), sdt("Riverside", tag="cover.practice"))
    doc = read(body, [NAME, PRACTICE, START])
    assert doc.values == {"cover.name": "Zoë", "cover.practice": "Riverside"}  # the first of a tag wins
    assert doc.unmapped == {"cover.other": "kept"}  # empty and unticked unknown controls are not kept
    assert doc.warnings == ["1 field(s) of the pack are missing from the copy: cover.start"]
    assert doc.format == "docx" and doc.manifest["pack_id"] == "care-pack"


def test_missing_fields_are_named_five_at_most():
    fields = [{"id": f"s.f{n}", "kind": "text", "label": f"S: {n}"} for n in range(1, 9)]
    doc = read(p(sdt("x", tag="s.f1")), fields)
    assert doc.warnings == ["7 field(s) of the pack are missing from the copy: s.f2, s.f3, s.f4, s.f5, s.f6 and 2 more"]


def test_a_checkbox_wrapped_in_an_extra_control_keeps_the_wrappers_tag_and_title():
    inner = sdt("☒", checked="1")
    wrapper = f'<w:sdt><w:sdtPr><w:alias w:val="Review: Done"/><w:tag w:val="review.done"/></w:sdtPr>' \
              f"<w:sdtContent>{inner}</w:sdtContent></w:sdt>"
    assert read(p(wrapper), [DONE]).values == {"review.done": True}
    untagged = wrapper.replace('<w:tag w:val="review.done"/>', "")
    doc = read(p(untagged, sdt("Zoë", alias="Cover: Name")), [NAME, DONE, START])  # out of line: by title alone
    assert doc.values == {"review.done": True, "cover.name": "Zoë"}


def test_a_group_around_several_controls_gives_the_controls_inside():
    group = (f'<w:sdt><w:sdtPr><w:tag w:val="group"/></w:sdtPr><w:sdtContent>'
             f'{p(sdt("Zoë", tag="cover.name"))}{p(sdt("Riverside", tag="cover.practice"))}</w:sdtContent></w:sdt>')
    doc = read(group, [NAME, PRACTICE])
    assert doc.values == {"cover.name": "Zoë", "cover.practice": "Riverside"} and doc.unmapped == {}


# ---------------------------------------------------------------- without tags: position, title

def lost(n: int, how: str, unmatched: int = 0) -> str:
    return (f"{n} control(s) had lost their field ids (the editor dropped the tags); matched {how}"
            + (f"; {unmatched} could not be matched" if unmatched else ""))


def test_untagged_controls_in_order_by_position_and_title():
    body = p(sdt("Zoë", alias="Cover: Name"), sdt("Riverside"), box(None, True, alias="Review: Done"))
    doc = read(body, [NAME, PRACTICE, DONE])
    assert doc.values == {"cover.name": "Zoë", "cover.practice": "Riverside", "review.done": True}
    assert doc.warnings == [lost(3, "2 by title and position, 1 by position alone")]


def test_untagged_in_order_but_a_title_disagreeing_is_kept_aside():
    # the titles are swapped: position and title disagree, so neither value is placed
    body = p(sdt("Zoë", alias="Cover: Practice"), sdt("Riverside", alias="Cover: Name"), sdt("", alias="Review: Done"))
    doc = read(body, [NAME, PRACTICE, DONE])
    assert doc.values == {"review.done": None}  # its title agrees: placed, empty
    assert doc.unmapped == {"untagged control 1 (Cover: Practice)": "Zoë", "untagged control 2 (Cover: Name)": "Riverside"}
    assert doc.warnings == [lost(3, "1 by title and position, 0 by position alone", 2),
                            "2 field(s) of the pack are missing from the copy: cover.name, cover.practice"]


def test_untagged_with_a_control_gone_by_title_alone():
    # two controls for three fields, swapped: position would be wrong, the titles are right
    body = p(sdt("Riverside", alias="Cover: Practice"), sdt("Zoë", alias="Cover: Name"))
    doc = read(body, [NAME, PRACTICE, START])
    assert doc.values == {"cover.practice": "Riverside", "cover.name": "Zoë"}
    assert doc.warnings == [lost(2, "2 by title"), "1 field(s) of the pack are missing from the copy: cover.start"]


def test_untagged_untitled_and_out_of_line_is_unmapped_by_position():
    body = p(sdt("Zoë"), sdt(""), sdt("Riverside", alias="Somewhere"), sdt("more"))
    doc = read(body, [NAME])
    assert doc.values == {}
    assert doc.unmapped == {"untagged control 1": "Zoë", "untagged control 3 (Somewhere)": "Riverside",
                            "untagged control 4": "more"}
    assert doc.warnings[0] == lost(4, "0 by title", 4)


def test_a_tagged_value_is_not_overwritten_by_an_untagged_control():
    body = p(sdt("Zoë", tag="cover.name"), sdt("Other", alias="Cover: Name"))
    doc = read(body, [NAME, PRACTICE])  # two controls, two fields: lined up
    assert doc.values == {"cover.name": "Zoë"}
    assert doc.warnings[0] == lost(1, "0 by title and position, 0 by position alone", 1)


# ---------------------------------------------------------------- scale grids

def grid(fid: str, ticks: str, *, tags: bool = True, titles: bool = False, label: str = "Feedback: Respect") -> str:
    cells = []
    for option, mark in zip(OPTIONS, ticks):
        cells.append(box(f"{fid}={option['value']}" if tags else None, mark == "x",
                         alias=f"{label}: {option['label']}" if titles else None))
    return p(*cells)


def test_a_grid_row_is_its_ticked_column():
    doc = read(grid("feedback.respect", ".x.") + grid("feedback.listen", "..x"), [RESPECT, LISTEN])
    assert doc.values == {"feedback.respect": "happy", "feedback.listen": "unsure"} and doc.warnings == []


def test_a_grid_row_with_no_tick_is_empty_and_two_ticks_store_nothing():
    doc = read(grid("feedback.respect", "...") + grid("feedback.listen", "x.x"), [RESPECT, LISTEN])
    assert doc.values == {"feedback.respect": None, "feedback.listen": None}
    assert doc.warnings == ["feedback.listen: 2 answers ticked (Very happy, Unsure); none stored, "
                            "ask which one was meant"]


def test_grid_cells_that_lost_their_tags_are_found_by_title():
    body = grid("feedback.listen", "x..", tags=False, titles=True, label="Feedback: Listened") \
        + p(sdt("Zoë", tag="cover.name")) + grid("feedback.respect", "..x", tags=False, titles=True)
    doc = read(body, [NAME, RESPECT, LISTEN])
    assert doc.values == {"cover.name": "Zoë", "feedback.respect": "unsure", "feedback.listen": "very_happy"}
    assert doc.warnings == []


def test_grid_cells_without_tags_or_titles_are_placed_by_position():
    body = p(sdt("Zoë")) + grid("feedback.respect", ".x.", tags=False) + p(sdt("Riverside"))
    doc = read(body, [NAME, RESPECT, PRACTICE])
    assert doc.values == {"cover.name": "Zoë", "feedback.respect": "happy", "cover.practice": "Riverside"}
    assert doc.warnings == [lost(5, "0 by title and position, 5 by position alone")]


def test_grid_cells_placed_by_position_with_two_ticks_warn():
    body = grid("feedback.respect", "xx.", tags=False)
    doc = read(body, [RESPECT])
    assert doc.values == {"feedback.respect": None}
    assert doc.warnings == [lost(3, "0 by title and position, 3 by position alone"),
                            "feedback.respect: 2 answers ticked (Very happy, Happy); none stored, ask which one was meant"]


def test_a_grid_tag_of_an_unknown_field_is_not_a_grid_cell():
    doc = read(p(box("other.rating=happy", True)), [NAME])
    assert doc.values == {} and doc.unmapped == {"other.rating=happy": True}


def test_an_old_copy_with_a_dropdown_per_question():
    body = p(sdt("Happy", tag="feedback.respect", items=[("Very happy", "very_happy"), ("Happy", "happy")]))
    assert read(body, [RESPECT]).values == {"feedback.respect": "happy"}


# ---------------------------------------------------------------- editor and refusals

@pytest.mark.parametrize("app, editor", [
    (b"<Properties><Application>LibreOffice/7.4.7.2$Linux_X86_64 LibreOffice_project/40</Application></Properties>",
     "LibreOffice 7.4.7.2"),
    (None, "unknown"),
    (b"<Properties><Application>LibreOffice/7.4.7.2$Linux</Application>" + b" " * 1_000_001 + b"</Properties>",
     "unknown"),  # an app.xml over a megabyte is not read
])
def test_editor_from_app_xml(app, editor):
    assert read(p(sdt("Zoë", tag="cover.name")), [NAME], app=app).editor == editor


def test_a_package_without_our_manifest_is_refused():
    with pytest.raises(ReadError) as caught:
        read(p(sdt("Zoë", tag="cover.name")), [NAME], name_space="urn:someone-else")
    assert "no portfolio manifest" in str(caught.value) and str(caught.value).startswith("copy.docx: ")



# ---------------------------------------------------------------- cases written for the first mutation run's survivors

YESNO = {"id": "review.agree", "kind": "yesno", "label": "Review: Agreed",
         "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]}
PAIR = {"id": "feedback.pair", "kind": "choice", "label": "Feedback: Pair",
        "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}


def test_a_control_inside_a_tracked_move_reads_its_own_text():
    """Only changes inside the control count: a control that was itself moved keeps its text."""
    control = sdt(content="<w:r><w:t>Zoë</w:t><w:br/><w:t>Ł</w:t><w:tab/><w:t>x</w:t><w:noBreakHyphen/></w:r>",
                  tag="cover.name")
    doc = read(p(f"<w:moveFrom>{control}</w:moveFrom>"), [NAME])
    assert doc.values == {"cover.name": "Zoë\nŁ\tx\u2011"}


def test_an_empty_text_element_adds_nothing():
    assert value(sdt(content="<w:r><w:t>Zo</w:t><w:t/><w:t>ë</w:t></w:r>")) == "Zoë"


def test_a_dropdown_for_a_choice_defined_without_options():
    bare = {"id": "feedback.respect", "kind": "choice", "label": "Feedback: Respect"}
    assert value(sdt("Glad", items=[]), bare) == "Glad"


def test_spilled_lines_only_from_a_paragraph_in_a_cell():
    cell = ('<w:tbl><w:tr><w:tc><w:customXml w:element="x">' + sdt("first", tag="review.notes")
            + "</w:customXml>" + p("<w:r><w:t>after</w:t></w:r>") + "</w:tc></w:tr></w:tbl>")
    assert read(cell, [NOTES]).values == {"review.notes": "first"}


@pytest.mark.parametrize("size, editor", [(1_000_000, "LibreOffice 7.4.7.2"), (1_000_001, "unknown")])
def test_app_xml_up_to_a_megabyte_is_read(size, editor):
    head = b"<Properties><Application>LibreOffice/7.4.7.2$Linux</Application>"
    app = head + b" " * (size - len(head) - len(b"</Properties>")) + b"</Properties>"
    assert len(app) == size
    assert read(p(sdt("Zoë", tag="cover.name")), [NAME], app=app).editor == editor


def test_a_yes_no_drop_down_is_one_control_when_placing_by_position():
    body = p(sdt("Yes", items=[("Yes", "yes"), ("No", "no")]), sdt("Zoë"))
    doc = read(body, [YESNO, NAME])
    assert doc.values == {"review.agree": "yes", "cover.name": "Zoë"}
    assert doc.warnings == [lost(2, "0 by title and position, 2 by position alone")]


def test_an_old_scale_drop_down_is_one_control_when_placing_by_position():
    body = p(sdt("Happy", items=[("Very happy", "very_happy"), ("Happy", "happy")]), sdt("Zoë"))
    doc = read(body, [RESPECT, NAME])
    assert doc.values == {"feedback.respect": "happy", "cover.name": "Zoë"}
    assert doc.warnings == [lost(2, "0 by title and position, 2 by position alone")]


def test_the_title_of_a_wrapped_checkbox_may_be_on_the_inner_control():
    inner = box(None, True, alias="Review: Done")
    wrapper = f"<w:sdt><w:sdtPr></w:sdtPr><w:sdtContent>{inner}</w:sdtContent></w:sdt>"
    doc = read(p(wrapper, sdt("Zoë", alias="Cover: Name")), [NAME, DONE, START])  # out of line: titles
    assert doc.values == {"review.done": True, "cover.name": "Zoë"}
    assert doc.warnings[0] == lost(2, "2 by title")


def test_a_two_answer_grid_row_placed_by_position():
    body = p(box(None, False), box(None, True)) + p(sdt("Zoë"))
    doc = read(body, [PAIR, NAME])
    assert doc.values == {"feedback.pair": "b", "cover.name": "Zoë"}
    assert doc.warnings == [lost(3, "0 by title and position, 3 by position alone")]


def test_grid_cells_with_unknown_titles_are_placed_by_position_and_counted_as_titled():
    cells = [box(None, mark, alias=f"Renamed {n}") for n, mark in enumerate((False, True, False))]
    doc = read(p(*cells), [RESPECT])
    assert doc.values == {"feedback.respect": "happy"}
    assert doc.warnings == [lost(3, "3 by title and position, 0 by position alone")]


def test_a_control_placed_by_position_is_read_as_its_field():
    """A tick typed as a character into a checkbox field's control is trimmed, as with a tag."""
    doc = read(p(sdt(" X "), sdt("Zoë")), [DONE, NAME])
    assert doc.values == {"review.done": "X", "cover.name": "Zoë"}


def test_unmatched_controls_keep_any_value_but_empty_ones():
    body = p(sdt("XXXX", alias="Somewhere"), box(None, True, alias="Ticked"), box(None, False, alias="Unticked"))
    doc = read(body, [NAME, START, DONE, NOTES])
    assert doc.unmapped == {"untagged control 1 (Somewhere)": "XXXX", "untagged control 2 (Ticked)": True}


def wrapped(inner: str, *, tag: str | None = None, alias: str | None = None) -> str:
    """LibreOffice's extra control around a checkbox, with the tag or title it kept."""
    pr = (f'<w:alias w:val="{alias}"/>' if alias else "") + (f'<w:tag w:val="{tag}"/>' if tag else "")
    return f"<w:sdt><w:sdtPr>{pr}</w:sdtPr><w:sdtContent>{inner}</w:sdtContent></w:sdt>"


@pytest.mark.parametrize("on", ["wrapper", "inner"])
def test_a_wrapped_checkbox_tagged_on_either_control(on):
    inner = box("review.done" if on == "inner" else None, True)
    doc = read(p(wrapped(inner, tag="review.done" if on == "wrapper" else None)), [DONE])
    assert doc.values == {"review.done": True} and doc.warnings == []


@pytest.mark.parametrize("on", ["wrapper", "inner"])
def test_wrapped_grid_cells_tagged_on_either_control(on):
    cells = []
    for option, ticked in zip(OPTIONS, (False, True, False)):
        tag = f"feedback.respect={option['value']}"
        cells.append(wrapped(box(tag if on == "inner" else None, ticked), tag=tag if on == "wrapper" else None))
    doc = read(p(*cells) + p(sdt("Zoë", tag="cover.name")), [RESPECT, NAME])
    assert doc.values == {"feedback.respect": "happy", "cover.name": "Zoë"} and doc.warnings == []


@pytest.mark.parametrize("on", ["wrapper", "inner"])
def test_wrapped_grid_cells_titled_on_either_control(on):
    cells = []
    for option, ticked in zip(OPTIONS, (True, False, False)):
        title = f"Feedback: Respect: {option['label']}"
        cells.append(wrapped(box(None, ticked, alias=title if on == "inner" else None),
                             alias=title if on == "wrapper" else None))
    doc = read(p(sdt("Zoë", tag="cover.name")) + p(*cells), [NAME, START, RESPECT])  # not lined up: titles decide
    assert doc.values == {"cover.name": "Zoë", "feedback.respect": "very_happy"}
    assert doc.warnings == ["1 field(s) of the pack are missing from the copy: cover.start"]


@pytest.mark.parametrize("on", ["wrapper", "inner"])
def test_a_checkbox_with_a_grid_title_but_another_tag_is_no_grid_cell(on):
    title = "Feedback: Respect: Happy"
    cell = wrapped(box("review.done" if on == "inner" else None, True, alias=title),
                   tag="review.done" if on == "wrapper" else None)
    doc = read(p(cell), [DONE, RESPECT])
    assert doc.values == {"review.done": True}
    assert doc.warnings == ["1 field(s) of the pack are missing from the copy: feedback.respect"]


def test_an_unknown_tag_keeps_any_value_but_empty_ones():
    doc = read(p(sdt("XXXX", tag="x.one"), box("x.two", True), box("x.three", False)), [NAME])
    assert doc.unmapped == {"x.one": "XXXX", "x.two": True}


def test_the_lost_tags_warning_comes_before_the_grids():
    body = grid("feedback.respect", "xx.") + p(sdt("Zoë"))
    doc = read(body, [RESPECT, NAME])
    assert doc.warnings == [lost(1, "0 by title and position, 1 by position alone"),
                            "feedback.respect: 2 answers ticked (Very happy, Happy); none stored, ask which one was meant"]


def test_untagged_controls_beside_a_tagged_grid_line_up_with_the_other_fields():
    body = p(sdt("Zoë")) + grid("feedback.respect", "..x") + p(sdt("Riverside"))
    doc = read(body, [NAME, RESPECT, PRACTICE])
    assert doc.values == {"feedback.respect": "unsure", "cover.name": "Zoë", "cover.practice": "Riverside"}
    assert doc.warnings == [lost(2, "0 by title and position, 2 by position alone")]


@pytest.mark.parametrize("count, shown", [
    (5, "s.f2, s.f3, s.f4, s.f5, s.f6"), (6, "s.f2, s.f3, s.f4, s.f5, s.f6 and 1 more")])
def test_five_missing_fields_are_all_named_and_six_are_not(count, shown):
    fields = [{"id": f"s.f{n}", "kind": "text", "label": f"S: {n}"} for n in range(1, count + 2)]
    doc = read(p(sdt("x", tag="s.f1")), fields)
    assert doc.warnings == [f"{count} field(s) of the pack are missing from the copy: {shown}"]


def test_a_document_that_is_not_xml_names_the_file():
    data = docx(p(sdt("Zoë", tag="cover.name")), [NAME])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    parts["word/document.xml"] = parts["word/document.xml"][:-20]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n, blob in parts.items():
            archive.writestr(n, blob)
    with pytest.raises(ReadError) as caught:
        read_docx_raw(out.getvalue(), "copy.docx")
    assert str(caught.value) == "copy.docx: is damaged: word/document.xml is not well-formed XML; ask for the copy again, saved once more from the program it was filled in"


def test_two_ticks_name_an_answer_the_definition_lacks_as_tagged():
    cells = [box("feedback.respect=happy", True), box("feedback.respect=glad", True)]
    doc = read(p(*cells), [RESPECT])
    assert doc.values == {"feedback.respect": None}
    assert doc.warnings == ["feedback.respect: 2 answers ticked (Happy, glad); none stored, ask which one was meant"]
    assert read(p(box("feedback.respect=glad", True)), [RESPECT]).values == {"feedback.respect": "glad"}
