"""Fill content controls of a Word pack with typed values.

In: DOCX bytes of a pack made by this tool and typed values keyed by field id.
Out: the DOCX with each control set as Word itself would set it (text runs,
``w14:checked``, the dropdown's display text, the date's ``w:fullDate``) and
the placeholder flag cleared. Values for ids the pack lacks are an error.
"""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any, Mapping

from lxml import etree

from .read_docx import _W, _W14, _manifest, _open, _xml
from .values import to_document

_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
CHECKED, UNCHECKED = "\u2612", "\u2610"


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch in "\t\n" or ord(ch) >= 32)


def _set_text(content: etree._Element, text: str, rpr: etree._Element | None) -> None:
    block = content.getparent().getparent().tag != f"{_W}p"  # a block-level control holds paragraphs
    ppr = content.find(f"{_W}p/{_W}pPr")
    ppr = copy.deepcopy(ppr) if ppr is not None else None
    for child in list(content):
        content.remove(child)
    if block:
        for line in _clean(text).split("\n"):
            para = etree.SubElement(content, f"{_W}p")
            if ppr is not None:
                para.append(copy.deepcopy(ppr))
            run = etree.SubElement(para, f"{_W}r")
            if rpr is not None:
                run.append(copy.deepcopy(rpr))
            t = etree.SubElement(run, f"{_W}t")
            t.text = line
            t.set(_XML_SPACE, "preserve")
        return
    run = etree.SubElement(content, f"{_W}r")
    if rpr is not None:
        run.append(rpr)
    for i, line in enumerate(_clean(text).split("\n")):
        if i:
            etree.SubElement(run, f"{_W}br")
        t = etree.SubElement(run, f"{_W}t")
        t.text = line
        t.set(_XML_SPACE, "preserve")


def _run_props(content: etree._Element) -> etree._Element | None:
    rpr = content.find(f".//{_W}rPr")
    if rpr is None:
        return None
    rpr = copy.deepcopy(rpr)
    style = rpr.find(f"{_W}rStyle")
    if style is not None and style.get(f"{_W}val") == "PlaceholderText":
        rpr.remove(style)
    return rpr if len(rpr) else None


def _fill_control(sdt: etree._Element, definition: dict[str, Any], value: Any) -> None:
    pr = sdt.find(f"{_W}sdtPr")
    content = sdt.find(f"{_W}sdtContent")
    raw = to_document(definition, value)
    checkbox = pr.find(f"{_W14}checkbox")
    if checkbox is not None:
        checked = checkbox.find(f"{_W14}checked")
        checked.set(f"{_W14}val", "1" if raw else "0")
        for t in content.iter(f"{_W}t"):
            t.text = CHECKED if raw else UNCHECKED
        return
    placeholder = pr.find(f"{_W}showingPlcHdr")
    rpr = _run_props(content)
    if raw is None or raw == "":
        return  # left as issued: the placeholder stays
    if placeholder is not None:
        pr.remove(placeholder)
    dropdown = pr.find(f"{_W}dropDownList")
    if dropdown is not None:
        labels = {o["value"]: o["label"] for o in definition.get("options", ())}
        _set_text(content, labels.get(raw, raw), rpr)
        return
    date = pr.find(f"{_W}date")
    if date is not None and definition["kind"] == "date" and value is not None and len(str(value)) == 10:
        date.set(f"{_W}fullDate", f"{value}T00:00:00Z")
    _set_text(content, str(raw) if definition["kind"] == "longtext" else " ".join(str(raw).splitlines()), rpr)


def fill_docx(data: bytes, values: Mapping[str, Any], name: str = "pack.docx") -> bytes:
    from .fill import _check_ids

    archive = _open(data, name)
    definitions = _check_ids(_manifest(archive, name), values, name)
    root = _xml(archive, "word/document.xml", name)
    for sdt in root.iter(f"{_W}sdt"):
        tag = sdt.find(f"{_W}sdtPr/{_W}tag")
        fid = tag.get(f"{_W}val") if tag is not None else None
        if fid in values:
            _fill_control(sdt, definitions[fid], values[fid])
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in archive.infolist():
            payload = document if info.filename == "word/document.xml" else archive.read(info)
            target.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
