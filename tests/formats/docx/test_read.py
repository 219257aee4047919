"""Reading Word copies: round trips through independent clients and LibreOffice, editor quirks, bad input.

LibreOffice: Debian 12 ships 7.4 (apt), the only version installable on this
machine; 25.x (which keeps the controls' tags) is not, and is not downloaded
here. The LibreOffice assertions accept a copy that kept its tags (no warning)
or lost them (the 7.4 behaviour, with the warning saying how controls were
matched).
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Callable

import docx
import pytest
from click.testing import CliRunner
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from generator.cli.common import main
from generator.errors import ReadError
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.write import PLACEHOLDERS
from generator.reading.read import read_bytes
from tests.conftest import need_tool, skip_or_fail
from tests.formats.docx.scale import expected_controls, old_dropdown_copy, scale_ids
from tests.samples import LONG, expected_record, sample_values

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
NS = {"w": W, "w14": W14}
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

NAME = "cover.details.name"
DATE = "cover.details.start_date"
NOTES = "final_review.review.self_assessment"  # long text: a block of paragraphs in a table cell
TICK = "competencies.personalised_care.focus_on_what_matters.achieved"
SIGNOFF = "competencies.personalised_care_signoff.achieved"  # yes/no dropdown
RATING = "patient_feedback.ratings.respect"  # 5-point scale: a grid row of checkboxes (a dropdown in old copies)
RESPONDENT = "patient_feedback.respondent.respondent"  # a choice shown as a dropdown
DROPDOWN_KINDS = ("yesno", "choice")


def wq(name: str) -> str:
    return f"{{{W}}}{name}"


# ---------------------------------------------------------------- helpers

def parts_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in parts.items():
            archive.writestr(name, payload)
    return out.getvalue()


def serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def with_part(data: bytes, member: str, change: Callable[[etree._Element], Any]) -> bytes:
    """The package with one XML part changed in place by ``change(root)``."""
    parts = parts_of(data)
    root = etree.fromstring(parts[member])
    change(root)
    parts[member] = serialise(root)
    return zipped(parts)


def mutate(data: bytes, change: Callable[[etree._Element], Any]) -> bytes:
    return with_part(data, "word/document.xml", change)


def document_of(data: bytes) -> etree._Element:
    return etree.fromstring(parts_of(data)["word/document.xml"])


def control(root: etree._Element, fid: str) -> etree._Element:
    """The content control tagged ``fid``."""
    return next(s for s in root.iter(wq("sdt")) if s.find("w:sdtPr/w:tag", NS) is not None
                and s.find("w:sdtPr/w:tag", NS).get(wq("val")) == fid)


def by_tag(root: etree._Element) -> dict[str, etree._Element]:
    return {s.find("w:sdtPr/w:tag", NS).get(wq("val")): s for s in root.iter(wq("sdt"))
            if s.find("w:sdtPr/w:tag", NS) is not None}


def outer_controls(root: etree._Element) -> list[etree._Element]:
    return [s for s in root.iter(wq("sdt")) if not any(a.tag == wq("sdt") for a in s.iterancestors())]


def el(tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """A WordprocessingML element ``w:tag`` with ``w:`` attributes and optional text."""
    element = etree.Element(wq(tag), {wq(k): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
        element.set(XML_SPACE, "preserve")
    return element


def run(text: str | None, tag: str = "t") -> etree._Element:
    """``w:r`` holding ``w:t`` (or ``w:delText``) with ``text``, or an empty ``w:tab``/``w:br``."""
    r = el("r")
    r.append(el(tag, text) if text is not None else el(tag))
    return r


def wrapped(wrapper: str, *children: etree._Element) -> etree._Element:
    """``w:ins``/``w:del``/``w:moveFrom``/``w:moveTo`` around runs, as Word writes tracked changes."""
    element = el(wrapper, id="9", author="Assessor", date="2026-03-01T10:00:00Z")
    element.extend(children)
    return element


def set_content(sdt: etree._Element, *runs: etree._Element) -> None:
    """Replace a run-level control's content and clear its placeholder flag."""
    content = sdt.find("w:sdtContent", NS)
    for child in list(content):
        content.remove(child)
    content.extend(runs)
    flag = sdt.find("w:sdtPr/w:showingPlcHdr", NS)
    if flag is not None:
        flag.getparent().remove(flag)


def drop(sdt: etree._Element, *children: str) -> None:
    for name in children:
        for found in sdt.findall(f"w:sdtPr/w:{name}", NS):
            found.getparent().remove(found)


def option_values(form) -> dict[str, list[str]]:
    return {f.id: [o.value for o in f.options] for f in form.fields if f.kind in DROPDOWN_KINDS}


def values_with_options(form, shift: int) -> dict[str, Any]:
    """``sample_values`` with the n-th non-empty dropdown on option n + shift: shifts 0..4 show every option."""
    values = sample_values(form, seed=shift)
    turn = 0
    for fld in form.fields:
        if fld.kind in DROPDOWN_KINDS and values[fld.id] is not None:
            chosen = fld.options[(turn + shift) % len(fld.options)].value
            values[fld.id] = (chosen == "yes") if fld.kind == "yesno" else chosen
            turn += 1
    return values


SHIFTS = range(5)


def single(form) -> list:
    """The fields with one control each (all but the scale questions, which are grid rows)."""
    scale = scale_ids(form)
    return [f for f in form.fields if f.id not in scale]


def tag_lost_warning(controls: int, *, by_title: int, by_position: int) -> str:
    return (f"{controls} control(s) had lost their field ids (the editor dropped the tags); "
            f"matched {by_title} by title and position, {by_position} by position alone")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def blank(docx_path) -> bytes:
    return docx_path.read_bytes()


@pytest.fixture(scope="module")
def values(form) -> dict[str, Any]:
    return values_with_options(form, 0)


