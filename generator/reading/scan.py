"""Read scanned paper copies: find each page's code, align it, read its marks.

In: the bytes of a scan (a multi-page PDF as scanners write it, PNG, JPEG or
TIFF) and ``lookup``, which says for an instance id what the store knows of it
(its field definitions with their widget rectangles, its pack facts), or None.
Out: a ``ScanRead``: one ``ScanCopy`` per copy (instance id) found in the file,
with its pages (QR code, alignment residual), every tick box's and radio
bubble's ink ratio and decision, and an image crop of every text field; and
every page that could not be identified, with its image and a one-line reason.

Pages may come in any order, upside down, several copies to a file, some
missing. A page is identified by its QR code (``generator.model.pagecode``),
then aligned to its layout by the four corner marks (a homography, with the QR
code's corners as four more points, so the residual in millimetres says how
well the page fits). Marks are read by the ink inside each button's widget
rectangle against the paper around that button in the same scan (so a grey
photocopy or uneven light does not shift the threshold); the layout draws
nothing inside a widget's rectangle, so a blank box reads as no ink. A mark
is ticked, empty or uncertain; an uncertain mark, or two marks in one radio
group, is left for a person (``needs review``), never guessed. Handwriting is
not transcribed: each text field's region is kept as a PNG crop and the field
marked ``needs transcription``, unless the region holds no ink at all.

Bad input costs bounded time and memory: pages over ``MAX_PIXELS`` and files
over ``MAX_PAGES`` pages are refused before they are decoded; a truncated image
is refused with its reason. Ingest runs this inside ``generator.reading.sandbox``'s
child-process limits.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from generator.errors import PageCodeError, ReadError
from generator.kinds import BUTTON_KINDS
from generator.model import pagecode
from generator.model.values import coerce

#: Pixels per millimetre of the aligned page every mark is read on (about 203 dpi).
PX_PER_MM = 8.0
#: Largest page image decoded, in pixels (A4 at 600 dpi is 35 million).
MAX_PIXELS = 40_000_000
#: Most pages one scanned file may hold.
MAX_PAGES = 200
#: Below this resolution QR codes and marks are read unreliably: failures then ask for a better scan.
LOW_DPI = 180.0
#: Alignment residual (RMS over the marks and QR corners, millimetres) above which a page is refused.
MAX_RESIDUAL_MM = 1.5
#: How a button's ink is measured: each pixel's darkness relative to the page's own contrast, 0 at the
#: paper around the box, 1 at the black of the page's alignment marks (so a grey photocopy, a dark
#: scan or uneven light moves both ends together). A pixel is pen ink from INK_FROM on.
INK_FROM = 0.45
#: Below this share of pen ink inside a box there is no pen mark (a noisy blank box has none at all).
NO_INK_BELOW = 0.003
#: A box with no pen ink but this much faint grey (smoothed over 3 x 3 pixels, from FAINT_LEVEL on:
#: a pencil tick, a light photocopy of one) goes to review.
FAINT_LEVEL = 0.06
FAINT_FROM = 0.06
#: A stray dot: its pen ink spans at most this many millimetres and its darkness in all stays under
#: DOT_MASS_BELOW; it is no answer (a tick or a cross spans 1.8 mm or more).
DOT_SPAN_MM = 1.0
DOT_MASS_BELOW = 0.06
#: A tick or a cross: at least this share of pen ink and this mean darkness (a small tick has 0.12).
TICKED_FROM = 0.06
TICK_MASS_FROM = 0.09
#: A tick or a cross covers well under half of a box's inside; more ink than this is a scribble.
TICK_UP_TO = 0.45
#: Rows (or columns) of the box's inside that are mostly ink: none in a tick or a cross. A share of
#: them from SCRIBBLE_FROM on is a scribble (a tick crossed out) or a box filled in: a radio bubble
#: filled in (FILLED_FROM of its inside ink, nearly every row full) is chosen; a tick box filled in
#: may be a crossed-out tick, so it goes to review, as does any heavy mark spilling outside its box.
SCRIBBLE_FROM = 0.12
FILLED_FROM = 0.88
SPILL_UNCERTAIN = 0.30
#: A round dot in the middle of a radio bubble is chosen too: the dot a printed copy shows for its chosen
#: option (the PDF's own drawing, 54 % of the box across: 60-70 % of the inside is ink, so it is neither a
#: tick nor a bubble filled in), or a bubble filled in short of its edge. Its core (the middle of the
#: inside, within 0.6 of its half-width of the centre) is solid ink and the inside's corners (outside the
#: circle the inside holds) nearly blank; a scribble or a crossed-out tick covers both in part.
DOT_CORE_FROM = 0.95
DOT_CORNERS_UP_TO = 0.20
#: Share of a text field's region that must be ink for it to count as written in, or else this much ink in
#: all (square millimetres, specks left out): a short answer in a big box is written in too ("Yes" typed at
#: 9 pt in a notes box is 0.03 % of it, 4 mm^2; "1" 0.9 mm^2; a blank box of the tests' scans 0).
TEXT_INK_FROM = 0.004
TEXT_INK_MM2_FROM = 0.5
PT_PER_MM = 72 / 25.4

SCAN_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

NEEDS_TRANSCRIPTION = "needs transcription"
NEEDS_REVIEW = "needs review"
#: The warning on a copy any of whose answers was read from its pages' own text (a copy filled on screen,
#: then printed to PDF or flattened): not from its form fields, and what the print left out of a long
#: answer is not in it.
FROM_PAGE_TEXT = "read from the text of a printed or flattened copy: check it against the original"


# ---------------------------------------------------------------- results

@dataclass
class PageInfo:
    index: int  # 1-based position in the file
    instance_id: str | None = None
    page: int | None = None  # the page number on its QR code (0: a Word page, page unknown)
    pack_id: str | None = None
    content_version: str | None = None
    dpi: float | None = None
    residual_mm: float | None = None
    reason: str = ""  # why the page could not be identified or aligned ("" when it was)
    image: bytes | None = field(default=None, repr=False)  # PNG of the page, kept when it is not read


@dataclass
class Mark:
    field_id: str
    option: str  # the option's value for a radio bubble, "" for a tick box or a text field
    page: int
    ink: float
    decision: str  # ticked, empty, uncertain, written, blank


@dataclass
class ScanCopy:
    instance_id: str
    pages: list[PageInfo] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # field id -> value (None: empty)
    states: dict[str, str] = field(default_factory=dict)  # field id -> read, missing, needs review/transcription
    marks: list[Mark] = field(default_factory=list)
    crops: dict[str, bytes] = field(default_factory=dict, repr=False)  # text field id -> PNG of its region
    warnings: list[str] = field(default_factory=list)


@dataclass
class ScanRead:
    copies: list[ScanCopy] = field(default_factory=list)
    unidentified: list[PageInfo] = field(default_factory=list)
    pages: int = 0
    scanned: int = 0  # pages that were a scanner's images (the rest were drawn from a PDF's own content)


@dataclass(frozen=True)
class Known:
    """What the store knows of an instance: its field definitions (with ``widgets``) and its pages."""

    fields: list[dict[str, Any]]
    pages: list[dict[str, float]]  # [{"width": pt, "height": pt}], 1-based page n at index n-1


Lookup = Callable[[str], "Known | None"]


# ---------------------------------------------------------------- loading pages

def is_scan_name(name: str) -> bool:
    return name.lower().endswith(SCAN_SUFFIXES)


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


@dataclass
class Loaded:
    index: int
    image: Any  # numpy uint8 grey
    dpi: float | None
    scanned: bool = True  # a scanner's image (False: a page drawn from a PDF's own content)
    text: Callable[[list[float]], str] | None = None  # the page's own text inside a rectangle (points)


def _too_big(name: str, index: int, width: int, height: int) -> ReadError:
    return ReadError(name, f"page {index} is {width:,} x {height:,} pixels ({width * height / 1e6:.0f} million); "
                           f"the limit is {MAX_PIXELS / 1e6:.0f} million per page: scan at 200-300 dpi",
                     "E-READ-LIMIT")


def _too_many(name: str, count: int) -> ReadError:
    return ReadError(name, f"has {count:,} pages; the limit is {MAX_PAGES} pages per scanned file: "
                           "split the scan into smaller files", "E-READ-LIMIT")


def _image_pages(data: bytes, name: str) -> Iterator[Loaded]:
    from PIL import ImageFile
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES  # WeasyPrint switches it on for the whole process
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield from _decoded_pages(data, name)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated


def _decoded_pages(data: bytes, name: str) -> Iterator[Loaded]:
    import numpy as np
    from PIL import Image, ImageOps
    try:
        with warnings.catch_warnings():  # the size is checked here, below, before anything is decoded
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
        with opened as image:
            frames = getattr(image, "n_frames", 1)
            if frames > MAX_PAGES:
                raise _too_many(name, frames)
            for n in range(frames):
                image.seek(n)
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _too_big(name, n + 1, width, height)
                dpi = image.info.get("dpi")
                page = image.convert("L")
                if image.format == "JPEG":
                    page = ImageOps.exif_transpose(page)
                resolution = None
                if dpi and dpi[0] and float(dpi[0]) > 30:
                    resolution = float(dpi[0])
                if resolution is None:  # no resolution recorded: take the page as A4
                    resolution = 25.4 * max(page.size) / pagecode.PAGE_SIZE_MM[1]
                yield Loaded(n + 1, np.asarray(page), resolution)
    except ReadError:
        raise
    except Image.DecompressionBombError:
        raise ReadError(name, f"is over the limit of {MAX_PIXELS / 1e6:.0f} million pixels per page: "
                              "scan at 200-300 dpi", "E-READ-LIMIT") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        what = "truncated" if "truncated" in str(exc).lower() else "damaged"
        raise ReadError(name, f"is a {what} image and cannot be read ({str(exc)[:80]}); scan the pages again",
                        "E-READ-DAMAGED") from None


def _pdf_pages(data: bytes, name: str) -> Iterator[Loaded]:
    import numpy as np
    import pypdfium2 as pdfium
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReadError(name, f"is damaged and cannot be read as a PDF ({exc})", "E-READ-DAMAGED") from None
    try:
        count = len(pdf)
        if count > MAX_PAGES:
            raise _too_many(name, count)
        for n in range(count):
            page = pdf[n]
            width_pt, height_pt = page.get_size()
            dpi = 200.0
            images = list(page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2))
            if images:
                px_w, px_h = images[0].get_px_size()
                if px_w * px_h > MAX_PIXELS:
                    raise _too_big(name, n + 1, px_w, px_h)
                left, bottom, right, top = images[0].get_bounds()
                if right - left > 0:
                    dpi = max(72.0, min(300.0, px_w / ((right - left) / 72)))
            if len(images) == 1 and dpi >= LOW_DPI * 0.7:
                array = _page_image(images[0], width_pt, height_pt)
                if array is not None:  # a scanner's page: one upright image covering the page, taken as it is
                    yield Loaded(n + 1, array, dpi)
                    continue
            scale = dpi / 72
            if width_pt * height_pt * scale * scale > MAX_PIXELS:
                raise _too_big(name, n + 1, int(width_pt * scale), int(height_pt * scale))
            bitmap = page.render(scale=scale, grayscale=True)
            array = np.array(bitmap.to_pil().convert("L"))
            yield Loaded(n + 1, array, dpi, scanned=False, text=_page_text(page.get_textpage()))
    finally:
        pdf.close()


def _page_text(textpage: Any) -> Callable[[list[float]], str]:
    """The page's own text in a field's box (a rectangle in points), as a function of the box.

    The page's characters, in its reading order, fall into runs: one line of one answer's drawing (the
    characters of one text object, each starting no further left than the one before and at most 1.5
    times the font's height to its right, and on into a text object starting just where the last
    character ended, as a printer draws a letter from another subset of the font: "Zoë " "Ł"
    "ukasiewicz"; a space that follows neither ends the run and starts none). A run is the field's
    whose box holds the centre of its first character, and is taken whole: an answer too wide for its
    box, which its drawing clips at the box's edge, is read whole, and its clipped end, lying under
    the next box, is not read into the next answer. Runs are joined with a space and white space is
    collapsed."""
    import ctypes

    import pypdfium2.raw as raw
    chars: list[tuple[str, int]] = []  # each character, and its run
    starts: list[tuple[float, float]] = []  # the centre of each run's first character
    tail: tuple[int | None, float, float, float] | None = None  # the run's last character: object, origin, end
    x, y = ctypes.c_double(), ctypes.c_double()
    for i in range(textpage.count_chars()):
        ch = chr(raw.FPDFText_GetUnicode(textpage.raw, i) or 32)
        raw.FPDFText_GetCharOrigin(textpage.raw, i, x, y)
        obj = ctypes.cast(raw.FPDFText_GetTextObject(textpage.raw, i), ctypes.c_void_p).value
        _, low, end, high = textpage.get_charbox(i, loose=True)  # to the character's advance, the font's height
        size = max(high - low, 1.0)
        follows = tail is not None and (
            (obj == tail[0] and -0.1 * size <= x.value - tail[1] <= 1.5 * size)
            or (abs(x.value - tail[3]) <= 0.02 * size and abs(y.value - tail[2]) <= 0.02 * size))
        if not ch.strip():
            ch = " "  # white space (with the spaces and line breaks pdfium puts between drawings) starts no run
        elif not follows:
            left, bottom, right, top = textpage.get_charbox(i)
            starts.append(((left + right) / 2, (bottom + top) / 2))
            follows = True
        tail = (obj, x.value, y.value, end) if follows else None
        chars.append((ch, len(starts) - 1))

    def text(rect: list[float]) -> str:
        x0, x1 = sorted((rect[0], rect[2]))
        y0, y1 = sorted((rect[1], rect[3]))
        runs = {n for n, (cx, cy) in enumerate(starts) if x0 <= cx <= x1 and y0 <= cy <= y1}
        out: list[str] = []
        previous: int | None = None
        for ch, run in chars:
            if run in runs:
                if run != previous:
                    out.append(" ")  # runs are words apart, even with no space between them on the page
                out.append(ch)
                previous = run
        return " ".join("".join(out).split())

    return text


def _page_image(image: Any, width_pt: float, height_pt: float) -> Any | None:
    """The pixels of an image placed upright over the whole page, or None (then the page is rendered)."""
    import numpy as np
    matrix = image.get_matrix()
    a, b, c, d, e, f = (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
        return None
    if abs(a - width_pt) > 2 or abs(d - height_pt) > 2 or abs(e) > 2 or abs(f) > 2:
        return None
    bitmap = image.get_bitmap(render=False)
    pil = bitmap.to_pil()
    if pil.mode not in ("L", "RGB", "RGBA", "1", "P", "CMYK", "I;16"):
        return None
    return np.asarray(pil.convert("L"))


def load_pages(data: bytes, name: str) -> Iterator[Loaded]:
    """The pages of a scan as grey images, one at a time (ReadError past the limits)."""
    if data.startswith(b"%PDF"):
        yield from _pdf_pages(data, name)
    elif sniff_image(data):
        yield from _image_pages(data, name)
    else:
        raise ReadError(name, "is not a PDF, PNG, JPEG or TIFF scan")


# ---------------------------------------------------------------- the page code

@dataclass
class Found:
    code: pagecode.PageCode | None
    corners: Any  # 4x2 float: the symbol's top-left, top-right, bottom-right, bottom-left in image pixels
    reason: str = ""


def _barcodes(image: Any) -> list[tuple[Any, float]]:
    """QR codes in ``image`` with the scale their positions are in: as scanned first; then, for a
    blurred, grey or small code, with the contrast stretched and enlarged twice."""
    import cv2
    import zxingcpp
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if found:
        return [(b, 1.0) for b in found]
    stretched = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX)
    bigger = cv2.resize(stretched, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
        found = zxingcpp.read_barcodes(bigger, formats=zxingcpp.BarcodeFormat.QRCode, binarizer=binarizer)
        if found:
            return [(b, 0.5) for b in found]
    return []


def _code_regions(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Where to look for the page code first (y, x, height, width in pixels): around its printed
    place at the foot of the page (``pagecode.QR_BOX_MM``), as far as a turned and shifted sheet
    can move it; then the same place on a page upside down (the middle of the head)."""
    left, top, size = pagecode.QR_BOX_MM
    page_w, page_h = pagecode.PAGE_SIZE_MM
    k = max(height / page_h, width / page_w)  # pixels per millimetre
    reach = 14.0  # mm: 5 mm of shift, up to 8 mm along the edge from a 3-degree turn, and the quiet zone
    x0, x1 = int((left - reach) * k), int((left + size + reach) * k)
    y0 = int((top - reach) * k)
    regions = [(y0, x0, height - y0, x1 - x0)]
    regions.append((0, width - x1, height - y0, x1 - x0))  # turned by 180 degrees
    return [(max(0, y), max(0, x), h, w) for y, x, h, w in regions]


