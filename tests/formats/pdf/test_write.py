"""The PDF pack: fields, structure and validity, checked with pypdf and real tools."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from pypdf import PdfReader

from generator.formats.pdf.write import write_pdf
from generator.model.manifest import PDF_ATTACHMENT_NAME
from tests.conftest import need_tool
from tests.fieldlist import PDF_CLASS, model_listing, pdf_listing, reduce

# ISO 32000-1 12.7.3.2: a partial field name shall not contain a period.
PARTIAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest.fixture(scope="module")
def reader(pdf_path):
    return PdfReader(pdf_path)


def test_fields_match_the_model(pdf_path, form):
    assert pdf_listing(pdf_path) == reduce(model_listing(form), PDF_CLASS)


def test_partial_names_are_valid_and_hierarchical(reader):
    def walk(ref, depth=0):
        node = ref.get_object()
        if "/T" in node:
            assert PARTIAL_NAME.match(node["/T"]), node["/T"]
        for kid in node.get("/Kids", []):
            walk(kid, depth + 1)
    roots = reader.trailer["/Root"]["/AcroForm"]["/Fields"]
    for ref in roots:
        walk(ref)
    assert {r.get_object()["/T"] for r in roots} >= {"cover", "competencies", "patient_feedback"}


def test_radio_groups_are_one_field_with_value_states(reader, form):
    fields = reader.get_fields()
    for fld in form.fields:
        if fld.kind not in ("yesno", "choice"):
            continue
        group = fields[fld.id]
        assert group["/FT"] == "/Btn" and int(group["/Ff"]) & (1 << 15)
        assert "/Opt" not in group  # states are the option values themselves
        kids = [k.get_object() for k in group.indirect_reference.get_object()["/Kids"]]
        assert len(kids) == len(fld.options)
        assert all("/T" not in k for k in kids)  # widgets, not fields of their own
        states = [next(s for s in k["/AP"]["/N"] if s != "/Off") for k in kids]
        assert states == [f"/{o.value}" for o in fld.options]


def test_blank_pack_does_not_ask_viewers_to_redraw_every_field(reader):
    """No text value yet and buttons carry their appearances: redrawing would only lose radio states."""
    assert reader.trailer["/Root"]["/AcroForm"]["/NeedAppearances"] == False  # noqa: E712


def test_every_top_level_entry_is_a_node_not_a_widget(reader):
    for ref in reader.trailer["/Root"]["/AcroForm"]["/Fields"]:
        assert "/Parent" not in ref.get_object()


def test_checkboxes_use_yes_and_text_fields_a_standard_font(reader):
    acroform = reader.trailer["/Root"]["/AcroForm"]
    assert acroform["/DR"]["/Font"]["/Helv"]["/BaseFont"] == "/Helvetica"
    for name, fld in reader.get_fields().items():
        if fld.get("/FT") == "/Tx":
            obj = fld.indirect_reference.get_object()
            assert obj["/DA"].startswith("/Helv "), name
        elif fld.get("/FT") == "/Btn" and not int(fld.get("/Ff", 0)) & (1 << 15):
            assert set(fld["/_States_"]) == {"/Yes", "/Off"}, name


def test_every_field_has_a_tooltip_and_tab_order_follows_structure(reader):
    for name, fld in reader.get_fields().items():
        if fld.get("/FT"):
            assert fld.get("/TU"), name
    assert all(page["/Tabs"] == "/S" for page in reader.pages)


def test_tagged_titled_and_in_english(reader, form):
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] == True  # noqa: E712 (a pypdf BooleanObject)
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "en-GB"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert reader.metadata.title == form.title
    assert b"pdfuaid" in root["/Metadata"].get_object().get_data()


def test_manifest_is_attached(reader, manifest):
    data = json.loads(reader.attachments[PDF_ATTACHMENT_NAME][0])
    # The attached manifest is the one given, plus the layout (tests/formats/pdf/test_geometry.py).
    assert {k: v for k, v in data.items() if k != "pages"} == {
        **manifest, "fields": [{**d, "widgets": d2["widgets"]} for d, d2 in zip(manifest["fields"], data["fields"])]}


def test_text_is_selectable_and_every_section_is_present(reader, form):
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split()).replace("- ", "-")  # a title may wrap after a hyphen
    for section in form.sections:
        assert " ".join(section.title.split()) in flat, section.title
    assert "Page 3 of" in flat


def test_fonts_are_embedded(pdf_path):
    need_tool("pdffonts")
    out = subprocess.run(["pdffonts", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows and all(row[-5] == "yes" for row in rows), out


def test_qpdf_check_is_clean(pdf_path):
    need_tool("qpdf")
    result = subprocess.run(["qpdf", "--check", str(pdf_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No syntax or stream encoding errors found" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_pdftk_sees_every_field_once_with_its_options(pdf_path, form):
    need_tool("pdftk")
    out = subprocess.run(["pdftk", str(pdf_path), "dump_data_fields_utf8"], capture_output=True,
                         text=True, check=True).stdout
    seen: dict[str, list[str]] = {}
    for record in out.split("---"):
        lines = dict(line.split(": ", 1) for line in record.strip().splitlines() if ": " in line)
        lines.update({line.rstrip(":"): "" for line in record.strip().splitlines() if line.endswith(":")})
        # pdftk also prints a node whose kids are all radio groups, with an empty
        # FieldType; it holds no value, and pypdf and the spec treat it as a node.
        if lines.get("FieldType"):
            assert lines["FieldName"] not in seen
            seen[lines["FieldName"]] = [l.split(": ", 1)[1] for l in record.strip().splitlines()
                                        if l.startswith("FieldStateOption: ")]
    assert set(seen) == {f.id for f in form.fields}
    for fld in form.fields:
        if fld.kind in ("yesno", "choice"):
            assert sorted(seen[fld.id]) == sorted([o.value for o in fld.options] + ["Off"])
        elif fld.kind == "checkbox":
            assert sorted(seen[fld.id]) == ["Off", "Yes"]


def test_pdftk_fill_is_read_back_by_pypdf(pdf_path, form, tmp_path):
    """Fill one field of each kind through pdftk (XFDF) and read the values with pypdf."""
    need_tool("pdftk")
    values = {}
    for fld in form.fields:
        if fld.kind in ("yesno", "choice") and fld.id not in values:
            values[fld.id] = fld.options[-1].value
        elif fld.kind == "checkbox":
            values[fld.id] = "Yes"
        elif fld.kind == "longtext":
            values[fld.id] = "Line one\nLine two"
        else:
            values[fld.id] = "Zoë Łukasiewicz"
    xfdf = tmp_path / "values.xfdf"
    from xml.sax.saxutils import escape
    body = "".join(f'<field name="{k}"><value>{escape(v)}</value></field>' for k, v in values.items())
    xfdf.write_text('<?xml version="1.0" encoding="UTF-8"?><xfdf xmlns="http://ns.adobe.com/xfdf/">'
                    f"<fields>{body}</fields></xfdf>", encoding="utf-8")
    filled = tmp_path / "filled.pdf"
    subprocess.run(["pdftk", str(pdf_path), "fill_form", str(xfdf), "output", str(filled)], check=True)
    got = {k: v.get("/V") for k, v in PdfReader(filled).get_fields().items() if v.get("/FT")}
    for fid, value in values.items():
        if value == "Yes" or fid in {f.id for f in form.fields if f.kind in ("yesno", "choice")}:
            assert got[fid] == f"/{value}", fid
        else:
            assert str(got[fid]).replace("\r\n", "\n").replace("\r", "\n") == value, fid


def test_renders_to_png_without_errors(pdf_path, tmp_path):
    need_tool("pdftoppm")
    result = subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf_path), str(tmp_path / "page")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(pdf_path).pages) >= 15


def test_prefilled_values_are_written(form, theme, manifest, tmp_path):
    data = write_pdf(form, theme, manifest, values={
        "cover.details.name": "Siobhán O'Neill",
        "competencies.personalised_care.focus_on_what_matters.achieved": True,
        "patient_feedback.ratings.respect": "happy"})
    path = tmp_path / "pre.pdf"
    path.write_bytes(data)
    fields = PdfReader(path).get_fields()
    assert fields["cover.details.name"]["/V"] == "Siobhán O'Neill"
    assert fields["competencies.personalised_care.focus_on_what_matters.achieved"]["/V"] == "/Yes"
    assert fields["patient_feedback.ratings.respect"]["/V"] == "/happy"
