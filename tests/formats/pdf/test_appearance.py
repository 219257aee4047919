"""Widgets and appearance streams: big enough to use, and showing their values in every viewer.

Viewers that ignore NeedAppearances (Preview, pdf.js, poppler when printing) show
only the saved appearance streams, so the filled pack is rendered with poppler
and read back (flattened, as text) to check that long answers show in full.
"""

from __future__ import annotations

import io
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader

from generator.formats.pdf import appearance
from generator.formats.pdf.fill import fill_pdf
from generator.formats.pdf.stamp import PdfStamp
from tests.conftest import need_tool

# 210 characters: wraps to four or five lines in a values-worksheet box, and ends
# with a word found nowhere else in the pack, so a clipped answer is noticed.
ANSWER = ("Worked with the practice team on a shared plan for a person with several long-term "
          "conditions, agreeing who phones whom and when, so that nobody has to tell their story "
          "twice. Łukasz agreed. Zebedee")
MULTILINE = 1 << 12


def _widgets(reader: PdfReader):
    """(page number, widget, field type, field flags) for every widget of every page."""
    for number, page in enumerate(reader.pages, start=1):
        for ref in page.get("/Annots", []):
            widget = ref.get_object()
            if widget.get("/Subtype") != "/Widget":
                continue
            fld = widget if "/FT" in widget else widget["/Parent"].get_object()
            yield number, widget, fld["/FT"], int(fld.get("/Ff", 0))


def _size(widget) -> tuple[float, float]:
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert x2 > x1 and y2 > y1, "rectangle not normalised"
    return x2 - x1, y2 - y1


# ------------------------------------------------------------ pure layout

def test_wrap_breaks_at_spaces_and_splits_only_overlong_words():
    # Helvetica 'a' is 556/1000 em: "aaa" at 10 pt is 16.68 pt wide, "aaa bbb" 36.14 pt
    assert appearance.wrap("aaa bbb", 20, 10) == ["aaa", "bbb"]
    assert appearance.wrap("aaa bbb", 40, 10) == ["aaa bbb"]
    assert appearance.wrap("aaaaaa", 20, 10) == ["aaa", "aaa"]
    assert appearance.wrap("one\n\ntwo", 100, 10) == ["one", "", "two"]


def test_long_text_shrinks_to_the_floor_then_clips():
    fits = appearance.layout_text("short answer", 200, 40, multiline=True)
    assert fits.size == 9.0 and fits.lines == ("short answer",) and not fits.clipped
    shrunk = appearance.layout_text(ANSWER, 150, 40, multiline=True)
    assert 6.0 <= shrunk.size < 9.0 and not shrunk.clipped and len(shrunk.lines) >= 4
    clipped = appearance.layout_text(ANSWER * 5, 150, 40, multiline=True)
    # 36 pt inside the padding, 7.08 pt a line at 6 pt: five lines drawn, the rest clipped
    assert clipped.size == 6.0 and clipped.clipped and len(clipped.lines) == 5


def test_single_line_text_is_fitted():
    assert appearance.layout_text("Zoë Łukasiewicz", 150, 16, multiline=False).size == 9.0
    # 190.6 pt wide at 9 pt; 156 pt inside the padding takes 7 pt (148.2 pt), 7.5 pt is 158.8 pt
    long = appearance.layout_text("Riverside Surgery and Mill Lane Medical Centre", 160, 16, multiline=False)
    assert long.size == 7.0 and not long.clipped
    too_long = appearance.layout_text("Riverside Surgery and Mill Lane Medical Centre", 120, 16, multiline=False)
    assert too_long.size == 6.0 and too_long.clipped


def test_letters_outside_winansi_get_a_differences_encoding():
    drawn = appearance.text_appearance("Łódź", 100, 16, multiline=False)
    # ó is WinAnsi 0xF3; Ł and ź take the spare codes from 0xFF down
    assert drawn.differences == [(0xFE, "zacute"), (0xFF, "Lslash")]
    assert b"(\xff\xf3d\xfe) Tj" in drawn.content
    assert b"/Differences" in drawn.xobject()


# ------------------------------------------------------------ the built pack

def test_every_button_is_a_square_of_at_least_12_pt_with_its_own_marks(pdf_path):
    buttons = 0
    for page, widget, kind, _ in _widgets(PdfReader(pdf_path)):
        if kind != "/Btn":
            continue
        buttons += 1
        width, height = _size(widget)
        assert width >= 12 and height >= 12 and abs(width - height) < 0.01, (page, width, height)
        states = widget["/AP"]["/N"]
        assert set(states) == {"/Off", next(s for s in states if s != "/Off")}
        for state in states.values():
            bbox = [float(v) for v in state.get_object()["/BBox"]]
            assert bbox == pytest.approx([0, 0, width, height], abs=0.01), page
        on = next(s for name, s in states.items() if name != "/Off").get_object().get_data()
        radio = "/T" not in widget  # a radio widget has no name of its own; a checkbox is its field
        # a dot is a filled path of curves; a tick a stroked polyline
        assert (b" c " in on and on.rstrip().endswith(b"f Q")) if radio else on.rstrip().endswith(b"S Q"), page
    assert buttons >= 80


def test_every_text_widget_is_at_least_14_pt_tall(pdf_path):
    heights = [_size(w)[1] for _, w, kind, _ in _widgets(PdfReader(pdf_path)) if kind == "/Tx"]
    assert len(heights) > 200 and min(heights) >= 14


# ------------------------------------------------------------ a filled pack

