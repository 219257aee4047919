"""Low-level access to a PDF form with pypdf: limits, opening, the manifest, the field tree.

In: PDF bytes or a parsed catalog. Out: a reader opened within our limits, the
embedded manifest (checked), terminal fields by their fully qualified names,
a field's widgets and a widget's on-state. Shared by the PDF reader, filler and
stamper.
"""

from __future__ import annotations

import io
import json
from typing import Any

from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject

from generator.errors import ReadError
from generator.model.document import check_manifest
from generator.model.manifest import PDF_ATTACHMENT_NAME

#: Limits well below pypdf's defaults: a portfolio pack is a few hundred kB, its
#: largest stream (a font) well under 1 MB uncompressed.
LIMITS = dict(
    maximum_declared_stream_length=20_000_000,
    zlib_maximum_output_length=10_000_000,
    lzw_maximum_output_length=10_000_000,
    run_length_maximum_output_length=10_000_000,
    brotli_maximum_output_length=10_000_000,
    array_based_stream_maximum_output_length=10_000_000,
    jbig2_maximum_output_length=10_000_000,
    image_maximum_buffer_size=10_000_000,
    stream_decoding_work_maximum_length=50_000_000,
    array_maximum_element_count=20_000,
    dictionary_maximum_element_count=5_000,
    page_tree_maximum_entries=2_000,
    page_tree_maximum_depth=16,
    form_fields_maximum_entries=10_000,
    form_fields_maximum_depth=16,
    outline_maximum_entries=2_000,
    named_destinations_maximum_entries=2_000,
    xmp_maximum_input_length=1_000_000,
    disable_legacy_handling=True,
)


def limited():
    """pypdf's configuration with our limits, for a ``with`` block."""
    return apply_configuration(**LIMITS)


def open_pdf(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ReadError(name, "is encrypted; return an unprotected copy (remove the password before sending)")
        _ = reader.trailer["/Root"]
        _ = len(reader.pages)
    except (ReadError, LimitReachedError):
        raise
    except Exception:  # pypdf raises many kinds on damaged files
        raise ReadError(name, "is damaged or truncated and cannot be read as a PDF") from None
    return reader


def find_manifest(reader: PdfReader, name: str) -> dict[str, Any]:
    try:
        blobs = reader.attachments.get(PDF_ATTACHMENT_NAME)
    except LimitReachedError:
        raise
    except Exception:
        blobs = None
    if not blobs:
        raise ReadError.not_ours(name)
    try:
        manifest = json.loads(blobs[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ReadError(name, "its portfolio manifest is damaged and cannot be read") from None
    return check_manifest(manifest, name)


def inherited(node: DictionaryObject, key: str) -> Any:
    while node is not None:
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def terminal_fields(root: DictionaryObject) -> dict[str, DictionaryObject]:
    """Fully qualified name -> terminal field dictionary (widgets merged or not), from the catalog."""
    acroform = root.get("/AcroForm")
    out: dict[str, DictionaryObject] = {}
    if acroform is None:
        return out
    acroform = acroform.get_object()
    seen: set[int] = set()

    def walk(ref: Any, prefix: str) -> None:
        node = ref.get_object()
        key = id(node) if ref.indirect_reference is None else ref.indirect_reference.idnum
        if key in seen:  # a cycle in a damaged file
            return
        seen.add(key)
        partial = node.get("/T")
        name = f"{prefix}.{partial}" if prefix and partial is not None else (str(partial) if partial is not None else prefix)
        kids = [k for k in node.get("/Kids", ArrayObject())]
        named_kids = [k for k in kids if "/T" in k.get_object()]
        if named_kids:
            for kid in named_kids:
                walk(kid, name)
        elif name:
            out.setdefault(name, node)

    for ref in acroform.get("/Fields", ArrayObject()):
        walk(ref, "")
    return out


def field_widgets(fld: DictionaryObject) -> list[DictionaryObject]:
    kids = [k.get_object() for k in fld.get("/Kids", ArrayObject())]
    return kids or [fld]


def on_state(widget: DictionaryObject) -> str | None:
    ap = widget.get("/AP")
    normal = ap.get_object().get("/N") if ap is not None else None
    if normal is None or not hasattr(normal, "keys"):
        return None
    states = [s for s in normal.get_object().keys() if s != "/Off"]
    return states[0] if states else None

