"""Synthetic scans of our own pages, for the scan reader's tests and benchmark.

A page of a built pack is rendered (PDFium), its QR code and corner marks are
drawn where ``generator.model.pagecode`` puts them (when the PDF does not carry
them already), marks are drawn with Pillow at the widgets' rectangles (ticks,
crosses, filled bubbles, faint or small ticks, stray dots, crossed-out ticks,
handwriting strokes), then the sheet is "printed and scanned": shifted, rotated,
scaled, blurred, noised, greyed and JPEG-compressed at a chosen resolution.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from generator.formats.pdf.geometry import pdf_layout
from generator.kinds import BUTTON_KINDS
from generator.model import pagecode

MM = 25.4


def pdf_geometry(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, float]]]:
    """(manifest, field definitions with ``widgets``, pages) of a built PDF."""
    return pdf_layout(data, "pack.pdf")


def has_page_codes(data: bytes) -> bool:
    """True when the PDF's pages carry their own QR codes (the print side draws them)."""
    import zxingcpp
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(data)
    try:
        image = pdf[0].render(scale=150 / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    return any(b.text.startswith(pagecode.PREFIX) for b in zxingcpp.read_barcodes(image))


def render_page(data: bytes, page: int, dpi: float = 300) -> Image.Image:
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(data)
    try:
        return pdf[page - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()


def draw_codes(sheet: Image.Image, code: pagecode.PageCode, dpi: float) -> None:
    """Draw the page code and the four corner marks on a rendered page, as the print side does."""
    import segno
    k = dpi / MM
    draw = ImageDraw.Draw(sheet)
    left, top, size = pagecode.QR_BOX_MM
    quiet = 1.5  # a code the page carries already is covered first
    draw.rectangle([(left - quiet) * k, (top - quiet) * k, (left + size + quiet) * k, (top + size + quiet) * k],
                   fill=255)
    qr = segno.make(code.encode(), error="m", micro=False)
    modules = qr.symbol_size(border=0)[0]
    module_px = size * k / modules
    for y, row in enumerate(qr.matrix_iter(border=0)):
        for x, bit in enumerate(row):
            if bit:
                x0, y0 = left * k + x * module_px, top * k + y * module_px
                draw.rectangle([x0, y0, x0 + module_px - 0.5, y0 + module_px - 0.5], fill=0)
    half = pagecode.MARK_SIZE_MM / 2
    for cx, cy in pagecode.MARK_CENTRES_MM:
        draw.rectangle([(cx - half) * k, (cy - half) * k, (cx + half) * k, (cy + half) * k], fill=0)


# ---------------------------------------------------------------- marks a person makes

MARK_STYLES = ("tick", "cross", "filled", "faint", "small", "dot", "crossed_out", "none")
#: What each style means: True ticked, False empty, None ambiguous (review is the only right answer).
MEANING = {"tick": True, "cross": True, "filled": True, "faint": None, "small": True, "dot": False,
           "crossed_out": None, "none": False}


def box_px(rect: list[float], page_height: float, k: float) -> tuple[float, float, float, float]:
    x0, x1 = sorted((rect[0], rect[2]))
    y0, y1 = sorted((rect[1], rect[3]))
    return x0 * k, (page_height - y1) * k, x1 * k, (page_height - y0) * k


def draw_mark(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], style: str, k_mm: float,
              rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + rng.uniform(-0.08, 0.08) * w, (y0 + y1) / 2 + rng.uniform(-0.08, 0.08) * h
    pen = max(2, int(0.45 * k_mm * rng.uniform(0.8, 1.2)))  # a ballpoint: about 0.45 mm
    ink = rng.randint(10, 60)
    if style == "tick":
        draw.line([(cx - 0.4 * w, cy), (cx - 0.1 * w, cy + 0.35 * h), (cx + 0.55 * w, cy - 0.6 * h)],
                  fill=ink, width=pen, joint="curve")
    elif style == "cross":
        draw.line([(cx - 0.4 * w, cy - 0.4 * h), (cx + 0.4 * w, cy + 0.4 * h)], fill=ink, width=pen)
        draw.line([(cx - 0.4 * w, cy + 0.4 * h), (cx + 0.4 * w, cy - 0.4 * h)], fill=ink, width=pen)
    elif style == "filled":
        draw.ellipse([x0 + 0.1 * w, y0 + 0.1 * h, x1 - 0.1 * w, y1 - 0.1 * h], fill=ink)
    elif style == "faint":
        draw.line([(cx - 0.3 * w, cy), (cx - 0.1 * w, cy + 0.25 * h), (cx + 0.35 * w, cy - 0.35 * h)],
                  fill=rng.randint(170, 200), width=max(1, pen // 2))
    elif style == "small":
        draw.line([(cx - 0.2 * w, cy), (cx - 0.05 * w, cy + 0.18 * h), (cx + 0.22 * w, cy - 0.22 * h)],
                  fill=ink, width=pen)
    elif style == "dot":
        r = max(1.0, 0.25 * k_mm)
        dx, dy = rng.uniform(-0.3, 0.3) * w, rng.uniform(-0.3, 0.3) * h
        draw.ellipse([cx + dx - r, cy + dy - r, cx + dx + r, cy + dy + r], fill=ink)
    elif style == "crossed_out":
        draw_mark(draw, box, "tick", k_mm, rng)
        for i in range(9):  # a scribble over the box and beyond
            t = i / 8
            draw.line([(x0 - 0.3 * w, y0 + t * h * 1.3 - 0.15 * h), (x1 + 0.3 * w, y0 + t * h * 1.3 - 0.05 * h)],
                      fill=ink, width=pen)


def draw_writing(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], k_mm: float,
                 rng: random.Random) -> None:
    """Pen strokes across a text field, like handwriting."""
    x0, y0, x1, y1 = box
    x, y = x0 + 1.5 * k_mm, (y0 + y1) / 2
    end = min(x1 - 1.5 * k_mm, x0 + 60 * k_mm)
    while x < end:
        nx = x + rng.uniform(1, 3) * k_mm
        draw.line([(x, y + rng.uniform(-1, 1) * k_mm), (nx, y + rng.uniform(-1, 1) * k_mm)], fill=30,
                  width=max(2, int(0.4 * k_mm)))
        x = nx


@dataclass
class Truth:
    """What was drawn on one page: field id -> style per option ("" for a tick box), and written text fields."""

    marks: dict[tuple[str, str], str]
    written: set[str]


def fill_sheet(sheet: Image.Image, fields: list[dict[str, Any]], page: int, page_height: float, dpi: float,
               styles: dict[tuple[str, str], str], written: set[str], seed: int = 0) -> None:
    """Draw the given mark styles and handwriting on a rendered page (at ``dpi``)."""
    rng = random.Random(seed)
    draw = ImageDraw.Draw(sheet)
    k = dpi / 72
    k_mm = dpi / MM
    for d in fields:
        for widget in d.get("widgets") or ():
            if widget["page"] != page:
                continue
            box = box_px(widget["rect"], page_height, k)
            if d["kind"] in BUTTON_KINDS:
                option = "" if d["kind"] == "checkbox" else str(widget["on"])
                style = styles.get((d["id"], option), "none")
                if style != "none":
                    draw_mark(draw, box, style, k_mm, rng)
            elif d["id"] in written:
                draw_writing(draw, box, k_mm, rng)


# ---------------------------------------------------------------- printing and scanning

@dataclass(frozen=True)
class Scanner:
    dpi: float = 200
    rotate: float = 0.0  # degrees
    shift_mm: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0  # "fit to page" printing shrinks to about 0.97
    blur: float = 0.0
    noise: float = 0.0  # standard deviation of grey levels
    jpeg: int | None = None  # quality
    grey: bool = False  # a grey photocopy: paper darker, ink lighter
    upside_down: bool = False


def scan_sheet(sheet: Image.Image, sheet_dpi: float, scanner: Scanner, seed: int = 0) -> Image.Image:
    """The page as a flatbed scanner would return it. "Fit to page" printing shrinks the page about its
    centre (``scale``); the sheet then lies on the glass turned by ``rotate`` degrees about its centre
    and moved by ``shift_mm``; the scan is the glass's A4 area, so whatever of the sheet moves past its
    edge is lost and the white lid (grey 250, 235 in a grey copy) shows where the sheet is not."""
    rng = np.random.default_rng(seed)
    k = scanner.dpi / sheet_dpi
    width, height = sheet.size
    out_w, out_h = int(round(width * k)), int(round(height * k))
    img = sheet
    if scanner.grey:
        img = img.point(lambda v: int(95 + v * 0.55))
    # scale about the centre, rotate, shift, all at once
    angle = math.radians(scanner.rotate)
    s = scanner.scale * k
    cos, sin = math.cos(angle) * s, math.sin(angle) * s
    dx = scanner.shift_mm[0] * scanner.dpi / MM
    dy = scanner.shift_mm[1] * scanner.dpi / MM
    cx, cy = width / 2, height / 2
    ox, oy = out_w / 2 + dx, out_h / 2 + dy
    # inverse map: output (u, v) -> input (x, y)
    det = cos * cos + sin * sin
    a, b = cos / det, sin / det
    c, d = -sin / det, cos / det
    coeffs = (a, b, cx - a * ox - b * oy, c, d, cy - c * ox - d * oy)
    img = img.transform((out_w, out_h), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR,
                        fillcolor=250 if not scanner.grey else 235)
    if scanner.blur:
        img = img.filter(ImageFilter.GaussianBlur(scanner.blur))
    if scanner.noise:
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0, scanner.noise, (out_h, out_w))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if scanner.upside_down:
        img = img.rotate(180)
    if scanner.jpeg:
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=scanner.jpeg)
        img = Image.open(io.BytesIO(buffer.getvalue()))
        img.load()
    return img


def to_bytes(images: list[Image.Image], fmt: str, dpi: float) -> bytes:
    """Pages as one file: "pdf" (one image per page, as scanners write), "tiff" (multi-page), "png" or "jpeg"."""
    out = io.BytesIO()
    first, rest = images[0], images[1:]
    if fmt == "pdf":
        first.save(out, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    elif fmt == "tiff":
        first.save(out, format="TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi), compression="tiff_lzw")
    elif fmt == "jpeg":
        first.convert("L").save(out, format="JPEG", quality=90, dpi=(dpi, dpi))
    else:
        first.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def sheet_for(data: bytes, manifest: dict[str, Any], page: int, dpi: float = 300,
              instance_id: str | None = None) -> Image.Image:
    """A rendered page of a built PDF with its page code and marks (drawn here when the PDF lacks them)."""
    sheet = render_page(data, page, dpi)
    code = pagecode.PageCode(manifest["pack_id"], instance_id or manifest["instance_id"], page,
                             manifest["content"]["version"])
    draw_codes(sheet, code, dpi)
    return sheet
