"""The Word pack: one content control per field, structure, manifest, protection, LibreOffice."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from lxml import etree

from generator.content.layout import Layout
from generator.content.loader import load_content
from generator.content.theme import load_theme
from generator.errors import BuildError
from generator.formats.docx.write import (
    CUSTOM_XML_REL,
    MANIFEST_PART,
    MANIFEST_TAG,
    PLACEHOLDERS,
    write_docx,
)
from generator.model.form import (
    FieldsBlock,
    LikertBlock,
    ProseBlock,
    TableBlock,
    build_form,
)
from generator.model.manifest import DOCX_NAMESPACE, make_manifest
from tests.conftest import need_tool
from tests.fieldlist import DOCX_CLASS, model_listing, reduce
from tests.formats.docx.scale import expected_controls, scale_ids

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W, "w14": "http://schemas.microsoft.com/office/word/2010/wordml",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
      "ds": "http://schemas.openxmlformats.org/officeDocument/2006/customXml"}
INSTANCE = "00000000-0000-4000-8000-0000000000d0"


def wq(name: str) -> str:
    return f"{{{W}}}{name}"


def unzip(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def xml(files: dict[str, bytes], name: str) -> etree._Element:
    return etree.fromstring(files[name])


def text_of(element: etree._Element) -> str:
    """The document text of ``element``: its runs' w:t (not a drawing's position numbers)."""
    return "".join(t.text or "" for t in element.iter(f"{{{W}}}t"))


def sdts(document: etree._Element) -> list[etree._Element]:
    """Content controls that carry a tag (ours; LibreOffice may add untagged wrappers)."""
    return [s for s in document.iter(wq("sdt")) if s.find("w:sdtPr/w:tag", NS) is not None]


def tag(sdt: etree._Element) -> str:
    return sdt.find("w:sdtPr/w:tag", NS).get(wq("val"))


def control_class(pr: etree._Element) -> str:
    if pr.find("w14:checkbox", NS) is not None:
        return "checkbox"
    if pr.find("w:date", NS) is not None:
        return "date"
    if pr.find("w:dropDownList", NS) is not None:
        return "dropdown"
    text = pr.find("w:text", NS)
    if text is None:  # a rich text control: long answers are blocks of paragraphs
        return "longtext"
    return "longtext" if text.get(wq("multiLine")) in ("1", "true") else "text"


def docx_listing(document: etree._Element) -> list[tuple]:
    """Fields as Word sees them: tag, control class, title, dropdown values (golden-file shape);
    a scale question's grid row of checkboxes (tags ``id=value``) is one entry of class 'grid'."""
    out = []
    grid: dict[str, list[str]] = {}
    for sdt in sdts(document):
        pr = sdt.find("w:sdtPr", NS)
        fid, _, option = tag(sdt).partition("=")
        if option:
            assert control_class(pr) == "checkbox"
            grid.setdefault(fid, []).append(option)
            continue
        options = tuple(i.get(wq("value")) for i in pr.findall("w:dropDownList/w:listItem", NS))
        out.append((fid, control_class(pr), pr.find("w:alias", NS).get(wq("val")), options))
    return sorted(out + [(fid, "grid", None, tuple(options)) for fid, options in grid.items()])


def expected_listing(form) -> list[tuple]:
    scale = scale_ids(form)
    return sorted((fid, "grid", None, options) if fid in scale else (fid, kind, label, options)
                  for fid, kind, label, options in reduce(model_listing(form), DOCX_CLASS))


def styled(document: etree._Element, style: str) -> list[str]:
    return [text_of(p) for p in document.iter(wq("p"))
            if p.find(f"w:pPr/w:pStyle[@w:val='{style}']", NS) is not None]


@pytest.fixture(scope="module")
def built():
    """The pack with every optional section, so every block type and layout is present."""
    content = load_content()
    form = build_form(content, Layout(pcn="North Shore PCN",
                                      optional_sections=frozenset(content.pack["optional_sections"])))
    theme = load_theme()
    manifest = make_manifest(form, instance_id=INSTANCE, pcn={"name": "North Shore PCN"})
    blob = write_docx(form, theme, manifest, pcn="North Shore PCN")
    files = unzip(blob)
    return form, theme, manifest, blob, files, xml(files, "word/document.xml")


# ---------------------------------------------------------------- fields

def test_fields_match_the_model(built):
    form, *_, document = built
    assert docx_listing(document) == expected_listing(form)


