"""Stamp personalised copies of a rendered Word pack.

In: the bytes of a DOCX rendered once for a (content, PCN profile) pair and the
ids of the text (or date) controls to personalise. Out, per copy: the DOCX with
those controls filled, the manifest part replaced, the headers' page code
picture redrawn for the copy, the core properties' identifier set to the
copy's instance id and, when the blank was written with a return link
(``write_docx(return_by=...)``), the cover's link stamped: the hyperlink's
target and text, and its QR picture and that picture's alternative text.

The template is parsed once: each stamped control is cut out of
``word/document.xml`` and the XML around it is kept as serialised bytes, so a
copy costs a few small lxml serialisations and one zip, not a render.
"""

from __future__ import annotations

import copy
import io
import zipfile
from typing import Any, Mapping

from lxml import etree

from generator.errors import BuildError
from generator.formats.docx.access import XML_SPACE, xml_safe
from generator.formats.docx.write import (
    MANIFEST_PART,
    MANIFEST_TAG,
    PAGE_CODE_MEDIA,
    RETURN_LINK_ALT,
    RETURN_LINK_MEDIA,
    RETURN_LINK_RID,
    W,
    page_code_png,
    return_link_png,
)
from generator.model.manifest import DOCX_NAMESPACE, dumps

QW = f"{{{W}}}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOCUMENT_RELS = "word/_rels/document.xml.rels"
_MARK = "{urn:portfolio:stamp}slot"
_DC_IDENTIFIER = "{http://purl.org/dc/elements/1.1/}identifier"


