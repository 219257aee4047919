"""Helpers for the Word scale grid: which fields are scale questions, the controls the writer
emits in order, and a copy made the old way (one drop-down per scale question)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from lxml import etree

from generator.model.form import LikertBlock

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}


def wq(name: str) -> str:
    return f"{{{W}}}{name}"


def scale_ids(form) -> set[str]:
    """Ids of the fields asked on a scale (a grid row in Word)."""
    return {f.id for s in form.sections for b in s.blocks if isinstance(b, LikertBlock) for f in b.items}


def expected_controls(form) -> list[tuple[Any, Any]]:
    """(field, option) per control in document order: option None for a field's one control,
    each of a scale question's options for the checkboxes of its grid row."""
    scale = scale_ids(form)
    out = []
    for f in form.fields:
        if f.id in scale:
            out.extend((f, o) for o in f.options)
        else:
            out.append((f, None))
    return out


def old_dropdown_copy(data: bytes, form) -> bytes:
    """``data`` with each scale grid row replaced by one drop-down in the first answer cell, as
    the writer made copies before the grid (tag = field id, title = label, one list item an option)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    root = etree.fromstring(parts["word/document.xml"])
    for fid in sorted(scale_ids(form)):
        fld = next(f for f in form.fields if f.id == fid)
        cells = [s for s in root.iter(wq("sdt")) if s.find("w:sdtPr/w:tag", NS) is not None
                 and s.find("w:sdtPr/w:tag", NS).get(wq("val")).startswith(fid + "=")]
        holder = cells[0].getparent()
        for cell in cells:
            cell.getparent().remove(cell)
        options = "".join(f'<w:listItem w:displayText="{o.label}" w:value="{o.value}"/>' for o in fld.options)
        holder.append(etree.fromstring(
            f'<w:sdt xmlns:w="{W}"><w:sdtPr><w:alias w:val="{fld.label}"/><w:tag w:val="{fid}"/>'
            f'<w:id w:val="{900000 + len(cells) + sorted(scale_ids(form)).index(fid)}"/><w:lock w:val="sdtLocked"/>'
            f'<w:showingPlcHdr/><w:dropDownList>{options}</w:dropDownList></w:sdtPr>'
            f'<w:sdtContent><w:r><w:rPr><w:rStyle w:val="PlaceholderText"/></w:rPr><w:t>Choose an item</w:t>'
            f'</w:r></w:sdtContent></w:sdt>'))
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, blob in parts.items():
            target.writestr(name, blob)
    return out.getvalue()