@pytest.fixture(scope="module")
def filled(blank, values) -> bytes:
    return fill_docx(blank, values)


# ---------------------------------------------------------------- round trips

def test_sample_values_cover_names_long_text_every_option_both_ticks_and_empties(form):
    all_values = [values_with_options(form, shift) for shift in SHIFTS]
    seen = {fid: {v[fid] for v in all_values} for fid in option_values(form)}
    for fld in form.fields:  # each dropdown (but the ones left empty) shows each of its options
        if seen.get(fld.id, {None}) == {None}:
            continue
        wanted = {True, False} if fld.kind == "yesno" else {o.value for o in fld.options}
        assert wanted <= seen[fld.id], fld.id
    first = all_values[0]
    assert {"Zoë Łukasiewicz", "Siobhán Ní Bhriain", LONG} <= set(first.values())
    assert {True, False} <= {first[f.id] for f in form.fields if f.kind == "checkbox"}
    assert {f.kind for f in form.fields if first[f.id] is None} >= {"text", "longtext", "date", "yesno"}


@pytest.mark.parametrize("shift", SHIFTS)
def test_round_trip_through_our_filler_gives_identical_record(blank, form, manifest, shift):
    values = values_with_options(form, shift)
    record = read_bytes(fill_docx(blank, values), "filled.docx")
    assert record.fields == expected_record(form, values)
    assert record.warnings == []
    assert record.unmapped == {}
    assert record.pack["instance_id"] == manifest["instance_id"]
    assert record.pack["content_version"] == "1.0.0"
    assert record.pack["format"] == "docx"
    for fld in form.fields:
        if fld.kind == "choice" and len(fld.options) == 5 and values[fld.id] is not None:
            assert record.positions[fld.id] == [o.value for o in fld.options].index(values[fld.id]) + 1


def test_blank_pack_reads_as_all_empty(blank, form):
    record = read_bytes(blank, "blank.docx")
    assert set(record.fields) == {f.id for f in form.fields}
    assert all(v in (None, False) for v in record.fields.values())
    assert record.warnings == [] and record.positions == {}


def test_refilling_a_copy_replaces_every_value_and_empties_show_placeholders_again(filled, form, values):
    """Filling over a filled copy: None empties a control (as in the PDF filler), text dates drop the picker date."""
    emptied = {fid: None for fid in values if values[fid] is not None}
    emptied[DATE] = "next Tuesday"  # not a date: the stale w:fullDate must not win over the text
    again = fill_docx(filled, emptied)
    record = read_bytes(again, "again.docx")
    expected = expected_record(form, {**values, **emptied})
    assert record.fields == {**expected, DATE: "next Tuesday"}
    assert record.warnings == [f"{DATE}: date not understood (expected DD/MM/YYYY); kept as written"]
    root = document_of(again)
    name = control(root, NAME)
    assert name.find("w:sdtPr/w:showingPlcHdr", NS) is not None
    assert "".join(name.find("w:sdtContent", NS).itertext()) == PLACEHOLDERS["text"]
    assert control(root, DATE).find("w:sdtPr/w:date", NS).get(wq("fullDate")) is None


def test_an_empty_value_leaves_an_empty_control_as_issued(blank, form):
    before = by_tag(document_of(blank))
    after = by_tag(document_of(fill_docx(blank, {f.id: None for f in form.fields})))
    assert after.keys() == before.keys() == {f.id if o is None else f"{f.id}={o.value}"
                                             for f, o in expected_controls(form)}
    for fid, sdt in after.items():
        assert etree.tostring(sdt) == etree.tostring(before[fid]), fid


def test_characters_xml_cannot_hold_are_dropped_and_line_ends_normalised(blank):
    data = fill_docx(blank, {NAME: "Zo\ufffeë\uffff", NOTES: "one\rtwo\r\nthree\x07"})
    record = read_bytes(data, "odd.docx")
    assert record.fields[NAME] == "Zoë"
    assert record.fields[NOTES] == "one\ntwo\nthree"


# ---------------------------------------------------------------- a third-party script (python-docx + lxml)

def fill_with_python_docx(blank: bytes, form, values: dict[str, Any]) -> bytes:
    """What a script would do without our filler: find each w:sdt by its tag and set its content."""
    fields = {f.id: f for f in form.fields}
    document = docx.Document(io.BytesIO(blank))
    for sdt in list(document.element.body.iter(qn("w:sdt"))):
        tag = sdt.find(f"{qn('w:sdtPr')}/{qn('w:tag')}")
        fid, _, option = (tag.get(qn("w:val")) if tag is not None else "").partition("=")
        fld = fields.get(fid)
        if fld is None or values.get(fld.id) is None:
            continue
        value = values[fld.id]
        pr, content = sdt.find(qn("w:sdtPr")), sdt.find(qn("w:sdtContent"))
        if option:  # a scale question's grid cell: tick the one whose answer is the value
            value = value == option
        if fld.kind == "checkbox" or option:
            pr.find(f"{qn('w14:checkbox')}/{qn('w14:checked')}").set(qn("w14:val"), "1" if value else "0")
            for t in content.iter(qn("w:t")):
                t.text = "\u2612" if value else "\u2610"
            continue
        for flag in pr.findall(qn("w:showingPlcHdr")):
            pr.remove(flag)
        if fld.kind in DROPDOWN_KINDS:
            wanted = ("yes" if value else "no") if fld.kind == "yesno" else value
            text = next(o.label for o in fld.options if o.value == wanted)
        elif fld.kind == "date":
            year, month, day = value.split("-")
            text = f"{day}/{month}/{year}"
            pr.find(qn("w:date")).set(qn("w:fullDate"), f"{value}T00:00:00Z")
        else:
            text = value
        block = content.find(qn("w:p")) is not None  # a long answer: one paragraph per line
        paragraph_props = content.find(f"{qn('w:p')}/{qn('w:pPr')}")
        for child in list(content):
            content.remove(child)
        for line in text.split("\n") if block else [text]:
            holder = content
            if block:
                holder = OxmlElement("w:p")
                if paragraph_props is not None:
                    holder.append(copy.deepcopy(paragraph_props))
                content.append(holder)
            r = OxmlElement("w:r")
            t = OxmlElement("w:t")
            t.text = line
            t.set(XML_SPACE, "preserve")
            r.append(t)
            holder.append(r)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_round_trip_through_a_python_docx_script(blank, form, values):
    record = read_bytes(fill_with_python_docx(blank, form, values), "script.docx")
    assert record.fields == expected_record(form, values)
    assert record.warnings == []


