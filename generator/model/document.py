"""What a format reader hands back, and the checks every format shares.

In: a returned file's first bytes, or its embedded manifest. Out: the sniffed
kind, or the manifest once it is known to be ours (``ReadError`` otherwise), and
``RawDocument``, the raw values a format reader found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.errors import ReadError
from generator.kinds import KINDS
from generator.model.manifest import MANIFEST_FORMAT


@dataclass
class RawDocument:
    """What a format reader found: the manifest and raw values by field id."""

    format: str  # pdf or docx
    manifest: dict[str, Any]  # checked (``check_manifest``)
    values: dict[str, Any]  # field id -> raw value (text, bool, state name or option value)
    unmapped: dict[str, Any] = field(default_factory=dict)  # names we found that the manifest lacks
    editor: str = "unknown"
    warnings: list[str] = field(default_factory=list)


def sniff(data: bytes) -> str | None:
    """'pdf', 'zip' or None, from the first bytes."""
    head = data[:1024]
    if head.startswith(b"PK\x03\x04"):  # first: a zip's first part may itself mention %PDF-
        return "zip"
    if b"%PDF-" in head:
        return "pdf"
    return None


def check_manifest(manifest: Any, name: str) -> dict[str, Any]:
    """The manifest if it is ours and well-formed; ReadError otherwise."""
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ReadError.not_ours(name)
    fields = manifest.get("fields")
    if not isinstance(fields, list) or not all(
            isinstance(f, dict) and isinstance(f.get("id"), str) and f.get("kind") in
            KINDS for f in fields):
        raise ReadError(name, "its portfolio manifest is damaged (field definitions unreadable)")
    return manifest

