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
import io
import zipfile
from typing import Any, Mapping

from lxml import etree

from generator.formats.docx.access import (
    QW,
    QW14,
    XML_SPACE,
    find_manifest,
    open_package,
    parse_part,
    xml_safe,
    split_grid_tag,
)
from generator.formats.docx.write import PLACEHOLDERS
from generator.dates import iso_date
from generator.model.values import to_document

#: sdtPr children that come before ``w:showingPlcHdr`` (in the order the writer uses).
_BEFORE_FLAG = {f"{QW}rPr", f"{QW}alias", f"{QW}tag", f"{QW}id", f"{QW}lock", f"{QW}placeholder",
                f"{QW}temporary"}
CHECKED, UNCHECKED = "\u2612", "\u2610"


def _clean(text: str) -> str:
    """``text`` with CR and CRLF made LF and without the characters XML 1.0 cannot hold."""
    return xml_safe(text.replace("\r\n", "\n").replace("\r", "\n"))


def _set_text(content: etree._Element, text: str, rpr: etree._Element | None) -> None:
    block = content.getparent().getparent().tag != f"{QW}p"  # a block-level control holds paragraphs
    ppr = content.find(f"{QW}p/{QW}pPr")
    ppr = copy.deepcopy(ppr) if ppr is not None else None
    for child in list(content):
        content.remove(child)
    if block:
        for line in _clean(text).split("\n"):
            para = etree.SubElement(content, f"{QW}p")
            if ppr is not None:
                para.append(copy.deepcopy(ppr))
            run = etree.SubElement(para, f"{QW}r")
            if rpr is not None:
                run.append(copy.deepcopy(rpr))
            t = etree.SubElement(run, f"{QW}t")
            t.text = line
            t.set(XML_SPACE, "preserve")
        return
    run = etree.SubElement(content, f"{QW}r")
    if rpr is not None:
        run.append(rpr)
    for i, line in enumerate(_clean(text).split("\n")):
        if i:
            etree.SubElement(run, f"{QW}br")
        t = etree.SubElement(run, f"{QW}t")
        t.text = line
        t.set(XML_SPACE, "preserve")


def _run_props(content: etree._Element) -> etree._Element | None:
    rpr = content.find(f".//{QW}rPr")
    if rpr is None:
        return None
    rpr = copy.deepcopy(rpr)
    style = rpr.find(f"{QW}rStyle")
    if style is not None and style.get(f"{QW}val") == "PlaceholderText":
        rpr.remove(style)
    return rpr if len(rpr) else None


def _tick(sdt: etree._Element, checked: bool) -> None:
    """Tick or clear a checkbox control as Word does."""
    box = sdt.find(f"{QW}sdtPr/{QW14}checkbox/{QW14}checked")
    if box is None:
        return
    box.set(f"{QW14}val", "1" if checked else "0")
    for t in sdt.find(f"{QW}sdtContent").iter(f"{QW}t"):
        t.text = CHECKED if checked else UNCHECKED


def _fill_control(sdt: etree._Element, definition: dict[str, Any], value: Any) -> None:
    pr = sdt.find(f"{QW}sdtPr")
    content = sdt.find(f"{QW}sdtContent")
    raw = to_document(definition, value)
    checkbox = pr.find(f"{QW14}checkbox")
    if checkbox is not None:
        checked = checkbox.find(f"{QW14}checked")
        checked.set(f"{QW14}val", "1" if raw else "0")
        for t in content.iter(f"{QW}t"):
            t.text = CHECKED if raw else UNCHECKED
        return
    placeholder = pr.find(f"{QW}showingPlcHdr")
    rpr = _run_props(content)
    date = pr.find(f"{QW}date")
    if raw is None or raw == "":
        if placeholder is None:  # a filled control is emptied: it shows its placeholder again
            _show_placeholder(pr, content, definition)
        return  # an empty control stays as issued
    if placeholder is not None:
        pr.remove(placeholder)
    dropdown = pr.find(f"{QW}dropDownList")
    if dropdown is not None:
        labels = {o["value"]: o["label"] for o in definition.get("options", ())}
        _set_text(content, labels.get(raw, raw), rpr)
        return
    if date is not None:  # the date a picker shows, or none for text that is not an ISO date
        iso = iso_date(value) if definition["kind"] == "date" else None
        if iso:
            date.set(f"{QW}fullDate", f"{iso}T00:00:00Z")
        else:
            date.attrib.pop(f"{QW}fullDate", None)
    _set_text(content, str(raw) if definition["kind"] == "longtext" else " ".join(str(raw).splitlines()), rpr)


def _show_placeholder(pr: etree._Element, content: etree._Element, definition: dict[str, Any]) -> None:
    """Empty a control as the writer leaves it: placeholder flag and text, no date."""
    flag = etree.Element(f"{QW}showingPlcHdr")
    before = [child for child in pr if child.tag in _BEFORE_FLAG]
    if before:
        before[-1].addnext(flag)
    else:
        pr.insert(0, flag)
    date = pr.find(f"{QW}date")
    if date is not None:
        date.attrib.pop(f"{QW}fullDate", None)
    rpr = etree.Element(f"{QW}rPr")
    etree.SubElement(rpr, f"{QW}rStyle").set(f"{QW}val", "PlaceholderText")
    _set_text(content, PLACEHOLDERS.get(definition["kind"], ""), rpr)


def fill_docx(data: bytes, values: Mapping[str, Any], name: str = "pack.docx") -> bytes:
    from generator.model.values import check_fill_values

    archive = open_package(data, name)
    definitions = check_fill_values(find_manifest(archive, name), values, name)
    root = parse_part(archive, "word/document.xml", name)
    for sdt in root.iter(f"{QW}sdt"):
        tag = sdt.find(f"{QW}sdtPr/{QW}tag")
        fid = tag.get(f"{QW}val") if tag is not None else None
        grid = split_grid_tag(fid)
        if grid is not None and grid[0] in values:  # a scale's cell: ticked when its answer is the value
            fid, option = grid
            _tick(sdt, to_document(definitions[fid], values[fid]) == option)
        elif fid in values:
            _fill_control(sdt, definitions[fid], values[fid])
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in archive.infolist():
            payload = document if info.filename == "word/document.xml" else archive.read(info)
            if info.filename == "docProps/app.xml":
                payload = _named_filler(parse_part(archive, info.filename, name))
            target.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


#: What a copy filled by ``fill_docx`` names as its ``Application`` (``generator.formats.editors``).
FILL_APPLICATION = "portfolio fill"


def _named_filler(root: etree._Element) -> bytes:
    """``docProps/app.xml`` naming this filler as the application that saved the copy, as an editor does."""
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname == "Application":
            element.text = FILL_APPLICATION
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
