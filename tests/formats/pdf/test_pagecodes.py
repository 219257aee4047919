"""Every page of a written PDF carries its QR page code and the four alignment marks.

The codes are read back from 200 dpi renderings by zxing-cpp (tests/pagecodes.py);
the payloads expected are written out here: the instance ids' base32 by hand.
"""

from __future__ import annotations

import re
import subprocess

from PIL import Image
from pypdf import PdfReader

from generator.formats.pdf.stamp import PdfStamp
from generator.model.manifest import make_manifest
from generator.model.pagecode import MARK_CENTRES_MM, MARK_SIZE_MM, QR_BOX_MM
from tests.conftest import need_tool
from tests.pagecodes import DPI, CORNER_MM, page_codes, read_codes, render_corner

BLANK = "AAAAAAAAABAABAAAAAAAAAAAAE"  # 00000000-0000-4000-8000-000000000001 (the conftest manifest)
COPY_ID = "00000000-0000-4000-8000-0000000000aa"
COPY = "AAAAAAAAABAABAAAAAAAAAAAVI"


def test_every_page_of_the_blank_shows_its_own_code(pdf_path, form, tmp_path):
    pages = len(PdfReader(pdf_path).pages)
    assert pages >= 15
    assert page_codes(pdf_path, pages, tmp_path) == [
        f"PF1|care-coordination-portfolio|{BLANK}|{n}|{form.content_version}" for n in range(1, pages + 1)]


def test_a_stamped_copy_shows_the_copy_instance_on_every_page(pdf_path, form, tmp_path):
    stamper = PdfStamp.from_pdf(pdf_path.read_bytes(), ["cover.details.name"])
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(stamper.stamp({"cover.details.name": "Ada Example"},
                                   make_manifest(form, instance_id=COPY_ID, learner={"name": "Ada Example"})))
    need_tool("qpdf")
    check = subprocess.run(["qpdf", "--check", str(copy)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    pages = len(PdfReader(copy).pages)
    assert page_codes(copy, pages, tmp_path) == [
        f"PF1|care-coordination-portfolio|{COPY}|{n}|{form.content_version}" for n in range(1, pages + 1)]
    # The update replaced the codes; the pages' own content is the blank's, byte for byte.
    assert copy.read_bytes().startswith(pdf_path.read_bytes())


def test_the_code_is_at_least_15_mm_and_inside_its_box(pdf_path, tmp_path):
    codes = read_codes(render_corner(pdf_path, 2, tmp_path))
    position = codes[0].position
    xs = [p.x for p in (position.top_left, position.top_right, position.bottom_left, position.bottom_right)]
    ys = [p.y for p in (position.top_left, position.top_right, position.bottom_left, position.bottom_right)]
    mm = 25.4 / DPI
    width, height = (max(xs) - min(xs)) * mm, (max(ys) - min(ys)) * mm
    assert 15 <= width <= 16.5 and 15 <= height <= 16.5
    left, top, size = QR_BOX_MM
    assert abs(CORNER_MM[0] + min(xs) * mm - left) < 0.6 and abs(CORNER_MM[1] + min(ys) * mm - top) < 0.6


def test_the_four_marks_are_solid_black_where_the_geometry_says(pdf_path, tmp_path):
    need_tool("pdftoppm")
    subprocess.run(["pdftoppm", "-gray", "-png", "-r", "100", "-f", "3", "-l", "3", "-singlefile",
                    str(pdf_path), str(tmp_path / "page")], check=True, timeout=120)
    page = Image.open(tmp_path / "page.png").convert("L")
    px = 100 / 25.4
    half = MARK_SIZE_MM / 2
    for x, y in MARK_CENTRES_MM:
        for dx in (-half + 0.6, 0, half - 0.6):  # inside the square, near its edges too
            for dy in (-half + 0.6, 0, half - 0.6):
                assert page.getpixel((round((x + dx) * px), round((y + dy) * px))) < 40, (x, y, dx, dy)
        for dx, dy in ((-half - 1, 0), (half + 1, 0), (0, -half - 1), (0, half + 1)):  # white around it
            assert page.getpixel((round((x + dx) * px), round((y + dy) * px))) > 215, (x, y, dx, dy)


def test_codes_are_vector_artifacts_outside_the_tagged_content(pdf_path):
    reader = PdfReader(pdf_path)
    for n, page in enumerate(reader.pages, start=1):
        content = page.get_contents().get_data()
        calls = re.findall(rb"/Artifact BMC q /(PFcode\d+) Do Q EMC", content)
        assert calls == [b"PFcode%d" % n]
        # Drawn after the page's own content, whose graphics state is saved and restored around it.
        assert content.startswith(b"q\n") and content.endswith(b"\nQ\n/Artifact BMC q /PFcode%d Do Q EMC" % n)
        code = page["/Resources"]["/XObject"][f"/PFcode{n}"]
        assert code["/Subtype"] == "/Form" and "/Resources" not in code  # paths only: no image, no font
        drawing = code.get_data()
        assert b" re" in drawing and b"Do" not in drawing and b"BI" not in drawing
