"""The PDF reader's raw values from copies of a few objects each, built here with pikepdf.

Each copy holds exactly the structure one editor's habit produces (a value only in a widget, a
radio state renamed to an index, a field type inherited from its parent), so each way the reader
finds a value is proven on its own, and every expected value is written in the test. The whole
pack's round trips through real editors are in ``test_read.py``; these run in milliseconds.
"""

from __future__ import annotations

import io
import json
import zlib

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String

from generator.errors import ReadError
from generator.formats.pdf import read as pdf_read
from generator.formats.pdf.read import LIMIT_MESSAGE, read_pdf_raw

OPTIONS = [{"value": "very_happy", "label": "Very happy"}, {"value": "happy", "label": "Happy"},
           {"value": "unsure", "label": "Unsure"}]
FIELDS = [{"id": "cover.name", "kind": "text", "label": "Name"},
          {"id": "cover.start", "kind": "date", "label": "Start"},
          {"id": "review.done", "kind": "checkbox", "label": "Done"},
          {"id": "feedback.respect", "kind": "choice", "label": "Respect", "options": OPTIONS}]

#: The refusal of a copy qpdf had to repair and that still lacks its form or manifest, with its fix.
TRUNCATED = ("copy.pdf: is damaged or truncated and cannot be read as a PDF; "
             "ask for the copy again, saved once more from the program it was filled in")


def manifest(fields=FIELDS, instance_id: str = "00000000-0000-4000-8000-000000000001") -> dict:
    return {"format": "portfolio-manifest/1", "pack_id": "care-pack", "instance_id": instance_id,
            "content": {"id": "care-pack", "version": "1.0.0", "hash": "0" * 64},
            "generator": {"name": "portfolio", "version": "0.1.0"}, "fields": fields}


def pdf_bytes(fields: list, *, fields_manifest=FIELDS, info: dict | None = None, xmp: bytes | None = None,
              xmp_filter: bool = False, attach: bool = True,
              instance_id: str = "00000000-0000-4000-8000-000000000001") -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(f) for f in fields]))
    if attach:
        stream = pikepdf.Stream(pdf, zlib.compress(json.dumps(manifest(fields_manifest, instance_id)).encode()))
        stream.Filter = Name.FlateDecode
        spec = Dictionary(Type=Name.Filespec, F=String("portfolio-manifest.json"), EF=Dictionary(F=stream))
        pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    if info:
        pdf.trailer.Info = pdf.make_indirect(Dictionary({f"/{k}": String(v) for k, v in info.items()}))
    if xmp is not None:
        stream = pikepdf.Stream(pdf, zlib.compress(xmp) if xmp_filter is True else xmp)
        if xmp_filter:  # "raw": the packet's bytes as they are, under a filter that says otherwise
            stream.Filter = Name.FlateDecode
        pdf.Root.Metadata = pdf.make_indirect(stream)
    out = io.BytesIO()
    pdf.save(out, fix_metadata_version=False, compress_streams=False)
    return out.getvalue()


def text(name: str, value=None, **extra) -> Dictionary:
    d = Dictionary(T=String(name), FT=Name.Tx, **extra)
    if value is not None:
        d.V = value
    return d


def group(name: str, *kids: Dictionary, **extra) -> Dictionary:
    return Dictionary(T=String(name), Kids=Array(kids), **extra)


def widget(on: str | None, shown: str | None = None) -> Dictionary:
    """A button widget whose 'on' appearance is named ``on``; ``shown`` is its /AS."""
    normal = Dictionary(Off=Dictionary())
    d = Dictionary(Type=Name.Annot, Subtype=Name.Widget)
    if on is not None:
        normal[on] = Dictionary()
    d.AP = Dictionary(N=normal)
    if shown is not None:
        d.AS = Name(shown)
    return d


def radio(*widgets: Dictionary, **extra) -> Dictionary:
    return Dictionary(T=String("respect"), FT=Name.Btn, Ff=49152, Kids=Array(widgets), **extra)


def read(fields: list, **kw):
    return read_pdf_raw(pdf_bytes(fields, **kw), "copy.pdf")


def rating(*widgets: Dictionary, **extra):
    return read([group("feedback", radio(*widgets, **extra))]).values["feedback.respect"]


# ---------------------------------------------------------------- text