# ---------------------------------------------------------------- LibreOffice (headless re-save)

AWKWARD_LONG = ["\nSecond line after a blank first line", "Enter text\nand then the real answer",
                "   \n   indented second line", "tab\tinside", "trailing newline\n", "a\n\n\nb",
                "line one\nChoose an item", "Ngozi Okonkwo\u2011Smith\nnon\u2011breaking and soft\u00adhyphens"]
AWKWARD_SHORT = [" Zoë ", "two  spaces", "tab\there", "Ça va ☃ 𝄞"]


@pytest.fixture(scope="module")
def awkward(form) -> dict[str, Any]:
    """Long answers whose first line is blank or looks like a placeholder, and odd short ones."""
    longs = [f.id for f in form.fields if f.kind == "longtext"]
    shorts = [f.id for f in form.fields if f.kind == "text"]
    return {**dict(zip(longs, AWKWARD_LONG)), **dict(zip(shorts, AWKWARD_SHORT))}


def _soffice(work: Path, target: str, sources: list[Path], out_name: str) -> list[Path]:
    """Convert several files in one soffice call; returns the outputs in the order of ``sources``."""
    out = work / out_name
    out.mkdir()
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(work / 'lo').as_uri()}", "--headless", "--convert-to", target,
         "--outdir", str(out), *map(str, sources)], capture_output=True, text=True, timeout=300)
    produced = [out / f"{source.stem}.{target}" for source in sources]
    missing = [p.name for p in produced if not p.exists()]
    assert not missing, f"soffice produced no {missing}: {result.stdout} {result.stderr}"
    return produced


@pytest.fixture(scope="module")
def libreoffice(tmp_path_factory, blank, filled, awkward, form) -> dict[str, bytes]:
    """Three soffice calls for the module: docx -> docx (seven files), docx -> odt, odt -> docx."""
    need_tool("soffice")
    work = tmp_path_factory.mktemp("libreoffice")
    sources = {"filled": filled, **{f"filled{shift}": fill_docx(blank, values_with_options(form, shift))
                                    for shift in SHIFTS[1:]},
               "blank": blank, "awkward": fill_docx(blank, awkward)}
    for name, data in sources.items():
        (work / f"{name}.docx").write_bytes(data)
    resaved = _soffice(work, "docx", [work / f"{n}.docx" for n in sources], "resaved")
    [odt] = _soffice(work, "odt", [work / "filled.docx"], "odt")
    [back] = _soffice(work, "docx", [odt], "back")
    out = {name: path.read_bytes() for name, path in zip(sources, resaved)}
    out["odt"], out["via odt"] = odt.read_bytes(), back.read_bytes()
    return out


def _kept_tags(data: bytes) -> bool:
    return any(s.find("w:sdtPr/w:tag", NS) is not None for s in document_of(data).iter(wq("sdt")))


def _expected_libreoffice_warnings(data: bytes, form) -> list[str]:
    """None when tags survive (LibreOffice 25.x); else 7.4's: titles kept except on dates and dropdowns."""
    if _kept_tags(data):
        return []
    # the scale's grid cells are checkboxes, whose titles 7.4 keeps: found by title, not counted here
    fields = single(form)
    untitled = sum(f.kind in ("date", *DROPDOWN_KINDS) for f in fields)
    return [tag_lost_warning(len(fields), by_title=len(fields) - untitled, by_position=untitled)]


@pytest.mark.parametrize("shift", SHIFTS)
def test_libreoffice_resave_of_a_filled_copy_gives_identical_record(libreoffice, form, shift):
    values = values_with_options(form, shift)
    data = libreoffice[f"filled{shift or ''}"]
    record = read_bytes(data, "resaved.docx")
    assert record.fields == expected_record(form, values)
    assert record.warnings == _expected_libreoffice_warnings(data, form)
    assert record.unmapped == {}
    assert record.pack["editor"].startswith("LibreOffice")


def test_libreoffice_resave_changes_the_controls_as_documented(libreoffice, form):
    """What 7.4 does, checked so a change in LibreOffice shows up here first."""
    root = document_of(libreoffice["filled"])
    if _kept_tags(libreoffice["filled"]):
        skip_or_fail("this LibreOffice keeps tags: the test documents what 7.4 does without them")
    outer = outer_controls(root)
    expected = expected_controls(form)
    assert len(outer) == len(expected)
    for sdt, (fld, option) in zip(outer, expected):
        pr = sdt.find("w:sdtPr", NS)
        title = pr.find("w:alias", NS)
        if option is None and fld.kind in ("date", *DROPDOWN_KINDS):
            assert title is None, fld.id
        else:
            assert title.get(wq("val")) == (fld.label if option is None else f"{fld.label}: {option.label}"), fld.id
        if fld.kind == "checkbox" or option:  # the box sits in an untitled control inside the titled wrapper
            [inner] = sdt.findall(".//w:sdt", NS)
            assert inner.find("w:sdtPr/w14:checkbox", NS) is not None
            assert inner.find("w:sdtPr/w:alias", NS) is None
    long_answer = next(f for f in form.fields if f.kind == "longtext")
    spilled = outer[expected.index((long_answer, None))]
    assert spilled.getparent().tag == wq("p")  # no longer a block: later lines follow in the cell