def find_code(image: Any) -> Found:
    """The page code on a page: looked for where it is printed (upright or upside down), then on
    the whole page."""
    import numpy as np
    height, width = image.shape
    others = ""
    regions = _code_regions(height, width)
    for attempt in (regions, [(0, 0, height, width)]):
        for y, x, rh, rw in attempt:
            region = image[y:y + rh, x:x + rw]
            if region.shape[0] < 1 or region.shape[1] < 1:  # the sheet is cut off before that place
                continue
            for barcode, k in _barcodes(np.ascontiguousarray(region)):
                try:
                    code = pagecode.decode(barcode.text)
                except PageCodeError as exc:
                    others = str(exc)
                    continue
                p = barcode.position
                corners = np.array([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                                    [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]],
                                   dtype=np.float64) * k + (x, y)
                return Found(code, corners)
    return Found(None, None, others or "no QR code of this tool was found on the page")


# ---------------------------------------------------------------- alignment

def _qr_mm() -> Any:
    import numpy as np
    left, top, size = pagecode.QR_BOX_MM
    return np.array([[left, top], [left + size, top], [left + size, top + size], [left, top + size]], float)


def _mark_centre(image: Any, guess: Any, px_per_mm: float) -> Any | None:
    """The centre of the solid square mark nearest ``guess`` (pixels), or None."""
    import cv2
    import numpy as np
    height, width = image.shape
    side = pagecode.MARK_SIZE_MM * px_per_mm
    reach = int(8 * px_per_mm)  # the estimate from the QR code (and the marks found) is within 2 mm
    x0, y0 = int(max(0, guess[0] - reach)), int(max(0, guess[1] - reach))
    x1, y1 = int(min(width, guess[0] + reach)), int(min(height, guess[1] + reach))
    if x1 - x0 < side or y1 - y0 < side:
        return None
    window = image[y0:y1, x0:x1]
    paper = level(window, 0.9)
    dark = (window < paper * 0.5).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(dark, connectivity=8)
    best, best_score = None, None
    for n in range(1, count):
        area = stats[n, cv2.CC_STAT_AREA]
        w, h = stats[n, cv2.CC_STAT_WIDTH], stats[n, cv2.CC_STAT_HEIGHT]
        if not (0.5 * side * side <= area <= 1.8 * side * side and 0.6 * side <= w <= 1.6 * side
                and 0.6 * side <= h <= 1.6 * side and area >= 0.7 * w * h):
            continue
        centre = centroids[n] + (x0, y0)
        score = float(np.hypot(*(centre - guess)))
        if best_score is None or score < best_score:
            best, best_score = centre, score
    return best


