"""The PDF reader's low-level walks: every one keeps a visited set and a depth bound.

Each hostile structure is built here with pikepdf, in a few objects, so the test
shows exactly what is wrong with the file.
"""

from __future__ import annotations

import io
import json
import zlib

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from generator.errors import ReadError
from generator.formats.pdf import objects
from generator.formats.pdf.read import read_pdf_raw


def _pdf(fields: list, manifest: bytes | None = None, filter_name: str | None = "/FlateDecode") -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(f) for f in fields]))
    if manifest is not None:
        data = zlib.compress(manifest) if filter_name else manifest
        stream = pikepdf.Stream(pdf, data)
        if filter_name:
            stream.Filter = Name(filter_name)
        spec = Dictionary(Type=Name.Filespec, F=String("portfolio-manifest.json"), EF=Dictionary(F=stream))
        pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    return pdf


def _bytes(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


MANIFEST = {"format": "portfolio-manifest/1", "pack_id": "care-coordination-portfolio", "instance_id": "00000000-0000-4000-8000-000000000001",
            "content": {"id": "care-coordination-portfolio", "version": "1.0.0", "hash": "0" * 64},
            "generator": {"name": "portfolio", "version": "0.1.0"},
            "fields": [{"id": "cover.name", "kind": "text", "label": "Name"}]}


def test_cyclic_parent_chain_is_refused_at_once():
    pdf = _pdf([Dictionary(T=String("cover"))], manifest=json.dumps(MANIFEST).encode())
    top = pdf.Root.AcroForm.Fields[0]
    kid = pdf.make_indirect(Dictionary(T=String("name"), V=String("Zoë")))
    middle = pdf.make_indirect(Dictionary(T=String("x")))
    top.Kids = Array([kid])
    kid.Parent = middle
    middle.Parent = kid  # kid -> middle -> kid -> ... and no /FT anywhere
    data = _bytes(pdf)
    reopened = pikepdf.open(io.BytesIO(data))
    field = objects.terminal_fields(reopened)["cover.name"]
    with pytest.raises(objects.Damaged):
        objects.inherited(field, "/FT")
    with pytest.raises(ReadError) as info:
        read_pdf_raw(data, "loop.pdf")
    assert (info.value.file, info.value.reason) == ("loop.pdf", "its form is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in")


def test_parent_chain_longer_than_the_bound_is_refused():
    pdf = _pdf([Dictionary(T=String("f"))])
    node = pdf.Root.AcroForm.Fields[0]
    for _ in range(objects.MAX_DEPTH + 2):
        parent = pdf.make_indirect(Dictionary())
        node.Parent = parent
        node = parent
    with pytest.raises(objects.Damaged):
        objects.inherited(pdf.Root.AcroForm.Fields[0], "/FT")


def test_inherited_value_found_on_an_ancestor():
    pdf = _pdf([Dictionary(T=String("group"), FT=Name.Btn)])
    top = pdf.Root.AcroForm.Fields[0]
    kid = pdf.make_indirect(Dictionary(T=String("a"), Parent=top))
    top.Kids = Array([kid])
    assert objects.inherited(kid, "/FT") == Name.Btn
    assert objects.inherited(kid, "/V") is None


def test_kids_that_contain_their_parent_are_refused():
    pdf = _pdf([Dictionary(T=String("a"))])
    top = pdf.Root.AcroForm.Fields[0]
    kid = pdf.make_indirect(Dictionary(T=String("b")))
    top.Kids = Array([kid])
    kid.Kids = Array([top])
    with pytest.raises(objects.Damaged):
        objects.terminal_fields(pdf)


def test_field_tree_deeper_than_the_bound_is_refused():
    pdf = _pdf([Dictionary(T=String("n0"))])
    node = pdf.Root.AcroForm.Fields[0]
    for depth in range(1, objects.MAX_DEPTH + 3):
        kid = pdf.make_indirect(Dictionary(T=String(f"n{depth}")))
        node.Kids = Array([kid])
        node = kid
    with pytest.raises(objects.Damaged):
        objects.terminal_fields(pdf)


def test_field_names_are_joined_with_periods_and_widget_kids_are_not_fields():
    pdf = _pdf([Dictionary(T=String("cover"))])
    top = pdf.Root.AcroForm.Fields[0]
    name = pdf.make_indirect(Dictionary(T=String("name"), FT=Name.Tx))
    widget = pdf.make_indirect(Dictionary(Subtype=Name.Widget, Parent=name))
    name.Kids = Array([widget])
    top.Kids = Array([name])
    found = objects.terminal_fields(pdf)
    assert list(found) == ["cover.name"]
    assert objects.field_widgets(found["cover.name"])[0].Subtype == Name.Widget


def test_name_tree_that_contains_itself_is_a_damaged_manifest():
    pdf = _pdf([Dictionary(T=String("a"), FT=Name.Tx)])
    tree = pdf.make_indirect(Dictionary())
    tree.Kids = Array([tree])
    pdf.Root.Names = Dictionary(EmbeddedFiles=tree)
    with pytest.raises(ReadError) as info:
        objects.find_manifest(pdf, "tree.pdf")
    assert info.value.reason == "its portfolio manifest is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


def test_manifest_that_unpacks_beyond_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", 1000)
    pdf = _pdf([Dictionary(T=String("a"), FT=Name.Tx)], manifest=b" " * 5000)
    with pytest.raises(objects.LimitReached):
        objects.find_manifest(pdf, "bomb.pdf")


def test_manifest_found_stored_without_compression():
    pdf = _pdf([Dictionary(T=String("a"), FT=Name.Tx)], manifest=json.dumps(MANIFEST).encode(), filter_name=None)
    assert objects.find_manifest(pdf, "plain.pdf")["pack_id"] == "care-coordination-portfolio"


def test_manifest_under_an_unusual_filter_is_damaged():
    pdf = _pdf([Dictionary(T=String("a"), FT=Name.Tx)], manifest=b"{}", filter_name="/LZWDecode")
    with pytest.raises(ReadError) as info:
        objects.find_manifest(pdf, "odd.pdf")
    assert info.value.reason == "its portfolio manifest is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


@pytest.mark.parametrize("raw, text", [
    (b"\xfe\xff\x00Z\x00o\x00\xeb", "Zoë"),  # UTF-16BE with its byte order mark
    (b"Zo\xc3\xab", "Zoë"),  # raw UTF-8 where PDFDocEncoding belongs
    (b"caf\xe9", "café"),  # PDFDocEncoding (Latin-1 range)
    (b"\x80\xa0", "•€"),  # PDFDocEncoding's own bullet and euro
    (b"\x9f", "\x9f"),  # undefined in PDFDocEncoding, not UTF-8: every byte kept as Latin-1
    (b"plain", "plain"),
])
def test_text_strings_decoded_as_editors_write_them(raw, text):
    assert objects.decode_text(String(raw)) == text


def test_encrypted_file_is_refused_with_the_usual_message():
    pdf = _pdf([Dictionary(T=String("a"), FT=Name.Tx)])
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="owner"))
    with pytest.raises(ReadError) as info:
        objects.open_pdf(out.getvalue(), "locked.pdf")
    assert info.value.reason == "is encrypted; return an unprotected copy (remove the password before sending)"