@pytest.mark.parametrize("value, expected", [
    (String("Zoë Łukasiewicz"), "Zoë Łukasiewicz"),
    (Name("/Zoe"), "Zoe"),  # a name without its slash
    (Array([String("first"), String("second")]), "first"),
    (Array([]), None),
    (7, "7"),
    (String(""), ""),
])
def test_text_values_as_editors_store_them(value, expected):
    doc = read([group("cover", text("name", value))])
    assert doc.values["cover.name"] == expected


def test_a_text_value_only_in_a_widget_kid_is_found():
    kid = Dictionary(Type=Name.Annot, Subtype=Name.Widget, V=String("in the widget"))
    empty_kid = Dictionary(Type=Name.Annot, Subtype=Name.Widget, V=String(""))
    doc = read([group("cover", text("name", String(""), Kids=Array([empty_kid, kid])),
                      text("start", None, Kids=Array([Dictionary(Type=Name.Annot, V=String("01/09/2026"))])))])
    assert doc.values == {"cover.name": "in the widget", "cover.start": "01/09/2026"}


def test_the_fields_own_value_wins_over_a_widgets():
    kid = Dictionary(Type=Name.Annot, Subtype=Name.Widget, V=String("stale"))
    doc = read([group("cover", text("name", String("typed"), Kids=Array([kid])))])
    assert doc.values["cover.name"] == "typed"