@dataclass
class Alignment:
    matrix: Any  # 3x3: page millimetres -> image pixels
    residual_mm: float
    marks: int = 4  # alignment marks found (the QR code's corners are always used)
    black: float = 0.0  # grey level of the marks' middles: the page's black


def _fit(src: Any, dst: Any, model: str) -> Any:
    """Least-squares fit of ``src`` (mm) to ``dst`` (pixels) as a 3x3 matrix: ``similarity``
    (turn, scale, shift), ``affine`` or ``homography``."""
    import cv2
    import numpy as np
    n = len(src)
    if model == "homography":
        matrix, _ = cv2.findHomography(src, dst, 0)
        return matrix
    if model == "affine":
        a = np.zeros((2 * n, 6))
        a[0::2, 0:2], a[0::2, 2] = src, 1
        a[1::2, 3:5], a[1::2, 5] = src, 1
        p = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)[0]
        return np.array([[p[0], p[1], p[2]], [p[3], p[4], p[5]], [0, 0, 1.0]])
    a = np.zeros((2 * n, 4))
    a[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    a[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    c, s, tx, ty = np.linalg.lstsq(a, dst.reshape(-1), rcond=None)[0]
    return np.array([[c, -s, tx], [s, c, ty], [0, 0, 1.0]])


def _project(matrix: Any, points: Any) -> Any:
    import cv2
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(float), matrix).reshape(-1, 2)


#: The model fitted for the number of alignment marks found (with the QR code's four corners): three
#: or four marks spread over the page pin a homography (perspective too), two an affine map, one a
#: turn-scale-shift (all a flatbed scan does); every fit has more points than unknowns, so its
#: residual checks it.
_MODELS = {1: "similarity", 2: "affine", 3: "homography", 4: "homography"}
#: At least one mark found must be this far (mm) from the QR code's centre: the code's 16 mm alone
#: tells the page's turn too roughly for boxes 250 mm away.
FAR_MARK_MM = 80.0


def align(image: Any, corners: Any) -> Alignment | str:
    """The map from page millimetres to ``image`` pixels, from the QR code's corners and whichever
    alignment marks are found (at least one); a reason when none is."""
    import numpy as np
    qr_mm = _qr_mm()
    corners = np.asarray(corners, float)
    px_per_mm = float(np.linalg.norm(corners[1] - corners[0]) / pagecode.QR_BOX_MM[2])
    if not px_per_mm > 0:
        return "the QR code's position could not be measured"
    matrix = _fit(qr_mm, corners, "similarity")
    marks_mm = np.array(pagecode.MARK_CENTRES_MM, float)
    # The QR code is small: extrapolating it across the page is rough, so take the nearest mark first
    # and refine the estimate with each mark found.
    centre = qr_mm.mean(axis=0)
    order = sorted(range(len(marks_mm)), key=lambda i: float(np.hypot(*(marks_mm[i] - centre))))
    found: dict[int, Any] = {}
    for i in order:
        guess = _project(matrix, marks_mm[i])[0]
        mark = _mark_centre(image, guess, px_per_mm)
        if mark is None:
            continue
        found[i] = mark
        src = np.vstack([qr_mm, marks_mm[list(found)]])
        dst = np.vstack([corners, np.array(list(found.values()))])
        matrix = _fit(src, dst, "similarity")
    if not found:
        return "no alignment mark was found (page cut off, folded or covered?)"
    if max(float(np.hypot(*(marks_mm[i] - centre))) for i in found) < FAR_MARK_MM:
        # the code and the mark beside it are too close together to tell the turn across the whole page
        return "only the alignment mark beside the QR code was found (page cut off, folded or covered?)"

    def fitted(keep: list[int]) -> tuple[Any, float]:
        src = np.vstack([qr_mm, marks_mm[keep]])
        dst = np.vstack([corners, np.array([found[i] for i in keep])])
        m = _fit(src, dst, _MODELS[len(keep)])
        if m is None:
            return None, float("inf")
        back = _project(m, src)
        return m, float(np.sqrt(np.mean(np.sum((back - dst) ** 2, axis=1)))) / px_per_mm

    keep = sorted(found)
    matrix, residual = fitted(keep)
    if residual > MAX_RESIDUAL_MM and len(keep) > 1:
        # one mark found in the wrong place (a blot beside it): the best fit without it
        matrix, residual, keep = min((fitted([j for j in keep if j != i]) + ([j for j in keep if j != i],)
                                      for i in keep), key=lambda t: t[1])
    if matrix is None:
        return "the alignment marks do not fit a page"
    return Alignment(matrix, residual, len(keep), _black(image, [found[i] for i in keep], px_per_mm))


def _black(image: Any, centres: list[Any], px_per_mm: float) -> float:
    """The grey level of solid ink on this scan: the median of the middles (2 mm squares) of the marks."""
    import numpy as np
    half = max(1, int(px_per_mm))
    height, width = image.shape
    patches = [image[max(0, int(y) - half):min(height, int(y) + half + 1),
                     max(0, int(x) - half):min(width, int(x) + half + 1)].ravel() for x, y in centres]
    return float(np.median(np.concatenate(patches))) if patches else 0.0


def aligned_region(image: Any, alignment: Alignment, box: tuple[int, int, int, int]) -> Any:
    """The part ``box`` (aligned-page pixels, ``PX_PER_MM`` per millimetre) of the page, resampled
    onto the layout."""
    import cv2
    import numpy as np
    x0, y0, x1, y1 = box
    to_mm = np.array([[1 / PX_PER_MM, 0, x0 / PX_PER_MM], [0, 1 / PX_PER_MM, y0 / PX_PER_MM], [0, 0, 1.0]])
    return cv2.warpPerspective(image, alignment.matrix @ to_mm, (max(1, x1 - x0), max(1, y1 - y0)),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255)


class AlignedPage:
    """A scanned page seen through its alignment: ``page[y0:y1, x0:x1]`` in layout pixels."""

    def __init__(self, image: Any, alignment: Alignment):
        self.image, self.alignment = image, alignment
        self.shape = tuple(int(round(s * PX_PER_MM)) for s in reversed(pagecode.PAGE_SIZE_MM))

    def __getitem__(self, key: tuple[slice, slice]) -> Any:
        rows, cols = key
        height, width = self.shape
        y0, y1, _ = rows.indices(height)
        x0, x1, _ = cols.indices(width)
        return aligned_region(self.image, self.alignment, (x0, y0, max(x0, x1), max(y0, y1)))


def aligned_page(image: Any, alignment: Alignment) -> Any:
    """The page resampled onto the layout, ``PX_PER_MM`` pixels per millimetre."""
    import cv2
    import numpy as np
    scale = np.diag([1 / PX_PER_MM, 1 / PX_PER_MM, 1.0])  # aligned pixels -> millimetres
    width, height = (int(round(s * PX_PER_MM)) for s in pagecode.PAGE_SIZE_MM)
    return cv2.warpPerspective(image, alignment.matrix @ scale, (width, height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255)


# ---------------------------------------------------------------- reading marks and text

def _box_px(rect: list[float], page_height_pt: float) -> tuple[int, int, int, int]:
    """A widget /Rect (points, origin bottom-left) as aligned-page pixels (x0, y0, x1, y1)."""
    x0, x1 = sorted((rect[0], rect[2]))
    y0, y1 = sorted((rect[1], rect[3]))
    k = PX_PER_MM / PT_PER_MM
    return (int(round(x0 * k)), int(round((page_height_pt - y1) * k)),
            int(round(x1 * k)), int(round((page_height_pt - y0) * k)))


@dataclass(frozen=True)
class Ink:
    """What is inside one button's box (see ``ink``)."""

    share: float  # share of the inside that is pen ink (the ink ratio stored)
    mass: float  # mean darkness of the inside, 0-1
    faint: float  # share of the inside a little darker than the paper (smoothed)
    full_rows: float  # share of the inside's rows (or columns, whichever is more) mostly ink
    span_mm: float  # the larger side of the pen ink's bounding box, millimetres
    spill: float  # share of pen ink in a ring outside the box
    core: float = 0.0  # share of pen ink in the middle of the inside (see DOT_CORE_FROM)
    corners: float = 0.0  # share of pen ink in the inside's corners, outside the circle it holds


def ink(page: Any, box: tuple[int, int, int, int], black: float = 0.0) -> Ink:
    """The ink inside a button's box (aligned-page pixels), inside its printed border (the widget
    rectangle less 22 % each side), measured against the paper around the box and ``black``, the
    grey level of the page's alignment marks."""
    import cv2
    import numpy as np
    x0, y0, x1, y1 = box
    height, width = page.shape
    pad = max(6, int(2.5 * PX_PER_MM))
    ax0, ay0 = max(0, x0 - pad), max(0, y0 - pad)
    around = page[ay0:min(height, y1 + pad), ax0:min(width, x1 + pad)]
    paper = max(60.0, level(around, 0.75))
    contrast = max(paper - black, 40.0)
    dark = (paper - around.astype(np.float32)) / contrast  # 0 paper, 1 black; negative where lighter
    local = Offset(dark, ax0, ay0)
    cut = max(int(0.5 * PX_PER_MM), int(0.22 * min(x1 - x0, y1 - y0)))
    cx0, cy0, cx1, cy1 = max(0, x0 + cut), max(0, y0 + cut), max(0, x1 - cut), max(0, y1 - cut)
    inside = local[cy0:cy1, cx0:cx1]
    if inside.size == 0:
        return Ink(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    pen = inside >= INK_FROM
    share = float(np.mean(pen))
    mass = float(np.mean(np.clip(inside, 0.0, 1.0)))
    smooth = Offset(cv2.blur(dark, (3, 3)), ax0, ay0)[cy0:cy1, cx0:cx1]
    faint = float(np.mean(smooth >= FAINT_LEVEL))
    full_rows = max(float(np.mean(np.mean(pen, axis=1) >= 0.75)), float(np.mean(np.mean(pen, axis=0) >= 0.75)))
    ys, xs = np.nonzero(pen)
    span = float(max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)) / PX_PER_MM if xs.size else 0.0
    # the ring 1.2-2.2 mm outside the box (past a printed border)
    r0, r1 = int(1.2 * PX_PER_MM), int(2.2 * PX_PER_MM)
    oy, ox = max(0, y0 - r1), max(0, x0 - r1)
    outer = local[oy:min(height, y1 + r1), ox:min(width, x1 + r1)] >= INK_FROM
    mid = np.zeros_like(outer)
    mid[max(0, y0 - r0 - oy):max(0, y1 + r0 - oy), max(0, x0 - r0 - ox):max(0, x1 + r0 - ox)] = True
    ring = outer[~mid]
    spill = float(np.mean(ring)) if ring.size else 0.0
    # distance from the inside's centre, 1 at the middles of its edges
    across = [(np.arange(n) + 0.5) / n * 2 - 1 for n in pen.shape]
    radius = np.hypot(across[0][:, None], across[1][None, :])
    middle, corner = pen[radius <= 0.6], pen[radius >= 1.0]
    core = float(np.mean(middle)) if middle.size else 0.0
    corners = float(np.mean(corner)) if corner.size else 0.0
    return Ink(share, mass, faint, full_rows, span, spill, core, corners)


class Offset:
    """A region of a page indexed in page pixels."""

    def __init__(self, array: Any, x0: int, y0: int):
        self.array, self.x0, self.y0 = array, x0, y0
        self.shape = (y0 + array.shape[0], x0 + array.shape[1])

    def __getitem__(self, key: tuple[slice, slice]) -> Any:
        rows, cols = key
        return self.array[max(0, (rows.start or 0) - self.y0):max(0, rows.stop - self.y0),
                          max(0, (cols.start or 0) - self.x0):max(0, cols.stop - self.x0)]


def level(array: Any, share: float) -> float:
    """The grey level below which ``share`` of the pixels lie (a fast percentile for uint8)."""
    import numpy as np
    counts = np.bincount(array.ravel(), minlength=256).cumsum()
    if counts[-1] == 0:
        return 255.0
    return float(np.searchsorted(counts, share * counts[-1]))


def decide(kind: str, found: Ink) -> str:
    """ticked, empty or uncertain for one box's ink."""
    if found.share < NO_INK_BELOW:
        return "uncertain" if found.faint >= FAINT_FROM else "empty"  # no pen ink: faint grey goes to review
    if found.span_mm <= DOT_SPAN_MM and found.mass < DOT_MASS_BELOW:
        return "empty"  # a stray dot
    if found.full_rows >= SCRIBBLE_FROM or found.share > TICK_UP_TO:
        # a bubble filled in, or a round dot in its middle, is an answer; a tick box filled in, a scribble
        # or a blot spilling over is not clear
        if kind != "checkbox" and found.spill < SPILL_UNCERTAIN and (
                (found.share >= FILLED_FROM and found.full_rows >= 0.9)
                or (found.core >= DOT_CORE_FROM and found.corners <= DOT_CORNERS_UP_TO)):
            return "ticked"
        return "uncertain"
    if found.share >= TICKED_FROM and found.mass >= TICK_MASS_FROM:
        return "ticked"
    return "uncertain"  # a small or light mark: a person decides


def _png(array: Any) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def read_fields(page: Any, number: int, known: Known, copy: ScanCopy,
                text: Callable[[list[float]], str] | None = None, black: float = 0.0) -> None:
    """Read every field of page ``number`` of ``known`` from the aligned ``page`` into ``copy``; a text
    field's answer is taken from the page's own text (``text``) where a PDF still has it (a copy filled
    on screen, then printed to PDF without flattening the text away). ``black`` is the grey level of
    the page's alignment marks (its darkest ink)."""
    import numpy as np
    height_pt = known.pages[number - 1]["height"] if number - 1 < len(known.pages) else \
        pagecode.PAGE_SIZE_MM[1] * PT_PER_MM
    for definition in known.fields:
        widgets = [w for w in definition.get("widgets") or () if w.get("page") == number]
        if not widgets:
            continue
        fid, kind = definition["id"], definition["kind"]
        if kind in BUTTON_KINDS:
            chosen, unsure = [], False
            for widget in widgets:
                found = ink(page, _box_px(widget["rect"], height_pt), black)
                decision = decide(kind, found)
                on = widget.get("on")
                option = "" if kind == "checkbox" else str(on)
                copy.marks.append(Mark(fid, option, number, round(found.share, 4), decision))
                unsure |= decision == "uncertain"
                if decision == "ticked":
                    chosen.append(on)
            if kind == "checkbox":
                value: Any = bool(chosen) if not unsure else None
            else:
                value = chosen[0] if len(chosen) == 1 else None
                if len(chosen) > 1:
                    unsure = True
                    copy.warnings.append(f"{fid}: {len(chosen)} options marked on page {number}; left for review")
            if unsure:
                copy.states[fid] = NEEDS_REVIEW
                copy.values[fid] = None
                if len(chosen) <= 1:
                    copy.warnings.append(f"{fid}: an uncertain mark on page {number}; left for review")
            else:
                copy.states[fid] = "read"
                copy.values[fid], warning = coerce(definition, value)
                if warning:
                    copy.warnings.append(f"{fid}: {warning}")
            continue
        typed = " ".join(t for t in (text(w["rect"]) for w in widgets) if t) if text is not None else ""
        if typed:
            copy.marks.append(Mark(fid, "", number, 0.0, "typed"))
            copy.states[fid] = "read"
            copy.values[fid], warning = coerce(definition, typed)
            if warning:
                copy.warnings.append(f"{fid}: {warning}")
            continue
        boxes = [_box_px(w["rect"], height_pt) for w in widgets]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        margin = int(1.5 * PX_PER_MM)
        cx0, cy0 = max(0, x0 - margin), max(0, y0 - margin)
        crop = page[cy0:y1 + margin, cx0:x1 + margin]
        inside = crop[y0 + 3 - cy0:max(y0 + 3, y1 - 3) - cy0, x0 + 3 - cx0:max(x0 + 3, x1 - 3) - cx0]
        paper = max(60.0, level(crop, 0.75)) if crop.size else 255.0
        dark = inside < paper * 0.62
        written = float(np.mean(dark)) if inside.size else 0.0
        has_text = written >= TEXT_INK_FROM or _ink_mm2(dark) >= TEXT_INK_MM2_FROM
        copy.marks.append(Mark(fid, "", number, round(written, 4), "written" if has_text else "blank"))
        if has_text:
            copy.crops[fid] = _png(crop)
            copy.states[fid] = NEEDS_TRANSCRIPTION
            copy.values[fid] = None
        else:
            copy.states[fid] = "read"
            copy.values[fid] = None


def _ink_mm2(dark: Any) -> float:
    """Square millimetres of ink in a field's region, speckle left out: what stays of the dark pixels after
    an opening by 2 x 2 pixels (a quarter of a millimetre), which keeps every stroke of a pen or of type and
    drops the lone pixels and thin specks of a scanner's noise."""
    import cv2
    import numpy as np
    if not dark.size:
        return 0.0
    kept = cv2.morphologyEx(dark.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    return float(np.count_nonzero(kept)) / PX_PER_MM ** 2


# ---------------------------------------------------------------- the whole scan

def _low(dpi: float | None) -> str:
    if dpi is not None and dpi < LOW_DPI:
        return f" (scanned at {dpi:.0f} dpi: scan again at 200 or 300 dpi)"
    return ""


def read_scan(data: bytes, name: str, lookup: Lookup) -> ScanRead:
    """Read every page of a scan; see the module docstring. ReadError for a file past the limits."""
    import numpy as np
    result = ScanRead()
    copies: dict[str, ScanCopy] = {}
    for loaded in load_pages(data, name):
        result.pages += 1
        result.scanned += loaded.scanned
        info = PageInfo(loaded.index, dpi=round(loaded.dpi, 1) if loaded.dpi else None)
        found = find_code(loaded.image)
        if found.code is None:
            info.reason = found.reason + _low(loaded.dpi)
            info.image = _png(_thumbnail(loaded.image))
            result.unidentified.append(info)
            continue
        code = found.code
        info.instance_id, info.page = code.instance_id, code.page
        info.pack_id, info.content_version = code.pack_id, code.content_version
        known = lookup(code.instance_id)
        if known is None:
            info.reason = (f"instance {code.instance_id} (pack {code.pack_id}, page {code.page}) is not in this "
                           "store: register the cohort first (ingest --register issued.csv)")
            info.image = _png(_thumbnail(loaded.image))
            result.unidentified.append(info)
            continue
        copy = copies.setdefault(code.instance_id, ScanCopy(code.instance_id))
        if code.page == 0 or code.page > max(len(known.pages), 1):
            info.reason = "a page without a known layout (a Word page): kept for transcription"
            info.image = _png(_thumbnail(loaded.image))
            copy.pages.append(info)
            continue
        if any(p.page == code.page and not p.reason for p in copy.pages):
            info.reason = f"page {code.page} of this copy is in the file twice; the first one was read"
            info.image = _png(_thumbnail(loaded.image))
            copy.pages.append(info)
            continue
        alignment = align(loaded.image, found.corners)
        if isinstance(alignment, str) or alignment.residual_mm > MAX_RESIDUAL_MM:
            why = alignment if isinstance(alignment, str) else (
                f"the page does not fit its layout (residual {alignment.residual_mm:.2f} mm)")
            info.reason = why + _low(loaded.dpi)
            info.image = _png(_thumbnail(loaded.image))
            copy.pages.append(info)
            continue
        info.residual_mm = round(alignment.residual_mm, 3)
        read_fields(AlignedPage(loaded.image, alignment), code.page, known, copy, loaded.text, alignment.black)
        copy.pages.append(info)
    for copy in copies.values():
        known = lookup(copy.instance_id)
        assert known is not None
        if any(m.decision == "typed" for m in copy.marks):
            copy.warnings.append(FROM_PAGE_TEXT)
        for definition in known.fields:
            if definition["id"] not in copy.states:
                copy.states[definition["id"]] = "missing"
        copy.pages.sort(key=lambda p: (p.page or 0, p.index))
        result.copies.append(copy)
    return result


def _thumbnail(image: Any) -> Any:
    """A page image small enough to keep (at most about 150 dpi on A4)."""
    import cv2
    height, width = image.shape
    longest = max(height, width)
    limit = 1754
    if longest <= limit:
        return image
    k = limit / longest
    return cv2.resize(image, (max(1, int(width * k)), max(1, int(height * k))), interpolation=cv2.INTER_AREA)


def mm_to_pt(x_mm: float, y_mm: float, page_height_pt: float) -> tuple[float, float]:
    """Millimetres from the page's top-left as PDF points from its bottom-left."""
    return x_mm * PT_PER_MM, page_height_pt - y_mm * PT_PER_MM


__all__ = ["read_scan", "load_pages", "find_code", "align", "Known", "ScanRead", "ScanCopy", "PageInfo", "Mark"]
