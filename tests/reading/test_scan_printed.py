"""A copy filled on screen, then printed to PDF or flattened: no form fields, its answers in its pages.

Such a copy is read as a scan (``generator.reading.scan``): its typed answers from the text drawn in
each field's box, its ticks and radio dots from the rendered page. Text is drawn here at known places
in small PDFs written by the test; the whole copies are our own pack filled, then flattened by qpdf or
printed to PDF by pdftocairo as a user would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from generator.formats.pdf.fill import fill_pdf
from generator.reading import scan
from tests.conftest import need_tool
from tests.scans import Scanner, pdf_geometry, render_page, scan_sheet, to_bytes

# ---------------------------------------------------------------- small PDFs with text at known places

#: Two one-line boxes side by side, 12 pt apart (like the schedule's month cells), and a box for three lines.
LEFT = [100.0, 700.0, 150.0, 716.0]
RIGHT = [162.0, 700.0, 212.0, 716.0]
LINES = [100.0, 600.0, 300.0, 660.0]


def small_pdf(content: bytes, forms: Sequence[tuple[list[float], bytes]] = ()) -> bytes:
    """One A4 page drawing ``content`` with Helvetica as /F1, and each of ``forms`` (a box and its
    content, in the box's own space) as a form XObject placed at its box, as qpdf flattens a field."""
    placed = b"".join(b"q 1 0 0 1 %.2f %.2f cm /X%d Do Q\n" % (box[0], box[1], n) for n, (box, _) in enumerate(forms))
    page_content = content + b"\n" + placed
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"]
    xobjects = b" ".join(b"/X%d %d 0 R" % (n, 6 + n) for n in range(len(forms)))
    objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources "
                   b"<< /Font << /F1 5 0 R /F2 5 0 R >> /XObject << %s >> >> >>" % xobjects)
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(page_content), page_content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for box, drawing in forms:
        objects.append(b"<< /Type /XObject /Subtype /Form /BBox [0 0 %.2f %.2f] /Resources << /Font << /F1 5 0 R >> "
                       b">> /Length %d >>\nstream\n%s\nendstream"
                       % (box[2] - box[0], box[3] - box[1], len(drawing), drawing))
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def field_text(box: list[float], text: bytes, x: float = 2.0, size: float = 9.0, scaled: bool = False) -> bytes:
    """A field's drawing as our appearances draw it, in the box's own space: clipped to the box less
    1 pt, the text from ``x`` on its baseline 4.6 pt up. ``scaled``: the size set as a 1 pt font in a
    scaled text matrix, as cairo writes text (pdftocairo's print to PDF)."""
    width, height = box[2] - box[0], box[3] - box[1]
    font = b"/F1 1 Tf %.2f 0 0 %.2f %.2f 4.6 Tm" % (size, size, x) if scaled else b"/F1 %.2f Tf %.2f 4.6 Td" % (size, x)
    return b"q 1 1 %.2f %.2f re W n BT %s (%s) Tj ET Q" % (width - 2, height - 2, font, text)


def on_page(box: list[float], drawing: bytes) -> bytes:
    """A field's drawing moved onto the page (a printed copy that draws it there, as cairo does)."""
    return b"q 1 0 0 1 %.2f %.2f cm %s Q" % (box[0], box[1], drawing)


def page_text(data: bytes):
    """The first page's own text in a box (``Loaded.text``), with the loader held open around it."""
    pages = scan.load_pages(data, "printed.pdf")
    loaded = next(pages)
    assert not loaded.scanned and loaded.text is not None
    return loaded.text, pages


#: The left box's answer is wider than its box (78.54 pt at 9 pt in Helvetica's widths, from x = 102): its
#: drawing clips it at x = 149, and its clipped end ("ffudd", x = 163 to 180.54) lies under the right
#: box, whose own answer starts at x = 164.
WIDE = b"Dafydd ap Gruffudd"


