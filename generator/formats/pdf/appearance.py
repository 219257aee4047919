"""Appearance streams for the pack's form fields, one drawing for every engine.

In: a field's value and the size of its widget. Out: the content of the widget's
normal appearance (a form XObject) as bytes, plus what its font needs. The PDF
writer (pre-filled packs), the stamper and the filler all draw values with these
functions, so Preview, pdf.js and poppler (which show the saved appearance and
ignore ``NeedAppearances``) show what Acrobat shows:

- multi-line text is wrapped inside the box at the field's size (9 pt), shrunk
  step by step down to a floor (6 pt) when it does not fit, then clipped; the
  field still holds the whole value;
- single-line text is fitted: shrunk to the floor if it is too wide, then clipped;
- a checked box shows a tick, a chosen radio button a round dot, both drawn in
  the widget's own box (a square).

Text is set in Helvetica (a standard font every viewer has), encoded WinAnsi
where it can be and through an ``/Encoding /Differences`` array for the other
Latin letters (Ł, ś, ő …); a character Helvetica has no glyph for shows as '?'.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: The resource name of the field font, in appearances and in the AcroForm /DR.
FONT = "Helv"
#: The size fields ask viewers for (their /DA) and the largest size drawn.
FONT_SIZE = 9.0
#: Text shrinks to fit down to this size, then is clipped.
MIN_FONT_SIZE = 6.0
#: Inner margin between the widget's edge and its text, in points.
PADDING = 2.0
#: Line height as a multiple of the font size.
LEADING = 1.18
#: Colour of ticks and radio dots (the pack's body text colour, #212B32).
MARK_RGB = (0.129, 0.169, 0.196)

_ASCENT = 0.718  # Helvetica cap height / ascent, in ems
_DESCENT = 0.207


@lru_cache(maxsize=1)
def _widths() -> dict[str, float]:
    # The Adobe core-14 metrics that pypdf ships (Latin letters included).
    from pypdf._codecs.core_font_metrics import CORE_FONT_METRICS

    return dict(CORE_FONT_METRICS["Helvetica"].character_widths)


def char_width(ch: str) -> float:
    """Width of ``ch`` in Helvetica, in thousandths of an em."""
    widths = _widths()
    if ch in widths:
        return widths[ch]
    base = unicodedata.normalize("NFD", ch)[:1]
    return widths.get(base, widths.get("default", 556))


def text_width(text: str, size: float) -> float:
    """Width of ``text`` set in Helvetica at ``size`` points."""
    return sum(char_width(ch) for ch in text) * size / 1000


def wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` at ``size``: at spaces where it
    can, inside a word only when the word alone is too wide; line breaks in the value kept."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while text_width(word, size) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and text_width(word[:cut], size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


@dataclass(frozen=True)
class TextLayout:
    """How a value is set in a box: the font size and the lines drawn (clipped ones dropped)."""

    size: float
    lines: tuple[str, ...]
    clipped: bool


def layout_text(value: str, width: float, height: float, multiline: bool) -> TextLayout:
    """Choose the size and lines for ``value`` in a ``width`` × ``height`` box (points)."""
    inner_w, inner_h = max(1.0, width - 2 * PADDING), max(1.0, height - 2 * PADDING)
    size = FONT_SIZE
    while True:
        if multiline:
            lines = wrap(value, inner_w, size)
            fits = len(lines) * size * LEADING <= inner_h + size * (LEADING - 1)
        else:
            lines = [" ".join(value.split())]
            fits = text_width(lines[0], size) <= inner_w and size <= inner_h + 1
        if fits or size <= MIN_FONT_SIZE:
            break
        size = max(MIN_FONT_SIZE, round(size - 0.5, 2))
    clipped = not fits
    if multiline and clipped:
        room = max(1, int((inner_h + size * (LEADING - 1)) // (size * LEADING)))
        lines = lines[:room]
    return TextLayout(size, tuple(lines), clipped)


def encode(text: str, spare_from: set[int] | None = None) -> tuple[bytes, list[tuple[int, str]]]:
    """``text`` as single-byte codes for Helvetica, and the /Differences it needs as
    (code, glyph name) pairs: WinAnsi where it can, spare codes for other Latin letters."""
    from fontTools.agl import UV2AGL

    out = bytearray()
    differences: dict[str, int] = {}
    used = set(text.encode("cp1252", "ignore")) | (spare_from or set())
    spare = (c for c in range(0xFF, 0x7F, -1) if c not in used)
    for ch in text:
        try:
            out += ch.encode("cp1252")
            continue
        except UnicodeEncodeError:
            pass
        glyph = UV2AGL.get(ord(ch))
        if glyph is None:
            out += b"?"
            continue
        if glyph not in differences:
            code = next(spare, None)
            if code is None:
                out += b"?"
                continue
            differences[glyph] = code
        out += bytes([differences[glyph]])
    return bytes(out), sorted((code, glyph) for glyph, code in differences.items())


def pdf_string(data: bytes) -> bytes:
    """``data`` as a PDF literal string."""
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") \
        .replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b")"


def font_dictionary(differences: list[tuple[int, str]]) -> bytes:
    """The Helvetica font dictionary (PDF syntax) an appearance's text needs."""
    encoding = b"/WinAnsiEncoding"
    if differences:
        entries = b" ".join(b"%d /%s" % (code, glyph.encode()) for code, glyph in differences)
        encoding = b"<< /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [%s] >>" % entries
    return b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding %s >>" % encoding


