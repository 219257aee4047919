"""Reading scanned paper copies: known marks drawn on our own pages read back as drawn."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from generator.errors import ReadError
from generator.reading import scan
from tests.scans import Scanner, fill_sheet, pdf_geometry, scan_sheet, sheet_for, to_bytes

OTHER = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture(scope="module")
def blank(pdf_path):
    data = pdf_path.read_bytes()
    manifest, fields, pages = pdf_geometry(data)
    return data, manifest, fields, pages


def page_fields(fields, page, kinds):
    return [d for d in fields if d["kind"] in kinds and any(w["page"] == page for w in d["widgets"])]


def first_page_with(fields, kinds):
    return min(w["page"] for d in fields if d["kind"] in kinds for w in d["widgets"])


def known(blank):
    _, _, fields, pages = blank
    return scan.Known(fields, pages)


def test_ticks_crosses_and_bubbles_read_back_exactly_as_drawn(blank):
    data, manifest, fields, pages = blank
    page = first_page_with(fields, {"yesno"})
    boxes = page_fields(fields, page, {"checkbox"})
    radios = page_fields(fields, page, {"yesno", "choice"})
    texts = page_fields(fields, page, {"text", "longtext", "signature"})
    assert len(boxes) >= 3 and radios and texts
    styles = {(boxes[0]["id"], ""): "tick", (boxes[1]["id"], ""): "cross"}  # boxes[2:] left empty
    radio = radios[0]
    chosen = radio["widgets"][0]["on"]
    styles[(radio["id"], str(chosen))] = "filled"
    written = {texts[0]["id"]}
    sheet = sheet_for(data, manifest, page, 300)
    fill_sheet(sheet, fields, page, pages[page - 1]["height"], 300, styles, written, seed=3)
    image = scan_sheet(sheet, 300, Scanner(dpi=200, rotate=2.0, shift_mm=(-4, 3), scale=0.98, blur=0.5,
                                           noise=5, jpeg=75))
    result = scan.read_scan(to_bytes([image], "pdf", 200), "scan.pdf", lambda _: known(blank))
    assert result.unidentified == []
    [copy] = result.copies
    assert copy.instance_id == manifest["instance_id"]
    [info] = copy.pages
    assert info.page == page and info.reason == "" and info.residual_mm < 0.5
    assert copy.values[boxes[0]["id"]] is True and copy.states[boxes[0]["id"]] == "read"
    assert copy.values[boxes[1]["id"]] is True
    assert all(copy.values[b["id"]] is False for b in boxes[2:])
    assert copy.states[radio["id"]] == "read"
    expected = True if radio["kind"] == "yesno" and chosen == "yes" else chosen
    assert copy.values[radio["id"]] == expected
    assert copy.states[texts[0]["id"]] == scan.NEEDS_TRANSCRIPTION and texts[0]["id"] in copy.crops
    assert Image.open(io.BytesIO(copy.crops[texts[0]["id"]])).format == "PNG"
    assert all(copy.states[t["id"]] == "read" and copy.values[t["id"]] is None for t in texts[1:])
    # fields on the pages that were not scanned are missing, not empty
    elsewhere = next(d for d in fields if d["widgets"] and d["widgets"][0]["page"] != page)
    assert copy.states[elsewhere["id"]] == "missing"


@pytest.mark.parametrize("scanner", [
    Scanner(dpi=200, rotate=-2.0, shift_mm=(3, -4), scale=0.97, blur=0.5, noise=6, jpeg=50, grey=True),
    Scanner(dpi=300, rotate=1.0, shift_mm=(-2, 2), blur=1.0, noise=3, jpeg=65)], ids=["grey-jpeg50", "blurred"])
def test_hesitant_marks_go_to_review_and_clear_ones_are_read(blank, scanner):
    """A crossed-out tick and a faint tick go to review; a stray dot is no answer; a small tick is
    ticked; a filled-in bubble is chosen; a filled-in tick box (crossed out?) goes to review."""
    data, manifest, fields, pages = blank
    page = max({w["page"] for d in fields if d["kind"] == "checkbox" for w in d["widgets"]},
               key=lambda p: (len(page_fields(fields, p, {"checkbox"})), bool(page_fields(fields, p, {"yesno"}))))
    boxes = page_fields(fields, page, {"checkbox"})
    assert len(boxes) >= 6
    drawn = ["crossed_out", "faint", "dot", "small", "filled", "tick"]
    styles = {(b["id"], ""): style for b, style in zip(boxes, drawn)}
    radios = page_fields(fields, page, {"yesno", "choice"})
    if radios:
        styles[(radios[0]["id"], str(radios[0]["widgets"][-1]["on"]))] = "filled"
    sheet = sheet_for(data, manifest, page, 300)
    fill_sheet(sheet, fields, page, pages[page - 1]["height"], 300, styles, set(), seed=7)
    image = scan_sheet(sheet, 300, scanner, seed=7)
    [copy] = scan.read_scan(to_bytes([image], "png", scanner.dpi), "scan.png", lambda _: known(blank)).copies
    decided = {m.field_id: m.decision for m in copy.marks if m.option == ""}
    assert [decided[b["id"]] for b in boxes[:6]] == ["uncertain", "uncertain", "empty", "ticked", "uncertain",
                                                      "ticked"]
    assert [copy.states[b["id"]] for b in boxes[:6]] == [scan.NEEDS_REVIEW, scan.NEEDS_REVIEW, "read", "read",
                                                         scan.NEEDS_REVIEW, "read"]
    assert [copy.values[b["id"]] for b in boxes[2:4]] == [False, True]
    assert all(decided[b["id"]] == "empty" for b in boxes[6:])
    if radios:
        last = radios[0]["widgets"][-1]["on"]
        assert copy.states[radios[0]["id"]] == "read"
        assert copy.values[radios[0]["id"]] == ((last == "yes") if radios[0]["kind"] == "yesno" else last)


def test_two_marks_in_a_radio_group_and_a_faint_tick_go_to_review(blank):
    data, manifest, fields, pages = blank
    page = first_page_with(fields, {"yesno"})
    radio = page_fields(fields, page, {"yesno", "choice"})[0]
    box = page_fields(fields, page, {"checkbox"})[0]
    styles = {(radio["id"], str(w["on"])): "tick" for w in radio["widgets"]}
    styles[(box["id"], "")] = "faint"
    sheet = sheet_for(data, manifest, page, 300)
    fill_sheet(sheet, fields, page, pages[page - 1]["height"], 300, styles, set())
    image = scan_sheet(sheet, 300, Scanner(dpi=200))
    [copy] = scan.read_scan(to_bytes([image], "png", 200), "scan.png", lambda _: known(blank)).copies
    assert copy.states[radio["id"]] == scan.NEEDS_REVIEW and copy.values[radio["id"]] is None
    assert copy.states[box["id"]] == scan.NEEDS_REVIEW
    assert any("2 options marked" in w for w in copy.warnings)


def test_pages_upside_down_out_of_order_and_of_two_copies_in_one_tiff(blank):
    data, manifest, fields, pages = blank
    sheets = []
    for page, instance, upside_down in ((3, OTHER, False), (2, None, True), (1, None, False), (2, OTHER, True)):
        sheet = sheet_for(data, manifest, page, 200, instance_id=instance)
        sheets.append(scan_sheet(sheet, 200, Scanner(dpi=200, rotate=-1.0, upside_down=upside_down)))
    result = scan.read_scan(to_bytes(sheets, "tiff", 200), "stack.tif", lambda _: known(blank))
    assert result.pages == 4 and result.unidentified == []
    by_instance = {c.instance_id: [(p.index, p.page, p.reason) for p in c.pages] for c in result.copies}
    assert by_instance == {OTHER: [(4, 2, ""), (1, 3, "")], manifest["instance_id"]: [(3, 1, ""), (2, 2, "")]}


@pytest.mark.parametrize("rotate, shift, upside_down", [(3.0, (5, 5), False), (-3.0, (-5, 5), False),
                                                        (3.0, (-5, -5), True), (-3.0, (5, -5), False)])
def test_a_sheet_three_degrees_askew_and_five_mm_off_is_still_read(blank, rotate, shift, upside_down):
    """The worst the benchmark does to a sheet: the code and the marks (middles of the edges) stay on the scan."""
    data, manifest, fields, pages = blank
    page = first_page_with(fields, {"yesno"})
    sheet = sheet_for(data, manifest, page, 200)
    image = scan_sheet(sheet, 200, Scanner(dpi=200, rotate=rotate, shift_mm=shift, upside_down=upside_down))
    result = scan.read_scan(to_bytes([image], "png", 200), "askew.png", lambda _: known(blank))
    assert result.unidentified == []
    [copy] = result.copies
    [info] = copy.pages
    assert (info.page, info.reason) == (page, "") and info.residual_mm < 0.5


@pytest.mark.parametrize("covered, reason", [((0, 1), ""), ((0, 1, 3), ""), ((0, 1, 2), "only the alignment mark"),
                                             ((0, 1, 2, 3), "no alignment mark was found")])
def test_alignment_uses_whichever_marks_survive(blank, covered, reason):
    """Marks covered (a sticker, a punched hole): the rest and the code's corners still align the page,
    one far mark being enough; with only the mark beside the code, or none, left the page is kept,
    unread, with the reason."""
    from PIL import ImageDraw

    from generator.model.pagecode import MARK_CENTRES_MM
    data, manifest, fields, pages = blank
    page = first_page_with(fields, {"yesno"})
    sheet = sheet_for(data, manifest, page, 200)
    draw, k = ImageDraw.Draw(sheet), 200 / 25.4
    for i in covered:
        x, y = MARK_CENTRES_MM[i]
        draw.rectangle([(x - 4) * k, (y - 4) * k, (x + 4) * k, (y + 4) * k], fill=255)
    image = scan_sheet(sheet, 200, Scanner(dpi=200, rotate=1.5, shift_mm=(2, -3), scale=0.98))
    [copy] = scan.read_scan(to_bytes([image], "png", 200), "covered.png", lambda _: known(blank)).copies
    [info] = copy.pages
    assert info.reason.startswith(reason) if reason else info.reason == ""
    if not reason:
        assert info.residual_mm < 0.5


def test_unknown_instances_and_pages_without_our_code_are_kept_as_unidentified(blank):
    import segno
    data, manifest, fields, pages = blank
    ours = scan_sheet(sheet_for(data, manifest, 1, 200, instance_id=OTHER), 200, Scanner(dpi=200))
    plain = Image.new("L", (1654, 2339), 250)
    foreign = plain.copy()
    png = io.BytesIO()
    segno.make("https://example.org/not-ours", error="m").save(png, kind="png", scale=8)
    foreign.paste(Image.open(png).convert("L"), (1300, 100))
    result = scan.read_scan(to_bytes([ours, plain, foreign], "pdf", 200), "mixed.pdf",
                            lambda i: known(blank) if i == manifest["instance_id"] else None)
    assert result.copies == []
    reasons = [(p.index, p.reason) for p in result.unidentified]
    assert reasons[0][0] == 1 and f"instance {OTHER}" in reasons[0][1] and "register the cohort first" in reasons[0][1]
    assert reasons[1] == (2, "no QR code of this tool was found on the page")
    assert reasons[2][0] == 3 and "another tool's QR code" in reasons[2][1]
    assert all(Image.open(io.BytesIO(p.image)).format == "PNG" for p in result.unidentified)


@pytest.mark.parametrize("size", [(1654, 2000), (1654, 300), (400, 2339)])
def test_a_sheet_cut_off_where_the_code_is_printed_is_kept_as_unidentified(size):
    # an A4 page at 200 dpi with its foot (or all but a strip, or its sides) cut off by the scanner:
    # where the code is looked for first lies outside the image; that page is not a damaged file
    result = scan.read_scan(to_bytes([Image.new("L", size, 250)], "png", 200), "cut.png", lambda _: None)
    assert result.copies == []
    assert [(p.index, p.reason) for p in result.unidentified] == [(1, "no QR code of this tool was found on the page")]


def test_a_low_resolution_page_that_fails_asks_for_a_better_scan(blank):
    plain = Image.new("L", (1240, 1754), 250)  # A4 at 150 dpi, no code
    result = scan.read_scan(to_bytes([plain], "png", 150), "low.png", lambda _: None)
    assert result.unidentified[0].reason.endswith("(scanned at 150 dpi: scan again at 200 or 300 dpi)")


def test_a_huge_image_is_refused_before_it_is_decoded():
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000), 1).save(out, format="PNG")
    with pytest.raises(ReadError) as caught:
        scan.read_scan(out.getvalue(), "huge.png", lambda _: None)
    assert "10,000 x 10,000 pixels" in caught.value.reason and caught.value.code == "E-READ-LIMIT"


def test_a_tiff_of_a_thousand_pages_is_refused():
    out = io.BytesIO()
    frames = [Image.new("L", (8, 8), 255) for _ in range(1000)]
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(ReadError) as caught:
        scan.read_scan(out.getvalue(), "stack.tif", lambda _: None)
    assert caught.value.reason == (f"has 1,000 pages; the limit is {scan.MAX_PAGES} pages per scanned file: "
                                   "split the scan into smaller files")


def test_a_truncated_jpeg_is_refused_with_its_reason():
    out = io.BytesIO()
    Image.new("L", (800, 1100), 200).save(out, format="JPEG", quality=90)
    with pytest.raises(ReadError) as caught:
        scan.read_scan(out.getvalue()[: len(out.getvalue()) // 2], "cut.jpg", lambda _: None)
    assert caught.value.reason.startswith("is a truncated image and cannot be read")
    assert "\n" not in caught.value.reason



def photo_of_a_screen(sheet: Image.Image, seed: int) -> Image.Image:
    """A phone's photo of a page shown on a monitor: the page small inside a dark bezel, seen at an
    angle (perspective), a blue cast, lifted blacks, the screen's pixel grid as moiré, and noise."""
    import numpy as np
    rng = np.random.default_rng(seed)
    page = np.asarray(sheet.convert("L").resize((sheet.width * 2 // 5, sheet.height * 2 // 5)), dtype=np.float64)
    h, w = page.shape
    photo = np.full((int(h * 1.5), int(w * 1.6)), 18.0)  # the dark room and the monitor's frame
    top, left = (photo.shape[0] - h) // 2, (photo.shape[1] - w) // 2
    yy, xx = np.mgrid[0:h, 0:w]
    moire = 14 * np.sin(xx * 0.9 + yy * 0.23) * np.sin(yy * 0.87)  # the pixel grid beating with the camera's
    photo[top:top + h, left:left + w] = 40 + 0.7 * page + moire
    photo += rng.normal(0, 6, photo.shape)
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    skew = 0.04 * (1 if seed % 2 else -1)
    image = image.transform(image.size, Image.Transform.PERSPECTIVE,
                            (1, skew, -skew * image.height / 2, 0.02, 1, -10, 0.00004, 0.00002), Image.Resampling.BICUBIC,
                            fillcolor=18)
    return Image.merge("RGB", [image.point(lambda v: v * 0.85), image.point(lambda v: v * 0.95), image]).convert("L")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_photo_of_a_screen_is_refused_or_read_without_a_guess(blank, seed):
    data, manifest, fields, pages = blank
    page = first_page_with(fields, {"checkbox"})
    sheet = sheet_for(data, manifest, page, 200)  # nothing ticked on it
    photo = photo_of_a_screen(sheet, seed)
    result = scan.read_scan(to_bytes([photo], "jpeg", 200), "photo.jpg",
                            lambda i: known(blank) if i == manifest["instance_id"] else None)
    assert result.pages == 1 and len(result.copies) + len(result.unidentified) == 1
    for page_info in result.unidentified:  # kept, with one line saying why
        assert page_info.reason and "\n" not in page_info.reason
    for copy in result.copies:  # read: then no box of this blank page may come back ticked
        assert [m for m in copy.marks if m.decision == "ticked"] == []
