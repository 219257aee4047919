"""Test helper: the QR page codes a PDF's pages show, read the way a scanner would.

Each page is rendered by poppler (pdftoppm) at 200 dpi in grey, cropped to the
place of the page's code (the middle of the foot; a Word page's header: its top-right corner),
and decoded by zxing-cpp, a reader independent of the
encoder (segno) the writer uses.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import zxingcpp
from PIL import Image

from tests.conftest import need_tool

DPI = 200
#: The crop read, mm from the top-left: (left, top, width, height); the QR box and its quiet zone.
CORNER_MM = (90.0, 268.0, 26.0, 28.0)
#: The same on a page of a Word document (its header's code, ``pagecode.WORD_QR_BOX_MM``).
WORD_CORNER_MM = (176.0, 0.0, 34.0, 30.0)


def _px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def render_corner(pdf: Path, page: int, folder: Path, corner: tuple[float, ...] = CORNER_MM) -> Image.Image:
    need_tool("pdftoppm")
    left, top, width, height = corner
    stem = folder / f"corner-{pdf.stem}-{page}"
    subprocess.run(["pdftoppm", "-gray", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page),
                    "-x", str(_px(left)), "-y", str(_px(top)), "-W", str(_px(width)), "-H", str(_px(height)),
                    "-singlefile", str(pdf), str(stem)], check=True, capture_output=True, timeout=120)
    return Image.open(f"{stem}.png").convert("L")


def read_codes(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def page_codes(pdf: Path, pages: int, folder: Path, corner: tuple[float, ...] = CORNER_MM) -> list[str]:
    """The text of the one QR code at the code's place (``corner``) of each of the first ``pages`` pages."""
    out = []
    for page in range(1, pages + 1):
        codes = read_codes(render_corner(pdf, page, folder, corner))
        assert len(codes) == 1, f"page {page}: {len(codes)} QR codes read"
        out.append(codes[0].text)
    return out
