"""Reading PDF copies: round trips through independent clients, real-world quirks, bad input."""

from __future__ import annotations

import io
import json
import subprocess
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NameObject, NumberObject, TextStringObject

from generator.cli.common import main
from generator.errors import ReadError
from generator.formats.pdf.access import terminal_fields
from generator.formats.pdf.fill import fill_pdf
from generator.model.values import to_document
from generator.reading.read import read_bytes
from tests.conftest import need_tool
from tests.samples import NAMES, expected_record, sample_values


@pytest.fixture(scope="module")
def blank(pdf_path) -> bytes:
    return pdf_path.read_bytes()


@pytest.fixture(scope="module")
def values(form):
    return sample_values(form)


@pytest.fixture(scope="module")
def filled(blank, values) -> bytes:
    return fill_pdf(blank, values)


def test_round_trip_through_our_filler_gives_identical_record(filled, form, values, manifest):
    record = read_bytes(filled, "filled.pdf")
    assert record.fields == expected_record(form, values)
    assert record.warnings == []
    assert record.pack["instance_id"] == manifest["instance_id"]
    assert record.pack["content_version"] == "1.0.0"
    scale = [f for f in form.fields if f.kind == "choice" and len(f.options) == 5]
    for fld in scale:
        if values[fld.id]:
            assert record.positions[fld.id] == [o.value for o in fld.options].index(values[fld.id]) + 1


def test_blank_pack_reads_as_all_empty(blank, form):
    record = read_bytes(blank, "blank.pdf")
    assert set(record.fields) == {f.id for f in form.fields}
    assert all(v in (None, False) for v in record.fields.values())


def _xfdf(form, values) -> str:
    parts = []
    for fld in form.fields:
        raw = to_document({"kind": fld.kind}, values.get(fld.id))
        if raw is None:
            continue
        if fld.kind == "checkbox":
            raw = "Yes" if raw else "Off"
        parts.append(f'<field name="{fld.id}"><value>{escape(str(raw))}</value></field>')
    return ('<?xml version="1.0" encoding="UTF-8"?><xfdf xmlns="http://ns.adobe.com/xfdf/">'
            f"<fields>{''.join(parts)}</fields></xfdf>")


def test_round_trip_through_pdftk_xfdf(blank, form, values, tmp_path):
    need_tool("pdftk")
    (tmp_path / "blank.pdf").write_bytes(blank)
    (tmp_path / "v.xfdf").write_text(_xfdf(form, values), encoding="utf-8")
    subprocess.run(["pdftk", str(tmp_path / "blank.pdf"), "fill_form", str(tmp_path / "v.xfdf"),
                    "output", str(tmp_path / "out.pdf")], check=True, capture_output=True)
    record = read_bytes((tmp_path / "out.pdf").read_bytes(), "out.pdf")
    assert record.fields == expected_record(form, values)


def test_round_trip_through_pdftk_fdf_with_need_appearances(blank, form, values, tmp_path):
    """FDF fill plus need_appearances: the viewer is asked to redraw; values still read back."""
    need_tool("pdftk")
    (tmp_path / "blank.pdf").write_bytes(blank)

    def pdf_string(text: str) -> str:
        return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"
    entries = []
    for fld in form.fields:
        raw = to_document({"kind": fld.kind}, values.get(fld.id))
        if raw is None:
            continue
        if fld.kind == "checkbox":
            entries.append(f"<< /T ({fld.id}) /V /{'Yes' if raw else 'Off'} >>")
        elif fld.kind in ("yesno", "choice"):
            entries.append(f"<< /T ({fld.id}) /V /{raw} >>")
        else:
            entries.append(f"<< /T ({fld.id}) /V {pdf_string(raw)} >>")
    fdf = "%FDF-1.2\n1 0 obj << /FDF << /Fields [" + "\n".join(entries) + "] >> >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    (tmp_path / "v.fdf").write_bytes(fdf.encode("latin-1"))
    subprocess.run(["pdftk", str(tmp_path / "blank.pdf"), "fill_form", str(tmp_path / "v.fdf"),
                    "output", str(tmp_path / "out.pdf"), "need_appearances"], check=True, capture_output=True)
    record = read_bytes((tmp_path / "out.pdf").read_bytes(), "out.pdf")
    assert record.fields == expected_record(form, values)