def test_one_control_per_field_in_document_order(built):
    """One control per field; a scale question has one checkbox per answer, tagged id=value."""
    form, *_, document = built
    tags = [tag(s) for s in sdts(document)]
    assert tags == [f.id if o is None else f"{f.id}={o.value}" for f, o in expected_controls(form)]
    assert len(set(tags)) == len(tags)


def test_title_is_the_label_and_controls_cannot_be_deleted(built):
    form, *_, document = built
    labels = {(f.id if o is None else f"{f.id}={o.value}"): (f.label if o is None else f"{f.label}: {o.label}")
              for f, o in expected_controls(form)}
    assert labels["patient_feedback.ratings.respect=very_happy"] == \
        "Patient feedback: How happy were you with the way the care coordinator: Showed you respect?: Very happy"
    ids = []
    for sdt in sdts(document):
        pr = sdt.find("w:sdtPr", NS)
        assert pr.find("w:alias", NS).get(wq("val")) == labels[tag(sdt)]
        assert pr.find("w:lock", NS).get(wq("val")) == "sdtLocked"
        ids.append(pr.find("w:id", NS).get(wq("val")))
    assert len(set(ids)) == len(ids)


def test_kinds_map_to_word_controls(built):
    form, *_, document = built
    controls = {tag(s): s.find("w:sdtPr", NS) for s in sdts(document)}
    seen = set()
    scale = scale_ids(form)
    for field in form.fields:
        if field.id in scale:
            continue  # test_likert_items_are_a_grid_of_checkboxes
        pr = controls[field.id]
        seen.add(field.kind)
        if field.kind == "checkbox":
            box = pr.find("w14:checkbox", NS)
            assert box.find("w14:checked", NS).get(f"{{{NS['w14']}}}val") == "0"
            assert box.find("w14:checkedState", NS).get(f"{{{NS['w14']}}}val") == "2612"
            assert box.find("w14:uncheckedState", NS).get(f"{{{NS['w14']}}}val") == "2610"
        elif field.kind == "date":
            date = pr.find("w:date", NS)
            assert date.find("w:dateFormat", NS).get(wq("val")) == "dd/MM/yyyy"
            assert date.find("w:lid", NS).get(wq("val")) == "en-GB"
        elif field.kind in ("yesno", "choice"):
            items = [(i.get(wq("displayText")), i.get(wq("value")))
                     for i in pr.findall("w:dropDownList/w:listItem", NS)]
            assert items == [(o.label, o.value) for o in field.options]
        elif field.kind == "longtext":  # a rich text block of paragraphs (survives LibreOffice 7.4)
            sdt = pr.getparent()
            assert pr.find("w:text", NS) is None and sdt.getparent().tag == wq("tc"), field.id
            assert sdt.find("w:sdtContent/w:p", NS) is not None, field.id
        else:
            assert pr.find("w:text", NS).get(wq("multiLine")) is None, field.id
    assert seen == {"text", "longtext", "date", "checkbox", "yesno", "choice", "signature"}


def test_empty_controls_show_a_placeholder(built):
    form, *_, document = built
    kinds = {f.id: f.kind for f in form.fields}
    for sdt in sdts(document):
        kind = kinds.get(tag(sdt), "checkbox")  # a scale's grid cell (id=value) is a checkbox
        shown = text_of(sdt.find("w:sdtContent", NS))
        if kind == "checkbox":
            assert shown == "\u2610"
            continue
        assert sdt.find("w:sdtPr/w:showingPlcHdr", NS) is not None
        assert shown.strip() in (PLACEHOLDERS[kind], "")  # blank in narrow grid cells
        assert sdt.find("w:sdtContent//w:r/w:rPr/w:rStyle", NS).get(wq("val")) == "PlaceholderText"


def test_prefilled_values_are_content_not_placeholders(built):
    form, theme, manifest, *_ = built
    first = {}
    for field in form.fields:
        first.setdefault(field.kind, field)
    values = {
        first["text"].id: "Zoë Łukasiewicz",
        first["longtext"].id: "Line one\nLine two",
        first["date"].id: "06/01/2025",
        first["checkbox"].id: True,
        first["yesno"].id: "no",
        first["choice"].id: first["choice"].options[-1].value,
        first["signature"].id: "Z. Łukasiewicz",
    }
    document = xml(unzip(write_docx(form, theme, manifest, values)), "word/document.xml")
    controls = {tag(s): s for s in sdts(document)}
    for fid in values:
        assert controls[fid].find("w:sdtPr/w:showingPlcHdr", NS) is None, fid
    content = {fid: text_of(controls[fid].find("w:sdtContent", NS)) for fid in values}
    assert content[first["text"].id] == "Zoë Łukasiewicz"
    assert content[first["signature"].id] == "Z. Łukasiewicz"
    assert content[first["longtext"].id] == "Line oneLine two"
    assert [text_of(p) for p in controls[first["longtext"].id].findall("w:sdtContent/w:p", NS)] == [
        "Line one", "Line two"]
    assert content[first["date"].id] == "06/01/2025"
    date = controls[first["date"].id].find("w:sdtPr/w:date", NS)
    assert date.get(wq("fullDate")) == "2025-01-06T00:00:00Z"
    assert content[first["checkbox"].id] == "\u2612"
    assert controls[first["checkbox"].id].find("w:sdtPr/w14:checkbox/w14:checked", NS).get(
        f"{{{NS['w14']}}}val") == "1"
    assert content[first["yesno"].id] == "No"
    assert controls[first["yesno"].id].find("w:sdtPr/w:dropDownList", NS).get(wq("lastValue")) == "no"
    assert content[first["choice"].id] == first["choice"].options[-1].label


