"""Find the manifest and raw field values in a returned PDF.

In: PDF bytes. Out: a ``RawDocument`` (raw values keyed by field id). Copes with
what real editors do to a form: values kept only in a widget, radio on-states
renamed or turned into indexes (mapped through /Opt or the widget's position),
any non-/Off checkbox state, NeedAppearances set or not, UTF-16 and
PDFDocEncoding strings (pypdf decodes both).
"""

from __future__ import annotations

from typing import Any

from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PdfReadError
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    NameObject,
    TextStringObject,
)

from generator.errors import ReadError
from generator.formats.pdf.access import (
    field_widgets,
    find_manifest,
    inherited,
    limited,
    on_state,
    open_pdf,
    terminal_fields,
)
from generator.kinds import BUTTON_KINDS
from generator.model.document import RawDocument

EDITORS = (  # substring of /Producer or /Creator -> editor
    ("pdftk", "pdftk"), ("Acrobat", "Adobe Acrobat"), ("Adobe PDF Library", "Adobe Acrobat"),
    ("Skia/PDF", "Chrome/Edge"), ("PDFium", "Chrome/Edge"), ("pdf.js", "Firefox"), ("PDF.js", "Firefox"),
    ("Quartz PDFContext", "macOS Preview"), ("pypdf", "pypdf"), ("LibreOffice", "LibreOffice"),
    ("WeasyPrint", "unchanged or unknown"),
)


def _editor(reader: PdfReader) -> str:
    try:
        info = reader.metadata or {}
    except PdfReadError:
        return "unknown"
    text = f"{info.get('/Producer', '')} {info.get('/Creator', '')}"
    return next((name for key, name in EDITORS if key in text), "unknown")


















def _button_value(fld: DictionaryObject, definition: dict[str, Any]) -> Any:
    """A radio group's option value or a checkbox's state, however the editor named its states."""
    widgets = field_widgets(fld)
    value = inherited(fld, "/V")
    options = [o["value"] for o in definition.get("options", ())]
    if definition["kind"] == "checkbox":
        states = [w.get("/AS") for w in widgets] + [value]
        return any(s is not None and str(s) not in ("/Off", "", "Off") for s in states)
    # Radio group: which widget is on, by its appearance state, else by /V.
    opt = inherited(fld, "/Opt")
    opt_values = [str(o[0] if isinstance(o, ArrayObject) else o) for o in opt] if opt is not None else None
    chosen: str | None = None
    for index, widget in enumerate(widgets):
        state = widget.get("/AS")
        if state is not None and str(state) != "/Off":
            chosen = _map_state(str(state)[1:], index, opt_values, options, widget)
            break
    if chosen is None and value is not None and str(value) not in ("/Off", ""):
        name = str(value).lstrip("/")
        index = next((i for i, w in enumerate(widgets) if on_state(w) == f"/{name}"), None)
        chosen = _map_state(name, index, opt_values, options, widgets[index] if index is not None else None)
    return chosen


def _map_state(state: str, index: int | None, opt_values: list[str] | None, options: list[str],
               widget: DictionaryObject | None) -> str:
    if state in options:
        return state
    if opt_values is not None and state.isdigit() and int(state) < len(opt_values):
        candidate = opt_values[int(state)]
        if candidate in options:
            return candidate
    if index is not None and index < len(options):
        return options[index]  # renamed states: the widgets are in option order
    return state


def _text_value(fld: DictionaryObject) -> Any:
    value = inherited(fld, "/V")
    if value is None or value == "":
        for widget in field_widgets(fld):  # some editors leave the value only in the widget
            if widget.get("/V") not in (None, ""):
                value = widget["/V"]
                break
    if isinstance(value, ArrayObject):
        value = value[0] if value else None
    if isinstance(value, NameObject):
        value = str(value)[1:]
    if isinstance(value, ByteStringObject):  # neither PDFDocEncoding nor UTF-16
        return _utf8_or(bytes(value), bytes(value).decode("latin-1"))
    if isinstance(value, TextStringObject) and getattr(value, "autodetect_pdfdocencoding", False):
        # Some tools write raw UTF-8 where PDFDocEncoding belongs; multi-byte UTF-8 sequences
        # are next to impossible in real PDFDocEncoding text, so valid UTF-8 wins.
        raw = value.original_bytes
        if any(b >= 0x80 for b in raw):
            return _utf8_or(raw, str(value))
    return None if value is None else str(value)


def _utf8_or(raw: bytes, fallback: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return fallback


def read_pdf_raw(data: bytes, name: str) -> RawDocument:
    try:
        with limited():
            return _read_pdf_raw(data, name)
    except LimitReachedError:
        raise ReadError(name, "goes beyond the reading limits (a stream that unpacks to more than 10 MB, or "
                              "too many objects); refused as a possible decompression bomb") from None


def _read_pdf_raw(data: bytes, name: str) -> RawDocument:
    reader = open_pdf(data, name)
    try:
        found = terminal_fields(reader.trailer["/Root"])
    except LimitReachedError:
        raise
    except Exception:
        raise ReadError(name, "its form is damaged and cannot be read") from None
    if not found:
        raise ReadError(name, "has no form fields: it was probably printed to PDF or flattened. "
                              "Return the fillable copy that was issued, filled in")
    manifest = find_manifest(reader, name)
    definitions = {d["id"]: d for d in manifest["fields"]}
    values: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    for fid, fld in found.items():
        definition = definitions.get(fid)
        ftype = inherited(fld, "/FT")
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
    return RawDocument("pdf", manifest, values, unmapped, _editor(reader), warnings)
