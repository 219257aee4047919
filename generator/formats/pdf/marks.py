"""What every printed page carries for a scanner: its QR page code and four alignment marks.

In: a page's ``PageCode`` and the page's size in points. Out: the content of a
form XObject that draws, at the places ``generator.model.pagecode`` gives (mm
from the page's top-left), the QR symbol (``pagecode.symbol``: segno, level M,
vector rectangles on a white quiet zone, not an image) and the four solid
alignment squares. The writer puts one such XObject on each page (resource
``/PFcode<n>`` on page n) and invokes it as an artifact (marked content
``/Artifact``), outside the form's tagged content; the stamper replaces each
page's XObject in its incremental update, so an issued copy's pages carry the
copy's own instance id.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from generator.formats.pdf import qrfast
from generator.model.pagecode import MARK_CENTRES_MM, MARK_SIZE_MM, QR_BOX_MM, QUIET_ZONE, PageCode

#: Points per millimetre.
MM = 72 / 25.4


def xobject_name(page: int) -> str:
    """The resource name of page ``page``'s code XObject (1-based)."""
    return f"PFcode{page}"


def invocation(page: int) -> bytes:
    """Page content that draws page ``page``'s code: an artifact, in its own graphics state."""
    return b"/Artifact BMC q /%s Do Q EMC" % xobject_name(page).encode("ascii")


def _num(value: float) -> bytes:
    return b"%.3f" % value


_RUN = re.compile(rb"[^\x00]+")


def _symbol(matrix: Any, left: float, top: float, size: float) -> list[bytes]:
    """Operators drawing a QR ``matrix`` as a ``size``-point square whose top-left is at
    (``left``, ``top``): white quiet zone first, then, in module units (a transform scales
    them), one rectangle per run of dark modules in a row, filled black."""
    modules = len(matrix)
    module = size / modules
    quiet = QUIET_ZONE * module
    out = [b"1 g", b"%s %s %s %s re f" % (_num(left - quiet), _num(top - size - quiet),
                                            _num(size + 2 * quiet), _num(size + 2 * quiet)),
           b"0 g q %s 0 0 %s %s %s cm" % (_num(module), _num(-module), _num(left), _num(top))]
    for r, row in enumerate(matrix):
        for run in _RUN.finditer(bytes(row)):
            out.append(b"%d %d %d 1 re" % (run.start(), r, run.end() - run.start()))
    out.append(b"f Q")
    return out


def code_content(code: PageCode, page_height: float) -> bytes:
    """The drawing of ``code``'s QR symbol and the alignment marks on a page ``page_height`` points high."""
    left_mm, top_mm, size_mm = QR_BOX_MM
    out = _symbol(qrfast.matrix(code), left_mm * MM, page_height - top_mm * MM, size_mm * MM)
    half = MARK_SIZE_MM / 2
    for x_mm, y_mm in MARK_CENTRES_MM:
        out.append(b"%s %s %s %s re" % (_num((x_mm - half) * MM), _num(page_height - (y_mm + half) * MM),
                                        _num(MARK_SIZE_MM * MM), _num(MARK_SIZE_MM * MM)))
    out.append(b"f")
    return b"\n".join(out)


def code_xobject(code: PageCode, page_width: float, page_height: float) -> bytes:
    """The whole form XObject (dictionary and compressed stream) of ``code`` on its page."""
    packed = zlib.compress(code_content(code, page_height), 6)
    return (b"<< /Type /XObject /Subtype /Form /BBox [0 0 %s %s] /Filter /FlateDecode /Length %d >>\nstream\n"
            % (_num(page_width), _num(page_height), len(packed)) + packed + b"\nendstream")


# ---------------------------------------------------------------- the cover's return link

#: Resource name of the cover's return link slot (an empty XObject in a blank; a stamped copy draws there).
RETURN_SLOT = "PFreturn"
#: Size of the link's text, points.
RETURN_TEXT_SIZE = 9.0


def return_link_xobject(link: str, rect: tuple[float, float, float, float]) -> bytes:
    """The cover's return link slot (``rect``: page coordinates, points) drawn for one copy: a QR code
    of ``link`` as high as the slot on its left, and the link in Helvetica beside it, wrapped where
    it does not fit."""
    import segno
    from generator.formats.pdf.appearance import pdf_string, text_width
    x0, y0, x1, y1 = rect
    height = y1 - y0
    matrix = segno.make(link, error="m", boost_error=False, micro=False).matrix
    modules = len(matrix)
    side = height * modules / (modules + 2 * QUIET_ZONE)  # the symbol, its quiet zone inside the slot
    quiet = height - side
    ops = _symbol(matrix, x0 + quiet / 2, y1 - quiet / 2, side)
    left = x0 + height + 6
    room = x1 - left
    lines, line = [], ""
    for ch in link:  # a URL has no spaces: wrap at the character that does not fit
        if line and text_width(line + ch, RETURN_TEXT_SIZE) > room:
            lines.append(line)
            line = ""
        line += ch
    lines.append(line)
    leading = RETURN_TEXT_SIZE * 1.25
    top = y1 - (height - leading * (len(lines) + 1)) / 2 - RETURN_TEXT_SIZE
    ops.append(b"BT /Helv %s Tf %s TL 0 g %s %s Td" % (_num(RETURN_TEXT_SIZE), _num(leading), _num(left), _num(top)))
    ops.append(pdf_string(b"Your personal return link:") + b" Tj")
    for text in lines:
        ops.append(b"T* " + pdf_string(text.encode("latin-1", "replace")) + b" Tj")
    ops.append(b"ET")
    packed = zlib.compress(b"\n".join(ops), 6)
    return (b"<< /Type /XObject /Subtype /Form /BBox [%s %s %s %s] /Resources << /Font << /Helv << /Type /Font "
            b"/Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >> >> >> /Filter /FlateDecode "
            b"/Length %d >>\nstream\n" % (_num(x0), _num(y0), _num(x1), _num(y1), len(packed))
            + packed + b"\nendstream")