def test_characters_xml_cannot_hold_are_left_out_not_fatal(built):
    form, theme, manifest, *_ = built
    text = next(f for f in form.fields if f.kind == "longtext")
    document = xml(unzip(write_docx(form, theme, manifest, {text.id: "bell\x07 and\ttab\nnext"})),
                   "word/document.xml")
    control = next(s for s in sdts(document) if tag(s) == text.id)
    assert text_of(control.find("w:sdtContent", NS)) == "bell and\ttabnext"


def test_values_that_cannot_be_written_are_refused(built):
    form, theme, manifest, *_ = built
    yesno = next(f for f in form.fields if f.kind == "yesno")
    checkbox = next(f for f in form.fields if f.kind == "checkbox")
    for values, message in (
        ({"cover.details.nickname": "x"}, "no field with id 'cover.details.nickname'"),
        ({yesno.id: "maybe"}, f"{yesno.id}: 'maybe' is not an option"),
        ({checkbox.id: "perhaps"}, f"{checkbox.id}: 'perhaps' is not a checkbox value"),
    ):
        with pytest.raises(BuildError, match=message):
            write_docx(form, theme, manifest, values)


# ---------------------------------------------------------------- package

def test_manifest_is_a_custom_xml_part(built):
    *_, manifest, blob, files, _ = built
    rels = xml(files, "word/_rels/document.xml.rels")
    targets = [r.get("Target") for r in rels.findall("rel:Relationship", NS) if r.get("Type") == CUSTOM_XML_REL]
    assert targets == [".." + MANIFEST_PART]
    root = xml(files, MANIFEST_PART.lstrip("/"))
    assert root.tag == MANIFEST_TAG == f"{{{DOCX_NAMESPACE}}}manifest"
    assert json.loads(root.text) == manifest
    item_rels = xml(files, "customXml/_rels/item1.xml.rels")
    assert [r.get("Target") for r in item_rels.findall("rel:Relationship", NS)] == ["itemProps1.xml"]
    props = xml(files, "customXml/itemProps1.xml")
    assert props.find("ds:schemaRefs/ds:schemaRef", NS).get(f"{{{NS['ds']}}}uri") == DOCX_NAMESPACE
    assert "[Content_Types].xml" in files


def test_forms_only_protection_without_password(built):
    *_, files, _ = built
    protection = xml(files, "word/settings.xml").find("w:documentProtection", NS)
    assert protection.get(wq("edit")) == "forms"
    assert protection.get(wq("enforcement")) == "1"
    assert protection.get(wq("hash")) is None


def test_python_docx_opens_it_and_core_properties(built):
    form, theme, _, blob, *_ = built
    document = docx.Document(io.BytesIO(blob))
    core = document.core_properties
    assert core.title == form.title
    assert core.author == theme.organisation
    assert core.language == "en-GB"
    section = document.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    assert [round(m.mm) for m in (section.top_margin, section.right_margin,
                                  section.bottom_margin, section.left_margin)] == [22, 16, 18, 16]


def test_same_input_gives_the_same_bytes(built):
    form, theme, manifest, blob, *_ = built
    assert write_docx(form, theme, manifest, pcn="North Shore PCN") == blob


# ---------------------------------------------------------------- layout

def test_sections_and_headings_in_model_order(built):
    form, *_, document = built
    assert styled(document, "Title") == [form.title]
    assert styled(document, "Heading1") == [s.title for s in form.sections[1:]]
    prose = [b.heading for s in form.sections for b in s.blocks if isinstance(b, ProseBlock) and b.heading]
    assert styled(document, "Heading2") == prose
    blocks = []
    for section in form.sections:
        for block in section.blocks:
            if not isinstance(block, ProseBlock) and block.heading:
                blocks.append(block.heading)
            if isinstance(block, FieldsBlock):
                blocks.extend(g.heading for g in block.groups if g.heading)
    assert styled(document, "Heading3") == blocks