@pytest.mark.parametrize("style", ["form xobjects", "on the page", "scaled text matrix"])
def test_an_answer_wider_than_its_box_is_read_whole_and_none_of_it_spills_into_the_next(style):
    left, right = field_text(LEFT, WIDE, scaled=style == "scaled text matrix"), field_text(
        RIGHT, b" Seen 2 Oct", scaled=style == "scaled text matrix")  # a space first: it starts no run
    # a label left of the box, its last letter over the box's edge (its glyph from x = 96.36 to 100.64)
    label = b"BT /F1 9 Tf 77 705 Td (Name) Tj ET"
    if style == "form xobjects":
        data = small_pdf(label, [(LEFT, left), (RIGHT, right)])
    else:
        data = small_pdf(b"\n".join([label, on_page(LEFT, left), on_page(RIGHT, right)]))
    text, pages = page_text(data)
    assert text(LEFT) == "Dafydd ap Gruffudd"
    assert text(RIGHT) == "Seen 2 Oct"
    assert text([0.0, 0.0, 99.0, 842.0]) == "Name"  # the label, read from a box of its own
    assert text([300.0, 0.0, 595.0, 842.0]) == ""
    pages.close()


def test_the_next_answer_starting_right_after_the_end_of_a_clipped_one_is_its_own():
    """The left answer's clipped end stops 1 pt before the right answer starts, on the same line:
    the two are still two answers (two drawings), not one run of text."""
    left = field_text(LEFT, WIDE)  # from x = 102 to 180.54
    right = field_text(RIGHT, b"Seen", x=181.54 - RIGHT[0])
    text, pages = page_text(small_pdf(b"\n".join([on_page(LEFT, left), on_page(RIGHT, right)])))
    assert (text(LEFT), text(RIGHT)) == ("Dafydd ap Gruffudd", "Seen")
    pages.close()


def test_a_run_is_the_boxs_that_holds_the_centre_of_its_first_letter():
    # "Note" from x = 95.62: its N's glyph from 96.30 to 101.43, its centre (98.87) left of the box
    text, pages = page_text(small_pdf(b"BT /F1 9 Tf 95.62 705 Td (Note) Tj ET"))
    assert text(LEFT) == ""
    assert text([98.0, 700.0, 150.0, 716.0]) == "Note"
    pages.close()
    # a space is no first letter: " Seen" from x = 97, its space (2.50 pt) left of the box, "Seen" in it
    text, pages = page_text(small_pdf(b"BT /F1 9 Tf 97 705 Td ( Seen) Tj ET"))
    assert text(LEFT) == "Seen"
    pages.close()


def test_a_name_drawn_in_pieces_from_two_fonts_is_one_run():
    """cairo draws a letter outside its first font subset as a text object of its own ("Zoë " "Ł"
    "ukasiewicz"): the pieces, each starting where the last ended, are one answer, no space added."""
    pieces = b"BT /F1 9 Tf 102 705 Td (Siobh) Tj /F2 9 Tf (\xe1) Tj /F1 9 Tf (n ) Tj /F2 9 Tf (K) Tj /F1 9 Tf (elly) Tj ET"
    # "Siobhán Kelly" ends at x = 157.03; a word on the line below starting there is another run
    below = b"BT /F1 9 Tf 157.03 690 Td (below) Tj ET"
    text, pages = page_text(small_pdf(pieces + b"\n" + below))
    assert text([100.0, 700.0, 200.0, 716.0]) == "Siobhán Kelly"
    assert text([150.0, 685.0, 200.0, 699.0]) == "below"
    pages.close()


def test_words_far_apart_in_one_drawing_of_the_page_are_runs_of_their_own():
    """A printer may draw a row of a table as one text object (cairo does): a word 135 pt on, or one
    moved back to the left, starts a run of its own, read in a box round it alone."""
    # "Review" is 29.50 pt wide at 9 pt: "Later" starts 135 pt after it (at x = 184.50); "Early" 120 pt
    # back from the end of "Later" (20.51 pt wide), at x = 85.01
    row = b"BT /F1 9 Tf 20 680 Td [(Review) -15000 (Later) 13333.3 (Early)] TJ ET"
    text, pages = page_text(small_pdf(row))
    assert text([180.0, 675.0, 230.0, 695.0]) == "Later"
    assert text([80.0, 675.0, 120.0, 695.0]) == "Early"
    assert text([15.0, 675.0, 60.0, 695.0]) == "Review"
    assert text([80.0, 675.0, 230.0, 695.0]) == "Later Early"  # two runs, in the page's order, a space apart
    pages.close()


def test_lines_of_one_answer_are_read_in_order_with_their_white_space_collapsed():
    lines = (b"q 101 601 198 58 re W n BT /F1 9 Tf 10.62 TL 102 648 Td (Called the   practice ) Tj T* "
             b"(nurse;  booked) Tj T* (a review.   ) Tj ET Q")
    text, pages = page_text(small_pdf(lines))
    assert text(LINES) == "Called the practice nurse; booked a review."
    assert text([100.0, 645.0, 300.0, 660.0]) == "Called the practice"  # the first line's box only
    pages.close()