class DocxStamp:
    """A rendered DOCX ready to be stamped (see the module docstring)."""

    def __init__(self, blank: bytes, stamp_ids: list[str]):
        with zipfile.ZipFile(io.BytesIO(blank)) as archive:
            self.infos = archive.infolist()
            self.parts = {info.filename: archive.read(info) for info in self.infos}
        root = etree.fromstring(self.parts["word/document.xml"])
        controls = {sdt.findtext(f"{QW}sdtPr/{QW}tag[@{QW}val]") or sdt.find(f"{QW}sdtPr/{QW}tag").get(f"{QW}val"): sdt
                    for sdt in root.iter(f"{QW}sdt") if sdt.find(f"{QW}sdtPr/{QW}tag") is not None}
        self.templates: list[tuple[str, etree._Element]] = []
        for n, fid in enumerate(stamp_ids):
            sdt = controls.get(fid)
            if sdt is None or sdt.find(f"{QW}sdtPr/{QW}text") is None and sdt.find(f"{QW}sdtPr/{QW}date") is None:
                raise BuildError(f"cannot stamp '{fid}': not a text or date control of this pack")
            self.templates.append((fid, copy.deepcopy(sdt)))
            sdt.getparent().replace(sdt, _marker(n))
        # The cover's return link (after the cover's controls): the body-level element holding it.
        self.return_block: etree._Element | None = None
        self.rels: etree._Element | None = None
        link = root.find(f".//{QW}hyperlink[@{_R}id='{RETURN_LINK_RID}']")
        if link is not None:
            block = link
            while block.getparent() is not None and block.getparent().tag != f"{QW}body":
                block = block.getparent()
            self.return_block = copy.deepcopy(block)
            block.getparent().replace(block, _marker(len(self.templates)))
            self.rels = etree.fromstring(self.parts[_DOCUMENT_RELS])
        text = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
        self.segments: list[bytes] = []
        for n in range(len(self.templates) + (self.return_block is not None)):
            token = etree.tostring(_marker(n))
            before, found, text = text.partition(token)
            if not found:
                raise BuildError("stamp: control marker lost while preparing the template")
            self.segments.append(before)
        self.segments.append(text)
        self.core = etree.fromstring(self.parts["docProps/core.xml"]) if "docProps/core.xml" in self.parts else None

    def _filled(self, template: etree._Element, value: str) -> bytes:
        sdt = copy.deepcopy(template)
        pr = sdt.find(f"{QW}sdtPr")
        placeholder = pr.find(f"{QW}showingPlcHdr")
        if placeholder is not None:
            pr.remove(placeholder)
        date = pr.find(f"{QW}date")
        if date is not None:
            from generator.dates import parse_date
            iso = parse_date(value)
            if iso:
                date.set(f"{QW}fullDate", f"{iso}T00:00:00Z")
        content = sdt.find(f"{QW}sdtContent")
        run_props = None
        for run in content.iter(f"{QW}r"):
            rpr = run.find(f"{QW}rPr")
            if rpr is not None:
                run_props = copy.deepcopy(rpr)
                style = run_props.find(f"{QW}rStyle")
                if style is not None and style.get(f"{QW}val") == "PlaceholderText":
                    run_props.remove(style)
            break
        for child in list(content):
            content.remove(child)
        run = etree.SubElement(content, f"{QW}r")
        if run_props is not None and len(run_props):
            run.append(run_props)
        t = etree.SubElement(run, f"{QW}t")
        t.text = xml_safe(" ".join(value.splitlines()))
        t.set(XML_SPACE, "preserve")
        xml = etree.tostring(sdt)
        # tostring repeats the namespace declarations on the fragment's root; they are
        # declared on w:document already, and repeating them is harmless but noisy.
        return xml

    def _return_link(self, link: str) -> bytes:
        """The cover's return link block for one copy: the hyperlink's text and the QR picture's
        alternative text name ``link`` (nothing at all without a link)."""
        if not link or self.return_block is None:
            return b""
        block = copy.deepcopy(self.return_block)
        hyperlink = block.find(f".//{QW}hyperlink[@{_R}id='{RETURN_LINK_RID}']")
        texts = hyperlink.findall(f".//{QW}t")
        texts[0].text = xml_safe(link)
        for extra in texts[1:]:
            extra.text = ""
        for picture in block.iter(f"{_WP}docPr"):
            picture.set("descr", f"{RETURN_LINK_ALT}: {xml_safe(link)}")
        return etree.tostring(block)

    def stamp(self, values: Mapping[str, str], manifest: Mapping[str, Any], return_link: str = "") -> bytes:
        """One personalised copy; with ``return_link``, the cover's return link is that link (the
        blank must have been written with one: ``BuildError`` otherwise)."""
        if return_link and self.return_block is None:
            raise BuildError("the Word pack was rendered without a return link on its cover")
        pieces = [self.segments[0]]
        for n, (fid, template) in enumerate(self.templates):
            value = values.get(fid)
            pieces.append(self._filled(template, value) if value else etree.tostring(template))
            pieces.append(self.segments[n + 1])
        if self.return_block is not None:
            pieces.append(self._return_link(return_link))
            pieces.append(self.segments[-1])
        parts = dict(self.parts)
        parts["word/document.xml"] = b"".join(pieces)
        if return_link and self.rels is not None:  # the hyperlink opens the copy's own link
            rels = copy.deepcopy(self.rels)
            for rel in rels.iter(f"{_PACKAGE_RELS}Relationship"):
                if rel.get("Id") == RETURN_LINK_RID:
                    rel.set("Target", return_link)
            parts[_DOCUMENT_RELS] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8", standalone=True)
            parts[RETURN_LINK_MEDIA] = return_link_png(return_link)
        manifest_root = etree.Element(MANIFEST_TAG, nsmap={None: DOCX_NAMESPACE})
        manifest_root.text = dumps(dict(manifest))
        parts[MANIFEST_PART.lstrip("/")] = etree.tostring(manifest_root, xml_declaration=True, encoding="UTF-8",
                                                          standalone=True)
        if PAGE_CODE_MEDIA in parts:  # the headers' page code names this copy
            parts[PAGE_CODE_MEDIA] = page_code_png(manifest)[0]
        if self.core is not None:
            core = copy.deepcopy(self.core)
            ident = core.find(_DC_IDENTIFIER)
            if ident is not None:
                ident.text = str(manifest.get("instance_id", ""))
            parts["docProps/core.xml"] = etree.tostring(core, xml_declaration=True, encoding="UTF-8",
                                                        standalone=True)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for info in self.infos:
                archive.writestr(info, parts[info.filename], compress_type=info.compress_type, compresslevel=1)
        return out.getvalue()


def _marker(n: int) -> etree._Element:
    marker = etree.Element(_MARK)
    marker.text = str(n)
    return marker