def test_new_page_sections_are_word_sections_with_their_short_title(built):
    form, theme, _, _, files, document = built
    breaks = document.findall(".//w:pPr/w:sectPr", NS)
    assert len(breaks) == sum(1 for s in form.sections[1:] if s.new_page)
    first = breaks[0] if breaks else document.find("w:body/w:sectPr", NS)
    assert first.find("w:titlePg", NS) is not None  # the cover page has no header
    headers = [text_of(xml(files, n)) for n in sorted(files) if n.startswith("word/header")]
    for section in form.sections:
        if section.new_page or section is form.sections[0]:
            assert f"North Shore PCN · {theme.organisation}{section.short_title}" in headers
    footer = xml(files, "word/footer1.xml")
    assert [t.text.strip() for t in footer.iter(wq("instrText"))] == ["PAGE", "NUMPAGES"]
    assert theme.footer in text_of(footer)


def test_grids_repeat_a_branded_header_row_and_rows_do_not_split(built):
    form, theme, *_, document = built
    grids = [t for t in document.iter(wq("tbl")) if t.find("w:tr/w:trPr/w:tblHeader", NS) is not None]
    expected = sum(isinstance(b, (TableBlock, LikertBlock)) for s in form.sections for b in s.blocks)
    assert len(grids) == expected
    primary = theme.primary.lstrip("#").upper()
    for grid in grids:
        header = grid.find("w:tr", NS)
        assert {c.get(wq("fill")) for c in header.iterfind("w:tc/w:tcPr/w:shd", NS)} == {primary}
        assert set(styled(header, "TableHeading")) and not styled(header, "TableText")
    assert all(tr.find("w:trPr/w:cantSplit", NS) is not None for tr in document.iter(wq("tr")))


def test_likert_items_are_a_grid_of_checkboxes(built):
    """As in the source form: a row per question, the answers as column headings, a box per cell."""
    form, *_, document = built
    likert = next(b for s in form.sections for b in s.blocks if isinstance(b, LikertBlock))
    controls = {tag(s): s for s in sdts(document)}
    first = controls[f"{likert.items[0].id}={likert.options[0].value}"]
    table = next(a for a in first.iterancestors() if a.tag == wq("tbl"))
    rows = table.findall("w:tr", NS)
    assert [text_of(c) for c in rows[0].findall("w:tc", NS)] == \
        ["How happy were you with the way the care coordinator…", "Very happy", "Happy", "I am unsure",
         "Unhappy", "Very unhappy"]
    assert len(rows) == 1 + len(likert.items) == 6
    for row, item in zip(rows[1:], likert.items):
        cells = row.findall("w:tc", NS)
        assert text_of(cells[0]) == item.label.split(": ")[-1]
        tags = [tag(c.find(".//w:sdt", NS)) for c in cells[1:]]
        assert tags == [f"{item.id}={o.value}" for o in likert.options]
        for cell in cells[1:]:
            box = cell.find(".//w:sdt/w:sdtPr/w14:checkbox", NS)
            assert box.find("w14:checked", NS).get(f"{{{NS['w14']}}}val") == "0"


def test_theme_drives_the_look(built):
    form, theme, manifest, *_ = built
    files = unzip(write_docx(form, theme.with_overrides(primary="#330072", font="Arial"), manifest))
    styles = xml(files, "word/styles.xml")
    heading = styles.find("w:style[@w:styleId='Heading1']", NS)
    assert heading.find("w:rPr/w:color", NS).get(wq("val")) == "330072"
    assert styles.find("w:docDefaults/w:rPrDefault/w:rPr/w:rFonts", NS).get(wq("ascii")) == "Arial"
    fills = {s.get(wq("fill")) for s in xml(files, "word/document.xml").iter(wq("shd"))}
    assert "330072" in fills and "005EB8" not in fills


def test_cover_band_names_the_pcn_and_the_issuer_and_shows_the_contact(built):
    form, theme, manifest, *_ = built
    files = unzip(write_docx(form, theme.with_overrides(contact="Training lead: J. Smith"), manifest,
                             pcn="North Shore PCN"))
    document = xml(files, "word/document.xml")
    assert styled(document, "BandName") == ["North Shore PCN"]
    assert styled(document, "BandIssuer") == [f"Issued by {theme.organisation}"]
    assert styled(document, "CoverContact") == ["Training lead: J. Smith"]
    plain = xml(unzip(write_docx(form, theme, manifest)), "word/document.xml")
    assert styled(plain, "BandName") == [theme.organisation] and not styled(plain, "BandIssuer")


