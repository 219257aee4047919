"""The pack manifest embedded in every generated document.

In: a ``Form`` and who the copy is for. Out: a JSON-ready dict naming the pack,
this copy (instance id), the content (id, version, hash), the generator, the
learner and PCN, and every field's definition, so a returned copy can be read
even after the content has changed.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from generator import __version__

if TYPE_CHECKING:  # only for annotations: reading a copy needs the manifest's names, not the form model
    from generator.model.form import Form

MANIFEST_FORMAT = "portfolio-manifest/1"
#: File name of the manifest attached to a PDF.
PDF_ATTACHMENT_NAME = "portfolio-manifest.json"
#: File name of the blank's layout attached to a print-ready PDF of several copies (no manifest of its own).
LAYOUT_ATTACHMENT_NAME = "portfolio-layout.json"
#: Namespace of the custom XML part holding the manifest in a DOCX.
DOCX_NAMESPACE = "urn:portfolio:manifest:1"
#: The return link a blank rendered with a return link slot carries until each copy is stamped
#: with its learner's own (the ``.invalid`` domain never resolves).
RETURN_LINK_PLACEHOLDER = "https://return-link.invalid/stamped-per-copy"


def field_definitions(form: Form) -> list[dict[str, Any]]:
    """Each field's id, kind, label and options, in document order, with its pack roles.

    A cover field has ``"cover": role`` (see ``generator.content.roles.COVER_ROLES``);
    a field a progress rule covers has ``"progress": {"rule", "group", "item"}``, so
    progress can be worked out from the definitions stored with the copies.
    """
    out = []
    for f in form.fields:
        definition: dict[str, Any] = {"id": f.id, "kind": f.kind, "label": f.label,
                                      "options": [{"value": o.value, "label": o.label} for o in f.options]}
        cover = form.roles.cover_role_of(f.id)
        if cover:
            definition["cover"] = cover
        progress = form.roles.progress_of(f.id)
        if progress:
            definition["progress"] = progress
        out.append(definition)
    return out


def make_manifest(form: Form, *, instance_id: str | None = None,
                  learner: dict[str, str] | None = None, pcn: dict[str, str] | None = None,
                  created: datetime | None = None) -> dict[str, Any]:
    """The manifest for one copy; a new instance id is drawn when none is given."""
    return {
        "format": MANIFEST_FORMAT,
        "pack_id": form.pack_id,
        "instance_id": instance_id or str(uuid.uuid4()),
        "title": form.title,
        "content": {"id": form.content_id, "version": form.content_version, "hash": form.content_hash},
        "generator": {"name": "portfolio", "version": __version__},
        "created": (created or datetime.now(timezone.utc)).replace(microsecond=0).isoformat(),
        "personalised": bool(learner),  # False: a generic pack, copied to many learners as it is
        "learner": learner or {},
        "pcn": pcn or {},
        "fields": field_definitions(form),
    }


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=False)


def with_geometry(manifest: Mapping[str, Any], widgets: Mapping[str, list[dict[str, Any]]],
                  pages: list[dict[str, float]]) -> dict[str, Any]:
    """``manifest`` with the PDF's page layout: where each field's widgets sit, and each page's size.

    Every field definition gains ``"widgets": [{"page", "rect", "on"}]``: the 1-based page, the
    widget's /Rect in PDF points (origin bottom-left, ``[x0, y0, x1, y1]``) and the state the widget
    turns on (a radio option's value as ``options`` lists it, ``True`` for a checkbox, ``None`` for
    text). The manifest gains ``"pages": [{"width", "height"}]`` in points. Only a PDF has these:
    a scanned page is read against them (see ``generator.model.pagecode``).
    """
    out = dict(manifest)
    out["fields"] = [{**definition, "widgets": [dict(w) for w in widgets.get(definition["id"], [])]}
                     for definition in manifest["fields"]]
    out["pages"] = [dict(p) for p in pages]
    return out


def geometry_of(manifest: Mapping[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, float]]]:
    """The widgets (by field id) and pages ``with_geometry`` put into ``manifest``."""
    widgets = {d["id"]: d["widgets"] for d in manifest.get("fields", []) if "widgets" in d}
    return widgets, list(manifest.get("pages", []))