@pytest.fixture(scope="module")
def filled(pdf_path, form):
    values = {f.id: ANSWER for f in form.fields if f.id.startswith("values.")}
    values["cover.details.name"] = "Siobhán Ní Bhriain"
    values["patient_feedback.ratings.respect"] = "very_happy"
    values["competencies.personalised_care.focus_on_what_matters.achieved"] = True
    return fill_pdf(pdf_path.read_bytes(), values), values


def test_filled_fields_carry_appearances_and_no_redraw_is_asked(filled):
    data, values = filled
    reader = PdfReader(io.BytesIO(data))
    assert reader.trailer["/Root"]["/AcroForm"]["/NeedAppearances"] == False  # noqa: E712
    drawn = 0
    for _, widget, kind, flags in _widgets(reader):
        if kind == "/Tx" and widget.get("/V"):
            content = widget["/AP"]["/N"].get_object().get_data()
            lines = content.count(b" Tj")
            assert lines >= (4 if flags & MULTILINE else 1)
            drawn += 1
    assert drawn == len([v for v in values.values() if isinstance(v, str) and v != "very_happy"])


def _values_page(reader: PdfReader) -> int:
    for number, page in enumerate(reader.pages, start=1):
        if "Person-centred value" in page.extract_text():  # the worksheet table's first column
            return number
    raise AssertionError("no values worksheet page")


def test_filled_long_answers_show_in_full_when_flattened(filled, tmp_path):
    """qpdf flattens the saved appearances into the page: what Preview or a printer shows."""
    need_tool("qpdf", "pdftotext")
    data, values = filled
    source, flat = tmp_path / "filled.pdf", tmp_path / "flat.pdf"
    source.write_bytes(data)
    subprocess.run(["qpdf", "--flatten-annotations=all", str(source), str(flat)], check=True)
    page = _values_page(PdfReader(source))
    text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(flat), "-"],
                          capture_output=True, text=True, check=True).stdout
    on_page = [fid for fid in values if fid.startswith("values.")]
    assert text.count("Zebedee") == len(on_page) == 16
    assert text.count("Łukasz agreed.") == 16
    cover = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(flat), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "Siobhán Ní Bhriain" in cover


def _ink_bands(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Runs of pixel rows holding dark pixels inside ``box``: the text lines drawn there."""
    region = image.crop(box)
    width, height = region.size
    pixels = region.load()
    bands, inside = 0, False
    for y in range(height):
        dark = any(pixels[x, y] < 110 for x in range(width))
        if dark and not inside:
            bands += 1
        inside = dark
    return bands


def test_rendered_long_answers_wrap_over_several_lines(filled, pdf_path, tmp_path):
    """Each answer box on the rendered values page holds several lines of text; blank, none."""
    need_tool("pdftoppm")
    data, _ = filled
    source = tmp_path / "filled.pdf"
    source.write_bytes(data)
    reader = PdfReader(source)
    page = _values_page(reader)
    dpi = 144
    images = {}
    for name, path in (("filled", source), ("blank", pdf_path)):
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "-f", str(page), "-l", str(page),
                        "-singlefile", str(path), str(tmp_path / name)], check=True)
        images[name] = Image.open(tmp_path / f"{name}.png").convert("L")
    page_height = float(reader.pages[page - 1].mediabox.height)
    scale = dpi / 72
    checked = 0
    for number, widget, kind, flags in _widgets(reader):
        if number != page or kind != "/Tx" or not flags & MULTILINE:
            continue
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        inset = 3  # points: stay inside the drawn border
        box = (int((x1 + inset) * scale), int((page_height - y2 + inset) * scale),
               int((x2 - inset) * scale), int((page_height - y1 - inset) * scale))
        assert _ink_bands(images["blank"], box) == 0
        assert _ink_bands(images["filled"], box) >= 4, widget["/T"]
        checked += 1
    assert checked == 16


def test_fill_draws_ticks_and_dots_in_the_drawn_box(filled):
    data, _ = filled
    fields = PdfReader(io.BytesIO(data)).get_fields()
    assert fields["patient_feedback.ratings.respect"]["/V"] == "/very_happy"
    assert fields["competencies.personalised_care.focus_on_what_matters.achieved"]["/V"] == "/Yes"


def test_stamped_values_have_fitted_appearances(pdf_path, manifest, tmp_path):
    need_tool("qpdf", "pdftotext")
    stamper = PdfStamp.from_pdf(pdf_path.read_bytes(), ["cover.details.name", "cover.details.practice"])
    data = stamper.stamp({"cover.details.name": "Ngozi Okonkwo-Smith",
                          "cover.details.practice": "Riverside Surgery and Mill Lane Medical Centre, Northgate"},
                         manifest)
    source, flat = tmp_path / "stamped.pdf", tmp_path / "flat.pdf"
    source.write_bytes(data)
    subprocess.run(["qpdf", "--flatten-annotations=all", str(source), str(flat)], check=True)
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(flat), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "Ngozi Okonkwo-Smith" in text
    assert "Riverside Surgery and Mill Lane Medical Centre, Northgate" in text


def test_prefilled_long_answer_is_drawn_and_no_redraw_is_asked(form, theme, manifest):
    from generator.formats.pdf.write import write_pdf

    fid = next(f.id for f in form.fields if f.id.startswith("values."))
    reader = PdfReader(io.BytesIO(write_pdf(form, theme, manifest, values={fid: ANSWER})))
    assert reader.trailer["/Root"]["/AcroForm"]["/NeedAppearances"] == False  # noqa: E712
    widget = reader.get_fields()[fid].indirect_reference.get_object()
    assert widget["/AP"]["/N"].get_object().get_data().count(b" Tj") >= 4
