"""The bounded PDF object walks at their edges: limits met exactly, filters as arrays, widgets without
appearances, the document information dictionary. Known answers, from objects built here with pikepdf."""

from __future__ import annotations

import io
import json
import zlib

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from generator.formats.pdf import objects
from generator.formats.pdf.objects import Damaged, LimitReached, editor_info, find_manifest, inherited, on_state

MANIFEST = {"format": "portfolio-manifest/1", "pack_id": "care-pack", "instance_id": "00000000-0000-4000-8000-000000000001",
            "content": {"id": "care-pack", "version": "1.0.0", "hash": "0" * 64},
            "generator": {"name": "portfolio", "version": "0.1.0"},
            "fields": [{"id": "cover.name", "kind": "text", "label": "Name"}]}
RAW = json.dumps(MANIFEST).encode()


def with_manifest(data: bytes, filters) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, data)
    if filters is not None:
        stream.Filter = filters
    spec = Dictionary(Type=Name.Filespec, EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    return pdf


def test_a_filter_given_as_an_array():
    assert find_manifest(with_manifest(zlib.compress(RAW), Array([Name.FlateDecode])), "x.pdf") == MANIFEST
    assert find_manifest(with_manifest(RAW, Array([])), "x.pdf") == MANIFEST


def test_a_stored_manifest_of_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW))
    assert find_manifest(with_manifest(RAW, None), "x.pdf") == MANIFEST
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW) - 1)
    with pytest.raises(LimitReached):
        find_manifest(with_manifest(RAW, None), "x.pdf")


def test_a_compressed_manifest_that_unpacks_to_exactly_the_limit_is_read(monkeypatch):
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW))
    assert find_manifest(with_manifest(zlib.compress(RAW), Name.FlateDecode), "x.pdf") == MANIFEST
    monkeypatch.setattr(objects, "MANIFEST_MAX_BYTES", len(RAW) - 1)
    with pytest.raises(LimitReached):
        find_manifest(with_manifest(zlib.compress(RAW), Name.FlateDecode), "x.pdf")


def chain(pdf: pikepdf.Pdf, length: int) -> Dictionary:
    """A /Parent chain of ``length`` nodes; only the last (the root) has /FT."""
    node = pdf.make_indirect(Dictionary(FT=Name.Tx))
    for _ in range(length - 1):
        node = pdf.make_indirect(Dictionary(Parent=node))
    return node


def test_an_attribute_is_found_up_a_chain_of_seventeen_but_not_eighteen():
    pdf = pikepdf.new()
    assert objects.MAX_DEPTH == 16
    assert inherited(chain(pdf, 17), "/FT") == Name.Tx
    with pytest.raises(Damaged):
        inherited(chain(pdf, 18), "/FT")


def test_an_attribute_on_the_field_itself_is_its_own_whatever_its_parents_say():
    pdf = pikepdf.new()
    parent = pdf.make_indirect(Dictionary(FT=Name.Btn, V=String("parent's")))
    field = pdf.make_indirect(Dictionary(FT=Name.Tx, Parent=parent))
    assert inherited(field, "/FT") == Name.Tx
    assert inherited(field, "/V") == String("parent's")
    assert inherited(field, "/Opt") is None
    looped = pdf.make_indirect(Dictionary(FT=Name.Ch))
    looped.Parent = looped  # a loop above a field that has the attribute is never walked
    assert inherited(looped, "/FT") == Name.Ch
    with pytest.raises(Damaged):
        inherited(looped, "/V")


def test_an_entry_is_what_get_gives_present_absent_or_null():
    node = Dictionary(T=String("name"), Kids=Array([1]), Gone=None)
    assert objects.entry(node, "/T") == String("name")
    assert objects.entry(node, "/Kids") == Array([1])
    assert objects.entry(node, "/Parent") is None
    assert objects.entry(node, "/Gone") is None and node.get("/Gone") is None


def test_on_state_of_widgets_without_appearances():
    assert on_state(Dictionary()) is None
    assert on_state(Dictionary(AP=Dictionary())) is None
    assert on_state(Dictionary(AP=Dictionary(N=Dictionary(Off=Dictionary())))) is None
    assert on_state(Dictionary(AP=Dictionary(N=Dictionary(Off=Dictionary(), happy=Dictionary())))) == "/happy"


def saved(info: dict | None) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    if info is not None:
        pdf.trailer.Info = pdf.make_indirect(Dictionary({k: v for k, v in info.items()}))
    out = io.BytesIO()
    pdf.save(out)
    return pikepdf.open(io.BytesIO(out.getvalue()))


def test_editor_info_joins_producer_and_creator():
    assert editor_info(saved({"/Producer": String("pdftk-java 3.3.3"), "/Creator": String("LibreOffice Writer")})) \
        == "pdftk-java 3.3.3 LibreOffice Writer"
    assert editor_info(saved({"/Creator": String("Writer"), "/Title": String("x")})) == "Writer"
    assert editor_info(saved({"/Producer": Name("/NotAString")})) == ""


