"""Find the manifest and raw field values in a returned PDF, with pikepdf (qpdf).

In: PDF bytes. Out: a ``RawDocument`` (raw values keyed by field id). Copes with
what real editors do to a form: values kept only in a widget, radio on-states
renamed or turned into indexes (mapped through /Opt or the widget's position),
any non-/Off checkbox state, NeedAppearances set or not, UTF-16, PDFDocEncoding
and raw UTF-8 strings. qpdf repairs damaged cross-reference tables; a copy it had
to repair that then lacks its form or manifest is reported as damaged. Loops in
the field tree or /Parent chains are refused (see ``objects``).
"""

from __future__ import annotations

from typing import Any

import pikepdf
from pikepdf import Array, Name, String

from generator.errors import ReadError
from generator.formats.pdf.objects import (
    Damaged,
    LimitReached,
    decode_text,
    editor_info,
    field_widgets,
    find_manifest,
    inherited,
    on_state,
    open_pdf,
    repaired,
    terminal_fields,
)
from generator.kinds import BUTTON_KINDS
from generator.model.document import RawDocument
from generator.model.manifest import LAYOUT_ATTACHMENT_NAME, PDF_ATTACHMENT_NAME

LIMIT_MESSAGE = ("goes beyond the reading limits (a stream that unpacks to more than 10 MB, or "
                 "too many objects); refused as a possible decompression bomb")
DAMAGED = "is damaged or truncated and cannot be read as a PDF"


def _xmp(pdf: pikepdf.Pdf) -> str:
    """The XMP packet's text when it is stored unfiltered and small (it is a hint only), else ''."""
    try:
        stream = pdf.Root.get("/Metadata")
        if isinstance(stream, pikepdf.Stream) and "/Filter" not in stream:
            raw = stream.read_raw_bytes()
            return raw.decode("utf-8", "replace") if len(raw) <= 1_000_000 else ""
    except (pikepdf.PdfError, ValueError, TypeError, AttributeError):
        pass
    return ""


def _editor(pdf: pikepdf.Pdf, data: bytes) -> str:
    """The editor that last saved the copy (``generator.formats.editors``)."""
    from generator.formats.editors import pdf_editor
    return pdf_editor(editor_info(pdf), data, _xmp(pdf))


def _state(value: Any) -> str | None:
    """A name, string or number as text ('/Off', '/0', 'Off'), None when absent."""
    if value is None:
        return None
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, String):
        return decode_text(value)
    if isinstance(value, Array):
        return _state(value[0]) if len(value) else None
    return str(value)


def _button_value(fld: Any, definition: dict[str, Any]) -> Any:
    """A radio group's option value or a checkbox's state, however the editor named its states."""
    widgets = field_widgets(fld)
    value = _state(inherited(fld, "/V"))
    options = [o["value"] for o in definition.get("options", ())]
    if definition["kind"] == "checkbox":
        states = [_state(w.get("/AS")) for w in widgets] + [value]
        return any(s is not None and s not in ("/Off", "", "Off") for s in states)
    # Radio group: which widget is on, by its appearance state, else by /V.
    opt = inherited(fld, "/Opt")
    opt_values = [_state(o) or "" for o in opt] if isinstance(opt, Array) else None
    chosen: str | None = None
    for index, widget in enumerate(widgets):
        state = _state(widget.get("/AS"))
        if state is not None and state != "/Off":
            chosen = _map_state(state[1:] if state.startswith("/") else state, index, opt_values, options)
            break
    if chosen is None and value is not None and value not in ("/Off", ""):
        name = value.lstrip("/")
        index = next((i for i, w in enumerate(widgets) if on_state(w) == f"/{name}"), None)
        chosen = _map_state(name, index, opt_values, options)
    return chosen


def _map_state(state: str, index: int | None, opt_values: list[str] | None, options: list[str]) -> str:
    if state in options:
        return state
    if opt_values is not None and state.isdigit() and int(state) < len(opt_values):
        candidate = opt_values[int(state)]
        if candidate in options:
            return candidate
    if index is not None and index < len(options):
        return options[index]  # renamed states: the widgets are in option order
    return state


def _text(value: Any) -> str | None:
    """A text field's value as text: strings decoded, a name without its slash, an array's first item."""
    if isinstance(value, Array):
        value = value[0] if len(value) else None
    if value is None:
        return None
    if isinstance(value, Name):
        return str(value)[1:]
    if isinstance(value, String):
        return decode_text(value)
    return str(value)


def _text_value(fld: Any) -> str | None:
    value = _text(inherited(fld, "/V"))
    if value in (None, ""):
        for widget in field_widgets(fld):  # some editors leave the value only in the widget
            own = _text(widget.get("/V"))
            if own not in (None, ""):
                return own
    return value


def read_pdf_raw(data: bytes, name: str) -> RawDocument:
    """The raw values of a returned PDF; ReadError naming ``name`` when it cannot be read."""
    pdf = open_pdf(data, name)
    try:
        return _read_pdf_raw(pdf, name, data)
    except LimitReached:
        raise ReadError(name, LIMIT_MESSAGE) from None
    except (Damaged, pikepdf.PdfError, RecursionError):
        raise ReadError.damaged(name, DAMAGED if repaired(pdf) else "its form is damaged and cannot be read") from None
    finally:
        pdf.close()


def _read_pdf_raw(pdf: pikepdf.Pdf, name: str, data: bytes) -> RawDocument:
    try:
        found = terminal_fields(pdf)
    except (Damaged, pikepdf.PdfError, RecursionError, ValueError, TypeError, AttributeError):
        raise ReadError.damaged(name, "its form is damaged and cannot be read") from None
    if not found:
        if repaired(pdf):  # a truncated copy whose form qpdf could not recover
            raise ReadError.damaged(name, DAMAGED)
        if LAYOUT_ATTACHMENT_NAME in pdf.attachments and PDF_ATTACHMENT_NAME not in pdf.attachments:
            raise ReadError(name, "is a print-ready file of forms for paper (issued with --print), with no "
                                  "form fields: print it, and ingest the scans of the filled-in forms")
        raise ReadError(name, "has no form fields: it was probably printed to PDF or flattened. "
                              "Return the fillable copy that was issued, filled in")
    try:
        manifest = find_manifest(pdf, name)
    except ReadError:
        if repaired(pdf):
            raise ReadError.damaged(name, DAMAGED) from None
        raise
    definitions = {d["id"]: d for d in manifest["fields"]}
    values: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    for fid, fld in found.items():
        definition = definitions.get(fid)
        ftype = _state(inherited(fld, "/FT"))
        if definition is None:
            if ftype != "/Btn":
                text = _text_value(fld)
                if text not in (None, ""):
                    unmapped[fid] = text
            continue
        if definition["kind"] in BUTTON_KINDS and ftype == "/Btn":
            values[fid] = _button_value(fld, definition)
        else:
            values[fid] = _text_value(fld)
    warnings = []
    missing = [fid for fid in definitions if fid not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.append(f"{len(missing)} field(s) of the pack are missing from the copy: {shown}")
    return RawDocument("pdf", manifest, values, unmapped, _editor(pdf, data), warnings)