def test_round_trip_through_pypdf_writer_api(blank, form, values):
    """pypdf's own form API (as a third-party script would use it), not our filler."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank)))
    text, buttons = {}, {}
    for fld in form.fields:
        raw = to_document({"kind": fld.kind}, values.get(fld.id))
        if raw is None:
            continue
        if fld.kind == "checkbox":
            buttons[fld.id] = "/Yes" if raw else "/Off"
        elif fld.kind in ("yesno", "choice"):
            buttons[fld.id] = f"/{raw}"
        else:
            text[fld.id] = raw
    writer.update_page_form_field_values(None, {**text, **buttons}, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    assert read_bytes(out.getvalue(), "pypdf.pdf").fields == expected_record(form, values)


def test_filled_copy_renders_values_in_poppler(filled, blank, tmp_path):
    """After our fill, poppler draws the values (NeedAppearances cleared, appearances made)."""
    need_tool("pdftotext", "qpdf")
    (tmp_path / "f.pdf").write_bytes(filled)
    assert PdfReader(io.BytesIO(filled)).trailer["/Root"]["/AcroForm"].get("/NeedAppearances") in (None, False)
    subprocess.run(["qpdf", "--check", str(tmp_path / "f.pdf")], check=True, capture_output=True)
    drawn = subprocess.run(["pdftotext", "-layout", str(tmp_path / "f.pdf"), "-"], check=True,
                           capture_output=True, text=True).stdout
    blank_text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=blank, check=True,
                                capture_output=True).stdout.decode()
    for name in NAMES:  # every sample name is typed into some text field, and poppler draws it
        assert name in drawn, name
        assert name not in blank_text, name


# ---------------------------------------------------------------- quirks of real editors

def _mutate(data: bytes, change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    change(terminal_fields(writer.root_object), writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


RATING = "patient_feedback.ratings.respect"
TICK = "competencies.personalised_care.focus_on_what_matters.achieved"
SIGNOFF = "competencies.personalised_care_signoff.achieved"
NAME = "cover.details.name"
NOTES = "final_review.review.self_assessment"


@pytest.fixture(scope="module")
def quirk_base(blank):
    return fill_pdf(blank, {RATING: "unsure", TICK: True, SIGNOFF: False, NAME: "Zoë Łukasiewicz",
                            NOTES: "one\ntwo"})


def test_quirk_radio_states_as_indexes_with_opt(quirk_base):
    """WeasyPrint's own output and some editors: states /0../4 with the values in /Opt."""
    def change(fields, writer):
        group = fields[RATING]
        values = []
        for i, ref in enumerate(group["/Kids"]):
            widget = ref.get_object()
            normal = widget["/AP"]["/N"]
            state = next(k for k in normal if k != "/Off")
            values.append(TextStringObject(state[1:]))
            normal[NameObject(f"/{i}")] = normal.pop(state)
            if widget["/AS"] != "/Off":
                widget[NameObject("/AS")] = NameObject(f"/{i}")
                group[NameObject("/V")] = NameObject(f"/{i}")
        group[NameObject("/Opt")] = ArrayObject(values)
    record = read_bytes(_mutate(quirk_base, change), "q.pdf")
    assert record.fields[RATING] == "unsure" and record.positions[RATING] == 3


def test_quirk_radio_states_renamed_without_opt(quirk_base):
    """An editor renamed the on-states (Choice1…): the widget's position gives the option."""
    def change(fields, writer):
        group = fields[RATING]
        for i, ref in enumerate(group["/Kids"]):
            widget = ref.get_object()
            normal = widget["/AP"]["/N"]
            state = next(k for k in normal if k != "/Off")
            normal[NameObject(f"/Choice{i + 1}")] = normal.pop(state)
            if widget["/AS"] != "/Off":
                widget[NameObject("/AS")] = NameObject(f"/Choice{i + 1}")
                group[NameObject("/V")] = NameObject(f"/Choice{i + 1}")
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[RATING] == "unsure"


@pytest.mark.parametrize("state", ["/On", "/on", "/1", "/Ja"])
def test_quirk_checkbox_on_state_is_anything_not_off(quirk_base, state):
    def change(fields, writer):
        widget = fields[TICK]
        normal = widget["/AP"]["/N"]
        normal[NameObject(state)] = normal.pop("/Yes")
        widget[NameObject("/AS")] = widget[NameObject("/V")] = NameObject(state)
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[TICK] is True


def test_quirk_value_only_in_the_widget(quirk_base):
    """Some editors leave the parent's /V empty and write the state on the widget only."""
    def change(fields, writer):
        group = fields[RATING]
        del group["/V"]
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[RATING] == "unsure"