def test_editor_info_without_an_information_dictionary_is_empty():
    pdf = pikepdf.new()
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    assert editor_info(pdf) == ""
    pdf.trailer.Info = Array([1])  # not a dictionary
    assert editor_info(pdf) == ""


# ---------------------------------------------------------------- text strings

@pytest.mark.parametrize("raw, text", [
    (b"\xff\xfeZ\x00o\x00", "Zo"),  # UTF-16 little-endian with its byte order mark
    (b"\xfe\xff\x00Z\x00o", "Zo"),  # big-endian
    (b"\xff\xfeZ", ""),  # a byte order mark and half a character: what pikepdf makes of it
    (b"\xef\xbb\xbfZo\xc3\xab", "Zoë"),  # UTF-8 with its mark (PDF 2.0)
    (b"\xef\xbb\xbfZ\xff", "Z\ufffd"),  # ... and a byte that is not UTF-8
    (b"Zo\xc3\xab", "Zoë"),  # raw UTF-8 where PDFDocEncoding belongs
    (b"Zo\xeb", "Zoë"),  # PDFDocEncoding
    (b"plain", "plain"),
    (b"plain, with (all) the ~ printable: ASCII!", "plain, with (all) the ~ printable: ASCII!"),
    (b"A\x18B\x1f", "A\u02d8B\u02dc"),  # PDFDocEncoding's breve and small tilde, not ASCII's controls
    (b"tab\tand\nline", "tab\tand\nline"),
    (b"del\x7f", "del\x7f"),  # undefined in PDFDocEncoding: every byte kept (Latin-1)
])
def test_text_strings(raw, text):
    assert objects.decode_text(String(raw)) == text


# ---------------------------------------------------------------- the name tree of attachments

def spec(pdf: pikepdf.Pdf, data: bytes) -> Dictionary:
    return Dictionary(Type=Name.Filespec, EF=Dictionary(F=pikepdf.Stream(pdf, data)))


def names_pdf(make) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.Root.Names = Dictionary(EmbeddedFiles=make(pdf))
    return pdf


def test_the_manifest_after_another_attachment_is_found():
    pdf = names_pdf(lambda pdf: Dictionary(Names=Array([
        String("notes.json"), spec(pdf, b'{"format": "someone-else"}'),
        String("portfolio-manifest.json"), spec(pdf, RAW)])))
    assert find_manifest(pdf, "x.pdf") == MANIFEST


def test_a_names_array_with_a_key_and_no_value_at_its_end():
    pdf = names_pdf(lambda pdf: Dictionary(Names=Array([
        String("portfolio-manifest.json"), spec(pdf, RAW), String("dangling")])))
    assert find_manifest(pdf, "x.pdf") == MANIFEST


def test_a_manifest_in_a_kid_of_the_name_tree():
    pdf = names_pdf(lambda pdf: Dictionary(Kids=Array([
        pdf.make_indirect(Dictionary(Names=Array([String("a.json"), spec(pdf, b"{}")]))),
        pdf.make_indirect(Dictionary(Names=Array([String("portfolio-manifest.json"), spec(pdf, RAW)])))])))
    assert find_manifest(pdf, "x.pdf") == MANIFEST


def nested(depth: int):
    """A name tree whose only leaf, holding the manifest, is ``depth`` kids below the root."""
    def make(pdf):
        node = pdf.make_indirect(Dictionary(Names=Array([String("portfolio-manifest.json"), spec(pdf, RAW)])))
        for _ in range(depth):
            node = pdf.make_indirect(Dictionary(Kids=Array([node])))
        return node
    return make


def test_a_name_tree_sixteen_deep_is_read_and_seventeen_is_damaged():
    assert find_manifest(names_pdf(nested(16)), "x.pdf") == MANIFEST
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(names_pdf(nested(17)), "x.pdf")
    assert str(caught.value) == "x.pdf: its portfolio manifest is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


def test_a_name_tree_of_exactly_the_node_limit(monkeypatch):
    monkeypatch.setattr(objects, "MAX_NODES", 3)
    assert find_manifest(names_pdf(nested(2)), "x.pdf") == MANIFEST  # three nodes
    with pytest.raises(objects.ReadError):
        find_manifest(names_pdf(nested(3)), "x.pdf")


def test_a_kid_shared_by_two_nodes_is_damaged():
    """No editor writes a node twice into a tree; the visited set refuses it (not only loops)."""
    def make(pdf):
        leaf = pdf.make_indirect(Dictionary(Names=Array([String("a.json"), spec(pdf, b"{}")])))
        return Dictionary(Kids=Array([pdf.make_indirect(Dictionary(Kids=Array([leaf]))), leaf]))
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(names_pdf(make), "x.pdf")
    assert str(caught.value) == "x.pdf: its portfolio manifest is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


def test_an_attachment_without_its_file_is_not_ours():
    pdf = names_pdf(lambda pdf: Dictionary(Names=Array([
        String("portfolio-manifest.json"), Dictionary(Type=Name.Filespec)])))
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(pdf, "x.pdf")
    assert caught.value.code == "E-READ-FOREIGN" and str(caught.value).startswith("x.pdf: was not generated")