def test_libreoffice_resave_of_the_blank_pack_reads_as_all_empty(libreoffice, form):
    """7.4 hands placeholder text back as content (without the flag on text controls): still empty."""
    data = libreoffice["blank"]
    contents = {"".join(s.find("w:sdtContent", NS).itertext()).strip() for s in outer_controls(document_of(data))
                if s.find("w:sdtPr/w:showingPlcHdr", NS) is None}
    if not _kept_tags(data):  # 7.4 hands the placeholder back as text; a LibreOffice that keeps tags may not
        assert PLACEHOLDERS["text"] in contents
    record = read_bytes(data, "blank-resaved.docx")
    assert all(v in (None, False) for v in record.fields.values())
    assert record.warnings == _expected_libreoffice_warnings(data, form)


def test_libreoffice_resave_keeps_awkward_long_and_short_answers(libreoffice, form, awkward):
    """A long answer split out of its control keeps every line, even when the first is blank."""
    record = read_bytes(libreoffice["awkward"], "awkward.docx")
    assert {fid: record.fields[fid] for fid in awkward} == awkward
    assert record.warnings == _expected_libreoffice_warnings(libreoffice["awkward"], form)


def test_libreoffice_copy_missing_a_control_loses_no_value(libreoffice, form, values):
    """Without tags, 7.4's untitled dates and dropdowns are placed by position only; with one control
    gone (deleted by the learner) they cannot be placed, so their values are kept under 'unmapped'."""
    if _kept_tags(libreoffice["filled"]):
        skip_or_fail("this LibreOffice keeps tags: the test documents what 7.4 does without them")
    gone = next(f for f in form.fields if f.kind == "text" and values[f.id] is None)

    def change(root):
        victim = outer_controls(root)[expected_controls(form).index((gone, None))]
        victim.getparent().remove(victim)
    record = read_bytes(mutate(libreoffice["filled"], change), "short.docx")
    untitled = [f for f in single(form) if f.kind in ("date", *DROPDOWN_KINDS)]
    n = len(single(form)) - 1
    assert record.warnings[0] == (f"{n} control(s) had lost their field ids (the editor dropped the tags); "
                                  f"matched {n - len(untitled)} by title; {len(untitled)} could not be matched")
    expected = expected_record(form, values)
    for fld in form.fields:
        if fld not in untitled:
            assert record.fields[fld.id] == expected[fld.id], fld.id
    as_shown = {True: "yes", False: "no"}  # a dropdown's raw value: the list item's value
    assert sorted(record.unmapped.values()) == sorted(as_shown.get(v, v) if f.kind == "yesno" else v
                                                      for f in untitled if (v := values[f.id]) is not None)


def test_libreoffice_docx_to_odt_to_docx_loses_the_manifest_and_is_refused(libreoffice, tmp_path, form, values):
    """Via .odt, 7.4 drops the custom XML part (the manifest) and turns text controls into plain text,
    so nothing identifies the copy or its text fields: the reader refuses it with a reason."""
    data = libreoffice["via odt"]
    if any(n.startswith("customXml/") for n in parts_of(data)):  # a LibreOffice that keeps the manifest
        assert read_bytes(data, "via-odt.docx").fields == expected_record(form, values)
        return
    root = document_of(data)
    kinds = set()
    for sdt in root.iter(wq("sdt")):
        pr = sdt.find("w:sdtPr", NS)
        kinds |= {etree.QName(child).localname for child in pr} - {"showingPlcHdr", "id"}
        assert pr.find("w:tag", NS) is None and pr.find("w:alias", NS) is None
    assert kinds <= {"checkbox", "date", "dropDownList"}  # no text control survives
    assert "Zoë Łukasiewicz" in "".join(root.itertext())  # the answers are there, as plain text
    path = tmp_path / "via-odt.docx"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["read", str(path)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: via-odt.docx: has form controls but no portfolio manifest: the copy was probably saved in "
        "another format (such as .odt) and converted back, which removes it; ask for the copy that was "
        "issued, filled in and saved as Word (.docx)\n")
    odt = tmp_path / "filled.odt"
    odt.write_bytes(libreoffice["odt"])
    result = CliRunner().invoke(main, ["read", str(odt)])
    assert result.output == ("Error: filled.odt: is an OpenDocument file (.odt), which cannot hold the pack's "
                             "form; fill in the Word copy that was issued and save it as Word (.docx)\n")


# ---------------------------------------------------------------- quirks of real editors

@pytest.fixture(scope="module")
def quirk_base(blank) -> bytes:
    return fill_docx(blank, {NAME: "Zoë Łukasiewicz", DATE: "2026-03-04", NOTES: "one\ntwo", TICK: True,
                             SIGNOFF: False, RATING: "unsure"})


@pytest.fixture(scope="module")
def old_base(blank, form) -> bytes:
    """A copy made before the scale grid: one drop-down per scale question."""
    return fill_docx(old_dropdown_copy(blank, form), {NAME: "Zoë Łukasiewicz", SIGNOFF: False, RATING: "unsure"})


def test_old_copies_with_a_dropdown_per_scale_question_still_read(blank, form, values):
    old = fill_docx(old_dropdown_copy(blank, form), values)
    assert b'w:val="patient_feedback.ratings.respect=' not in parts_of(old)["word/document.xml"]
    record = read_bytes(old, "old.docx")
    assert record.fields == expected_record(form, values)
    assert record.warnings == []


def _tick(root, tag: str) -> None:
    sdt = control(root, tag)
    sdt.find("w:sdtPr/w14:checkbox/w14:checked", NS).set(f"{{{W14}}}val", "1")
    for t in sdt.iter(wq("t")):
        t.text = "\u2612"