@dataclass(frozen=True)
class TextAppearance:
    """A text field's appearance: content stream, box and font encoding."""

    content: bytes
    width: float
    height: float
    differences: list[tuple[int, str]]
    layout: TextLayout

    def xobject(self) -> bytes:
        """The whole form XObject (dictionary and stream) in PDF syntax."""
        return (b"<< /Type /XObject /Subtype /Form /BBox [0 0 %.2f %.2f] /Resources << /Font << /%s %s >> >> "
                b"/Length %d >>\nstream\n%s\nendstream"
                % (self.width, self.height, FONT.encode(), font_dictionary(self.differences),
                   len(self.content), self.content))


def text_appearance(value: str, width: float, height: float, multiline: bool) -> TextAppearance:
    """The appearance of a text field of ``width`` × ``height`` points holding ``value``."""
    layout = layout_text(value, width, height, multiline)
    encoded_lines: list[bytes] = []
    differences: list[tuple[int, str]] = []
    _, differences = encode("".join(layout.lines))
    mapping = {glyph: code for code, glyph in differences}
    for line in layout.lines:
        encoded_lines.append(_encode_with(line, mapping))
    size = layout.size
    leading = size * LEADING
    if multiline:
        first = height - PADDING - size * _ASCENT - 0.5
    else:
        first = max(PADDING / 2, (height - size * (_ASCENT - _DESCENT)) / 2 + size * _DESCENT - size * 0.1)
    ops = [b"/Tx BMC q %.2f %.2f %.2f %.2f re W n BT /%s %.2f Tf %.2f TL 0 g %.2f %.2f Td"
           % (1, 1, width - 2, height - 2, FONT.encode(), size, leading, PADDING, first)]
    for index, line in enumerate(encoded_lines):
        ops.append((b"" if index == 0 else b"T* ") + pdf_string(line) + b" Tj")
    ops.append(b"ET Q EMC")
    return TextAppearance(b"\n".join(ops), width, height, differences, layout)


def _encode_with(text: str, mapping: dict[str, int]) -> bytes:
    from fontTools.agl import UV2AGL

    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            glyph = UV2AGL.get(ord(ch))
            out += bytes([mapping[glyph]]) if glyph in mapping else b"?"
    return bytes(out)


def check_mark(width: float, height: float) -> bytes:
    """Content of a checked box's appearance: a tick drawn inside the box."""
    side = min(width, height)
    x0, y0 = (width - side) / 2, (height - side) / 2
    r, g, b = MARK_RGB
    return (b"q %.3f %.3f %.3f RG %.2f w 1 J 1 j %.2f %.2f m %.2f %.2f l %.2f %.2f l S Q"
            % (r, g, b, max(1.0, side * 0.12),
               x0 + side * 0.22, y0 + side * 0.52,
               x0 + side * 0.42, y0 + side * 0.28,
               x0 + side * 0.78, y0 + side * 0.74))


def radio_dot(width: float, height: float) -> bytes:
    """Content of a chosen radio button's appearance: a round dot in the middle of the box."""
    cx, cy = width / 2, height / 2
    radius = min(width, height) * 0.27
    k = radius * 0.5523  # Bézier handle length for a quarter circle
    r, g, b = MARK_RGB
    return (b"q %.3f %.3f %.3f rg %.2f %.2f m %.2f %.2f %.2f %.2f %.2f %.2f c %.2f %.2f %.2f %.2f %.2f %.2f c "
            b"%.2f %.2f %.2f %.2f %.2f %.2f c %.2f %.2f %.2f %.2f %.2f %.2f c f Q"
            % (r, g, b, cx + radius, cy,
               cx + radius, cy + k, cx + k, cy + radius, cx, cy + radius,
               cx - k, cy + radius, cx - radius, cy + k, cx - radius, cy,
               cx - radius, cy - k, cx - k, cy - radius, cx, cy - radius,
               cx + k, cy - radius, cx + radius, cy - k, cx + radius, cy))