# ---------------------------------------------------------------- the marks a printed copy shows

def test_a_round_dot_in_the_middle_of_a_box_has_a_solid_core_and_blank_corners():
    page = np.full((300, 300), 250, np.uint8)
    # a 5 mm box at (100, 100), 40 pixels a side less 22 % (8 pixels) each side: its inside is pixels 108-131
    lo, hi = 108, 132
    # a square of ink over the middle 5/8 of the inside each way (pixels 112-127): the core (within 0.6
    # of the half-width of the centre) all ink, the corners (outside the circle the inside holds) all paper
    page[112:128, 112:128] = 0
    found = scan.ink(page, (100, 100, 140, 140), 0.0)
    assert (found.core, found.corners) == (1.0, 0.0)
    page[lo:hi, lo:hi] = 0  # the whole inside
    found = scan.ink(page, (100, 100, 140, 140), 0.0)
    assert (found.core, found.corners) == (1.0, 1.0)
    page[lo:hi, lo:hi] = 250
    page[lo:hi, lo:lo + 3] = 0  # a stroke down the inside's left edge: corners, no core
    found = scan.ink(page, (100, 100, 140, 140), 0.0)
    assert found.core == 0.0 and found.corners > 0.1


def test_a_printed_radio_dot_is_chosen_and_a_tick_box_filled_so_is_not():
    # a printed copy's radio dot as the scan reader measured it (54 % of a 13 pt box across, in the
    # inside's 56 %): 60-70 % of the inside ink, rows mostly ink, so neither a tick nor a bubble filled in
    dot = scan.Ink(share=0.685, mass=0.58, faint=0.86, full_rows=0.57, span_mm=2.5, spill=0.02, core=1.0,
                   corners=0.02)
    assert scan.decide("yesno", dot) == "ticked"
    assert scan.decide("choice", dot) == "ticked"
    assert scan.decide("checkbox", dot) == "uncertain"  # a tick box filled in may be crossed out
    assert scan.decide("choice", replace(dot, core=0.94)) == "uncertain"  # ink missing from its middle
    assert scan.decide("choice", replace(dot, corners=0.21)) == "uncertain"  # a scribble to the corners
    assert scan.decide("choice", replace(dot, spill=0.30)) == "uncertain"  # ink spilling round it
    assert scan.decide("choice", replace(dot, core=0.95, corners=0.20, spill=0.29)) == "ticked"


# ---------------------------------------------------------------- whole copies, printed as users print them

#: A copy's answers: a schedule cell's answer far wider than its cell, beside a short one; a long
#: answer with its own line breaks and spaces and a letter outside WinAnsi; a yes/no, a five-point scale and a tick box.
WIDE_CELL, SHORT_CELL = "schedule.plan.ws1.m1", "schedule.plan.ws1.m2"
NOTES = "final_review.review.self_assessment"
YESNO = "competencies.personalised_care_signoff.achieved"
SCALE = "patient_feedback.ratings.respect"
TICK = "competencies.personalised_care.focus_on_what_matters.achieved"
ANSWERS = {WIDE_CELL: "Booked follow-up call", SHORT_CELL: "Seen", YESNO: False, SCALE: "very_happy", TICK: True,
           NOTES: "Agreed a plan with Łukasz and the team.\n\nReviewed it  in March. "}


@pytest.fixture(scope="module")
def filled(pdf_path):
    data = fill_pdf(pdf_path.read_bytes(), ANSWERS)
    manifest, fields, pages = pdf_geometry(data)
    wanted = sorted({w["page"] for d in fields if d["id"] in ANSWERS for w in d["widgets"]})
    return data, scan.Known(fields, pages), wanted


def printed(filled, tmp_path, how: str) -> bytes:
    """The filled copy's pages that hold ``ANSWERS``, with the form gone and its drawing kept."""
    data, _, wanted = filled
    source, flat, out = tmp_path / "filled.pdf", tmp_path / "flat.pdf", tmp_path / "printed.pdf"
    source.write_bytes(data)
    if how == "qpdf":
        need_tool("qpdf")
        subprocess.run(["qpdf", "--flatten-annotations=all", str(source), str(flat)], check=True, timeout=120)
    else:
        need_tool("pdftocairo", "qpdf")
        subprocess.run(["pdftocairo", "-pdf", str(source), str(flat)], check=True, timeout=120)
    pages = ",".join(str(p) for p in wanted)
    subprocess.run(["qpdf", "--empty", "--pages", str(flat), pages, "--", str(out)], check=True, timeout=120)
    return out.read_bytes()