def test_a_scale_row_with_two_ticks_stores_neither_and_warns(quirk_base):
    record = read_bytes(mutate(quirk_base, lambda root: _tick(root, f"{RATING}=very_happy")), "two.docx")
    assert record.fields[RATING] is None
    assert record.warnings == [f"{RATING}: 2 answers ticked (Very happy, I am unsure); none stored, "
                               "ask which one was meant"]


def test_a_scale_row_is_read_from_its_ticked_column(quirk_base):
    record = read_bytes(quirk_base, "one.docx")
    assert record.fields[RATING] == "unsure" and record.positions[RATING] == 3
    assert record.warnings == []


def test_quirk_tracked_changes_inside_a_control(quirk_base):
    """Word with Track Changes on: insertions count, deletions and moved-away text do not."""
    def change(root):
        set_content(control(root, NAME), run("Zoë "), wrapped("del", run("Smith", "delText")),
                    wrapped("del", run(None, "tab")), wrapped("ins", run("Łukasiewicz")),
                    wrapped("moveFrom", run(" moved")))
        content = control(root, NOTES).find("w:sdtContent", NS)
        template = content.find("w:p", NS)
        for p in content.findall("w:p", NS):
            content.remove(p)

        def paragraph(*children, mark: str | None = None):
            p = etree.fromstring(etree.tostring(template))
            for r in p.findall("w:r", NS):
                p.remove(r)
            if mark:  # the paragraph mark itself deleted or moved: it joins the next paragraph
                ppr = p.find("w:pPr", NS)
                if ppr is None:
                    ppr = el("pPr")
                    p.insert(0, ppr)
                etree.SubElement(ppr, wq("rPr")).append(wrapped(mark))
            p.extend(children)
            return p
        content.extend([
            paragraph(run("First")),
            paragraph(wrapped("del", run("Deleted paragraph", "delText")), mark="del"),
            paragraph(run("Third"), wrapped("ins", run(" (added)"))),
            paragraph(wrapped("moveFrom", run("Moved away")), mark="moveFrom"),
            paragraph(wrapped("moveTo", run("Moved here"))),
        ])
    record = read_bytes(mutate(quirk_base, change), "tracked.docx")
    assert record.fields[NAME] == "Zoë Łukasiewicz"
    assert record.fields[NOTES] == "First\nThird (added)\nMoved here"
    assert record.warnings == []


def test_quirk_hyphens_written_as_elements(quirk_base):
    """Word (and LibreOffice outside a control) write U+2011 and U+00AD as w:noBreakHyphen and w:softHyphen."""
    def change(root):
        r = run("Ngozi Okonkwo")
        r.extend([el("noBreakHyphen"), el("t", "Smith, co"), el("softHyphen"), el("t", "ordinator")])
        set_content(control(root, NAME), r, wrapped("del", run(None, "noBreakHyphen")))
    record = read_bytes(mutate(quirk_base, change), "hyphens.docx")
    assert record.fields[NAME] == "Ngozi Okonkwo\u2011Smith, co\u00adordinator"


@pytest.mark.parametrize("keep_tag", [False, True], ids=["tag dropped", "tag kept"])
def test_quirk_checkbox_wrapped_in_an_extra_control_with_the_title(quirk_base, form, keep_tag):
    """LibreOffice 7.4: the box moves into an untitled control inside a titled, untagged wrapper."""
    label = next(f.label for f in form.fields if f.id == TICK)

    def change(root):
        box = control(root, TICK)
        paragraph = box.getparent()
        drop(box, "alias", *(() if keep_tag else ("tag",)))
        wrapper = el("sdt")
        pr = etree.SubElement(wrapper, wq("sdtPr"))
        pr.append(el("id", val="378312817"))
        pr.append(el("alias", val=label))
        paragraph.addprevious(wrapper)
        etree.SubElement(wrapper, wq("sdtContent")).append(paragraph)
    record = read_bytes(mutate(quirk_base, change), "wrapped.docx")
    assert record.fields[TICK] is True
    assert record.warnings == ([] if keep_tag else [tag_lost_warning(1, by_title=1, by_position=0)])


PLACEHOLDER_CASES = {
    "text": (NAME, PLACEHOLDERS["text"]),
    "signature": ("initial_discussion.signatures.facilitator.name", PLACEHOLDERS["signature"]),
    "date": (DATE, PLACEHOLDERS["date"]),
    "dropdown": (SIGNOFF, PLACEHOLDERS["yesno"]),
    "word's text": (NAME, "Click or tap here to enter text."),
    "word's date": (DATE, "Click or tap to enter a date."),
    "word's dropdown": (RESPONDENT, "Choose an item."),
    "narrow cell": ("schedule.plan.ws1.m1", "\u00a0\u00a0\u00a0"),
}


@pytest.mark.parametrize("case", PLACEHOLDER_CASES)
def test_quirk_placeholder_text_as_content_without_the_flag(quirk_base, case):
    fid, shown = PLACEHOLDER_CASES[case]

    def change(root):
        sdt = control(root, fid)
        set_content(sdt, run(shown))
        date = sdt.find("w:sdtPr/w:date", NS)
        if date is not None:
            date.attrib.pop(wq("fullDate"), None)
    record = read_bytes(mutate(quirk_base, change), "placeholder.docx")
    assert record.fields[fid] is None
    assert record.warnings == []


def test_quirk_tags_dropped_titles_kept(filled, form, values):
    def change(root):
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag")
    record = read_bytes(mutate(filled, change), "untagged.docx")
    assert record.fields == expected_record(form, values)
    n = len(single(form))  # the scale's grid cells are found by their titles first
    assert record.warnings == [tag_lost_warning(n, by_title=n, by_position=0)]


