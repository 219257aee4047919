"""Fill content controls of a Word pack with typed values.

In: DOCX bytes of a pack made by this tool and typed values keyed by field id.
Out: the DOCX with each control set as Word itself would set it (text runs,
``w14:checked``, the dropdown's display text, the date's ``w:fullDate``, removed
for text that is not an ISO date) and the placeholder flag cleared. An empty
value (None or "") leaves an empty control as issued and empties a filled one
(placeholder flag and text back). Values for ids the pack lacks are an error.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
import zipfile
from typing import Any, Mapping

from lxml import etree

from .read_docx import _W, _W14, find_manifest, open_package, parse_part
from .values import to_document
from .word import PLACEHOLDERS

_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: sdtPr children that come before ``w:showingPlcHdr`` (in the order the writer uses).
_BEFORE_FLAG = {f"{_W}rPr", f"{_W}alias", f"{_W}tag", f"{_W}id", f"{_W}lock", f"{_W}placeholder",
                f"{_W}temporary"}
CHECKED, UNCHECKED = "\u2612", "\u2610"


def _clean(text: str) -> str:
    """``text`` with CR and CRLF made LF and without the characters XML 1.0 cannot hold."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\t\n" or (ord(ch) >= 32 and not 0xD800 <= ord(ch) <= 0xDFFF
                                                            and ch not in "\ufffe\uffff"))


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
    date = pr.find(f"{_W}date")
    if raw is None or raw == "":
        if placeholder is None:  # a filled control is emptied: it shows its placeholder again
            _show_placeholder(pr, content, definition)
        return  # an empty control stays as issued
    if placeholder is not None:
        pr.remove(placeholder)
    dropdown = pr.find(f"{_W}dropDownList")
    if dropdown is not None:
        labels = {o["value"]: o["label"] for o in definition.get("options", ())}
        _set_text(content, labels.get(raw, raw), rpr)
        return
    if date is not None:  # the date a picker shows, or none for text that is not an ISO date
        iso = _iso_date(value) if definition["kind"] == "date" else None
        if iso:
            date.set(f"{_W}fullDate", f"{iso}T00:00:00Z")
        else:
            date.attrib.pop(f"{_W}fullDate", None)
    _set_text(content, str(raw) if definition["kind"] == "longtext" else " ".join(str(raw).splitlines()), rpr)


def _iso_date(value: Any) -> str | None:
    """``value`` as YYYY-MM-DD when it is an ISO date, else None."""
    text = str(value)
    if not _ISO_DAY.match(text):
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _show_placeholder(pr: etree._Element, content: etree._Element, definition: dict[str, Any]) -> None:
    """Empty a control as the writer leaves it: placeholder flag and text, no date."""
    flag = etree.Element(f"{_W}showingPlcHdr")
    before = [child for child in pr if child.tag in _BEFORE_FLAG]
    if before:
        before[-1].addnext(flag)
    else:
        pr.insert(0, flag)
    date = pr.find(f"{_W}date")
    if date is not None:
        date.attrib.pop(f"{_W}fullDate", None)
    rpr = etree.Element(f"{_W}rPr")
    etree.SubElement(rpr, f"{_W}rStyle").set(f"{_W}val", "PlaceholderText")
    _set_text(content, PLACEHOLDERS.get(definition["kind"], ""), rpr)


def fill_docx(data: bytes, values: Mapping[str, Any], name: str = "pack.docx") -> bytes:
    from .fill import _check_ids

    archive = open_package(data, name)
    definitions = _check_ids(find_manifest(archive, name), values, name)
    root = parse_part(archive, "word/document.xml", name)
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