@pytest.mark.parametrize("how", ["qpdf", "pdftocairo"])
def test_a_printed_copy_gives_its_typed_answers_and_chosen_options_with_one_warning(filled, tmp_path, how):
    data = printed(filled, tmp_path, how)
    result = scan.read_scan(data, "printed.pdf", lambda _: filled[1])
    assert result.unidentified == [] and result.scanned == 0
    [copy] = result.copies
    assert [p.reason for p in copy.pages] == [""] * len(filled[2])
    got = {fid: (copy.states[fid], copy.values[fid]) for fid in ANSWERS}
    assert got == {WIDE_CELL: ("read", "Booked follow-up call"), SHORT_CELL: ("read", "Seen"),
                   NOTES: ("read", "Agreed a plan with Łukasz and the team. Reviewed it in March."),
                   YESNO: ("read", False), SCALE: ("read", "very_happy"), TICK: ("read", True)}
    assert {(m.field_id, m.option): m.decision for m in copy.marks if m.field_id in (YESNO, SCALE)
            and m.decision != "empty"} == {(YESNO, "no"): "ticked", (SCALE, "very_happy"): "ticked"}
    assert copy.warnings == [scan.FROM_PAGE_TEXT]


def test_a_printed_copy_printed_on_paper_and_scanned_shows_its_radio_dots_as_chosen(filled, tmp_path):
    data = printed(filled, tmp_path, "qpdf")
    _, known, wanted = filled
    sheets = [scan_sheet(render_page(data, n, 300), 300, Scanner(dpi=200, rotate=1.0, shift_mm=(2, -1), blur=0.5,
                                                                  noise=3, jpeg=80), seed=n)
              for n in range(1, len(wanted) + 1)]
    [copy] = scan.read_scan(to_bytes(sheets, "pdf", 200), "scan.pdf", lambda _: known).copies
    assert (copy.values[YESNO], copy.values[SCALE], copy.values[TICK]) == (False, "very_happy", True)
    assert scan.FROM_PAGE_TEXT not in copy.warnings  # a scanner's image has no text of its own


@pytest.mark.parametrize("short", ["Yes", "1"])
def test_a_short_typed_answer_in_a_big_box_printed_and_scanned_goes_to_transcription(pdf_path, tmp_path, short):
    """"Yes" in the final review's notes box is 0.03 % of it: under the share that counts a box as written
    in, it was stored as empty. Its ink in all (4 mm^2; "1" 0.9 mm^2) now counts too."""
    data = fill_pdf(pdf_path.read_bytes(), {NOTES: short})
    _, fields, pages = pdf_geometry(data)
    [page] = sorted({w["page"] for d in fields if d["id"] == NOTES for w in d["widgets"]})
    flat, out = tmp_path / "flat.pdf", tmp_path / "printed.pdf"
    need_tool("qpdf")
    (tmp_path / "filled.pdf").write_bytes(data)
    subprocess.run(["qpdf", "--flatten-annotations=all", str(tmp_path / "filled.pdf"), str(flat)], check=True,
                   timeout=120)
    subprocess.run(["qpdf", "--empty", "--pages", str(flat), str(page), "--", str(out)], check=True, timeout=120)
    sheet = scan_sheet(render_page(out.read_bytes(), 1, 300), 300, Scanner(dpi=200, rotate=1.0, shift_mm=(2, -1),
                                                                            blur=0.5, noise=3, jpeg=80))
    [copy] = scan.read_scan(to_bytes([sheet], "png", 200), "scan.png", lambda _: scan.Known(fields, pages)).copies
    texts = [d["id"] for d in fields if d["kind"] in ("text", "longtext") and d["widgets"]
             and d["widgets"][0]["page"] == page]
    assert NOTES in texts and len(texts) >= 2
    assert {fid: copy.states[fid] for fid in texts} == {
        fid: scan.NEEDS_TRANSCRIPTION if fid == NOTES else "read" for fid in texts}  # the others are blank
    [mark] = [m for m in copy.marks if m.field_id == NOTES]
    assert mark.decision == "written" and mark.ink < scan.TEXT_INK_FROM
    assert NOTES in copy.crops