def test_quirk_tags_and_titles_dropped_matched_by_position(filled, form, values):
    def change(root):
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag", "alias")
    record = read_bytes(mutate(filled, change), "bare.docx")
    assert record.fields == expected_record(form, values)
    n = len(expected_controls(form))  # grid rows placed by position too: five boxes a question
    assert n == len(form.fields) + 4 * len(scale_ids(form))
    assert record.warnings == [tag_lost_warning(n, by_title=0, by_position=n)]


def test_quirk_tags_dropped_and_a_control_deleted_matches_by_title_alone(filled, form, values):
    gone = next(f for f in form.fields if f.kind == "text" and values[f.id] is None)

    def change(root):
        victim = control(root, gone.id)
        victim.getparent().remove(victim)
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag")
    record = read_bytes(mutate(filled, change), "short.docx")
    assert record.fields == expected_record(form, values)
    n = len(single(form)) - 1
    assert record.warnings == [
        f"{n} control(s) had lost their field ids (the editor dropped the tags); matched {n} by title",
        f"1 field(s) of the pack are missing from the copy: {gone.id}"]


def test_quirk_controls_that_match_no_field_keep_their_values_under_unmapped(quirk_base, form):
    """Nothing identifies the controls (no tags, no titles, one deleted): values are kept, not dropped."""
    def change(root):
        victim = control(root, "cover.details.practice")
        victim.getparent().remove(victim)
        for sdt in root.iter(wq("sdt")):
            drop(sdt, "tag", "alias")
    record = read_bytes(mutate(quirk_base, change), "lost.docx")
    n = len(expected_controls(form)) - 1
    fields = len(form.fields)
    assert record.warnings[:2] == [
        f"{n} control(s) had lost their field ids (the editor dropped the tags); matched 0 by title; "
        f"{n} could not be matched",
        f"{fields} field(s) of the pack are missing from the copy: " + ", ".join(f.id for f in form.fields[:5])
        + f" and {fields - 5} more"]
    # the rating is a ticked box of the grid now: True, like the ticked competency
    assert set(record.unmapped.values()) == {"Zoë Łukasiewicz", "2026-03-04", "one\ntwo", True, "no"}
    assert all(key.startswith("untagged control ") for key in record.unmapped)
    assert len(record.warnings) == 2 + len(record.unmapped)
    assert all(v in (None, False) for v in record.fields.values())


def test_quirk_an_extra_untitled_control_is_kept_under_unmapped(quirk_base):
    def change(root):
        paragraph = control(root, NAME).getparent()
        extra = el("sdt")
        etree.SubElement(extra, wq("sdtPr")).append(el("text"))
        etree.SubElement(extra, wq("sdtContent")).append(run("a note in a control of my own"))
        paragraph.append(extra)
    record = read_bytes(mutate(quirk_base, change), "extra.docx")
    assert record.fields[NAME] == "Zoë Łukasiewicz"
    [(key, value)] = record.unmapped.items()
    assert key.startswith("untagged control ") and value == "a note in a control of my own"
    assert record.warnings == [
        "1 control(s) had lost their field ids (the editor dropped the tags); matched 0 by title; "
        "1 could not be matched",
        f"{key}: not in the pack's field definitions; kept under 'unmapped'"]


@pytest.mark.parametrize("answer", ["one\ntwo\nthree", "\nsecond line", "Enter text\nmore", "   \n   x",
                                    "one\n\n\nfour"])
def test_quirk_long_answer_split_out_of_its_control_into_the_cell(quirk_base, answer):
    """LibreOffice 7.4: the control keeps the first paragraph (as a run-level control); the rest follow it."""
    def change(root):
        block = control(root, NOTES)
        cell = block.getparent()
        first, *rest = answer.split("\n")
        holder = el("p")
        holder.append(el("pPr"))
        block.addprevious(holder)
        holder.append(block)
        set_content(block, run(first))
        for line in rest:
            p = el("p")
            p.append(run(line))
            cell.append(p)
        assert cell.tag == wq("tc")
    record = read_bytes(mutate(quirk_base, change), "split.docx")
    assert record.fields[NOTES] == answer
    assert record.warnings == []


@pytest.mark.parametrize("fid, shown, expected", [(RATING, "Very happy", "very_happy"), (RATING, "unhappy", "unhappy"),
                                                  (SIGNOFF, "Yes", True)])
def test_quirk_dropdown_without_list_items_showing_an_option_label(old_base, fid, shown, expected):
    def change(root):
        sdt = control(root, fid)
        listing = sdt.find("w:sdtPr/w:dropDownList", NS)
        for item in listing.findall("w:listItem", NS):
            listing.remove(item)
        set_content(sdt, run(shown))
    record = read_bytes(mutate(old_base, change), "list.docx")
    assert record.fields[fid] == expected
    assert record.warnings == []


def test_quirk_dropdown_showing_text_that_is_no_option_is_left_empty_with_a_warning(old_base):
    record = read_bytes(mutate(old_base, lambda root: set_content(control(root, RATING), run("Brilliant"))), "x.docx")
    assert record.fields[RATING] is None
    assert record.warnings == [f"{RATING}: not one of its options (9 characters, value not shown; expected one of: "
                               "very_happy, happy, unsure, unhappy, very_unhappy): left empty"]
    assert "Brilliant" not in repr(record.to_json())


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"], ids=["CR", "CRLF", "LF"])
@pytest.mark.parametrize("where", ["long text", "short text", "w:cr"])
def test_quirk_line_endings(quirk_base, ending, where):
    def change(root):
        if where == "w:cr":
            r = run("one")
            r.append(el("cr"))
            r.append(el("t", f"two{ending}three"))
            set_content(control(root, NAME), r)
        else:
            set_content(control(root, NOTES if where == "long text" else NAME), run(f"one{ending}two{ending}three"))
    data = mutate(quirk_base, change)
    record = read_bytes(data, "endings.docx")
    assert record.fields[NOTES if where == "long text" else NAME] == "one\ntwo\nthree"


