"""Normalised field listings, the shape golden files are compared in.

The golden file lists each field of the default pack as the model defines it
(id, kind, label, option values). A document can't say everything the model
says (a PDF text field doesn't know it holds a date), so each listing is
reduced to what that format can express before comparing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# What a PDF widget can tell apart.
PDF_CLASS = {"text": "text", "date": "text", "signature": "text", "longtext": "longtext",
             "checkbox": "checkbox", "yesno": "radio", "choice": "radio"}
# What a Word content control can tell apart.
DOCX_CLASS = {"text": "text", "signature": "text", "longtext": "longtext", "date": "date",
              "checkbox": "checkbox", "yesno": "dropdown", "choice": "dropdown"}


def golden(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def model_listing(form) -> list[dict[str, Any]]:
    return [{"id": f.id, "kind": f.kind, "label": f.label, "options": [o.value for o in f.options]}
            for f in form.fields]


def reduce(listing: list[dict[str, Any]], classes: dict[str, str]) -> list[tuple]:
    return sorted((f["id"], classes[f["kind"]], f["label"].removesuffix(" (DD/MM/YYYY)"),
                   tuple(f["options"])) for f in listing)


def pdf_listing(path: Path) -> list[tuple]:
    """Fields as pypdf sees them: fully qualified name, widget class, tooltip, radio states."""
    from pypdf import PdfReader
    out = []
    for name, fld in PdfReader(path).get_fields().items():
        ft = fld.get("/FT")
        if ft is None:
            continue  # an intermediate node of the name hierarchy
        flags = int(fld.get("/Ff", 0))
        if ft == "/Btn" and flags & (1 << 15):
            cls, options = "radio", tuple(s.lstrip("/") for s in fld["/_States_"] if s != "/Off")
        elif ft == "/Btn":
            cls, options = "checkbox", ()
        else:
            cls, options = ("longtext" if flags & (1 << 12) else "text"), ()
        out.append((name, cls, str(fld.get("/TU", "")).removesuffix(" (DD/MM/YYYY)"), options))
    return sorted(out)


def write_golden() -> Path:
    """Rewrite tests/golden/fields.json from the default form with every optional section on.

    Run by hand (``python -m tests.fieldlist``) to accept an intended change; no test writes it.
    """
    from generator.content.layout import Layout
    from generator.content.loader import load_content
    from generator.model.form import build_form
    content = load_content()
    form = build_form(content, Layout(optional_sections=frozenset(content.pack["optional_sections"])))
    path = Path(__file__).resolve().parent / "golden" / "fields.json"
    path.write_text(json.dumps(model_listing(form), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_golden()}: review it with git diff before committing")
