"""Where each field of a built PDF sits: its widgets' pages and rectangles.

In: the bytes of a PDF this tool wrote. Out: its manifest, the manifest's field
definitions each with ``widgets`` (``[{"page": 1-based, "rect": [x0, y0, x1, y1]
in points from the bottom-left, "on": option value, True for a tick box, None
for text}]``) and its pages' sizes. When the manifest carries this geometry
already it is returned as written; otherwise it is taken from the widget
annotations themselves; a print-ready PDF of several copies (no manifest) gives the
blank's layout it carries. A scan of a printed copy is read against it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pikepdf

from generator.formats.pdf.objects import field_widgets, find_manifest, on_state, terminal_fields
from generator.kinds import BUTTON_KINDS
from generator.model.manifest import LAYOUT_ATTACHMENT_NAME

#: The most of a layout attachment read (a pack's is about 100 kB).
MAX_LAYOUT_BYTES = 10_000_000


def pdf_layout(data: bytes, name: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, float]]]:
    """(manifest, field definitions with widgets, pages [{"width", "height"}]) of a built PDF."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        layout = pdf.attachments.get(LAYOUT_ATTACHMENT_NAME) if pdf.attachments else None
        if layout is not None:  # a print-ready PDF of several copies: the blank's layout, no manifest
            manifest = json.loads(layout.get_file().read_bytes()[:MAX_LAYOUT_BYTES].decode("utf-8"))
            return manifest, manifest["fields"], manifest["pages"]
        manifest = find_manifest(pdf, name)
        if manifest.get("pages") and all("widgets" in d for d in manifest["fields"]):
            return manifest, manifest["fields"], manifest["pages"]
        pages = [{"width": float(p.mediabox[2]) - float(p.mediabox[0]),
                  "height": float(p.mediabox[3]) - float(p.mediabox[1])} for p in pdf.pages]
        page_of: dict[Any, int] = {}
        for number, page in enumerate(pdf.pages, 1):
            for annot in page.get("/Annots") or []:
                page_of[annot.objgen] = number
        found = terminal_fields(pdf)
        fields = []
        for definition in manifest["fields"]:
            out = dict(definition)
            widgets = []
            fld = found.get(out["id"])
            for widget in field_widgets(fld) if fld is not None else ():
                on: Any = None
                if out["kind"] == "checkbox":
                    on = True
                elif out["kind"] in BUTTON_KINDS:
                    on = (on_state(widget) or "/").lstrip("/") or None
                widgets.append({"page": page_of.get(widget.objgen),
                                "rect": [round(float(v), 3) for v in widget["/Rect"]], "on": on})
            out["widgets"] = widgets
            fields.append(out)
        return manifest, fields, pages