def test_dates_from_the_picker_or_typed_day_first(quirk_base):
    facilitator = "initial_discussion.signatures.facilitator.date"

    def change(root):
        typed = control(root, DATE)
        typed.find("w:sdtPr/w:date", NS).attrib.pop(wq("fullDate"))
        set_content(typed, run("3/4/26"))
        set_content(control(root, facilitator), run("next Tuesday"))
    record = read_bytes(mutate(quirk_base, change), "dates.docx")
    assert read_bytes(quirk_base, "base.docx").fields[DATE] == "2026-03-04"
    assert record.fields[DATE] == "2026-04-03"
    assert record.fields[facilitator] == "next Tuesday"
    assert record.warnings == [f"{facilitator}: date not understood (expected DD/MM/YYYY); kept as written"]


def test_quirk_checkbox_flag_spellings(quirk_base):
    """w14:checked as 'true' or with no value means ticked; '0' or 'false' means not."""
    for raw, expected in (("true", True), (None, True), ("false", False), ("0", False)):
        def change(root):
            checked = control(root, TICK).find("w:sdtPr/w14:checkbox/w14:checked", NS)
            checked.attrib.pop(f"{{{W14}}}val")
            if raw is not None:
                checked.set(f"{{{W14}}}val", raw)
        assert read_bytes(mutate(quirk_base, change), "tick.docx").fields[TICK] is expected, raw


def test_unknown_tagged_control_is_kept_under_unmapped(quirk_base):
    def change(root):
        control(root, NAME).find("w:sdtPr/w:tag", NS).set(wq("val"), "cover.details.nickname")
    record = read_bytes(mutate(quirk_base, change), "nick.docx")
    assert record.unmapped == {"cover.details.nickname": "Zoë Łukasiewicz"}
    assert record.fields[NAME] is None
    assert record.warnings == [f"1 field(s) of the pack are missing from the copy: {NAME}",
                               "cover.details.nickname: not in the pack's field definitions; kept under 'unmapped'"]


def test_unknown_content_version_is_read_with_a_warning(quirk_base, manifest):
    def change(root):
        data = json.loads(root.text)
        data["content"]["version"] = "9.9.9"
        root.text = json.dumps(data)
    record = read_bytes(with_part(quirk_base, "customXml/item1.xml", change), "old.docx")
    assert record.pack["content_version"] == "9.9.9"
    assert record.warnings == [f"content version '9.9.9' of pack {manifest['pack_id']!r} is not known to this "
                               "version of the tool; read from the definitions embedded in the copy"]
    assert record.fields[NAME] == "Zoë Łukasiewicz" and len(record.fields) == len(manifest["fields"])


# ---------------------------------------------------------------- bad input