def test_quirk_text_value_only_in_a_widget_kid(quirk_base):
    def change(fields, writer):
        fld = fields[NAME]
        value = fld["/V"]
        fld[NameObject("/V")] = TextStringObject("")
        fld[NameObject("/Kids")] = ArrayObject()  # keep it simple: a kid widget holding the value
        from pypdf.generic import DictionaryObject
        kid = DictionaryObject({NameObject("/V"): value, NameObject("/Parent"): fld.indirect_reference})
        fld["/Kids"].append(writer._add_object(kid))
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[NAME] == "Zoë Łukasiewicz"


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_quirk_line_endings(quirk_base, ending):
    def change(fields, writer):
        fields[NOTES][NameObject("/V")] = TextStringObject(f"one{ending}two")
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[NOTES] == "one\ntwo"


def test_quirk_pdfdocencoding_and_utf16_strings(quirk_base):
    """Editors write either encoding; both must decode to the same text."""
    from codecs import BOM_UTF16_BE

    from pypdf.generic import ByteStringObject

    def change(fields, writer):
        fields[NAME][NameObject("/V")] = ByteStringObject(b"Zo\xeb \x8dquoted\x8e")  # PDFDocEncoding
        fields[NOTES][NameObject("/V")] = ByteStringObject(BOM_UTF16_BE + "Łukasiewicz".encode("utf-16-be"))
    record = read_bytes(_mutate(quirk_base, change), "q.pdf")
    assert record.fields[NAME] == "Zoë “quoted”"
    assert record.fields[NOTES] == "Łukasiewicz"


def test_quirk_raw_utf8_bytes_from_a_careless_tool(quirk_base):
    """Bytes that are neither PDFDocEncoding nor UTF-16 (raw UTF-8) are still read as the text meant."""
    from pypdf.generic import ByteStringObject

    def change(fields, writer):
        fields[NAME][NameObject("/V")] = ByteStringObject("Łucja Ó Briain".encode("utf-8"))
    assert read_bytes(_mutate(quirk_base, change), "q.pdf").fields[NAME] == "Łucja Ó Briain"


def test_quirk_need_appearances_set_and_appearances_dropped(quirk_base):
    """A re-saved copy without appearance streams (the viewer redraws): values are in /V."""
    def change(fields, writer):
        writer._root_object["/AcroForm"][NameObject("/NeedAppearances")] = NumberObject(1)
        fields[NAME].pop("/AP", None)
    record = read_bytes(_mutate(quirk_base, change), "q.pdf")
    assert record.fields[NAME] == "Zoë Łukasiewicz" and record.fields[TICK] is True


def test_unknown_fields_are_kept_and_reported(quirk_base):
    def change(fields, writer):
        fields[NAME][NameObject("/T")] = TextStringObject("nickname")
    record = read_bytes(_mutate(quirk_base, change), "q.pdf")
    assert record.unmapped == {"cover.details.nickname": "Zoë Łukasiewicz"}
    assert any("cover.details.nickname" in w for w in record.warnings)
    assert any("missing from the copy" in w and NAME in w for w in record.warnings)


def test_dates_read_day_first_or_kept_with_a_warning(blank):
    data = fill_pdf(blank, {"cover.details.start_date": None})
    def change(fields, writer):
        fields["cover.details.start_date"][NameObject("/V")] = TextStringObject("03/04/26")
        fields["initial_discussion.signatures.facilitator.date"][NameObject("/V")] = TextStringObject("next Tuesday")
    record = read_bytes(_mutate(data, change), "d.pdf")
    assert record.fields["cover.details.start_date"] == "2026-04-03"
    assert record.fields["initial_discussion.signatures.facilitator.date"] == "next Tuesday"
    assert any(w.startswith("initial_discussion.signatures.facilitator.date: date not understood") for w in record.warnings)


def test_unknown_content_version_is_read_with_a_warning(blank, tmp_path):
    reader = PdfReader(io.BytesIO(blank))
    manifest = json.loads(reader.attachments["portfolio-manifest.json"][0])
    manifest["content"]["version"] = "9.9.9"
    writer = PdfWriter(clone_from=reader)
    writer.add_attachment("portfolio-manifest.json", json.dumps(manifest).encode())
    # replace rather than add: drop the old name tree entry
    names = writer._root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    del names[0:2]
    out = io.BytesIO()
    writer.write(out)
    record = read_bytes(out.getvalue(), "old.pdf")
    assert record.pack["content_version"] == "9.9.9"
    assert any("content version '9.9.9'" in w for w in record.warnings)
    assert len(record.fields) == len(manifest["fields"])


# ---------------------------------------------------------------- bad input