def test_a_part_issued_on_its_own_starts_with_a_band_and_its_title(theme):
    form = build_form(load_content(), Layout(only_sections=("patient_feedback",)))
    assert not any(s.is_cover for s in form.sections)
    document = xml(unzip(write_docx(form, theme, make_manifest(form))), "word/document.xml")
    assert styled(document, "Title") == []
    assert styled(document, "BandName") == [theme.organisation]
    assert styled(document, "Heading1") == [form.sections[0].title]
    assert docx_listing(document) == expected_listing(form)


def test_logo_goes_on_the_cover_and_in_every_header(built, tmp_path):
    from PIL import Image
    form, theme, manifest, *_ = built
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 100), "#41B6E6").save(logo)
    files = unzip(write_docx(form, theme.with_overrides(logo=logo.read_bytes()), manifest))
    assert files["word/media/logo.png"] == logo.read_bytes()
    document = xml(files, "word/document.xml")
    assert document.find(".//w:tbl//w:drawing", NS) is not None  # in the cover band
    for name in files:
        if name.startswith("word/header") and (b"<w:t>" in files[name] or b"<w:t " in files[name]):
            assert b"<w:drawing>" in files[name], name
            assert b"media/logo.png" in files[f"word/_rels/{name[5:]}.rels"]


def test_a_logo_that_is_not_an_image_is_refused(built, tmp_path):
    form, theme, manifest, *_ = built
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"GIF89a not really")
    with pytest.raises(BuildError, match="theme logo"):
        write_docx(form, theme.with_overrides(logo=logo), manifest)


# ---------------------------------------------------------------- LibreOffice

def _soffice(tmp_path: Path, source: Path, target: str) -> Path:
    out = tmp_path / target.replace(":", "_")
    out.mkdir()
    profile = (tmp_path / "lo").as_uri()
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", target,
         "--outdir", str(out), str(source)], capture_output=True, text=True, timeout=180)
    produced = out / f"{source.stem}.{target.split(':')[0]}"
    assert produced.exists(), f"soffice produced nothing: {result.stdout} {result.stderr}"
    return produced


def test_libreoffice_round_trip_keeps_text_fields_and_manifest(built, tmp_path):
    need_tool("soffice")
    form, _, manifest, blob, *_ = built
    source = tmp_path / "pack.docx"
    source.write_bytes(blob)
    again = _soffice(tmp_path, source, "docx")

    files = unzip(again.read_bytes())
    docx.Document(io.BytesIO(again.read_bytes()))  # opens
    document = xml(files, "word/document.xml")
    text = text_of(document)
    position = 0
    for title in [form.title] + [s.title for s in form.sections[1:]]:
        position = text.index(title, position) + len(title)  # present, in order

    # Every field can still be found: LibreOffice 25 keeps tags; 7.4 drops them (and the
    # titles of dates and dropdowns, and wraps checkboxes in a titled control) but keeps
    # the controls in document order, so the manifest's field order identifies them.
    outer = [s for s in document.iter(wq("sdt")) if not any(a.tag == wq("sdt") for a in s.iterancestors())]
    expected = expected_controls(form)
    assert len(outer) == len(expected)
    for sdt, (field, option) in zip(outer, expected):
        pr = sdt.find("w:sdtPr", NS)
        tag_el, alias = pr.find("w:tag", NS), pr.find("w:alias", NS)
        if tag_el is not None:
            assert tag_el.get(wq("val")) == (field.id if option is None else f"{field.id}={option.value}")
        elif alias is not None:
            assert alias.get(wq("val")) == (field.label if option is None else f"{field.label}: {option.label}")

    manifests = [etree.fromstring(b) for n, b in files.items() if n.startswith("customXml/item")
                 and not n.startswith("customXml/itemProps")]
    assert [json.loads(m.text) for m in manifests if m.tag == MANIFEST_TAG] == [manifest]


def test_libreoffice_renders_it(built, tmp_path):
    need_tool("soffice", "pdftotext")
    form, _, _, blob, *_ = built
    source = tmp_path / "pack.docx"
    source.write_bytes(blob)
    pdf = _soffice(tmp_path, source, "pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split()).replace("- ", "-")  # a title may wrap after a hyphen

    for section in form.sections[1:]:
        assert " ".join(section.title.split()) in flat
    assert "Page 1 of" in flat