def test_type_and_value_inherited_from_the_parent():
    """/FT and /V on the parent node (a pdftk habit): the terminal field inherits both."""
    pdf = pikepdf.new()
    parent = pdf.make_indirect(Dictionary(T=String("cover"), FT=Name.Tx, V=String("from the parent")))
    parent.Kids = Array([pdf.make_indirect(Dictionary(T=String("name"), Parent=parent))])
    pdf.Root.AcroForm = Dictionary(Fields=Array([parent]))
    stream = pikepdf.Stream(pdf, json.dumps(manifest()).encode())
    spec = Dictionary(Type=Name.Filespec, EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    out = io.BytesIO()
    pdf.save(out)
    assert read_pdf_raw(out.getvalue(), "copy.pdf").values["cover.name"] == "from the parent"


def test_a_choice_written_as_text_is_read_as_text():
    """A choice field an editor turned into a text field: its text is the raw value."""
    doc = read([group("feedback", text("respect", String("happy")))])
    assert doc.values["feedback.respect"] == "happy"


# ---------------------------------------------------------------- checkboxes

@pytest.mark.parametrize("states, value, ticked", [
    (["/On"], None, True),
    (["/Off"], None, False),
    (["/Off"], Name("/Yes"), True),  # the value alone says ticked
    (["/Off"], Name("/Off"), False),
    ([None], None, False),  # no appearance state, no value
    ([None], String("Off"), False),
    ([None], String(""), False),
    ([None], String("1"), True),
    (["/Off", "/Ja"], None, True),  # any state but Off, on any widget
])
def test_checkbox_is_ticked_by_any_state_but_off(states, value, ticked):
    kids = [widget("/On", s) for s in states]
    box = Dictionary(T=String("done"), FT=Name.Btn, Kids=Array(kids))
    if value is not None:
        box.V = value
    assert read([group("review", box)]).values["review.done"] is ticked


def test_a_checkbox_merged_with_its_widget():
    box = Dictionary(T=String("done"), FT=Name.Btn, AS=Name("/Yes"), Type=Name.Annot, Subtype=Name.Widget)
    assert read([group("review", box)]).values["review.done"] is True


# ---------------------------------------------------------------- radio groups

def test_radio_on_state_named_by_its_value():
    # widgets in reverse order: by position this would be 'very_happy'
    assert rating(widget("/unsure"), widget("/happy", "/happy"), widget("/very_happy")) == "happy"


def test_radio_index_state_looked_up_in_opt():
    opt = Array([String("unsure"), String("happy"), String("very_happy")])
    # the second widget is on with state /0: /Opt[0] is 'unsure'; by position it would be 'happy'
    assert rating(widget("/2"), widget("/0", "/0"), widget("/1"), Opt=opt) == "unsure"


def test_radio_index_beyond_opt_falls_back_to_the_position():
    opt = Array([String("unsure")])
    assert rating(widget("/5"), widget("/7", "/7"), Opt=opt) == "happy"
    assert rating(widget("/0"), widget("/1", "/1"), Opt=opt) == "happy"  # /Opt has no index 1


def test_radio_opt_naming_no_option_falls_back_to_the_position():
    opt = Array([String("elated"), String("glum")])
    assert rating(widget("/0"), widget("/1", "/1"), Opt=opt) == "happy"


def test_radio_renamed_states_without_opt_by_position():
    assert rating(widget("/a"), widget("/b"), widget("/c", "/c")) == "unsure"


def test_radio_renamed_state_beyond_the_options_is_kept_as_written():
    widgets = [widget(f"/s{n}") for n in range(3)] + [widget("/s3", "/s3")]
    assert rating(*widgets) == "s3"


def test_radio_state_without_a_slash_and_as_a_string():
    w = widget("/happy")
    w.AS = String("happy")  # a string rather than a name; first, so position would say 'very_happy'
    assert rating(w, widget("/very_happy")) == "happy"


def test_radio_value_used_when_no_widget_shows_a_state():
    # no /AS anywhere: /V names the second widget's on-state
    assert rating(widget("/x"), widget("/y"), widget("/z"), V=Name("/y")) == "happy"


def test_radio_value_as_an_index_into_opt():
    opt = Array([String("unsure"), String("happy"), String("very_happy")])
    # /V is /0, the first widget's state: /Opt[0] is 'unsure', by position it would be 'very_happy'
    assert rating(widget("/0"), widget("/1"), widget("/2"), V=Name("/0"), Opt=opt) == "unsure"


def test_radio_value_keeps_letters_after_its_slash():
    assert rating(widget("/X0"), widget("/X1"), widget("/X2"), V=Name("/X1")) == "happy"


def test_radio_value_naming_no_widget_kept_unless_it_is_an_option():
    assert rating(widget("/a"), widget("/b"), V=Name("/happy")) == "happy"
    assert rating(widget("/a"), widget("/b"), V=Name("/glad")) == "glad"


@pytest.mark.parametrize("value", [None, Name("/Off"), String("")])
def test_radio_with_nothing_chosen_is_none(value):
    extra = {} if value is None else {"V": value}
    assert rating(widget("/very_happy", "/Off"), widget("/happy"), **extra) is None


def test_radio_value_in_an_array():
    assert rating(widget("/a"), widget("/b"), V=Array([Name("/b")])) == "happy"
    assert rating(widget("/a"), widget("/b"), V=Array([])) is None


def test_the_first_widget_on_wins():
    assert rating(widget("/very_happy", "/very_happy"), widget("/happy", "/happy")) == "very_happy"


# ---------------------------------------------------------------- unknown and missing fields

def test_unknown_text_fields_are_unmapped_and_unknown_buttons_ignored():
    doc = read([group("cover", text("nickname", String("Zo")), text("empty", String("")),
                      Dictionary(T=String("extra_tick"), FT=Name.Btn, V=Name("/On")), text("name", String("Zoë")))])
    assert doc.unmapped == {"cover.nickname": "Zo"}
    assert doc.values == {"cover.name": "Zoë"}  # read after the unknown ones


def test_a_text_field_an_editor_made_a_button_is_read_as_text():
    """The definition decides with the field type: a text field that is a /Btn gives its /V, not a state."""
    button = Dictionary(T=String("name"), FT=Name.Btn, AS=Name("/On"), Type=Name.Annot, Subtype=Name.Widget)
    assert read([group("cover", button)]).values["cover.name"] is None


def test_missing_fields_are_named_five_at_most():
    doc = read([group("cover", text("name", String("Zoë")))])
    assert doc.warnings == ["3 field(s) of the pack are missing from the copy: cover.start, review.done, "
                            "feedback.respect"]
    many = [{"id": f"s.f{n}", "kind": "text", "label": str(n)} for n in range(1, 9)]
    doc = read([group("s", text("f1", String("x")))], fields_manifest=many)
    assert doc.warnings == ["7 field(s) of the pack are missing from the copy: s.f2, s.f3, s.f4, s.f5, s.f6 "
                            "and 2 more"]
    six = many[:6]
    doc = read([group("s", text("f6", String("x")))], fields_manifest=six)
    assert doc.warnings == ["5 field(s) of the pack are missing from the copy: s.f1, s.f2, s.f3, s.f4, s.f5"]
    doc = read([group("s", text("f8", String("x")))], fields_manifest=many[:7] + [many[7]])
    assert doc.warnings == ["7 field(s) of the pack are missing from the copy: s.f1, s.f2, s.f3, s.f4, s.f5 "
                            "and 2 more"]
    doc = read([group("s", text("f7", String("x")))], fields_manifest=many[:7])
    assert doc.warnings == ["6 field(s) of the pack are missing from the copy: s.f1, s.f2, s.f3, s.f4, s.f5 "
                            "and 1 more"]


def test_everything_present_gives_no_warning_and_the_manifest():
    doc = read([group("cover", text("name", String("Zoë")), text("start", String("1/9/26"))),
                group("review", Dictionary(T=String("done"), FT=Name.Btn, AS=Name("/Off"))),
                group("feedback", radio(widget("/very_happy", "/very_happy")))])
    assert doc.warnings == [] and doc.format == "pdf" and doc.unmapped == {}
    assert doc.values == {"cover.name": "Zoë", "cover.start": "1/9/26", "review.done": False,
                          "feedback.respect": "very_happy"}
    assert doc.manifest["pack_id"] == "care-pack" and doc.manifest["fields"] == FIELDS


# ---------------------------------------------------------------- the editor

def one_field() -> list:
    return [group("cover", text("name", String("Zoë")))]


def test_editor_from_the_info_dictionary_and_from_unfiltered_xmp():
    assert read(one_field(), info={"Producer": "pdftk-java 3.3.3"}).editor == "pdftk"
    assert read(one_field(), info={"Creator": "Adobe Acrobat Pro 24"}).editor == "Adobe Acrobat"
    xmp = b'<x:xmpmeta><rdf:Description pdf:Producer="Quartz PDFContext"/></x:xmpmeta>'
    assert read(one_field(), xmp=xmp).editor == "macOS Preview"
    assert read(one_field(), xmp=xmp, xmp_filter=True).editor == "unknown"  # a compressed packet is not unpacked
    assert read(one_field(), xmp=xmp, xmp_filter="raw").editor == "unknown"  # nor one that says it is
    assert read(one_field()).editor == "unknown"


def test_an_xmp_packet_that_is_not_utf8_is_still_read():
    xmp = b'<x:xmpmeta pdf:Producer="Quartz PDFContext" dc:title="Zo\xeb"/>'  # Latin-1, not UTF-8
    assert b"\xeb" in xmp
    assert read(one_field(), xmp=xmp).editor == "macOS Preview"


def test_an_xmp_packet_over_a_megabyte_is_not_read():
    padded = b"Quartz PDFContext" + b" " * (1_000_001 - 17)
    assert len(padded) == 1_000_001
    assert read(one_field(), xmp=padded).editor == "unknown"
    assert read(one_field(), xmp=padded[:1_000_000]).editor == "macOS Preview"


# ---------------------------------------------------------------- refusals

def test_a_copy_without_fields_says_it_was_flattened():
    with pytest.raises(ReadError) as caught:
        read([])
    assert str(caught.value) == ("copy.pdf: has no form fields: it was probably printed to PDF or flattened. "
                                 "Return the fillable copy that was issued, filled in")


def test_a_copy_without_a_manifest_is_not_ours():
    with pytest.raises(ReadError) as caught:
        read([group("cover", text("name", String("Zoë")))], attach=False)
    assert caught.value.code == "E-READ-FOREIGN"


def test_a_looping_field_tree_is_a_damaged_form():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    node = pdf.make_indirect(Dictionary(T=String("cover")))
    node.Kids = Array([node])
    pdf.Root.AcroForm = Dictionary(Fields=Array([node]))
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(out.getvalue(), "copy.pdf")
    assert str(caught.value) == "copy.pdf: its form is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


def test_a_parent_chain_that_loops_while_reading_values_is_a_damaged_form():
    """The tree is sound, but a terminal field's /Parent points into a loop: found while reading its type."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    a = pdf.make_indirect(Dictionary())
    b = pdf.make_indirect(Dictionary(Parent=a))
    a.Parent = b
    leaf = pdf.make_indirect(Dictionary(T=String("name"), Parent=b))
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(Dictionary(T=String("cover"), Kids=Array([leaf])))]))
    stream = pikepdf.Stream(pdf, json.dumps(manifest()).encode())
    spec = Dictionary(Type=Name.Filespec, EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(out.getvalue(), "copy.pdf")
    assert str(caught.value) == "copy.pdf: its form is damaged and cannot be read; ask for the copy again, saved once more from the program it was filled in"


def test_a_manifest_beyond_the_limit_is_refused_as_a_bomb(monkeypatch):
    monkeypatch.setattr("generator.formats.pdf.objects.MANIFEST_MAX_BYTES", 100)
    with pytest.raises(ReadError) as caught:
        read([group("cover", text("name", String("Zoë")))])
    assert str(caught.value) == f"copy.pdf: {LIMIT_MESSAGE}"
    assert LIMIT_MESSAGE.startswith("goes beyond the reading limits")


def test_a_truncated_copy_is_damaged():
    data = pdf_bytes([group("cover", text("name", String("Zoë")))])
    cut = data[:len(data) // 3]
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(cut, "copy.pdf")
    assert str(caught.value) == TRUNCATED


def broken_xref(data: bytes) -> bytes:
    """The file with its cross-reference offset wrong: qpdf repairs it (and says so) when opening."""
    at = data.rindex(b"startxref")
    return data[:at] + b"startxref\n999999\n%%EOF\n"


def test_a_repaired_copy_without_fields_is_damaged_not_flattened():
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(broken_xref(pdf_bytes([])), "copy.pdf")
    assert str(caught.value) == TRUNCATED


def test_a_repaired_copy_without_a_manifest_is_damaged_not_foreign():
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(broken_xref(pdf_bytes(one_field(), attach=False)), "copy.pdf")
    assert str(caught.value) == TRUNCATED
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(pdf_bytes(one_field(), attach=False), "copy.pdf")
    assert str(caught.value).startswith("copy.pdf: was not generated by this tool")


def test_a_repaired_copy_whose_form_loops_is_damaged():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    a = pdf.make_indirect(Dictionary())
    b = pdf.make_indirect(Dictionary(Parent=a))
    a.Parent = b
    leaf = pdf.make_indirect(Dictionary(T=String("name"), Parent=b))
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(Dictionary(T=String("cover"), Kids=Array([leaf])))]))
    stream = pikepdf.Stream(pdf, json.dumps(manifest()).encode())
    spec = Dictionary(Type=Name.Filespec, EF=Dictionary(F=stream))
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("portfolio-manifest.json"), spec])))
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(ReadError) as caught:
        read_pdf_raw(broken_xref(out.getvalue()), "copy.pdf")
    assert str(caught.value) == TRUNCATED


def test_states_of_every_pdf_type():
    state = pdf_read._state
    assert state(None) is None and state(Name("/Off")) == "/Off" and state(String("On")) == "On"
    assert state(Array([Name("/1")])) == "/1" and state(Array([])) is None and state(3) == "3"


def test_a_print_ready_file_is_told_apart_from_a_flattened_copy():
    """No form fields, the paper layout attached and no manifest: the file issued for printing. With a
    manifest too, or without the layout, it is a copy that lost its form."""
    import io

    import pikepdf

    from generator.errors import ReadError
    from generator.formats.pdf.read import read_pdf_raw

    def pdf_with(*names: str) -> bytes:
        pdf = pikepdf.new()
        pdf.add_blank_page(page_size=(595, 842))
        for n in names:
            pdf.attachments[n] = pikepdf.AttachedFileSpec(pdf, b"{}", mime_type="application/json")
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()

    with pytest.raises(ReadError) as raised:
        read_pdf_raw(pdf_with("portfolio-layout.json"), "print.pdf")
    assert (raised.value.file, raised.value.reason) == (
        "print.pdf", "is a print-ready file of forms for paper (issued with --print), with no form fields: print "
        "it, and ingest the scans of the filled-in forms")
    for names in (("portfolio-layout.json", "portfolio-manifest.json"), ("other.json",)):
        with pytest.raises(ReadError) as raised:
            read_pdf_raw(pdf_with(*names), "flat.pdf")
        assert raised.value.reason.startswith("has no form fields: it was probably printed to PDF or flattened")
