"""Which editor last saved a returned copy, from the marks editors leave in the file.

In: for a PDF, its document information (/Producer, /Creator), its XMP
packet's text and the file's bytes; for a DOCX, ``docProps/app.xml``. Out: the
editor's name, or "unknown" where no editor's mark is there (a copy saved by
an editor that leaves none looks like the blank pack this tool wrote).

The marks, as each editor writes them:

- Adobe Acrobat and Acrobat Reader name themselves in /Producer or the XMP
  ``pdf:Producer``/``xmp:CreatorTool`` ("Adobe Acrobat Pro (64-bit) 24.1",
  "Adobe Acrobat Reader DC 21.1", "Adobe PDF Library 17.11");
- macOS Preview (PDFKit) rewrites the file with /Producer "macOS Version 14.1
  (Build 23B74) Quartz PDFContext";
- LibreOffice writes "LibreOffice 7.4" in /Producer, and
  "LibreOffice/7.4.7.2$Linux_X86_64 …" as a DOCX's ``Application``;
- Microsoft Word writes ``<Application>Microsoft Office Word</Application>``;
- pdftk (pdftk-java) keeps /Producer as it was, but it rewrites the file with
  the header comment of the iText library it is built on, ``%âãÏÓ``; older
  pdftk builds write /Producer "itext-paulo-155 (itextpdf.sf.net-lowagie.com)";
- Chrome and Edge save a form through PDFium, which rewrites the file with
  the header comment ``%\\xA1\\xB3\\xC5\\xD7`` (PDFium's ``CPDF_Creator``) and keeps
  /Producer; a PDF Chrome prints says "Skia/PDF";
- ``portfolio fill`` (pypdf) rewrites the file with the same header comment as
  iText, so it names itself in /Producer: "portfolio fill (pypdf)";
- Firefox (pdf.js) appends an incremental update and keeps /Info; its trailer
  dictionary is written key by key starting with ``/Prev`` (``<< /Prev …``),
  which no other writer here does.
"""

from __future__ import annotations

import re

UNKNOWN = "unknown"

#: Substring of /Producer, /Creator or the XMP text -> editor, first match wins.
PDF_PRODUCERS: tuple[tuple[str, str], ...] = (
    ("portfolio fill", "portfolio fill"),  # ``generator.formats.pdf.fill``: before "pypdf", which it names too
    ("pdftk", "pdftk"), ("itext-paulo", "pdftk"),
    ("Adobe Acrobat", "Adobe Acrobat"), ("Acrobat Reader", "Adobe Acrobat"), ("Adobe PDF Library", "Adobe Acrobat"),
    ("Acrobat Distiller", "Adobe Acrobat"),
    ("Quartz PDFContext", "macOS Preview"),
    ("LibreOffice", "LibreOffice"), ("OpenOffice", "LibreOffice"),
    ("Skia/PDF", "Chrome/Edge"), ("PDFium", "Chrome/Edge"),
    ("pdf.js", "Firefox"), ("PDF.js", "Firefox"),
    ("pypdf", "pypdf"),
)
#: The binary comment on a PDF's second line -> the writer that rewrote the whole file.
PDF_HEADER_COMMENTS: tuple[tuple[bytes, str], ...] = (
    (b"%\xa1\xb3\xc5\xd7", "Chrome/Edge"),  # PDFium
    (b"%\xe2\xe3\xcf\xd3", "pdftk"),  # iText, as in pdftk-java
)
#: pdf.js starts its trailer (or cross-reference stream) dictionary with /Prev, spaced.
_PDFJS_TRAILER = re.compile(rb"trailer\s*<< /Prev \d+ /Size \d+|<< /Prev \d+ /Size \d+ /Type /XRef")
#: How far from the end a last update's trailer is looked for.
TAIL_BYTES = 4096


def pdf_editor(info_text: str, data: bytes, xmp_text: str = "") -> str:
    """The editor that last saved a PDF (see the module docstring), or "unknown"."""
    tail = data[-TAIL_BYTES:]
    if _PDFJS_TRAILER.search(tail):
        return "Firefox"
    for text in (info_text, xmp_text):
        found = next((name for key, name in PDF_PRODUCERS if key in text), None)
        if found:
            return found
    lines = re.split(rb"\r\n|\r|\n", data[:64], maxsplit=2)
    second = lines[1] if len(lines) > 1 else b""
    for comment, name in PDF_HEADER_COMMENTS:
        if second.startswith(comment):
            return name
    return UNKNOWN


_APPLICATION = re.compile(rb"<(?:\w+:)?Application>([^<]{1,200})</(?:\w+:)?Application>")


def docx_editor(app_xml: bytes | None) -> str:
    """The editor named by a DOCX's ``docProps/app.xml`` ``Application``, or "unknown"."""
    match = _APPLICATION.search(app_xml or b"")
    if not match:
        return UNKNOWN
    application = match.group(1).decode("utf-8", "replace").strip()
    if application.startswith("LibreOffice"):
        # "LibreOffice/7.4.7.2$Linux_X86_64 LibreOffice_project/…" -> "LibreOffice 7.4.7.2"
        version = application.split("/", 1)[1].split("$", 1)[0] if "/" in application else ""
        return f"LibreOffice {version}".strip()
    if application.startswith("Microsoft"):
        return "Microsoft Word"
    if application == "portfolio fill":  # ``generator.formats.docx.fill``
        return "portfolio fill"
    return UNKNOWN