def test_a_manifest_that_is_not_json_or_not_ours():
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(with_manifest(b"{not json", None), "x.pdf")
    assert str(caught.value) == "x.pdf: its portfolio manifest is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(with_manifest(b'{"format": "someone-else/1"}', None), "x.pdf")
    assert str(caught.value).startswith("x.pdf: was not generated by this tool")


def test_a_manifest_name_given_as_a_value_is_not_a_key():
    """Keys and values alternate: a value that happens to read 'portfolio-manifest.json' names nothing."""
    pdf = names_pdf(lambda pdf: Dictionary(Names=Array([
        String("notes.json"), String("portfolio-manifest.json"), spec(pdf, RAW), String("x")])))
    with pytest.raises(objects.ReadError) as caught:
        find_manifest(pdf, "x.pdf")
    assert caught.value.code == "E-READ-FOREIGN"


def test_an_encrypted_copy_is_refused_naming_the_file():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(objects.ReadError) as caught:
        objects.open_pdf(out.getvalue(), "x.pdf")
    assert str(caught.value) == ("x.pdf: is encrypted; return an unprotected copy (remove the password before "
                                 "sending)")


def test_a_copy_with_only_an_owner_password_is_refused_naming_the_file():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="", owner="secret"))
    with pytest.raises(objects.ReadError) as caught:
        objects.open_pdf(out.getvalue(), "x.pdf")
    assert str(caught.value) == ("x.pdf: is encrypted; return an unprotected copy (remove the password before "
                                 "sending)")


def test_a_catalog_that_is_not_a_dictionary_is_damaged():
    """qpdf itself refuses such a file ('unable to find /Root dictionary')."""
    body = b"%PDF-1.7\n1 0 obj\n42\nendobj\n"
    xref = len(body)
    data = body + (b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\n"
                   b"startxref\n%d\n%%%%EOF\n" % (9, xref))
    with pytest.raises(objects.ReadError) as caught:
        objects.open_pdf(data, "x.pdf")
    assert str(caught.value) == "x.pdf: is damaged or truncated and cannot be read as a PDF; ask for the copy again, saved once more from the program it was filled in"


def form_pdf(fields: list) -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(f) if isinstance(f, Dictionary) else f
                                                 for f in fields]))
    return pdf


def test_a_stray_entry_in_the_fields_is_passed_over():
    pdf = form_pdf([None, Dictionary(T=String("a"), FT=Name.Tx), Dictionary(T=String("b"), FT=Name.Tx)])
    assert list(objects.terminal_fields(pdf)) == ["a", "b"]


def test_a_partial_name_that_is_not_a_string_is_no_name():
    pdf = form_pdf([Dictionary(T=Name("/a"), FT=Name.Tx), Dictionary(T=String("b"), FT=Name.Tx)])
    assert list(objects.terminal_fields(pdf)) == ["b"]


def deep_form(depth: int) -> pikepdf.Pdf:
    """A field whose terminal node is ``depth`` levels below a top-level field."""
    pdf = pikepdf.new()
    node = pdf.make_indirect(Dictionary(T=String(f"n{depth}"), FT=Name.Tx))
    for n in range(depth - 1, -1, -1):
        node = pdf.make_indirect(Dictionary(T=String(f"n{n}"), Kids=Array([node])))
    pdf.Root.AcroForm = Dictionary(Fields=Array([node]))
    return pdf


def test_a_field_tree_sixteen_deep_is_read_and_seventeen_is_damaged():
    assert list(objects.terminal_fields(deep_form(16))) == [".".join(f"n{n}" for n in range(17))]
    with pytest.raises(Damaged):
        objects.terminal_fields(deep_form(17))


def _saved(pdf: pikepdf.Pdf) -> bytes:
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("memfd", ["a file in memory", "no memfd (another system)", "no /proc"])
def test_a_pdf_is_opened_the_same_from_a_file_in_memory_or_a_python_stream(monkeypatch, memfd):
    data = _saved(form_pdf([Dictionary(T=String("cover.name"), FT=Name.Tx, V=String("Zoë Ní Bhriain"))]))
    opened = []
    real_open = pikepdf.open

    def spy(source, **kwargs):
        opened.append("stream" if isinstance(source, io.BytesIO) else "path")
        return real_open(source, **kwargs)

    monkeypatch.setattr(objects.pikepdf, "open", spy)
    if memfd == "no memfd (another system)":
        monkeypatch.delattr(objects.os, "memfd_create")
    elif memfd == "no /proc":
        monkeypatch.setattr(objects.os.path, "isdir", lambda path: False)
    pdf = objects.open_pdf(data, "x.pdf")
    fields = objects.terminal_fields(pdf)
    assert list(fields) == ["cover.name"]
    assert str(fields["cover.name"].V) == "Zoë Ní Bhriain"
    assert opened == (["path"] if memfd == "a file in memory" else ["stream"])
    pdf.close()


def test_a_pdf_opened_from_a_file_in_memory_leaves_no_descriptor_open_once_closed():
    import os
    data = _saved(form_pdf([Dictionary(T=String("a"), FT=Name.Tx)]))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        objects.open_pdf(data, "x.pdf").close()
    assert len(os.listdir("/proc/self/fd")) == before