def _docm(blank: bytes) -> bytes:
    parts = parts_of(blank)
    types = etree.fromstring(parts["[Content_Types].xml"])
    for override in types.findall(f"{{{CT}}}Override"):
        if override.get("PartName") == "/word/document.xml":
            override.set("ContentType", "application/vnd.ms-word.document.macroEnabled.main+xml")
    etree.SubElement(types, f"{{{CT}}}Default", Extension="bin", ContentType="application/vnd.ms-office.vbaProject")
    parts["[Content_Types].xml"] = serialise(types)
    rels = etree.fromstring(parts["word/_rels/document.xml.rels"])
    etree.SubElement(rels, f"{{{PKG_REL}}}Relationship", Id="rIdVba", Target="vbaProject.bin",
                     Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject")
    parts["word/_rels/document.xml.rels"] = serialise(rels)
    parts["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 not really a macro"
    return zipped(parts)


TEMPLATE = "file:///C:/Users/Public/Templates/evil.dotm"


def _external_template(blank: bytes) -> bytes:
    parts = parts_of(blank)
    settings_xml = etree.fromstring(parts["word/settings.xml"])
    settings_xml.insert(0, etree.Element(wq("attachedTemplate"), {f"{{{R}}}id": "rIdTemplate"}))
    parts["word/settings.xml"] = serialise(settings_xml)
    rels = etree.Element(f"{{{PKG_REL}}}Relationships", nsmap={None: PKG_REL})
    etree.SubElement(rels, f"{{{PKG_REL}}}Relationship", Id="rIdTemplate", Target=TEMPLATE, TargetMode="External",
                     Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate")
    parts["word/_rels/settings.xml.rels"] = serialise(rels)
    return zipped(parts)


def _xxe(blank: bytes, padding: int = 0) -> bytes:
    """An external entity in document.xml; ``padding`` pushes the DOCTYPE far into the file."""
    parts = parts_of(blank)
    root = etree.fromstring(parts["word/document.xml"])
    name = control(root, NAME)
    set_content(name, run(""))
    name.find(".//w:t", NS).append(etree.Entity("xxe"))
    comment = f"<!--{'x' * padding}-->\n" if padding else ""
    doctype = comment + '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)
    return zipped(parts)


def _plain_zip(blank: bytes) -> bytes:
    return zipped({"notes.txt": b"Zoe's answers, typed up\n", "photo.jpg": b"\xff\xd8\xff\xe0"})


def _odt(blank: bytes) -> bytes:
    return zipped({"mimetype": b"application/vnd.oasis.opendocument.text",
                   "content.xml": b'<?xml version="1.0"?><office:document-content '
                                  b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>'})


def _python_docx_document(blank: bytes) -> bytes:
    document = docx.Document()
    document.add_heading("Care Coordination Portfolio", 0)
    document.add_paragraph("Name: Zoë Łukasiewicz")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


BAD = {
    "empty": (lambda b: b"", "file is empty (0 bytes): it was not saved or sent whole; ask for the copy again"),
    "truncated": (lambda b: b[: len(b) // 2], "is damaged or truncated and cannot be read as a Word file; ask for the copy again, saved once more from the program it was filled in"),
    "plain zip": (_plain_zip, "is not a Word (.docx) document"),
    "odt": (_odt, "is an OpenDocument file (.odt), which cannot hold the pack's form; fill in the Word copy "
                  "that was issued and save it as Word (.docx)"),
    "macros": (_docm, "contains macros (.docm); save it as a Word Document (.docx) and send that"),
    "external template": (_external_template,
                          f"links to an external resource ({TEMPLATE!r} in word/_rels/settings.xml.rels); "
                          "refused: save a plain copy without linked templates or objects"),
    "xxe": (_xxe, "contains a DOCTYPE declaration in word/document.xml; this is not a normal Word file"),
    "xxe after 70 kB": (lambda b: _xxe(b, 70_000),
                        "contains a DOCTYPE declaration in word/document.xml; this is not a normal Word file"),
    "not ours": (_python_docx_document, "was not generated by this tool (no portfolio manifest inside); "
                                        "ask for the copy that was issued"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_one_clear_line_exit_1_and_no_output(blank, tmp_path, case):
    make, reason = BAD[case]
    suffix = ".docm" if case == "macros" else ".docx"
    path = tmp_path / f"{case}{suffix}"
    path.write_bytes(make(blank))
    out = tmp_path / "record.json"
    result = CliRunner().invoke(main, ["read", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert result.output == f"Error: {path.name}: {reason}\n"
    assert not out.exists()


def test_bad_input_raises_read_error_from_the_library(blank):
    with pytest.raises(ReadError) as info:
        read_bytes(_docm(blank), "x.docm")
    assert info.value.file == "x.docm"
    assert info.value.reason.startswith("contains macros")


def test_fill_refuses_the_same_bad_input(blank):
    with pytest.raises(ReadError, match="contains a DOCTYPE declaration"):
        fill_docx(_xxe(blank, 70_000), {NAME: "x"})


# ---------------------------------------------------------------- command line, end to end

def test_cli_fill_then_read_round_trip(tmp_path, docx_path, form, values):
    record_in = tmp_path / "answers.json"
    record_in.write_text(json.dumps({"fields": values}, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "zoe.docx"
    result = CliRunner().invoke(main, ["fill", str(docx_path), str(record_in), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {out} ({sum(v is not None for v in values.values())} values)\n"

    result = CliRunner().invoke(main, ["read", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["fields"] == expected_record(form, values)
    assert printed["warnings"] == [] and printed["pack"]["format"] == "docx"

    saved = tmp_path / "record.json"
    result = CliRunner().invoke(main, ["read", str(out), "-o", str(saved)])
    assert result.exit_code == 0
    assert result.output == f"wrote {saved} ({len(form.fields)} fields, 0 warnings)\n"
    assert json.loads(saved.read_text(encoding="utf-8")) == printed


# ---------------------------------------------------------------- property test

one_line = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"),
                                 exclude_characters="\ufffe\uffff"), max_size=40)
any_line = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
                   max_size=40)
RATINGS = ["very_happy", "happy", "unsure", "unhappy", "very_unhappy"]


def _as_read(text: str) -> str | None:
    """What a reader gives for text: blank is empty; a placeholder's wording is empty too (documented)."""
    return None if text.strip() in {"", *PLACEHOLDERS.values()} else text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=one_line, notes=st.lists(any_line, max_size=4), tick=st.booleans(),
       signoff=st.sampled_from([True, False, None]), rating=st.sampled_from([*RATINGS, None]),
       day=st.one_of(st.none(), st.dates().map(lambda d: d.isoformat())), over_filled=st.booleans())
def test_any_values_round_trip(blank, quirk_base, name, notes, tick, signoff, rating, day, over_filled):
    """Filled into the blank pack or over a filled copy (None must then empty the control)."""
    note = "\n".join(notes)
    data = fill_docx(quirk_base if over_filled else blank,
                     {NAME: name, NOTES: note, TICK: tick, SIGNOFF: signoff, RATING: rating, DATE: day})
    record = read_bytes(data, "h.docx")
    assert record.fields[NAME] == _as_read(name)
    assert record.fields[NOTES] == _as_read(note)
    assert record.fields[TICK] is tick
    assert record.fields[SIGNOFF] is signoff
    assert record.fields[RATING] == rating
    assert record.fields[DATE] == day
    assert record.warnings == []


def test_quirk_visible_date_wins_over_a_stale_picker_date(quirk_base):
    """An editor changed the text but left w:fullDate behind: what the learner sees is the answer."""
    def change(root):
        sdt = control(root, DATE)
        for t in sdt.iter(wq("t")):
            t.text = "15/09/2026"
        assert sdt.find("w:sdtPr/w:date", NS).get(wq("fullDate")).startswith("2026-03-04")
    assert read_bytes(mutate(quirk_base, change), "stale.docx").fields[DATE] == "2026-09-15"


def test_quirk_controls_inside_a_group_control_are_all_read(quirk_base):
    """A Word group (one control wrapping several) must not hide the fields inside it."""
    def change(root):
        body = root.find(wq("body"))
        tables = body.findall(wq("tbl"))
        table = next(t for t in tables if t.find(f".//{wq('tag')}[@{wq('val')}='{NAME}']") is not None)
        group = el("sdt")
        etree.SubElement(group, wq("sdtPr")).append(el("group"))
        content = etree.SubElement(group, wq("sdtContent"))
        table.addprevious(group)
        content.append(table)
    record = read_bytes(mutate(quirk_base, change), "grouped.docx")
    assert record.fields[NAME] == "Zoë Łukasiewicz" and record.fields[DATE] == "2026-03-04"
    assert record.warnings == []
