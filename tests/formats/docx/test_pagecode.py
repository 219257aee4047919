"""The Word pack carries its page code (page 0: Word decides its page breaks) in every header.

The picture is read back by zxing-cpp, straight from the media part and from a
LibreOffice rendering of the document; payloads expected are written out here.
"""

from __future__ import annotations

import io
import subprocess
import zipfile

from lxml import etree
from PIL import Image

from generator.formats.docx.stamp import DocxStamp
from generator.model.manifest import make_manifest
from tests.conftest import need_tool
from tests.pagecodes import WORD_CORNER_MM, page_codes, read_codes

BLANK = "AAAAAAAAABAABAAAAAAAAAAAAE"  # 00000000-0000-4000-8000-000000000001 (the conftest manifest)
COPY_ID = "00000000-0000-4000-8000-0000000000aa"
COPY = "AAAAAAAAABAABAAAAAAAAAAAVI"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
EMU_PER_MM = 36000


def _picture_code(docx: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        codes = read_codes(Image.open(io.BytesIO(archive.read("word/media/pagecode.png"))).convert("L"))
    assert len(codes) == 1
    return codes[0].text


def test_every_header_shows_the_code_with_alt_text_at_the_pdf_place(docx_path):
    with zipfile.ZipFile(docx_path) as archive:
        headers = [n for n in archive.namelist() if n.startswith("word/header")]
        assert len(headers) >= 10
        for name in headers:
            root = etree.fromstring(archive.read(name))
            anchors = list(root.iter(f"{WP}anchor"))
            assert len(anchors) == 1, name
            anchor = anchors[0]
            assert anchor.find(f"{WP}docPr").get("descr").startswith("Page code: a QR code")
            h, v = anchor.find(f"{WP}positionH"), anchor.find(f"{WP}positionV")
            assert h.get("relativeFrom") == v.get("relativeFrom") == "page"
            # The symbol at 188 mm, 4 mm (its 4-module quiet zone of 16/37 mm modules around it).
            quiet = 4 * 16 / 37
            assert abs(int(h.findtext(f"{WP}posOffset")) / EMU_PER_MM - (188 - quiet)) < 0.01
            assert abs(int(v.findtext(f"{WP}posOffset")) / EMU_PER_MM - (4 - quiet)) < 0.01
            assert abs(int(anchor.find(f"{WP}extent").get("cx")) / EMU_PER_MM - (16 + 2 * quiet)) < 0.01
            rels = etree.fromstring(archive.read(name.replace("word/", "word/_rels/") + ".rels"))
            assert "media/pagecode.png" in [r.get("Target") for r in rels]


def test_the_picture_holds_page_0_of_the_blank(docx_path, form):
    assert _picture_code(docx_path.read_bytes()) == \
        f"PF1|care-coordination-portfolio|{BLANK}|0|{form.content_version}"


def test_a_stamped_copy_shows_its_own_instance(docx_path, form):
    stamper = DocxStamp(docx_path.read_bytes(), ["cover.details.name"])
    copy = stamper.stamp({"cover.details.name": "Ada Example"},
                         make_manifest(form, instance_id=COPY_ID, learner={"name": "Ada Example"}))
    assert _picture_code(copy) == f"PF1|care-coordination-portfolio|{COPY}|0|{form.content_version}"


def test_libreoffice_prints_the_code_on_every_page(docx_path, form, tmp_path):
    need_tool("soffice", "pdftoppm")
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(docx_path)], capture_output=True, text=True, timeout=300)
    printed = tmp_path / (docx_path.stem + ".pdf")
    assert printed.exists(), result.stdout + result.stderr
    expected = f"PF1|care-coordination-portfolio|{BLANK}|0|{form.content_version}"
    assert page_codes(printed, 4, tmp_path, WORD_CORNER_MM) == [expected] * 4  # the cover (first-page header) and on
