"""Editor detection from the marks each editor leaves: real clients where we have them, their marks otherwise."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pytest

from generator.formats.editors import docx_editor, pdf_editor
from generator.reading.read import read_bytes
from tests.conftest import need_tool

WEASY = b"%PDF-1.7\n%\xf0\x9f\x96\xa4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
WEASY_TAIL = b"trailer\n<< /Size 3541 /Root 25 0 R /Info 3540 0 R >>\nstartxref\n759090\n%%EOF\n"


@pytest.mark.parametrize("producer, editor", [
    ("Adobe Acrobat Pro (64-bit) 24.1.20604", "Adobe Acrobat"),
    ("Adobe Acrobat Reader DC 21.1.20145", "Adobe Acrobat"),
    ("Adobe PDF Library 17.11.238", "Adobe Acrobat"),
    ("macOS Version 14.1 (Build 23B74) Quartz PDFContext", "macOS Preview"),
    ("LibreOffice 7.4", "LibreOffice"),
    ("pdftk-java 3.3.3", "pdftk"),
    ("itext-paulo-155 (itextpdf.sf.net-lowagie.com)", "pdftk"),
    ("Skia/PDF m120", "Chrome/Edge"),
    ("WeasyPrint 70.0 portfolio 0.1.0", "unknown"),
    ("", "unknown"),
])
def test_producer_strings(producer, editor):
    assert pdf_editor(producer, WEASY + WEASY_TAIL) == editor


def test_acrobat_named_only_in_the_xmp_packet():
    xmp = '<pdf:Producer>Adobe Acrobat Reader (64-bit) 24.2.20759</pdf:Producer>'
    assert pdf_editor("WeasyPrint 70.0", WEASY + WEASY_TAIL, xmp) == "Adobe Acrobat"


def test_pdfjs_incremental_update_keeps_info_but_not_its_trailer_style():
    # pdf.js writes a trailer key by key, /Prev first: "<< /Prev 759090 /Size 3545 /Root 25 0 R /Info 3540 0 R>>"
    update = (b"3541 0 obj\n<< /FT /Tx /V (Kai)>>\nendobj\nxref\n3541 1\n0000760000 00000 n\r\n"
              b"trailer\n<< /Prev 759090 /Size 3542 /Root 25 0 R /Info 3540 0 R /ID [(a) (b)]>>\n"
              b"startxref\n760100\n%%EOF\n")
    assert pdf_editor("WeasyPrint 70.0", WEASY + WEASY_TAIL + update) == "Firefox"
    stream = b"3542 0 obj\n<< /Prev 759090 /Size 3543 /Type /XRef /Root 25 0 R /Index [3541 2] /W [1 3 1]>> stream\n"
    assert pdf_editor("WeasyPrint 70.0", WEASY + WEASY_TAIL + stream) == "Firefox"


@pytest.mark.parametrize("app, editor", [
    (b"<Properties><Application>Microsoft Office Word</Application></Properties>", "Microsoft Word"),
    (b"<Properties><Application>LibreOffice/7.4.7.2$Linux_X86_64 LibreOffice_project/40$Build-2</Application>"
     b"</Properties>", "LibreOffice 7.4.7.2"),
    (b"<Properties><Application>portfolio 0.1.0</Application></Properties>", "unknown"),
    (b"<Properties/>", "unknown"),
    (None, "unknown"),
])
def test_docx_application(app, editor):
    assert docx_editor(app) == editor


def test_the_blank_pack_as_written_is_unknown(pdf_path, docx_path):
    assert read_bytes(pdf_path.read_bytes(), "pack.pdf").pack["editor"] == "unknown"
    assert read_bytes(docx_path.read_bytes(), "pack.docx").pack["editor"] == "unknown"


def test_a_copy_saved_by_pdfium_is_chrome_or_edge(pdf_path):
    import pypdfium2
    document = pypdfium2.PdfDocument(pdf_path.read_bytes())
    out = io.BytesIO()
    document.save(out)
    document.close()
    assert read_bytes(out.getvalue(), "chrome.pdf").pack["editor"] == "Chrome/Edge"


def test_a_copy_filled_by_pdftk_is_pdftk(pdf_path, tmp_path):
    need_tool("pdftk")
    xfdf = tmp_path / "values.xfdf"
    xfdf.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xfdf xmlns="http://ns.adobe.com/xfdf/"><fields>'
                    '<field name="cover.details.name"><value>Kai Jensen</value></field></fields></xfdf>',
                    encoding="utf-8")
    out = tmp_path / "filled.pdf"
    subprocess.run(["pdftk", str(pdf_path), "fill_form", str(xfdf), "output", str(out)], check=True, timeout=120,
                   capture_output=True)
    record = read_bytes(out.read_bytes(), "filled.pdf")
    assert record.fields["cover.details.name"] == "Kai Jensen" and record.pack["editor"] == "pdftk"


def test_a_copy_filled_by_portfolio_fill_is_named_so_not_taken_for_pdftk(pdf_path):
    from generator.formats.pdf.fill import fill_pdf
    filled = fill_pdf(pdf_path.read_bytes(), {"cover.details.name": "Kai Jensen"})
    assert filled.split(b"\n", 2)[1].startswith(b"%\xe2\xe3\xcf\xd3")  # the header comment pdftk's iText writes too
    record = read_bytes(filled, "filled.pdf")
    assert record.fields["cover.details.name"] == "Kai Jensen" and record.pack["editor"] == "portfolio fill"


@pytest.mark.parametrize("given, read", [("no", False), ("yes", True), (False, False), (True, True)])
def test_a_yes_no_field_filled_with_its_option_value_reads_back_as_given(pdf_path, docx_path, given, read):
    """'portfolio fill' with "no" wrote Yes: a 'not achieved' sign-off became 'achieved'."""
    from generator.formats.docx.fill import fill_docx
    from generator.formats.pdf.fill import fill_pdf
    fid = "competencies.communication_signoff.achieved"
    for fill, path, name in ((fill_pdf, pdf_path, "f.pdf"), (fill_docx, docx_path, "f.docx")):
        record = read_bytes(fill(path.read_bytes(), {fid: given}), name)
        assert record.fields[fid] is read, name


def test_a_word_copy_filled_by_portfolio_fill_is_named_so(docx_path):
    from generator.formats.docx.fill import fill_docx
    filled = fill_docx(docx_path.read_bytes(), {"cover.details.name": "Kai Jensen"})
    record = read_bytes(filled, "filled.docx")
    assert record.fields["cover.details.name"] == "Kai Jensen" and record.pack["editor"] == "portfolio fill"
    with zipfile.ZipFile(io.BytesIO(filled)) as archive:
        assert b"<Application>portfolio fill</Application>" in archive.read("docProps/app.xml")