def _cli_read(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return CliRunner().invoke(main, ["read", str(path)])


def _no_fields(blank: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank)))
    del writer._root_object["/AcroForm"]
    for page in writer.pages:
        page.pop("/Annots", None)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypted(blank: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(blank)))
    writer.encrypt(user_password="secret", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _foreign(blank: bytes) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    from pypdf.generic import DictionaryObject
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({NameObject("/Fields"): ArrayObject()})
    field = DictionaryObject({NameObject("/FT"): NameObject("/Tx"), NameObject("/T"): TextStringObject("name"),
                              NameObject("/V"): TextStringObject("x")})
    writer._root_object["/AcroForm"]["/Fields"].append(writer._add_object(field))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


BAD = {
    "empty": (lambda b: b"", "empty.pdf: file is empty (0 bytes): it was not saved or sent whole; ask for the copy again"),
    "truncated": (lambda b: b[: len(b) // 3], "truncated.pdf: is damaged or truncated and cannot be read as a PDF; ask for the copy again, saved once more from the program it was filled in"),
    "not a pdf": (lambda b: b"Name,Practice\nZoe,High Street\n", "not a pdf.pdf: is not a PDF or Word (.docx) file: check that it is the "
                                                             "filled copy itself (the .pdf or .docx file that was sent "
                                                             "out), or ask for the copy again"),
    "flattened": (_no_fields, "flattened.pdf: has no form fields: it was probably printed to PDF or flattened"),
    "encrypted": (_encrypted, "encrypted.pdf: is encrypted; return an unprotected copy"),
    "foreign": (_foreign, "foreign.pdf: was not generated by this tool (no portfolio manifest inside)"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_one_clear_line_and_exit_1(blank, tmp_path, case):
    make, message = BAD[case]
    result = CliRunner().invoke(main, ["read", str(_write(tmp_path, f"{case}.pdf", make(blank)))])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}"), result.output
    assert result.output.count("\n") == 1


def test_bad_input_raises_read_error_from_the_library(blank):
    with pytest.raises(ReadError) as info:
        read_bytes(_encrypted(blank), "x.pdf")
    assert info.value.file == "x.pdf"


def test_read_writes_no_partial_output_on_error(blank, tmp_path):
    out = tmp_path / "record.json"
    result = CliRunner().invoke(main, ["read", str(_write(tmp_path, "t.pdf", blank[:500])), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- property test

text_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(name=text_values, notes=st.lists(text_values, max_size=3), tick=st.booleans(),
       choice=st.sampled_from(["very_happy", "happy", "unsure", "unhappy", "very_unhappy", None]))
def test_any_values_round_trip(blank, name, notes, tick, choice):
    note = "\n".join(notes)
    data = fill_pdf(blank, {NAME: name, NOTES: note, TICK: tick, RATING: choice})
    record = read_bytes(data, "h.pdf")
    assert record.fields[NAME] == (name if name.strip() else None)
    assert record.fields[NOTES] == (note if note.strip() else None)
    assert record.fields[TICK] is tick
    assert record.fields[RATING] == choice


def test_fill_refuses_values_that_do_not_fit_their_fields(blank, tmp_path):
    record = tmp_path / "bad.json"
    record.write_text(json.dumps({RATING: "great", "cover.details.start_date": 5, TICK: "maybe", NAME: "Zoë"}))
    out = tmp_path / "out.pdf"
    (tmp_path / "pack.pdf").write_bytes(blank)
    result = CliRunner().invoke(main, ["fill", str(tmp_path / "pack.pdf"), str(record), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert result.output == (
        "Error: pack.pdf: 3 value(s) do not fit their fields; nothing was written:\n"
        f"  {RATING}: expected one of: very_happy, happy, unsure, unhappy, very_unhappy, not 'great'\n"
        "  cover.details.start_date: expected text (a date as YYYY-MM-DD or DD/MM/YYYY), not 5\n"
        f"  {TICK}: expected true or false, not 'maybe'\n")


def test_fill_names_what_to_give_for_a_file_that_is_no_pack(tmp_path):
    (tmp_path / "pack.pdf").write_bytes(b"Name,Practice\nZoe,High Street\n")
    (tmp_path / "r.json").write_text("{}")
    out = tmp_path / "out.pdf"
    result = CliRunner().invoke(main, ["fill", str(tmp_path / "pack.pdf"), str(tmp_path / "r.json"), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert result.output == ("Error: pack.pdf: is not a PDF or Word (.docx) pack: give the .pdf or .docx that "
                             "'portfolio build' or 'portfolio issue' wrote, or a returned copy of it\n")
