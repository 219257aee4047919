"""Low-level access to a pack's form with pypdf, for the writers' side (``fill``, ``stamp``).

In: a pypdf reader or catalog of a pack this tool generated. Out: the embedded
manifest (checked), terminal fields by their fully qualified names, a field's
widgets and a widget's on-state. Walks keep a visited set and a depth bound.
Returned copies are read with pikepdf instead (``objects``): faster, and it
repairs damaged files; pypdf stays here because its writer edits the objects it
parsed in place.
"""

from __future__ import annotations

import json
from typing import Any

from pypdf import PdfReader
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject

from generator.errors import ReadError
from generator.model.document import check_manifest
from generator.model.manifest import PDF_ATTACHMENT_NAME

#: How deep a field tree may nest and how long a /Parent chain may be (the default pack's is 5).
MAX_DEPTH = 16


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
        raise ReadError.damaged(name, "its portfolio manifest is damaged and cannot be read") from None
    return check_manifest(manifest, name)


def inherited(node: DictionaryObject, key: str) -> Any:
    """``key`` of a field or of its nearest ancestor that has it; ValueError for a /Parent chain that loops."""
    for _ in range(MAX_DEPTH + 1):
        if node is None:
            return None
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    raise ValueError("a /Parent chain loops or is nested too deeply")


def terminal_fields(root: DictionaryObject) -> dict[str, DictionaryObject]:
    """Fully qualified name -> terminal field dictionary (widgets merged or not), from the catalog."""
    acroform = root.get("/AcroForm")
    out: dict[str, DictionaryObject] = {}
    if acroform is None:
        return out
    acroform = acroform.get_object()
    seen: set[int] = set()

    def walk(ref: Any, prefix: str, depth: int = 0) -> None:
        node = ref.get_object()
        key = id(node) if ref.indirect_reference is None else ref.indirect_reference.idnum
        if key in seen or depth > MAX_DEPTH:  # a cycle, or nesting no editor writes
            return
        seen.add(key)
        partial = node.get("/T")
        name = f"{prefix}.{partial}" if prefix and partial is not None else (str(partial) if partial is not None else prefix)
        kids = [k for k in node.get("/Kids", ArrayObject())]
        named_kids = [k for k in kids if "/T" in k.get_object()]
        if named_kids:
            for kid in named_kids:
                walk(kid, name, depth + 1)
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

