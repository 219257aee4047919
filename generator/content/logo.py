"""Logos: check an uploaded image and re-encode it safely.

In: the bytes of a PCN's logo file. Out: a clean PNG (metadata stripped, scaled
to fit the header) or a ``ContentError``-ready reason. Only PNG and JPEG are
accepted, by content not by name; size and pixel limits stop decompression bombs
before any pixel is decoded.
"""

from __future__ import annotations

import io
import struct
import warnings

from generator.errors import LogoError

#: Largest logo file accepted.
MAX_BYTES = 2_000_000
#: Largest image accepted, in pixels (width x height), checked before decoding.
MAX_PIXELS = 25_000_000
#: Logos are scaled down to fit this box (pixels): enough for 300 dpi at header size.
FIT = (1200, 400)


def sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    return None


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise LogoError(f"is {width} x {height} pixels; the limit is {MAX_PIXELS // 1_000_000} "
                        "megapixels (scale it down)")


def clean_logo(data: bytes) -> bytes:
    """Validate and re-encode a logo as PNG; raises LogoError with the reason."""
    from PIL import Image

    if len(data) > MAX_BYTES:
        raise LogoError(f"is {len(data) // 1000} kB; the limit is {MAX_BYTES // 1000} kB (save it smaller)")
    kind = sniff_image(data)
    if kind is None:
        head = data[:200].lstrip().lower()
        what = "an SVG" if head.startswith((b"<svg", b"<?xml")) and b"svg" in head else "not a PNG or JPEG image"
        raise LogoError(f"is {what}; use a PNG or JPEG file")
    if kind == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        _check_pixels(*struct.unpack(">II", data[16:24]))  # before Pillow reads anything
    # Pillow may be told to accept truncated images (WeasyPrint sets that globally
    # on import), so completeness is checked here: the file must end where its
    # format says it ends.
    ends = {"PNG": b"IEND\xaeB`\x82", "JPEG": b"\xff\xd9"}[kind]
    if not data.rstrip(b"\x00\r\n ").endswith(ends):
        raise LogoError(f"cannot be read as {kind} (the file is damaged or truncated)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != kind:
                    raise LogoError(f"claims to be {kind} but is not; re-save it as PNG or JPEG")
                _check_pixels(*image.size)
                image.load()
                clean = image.convert("RGBA") if image.mode in ("P", "LA", "RGBA", "PA") else image.convert("RGB")
    except LogoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LogoError("has too many pixels to be a logo (scale it down)") from None
    except Exception as exc:  # truncated or corrupt data: Pillow raises many kinds
        raise LogoError(f"cannot be read as {kind} ({type(exc).__name__}: the file is damaged or truncated)") from None
    clean.thumbnail(FIT)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)  # a new file: no EXIF, text chunks or ICC profile
    return out.getvalue()
