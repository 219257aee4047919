"""Find the manifest and raw field values in a returned Word file.

In: DOCX bytes. Out: a ``RawDocument`` (raw values keyed by field id). The
package is checked before any XML is parsed (macros, external relationships,
entry count and sizes), and XML is parsed without DTDs, entities or network.

Copes with what editors do to content controls: Word's tracked changes inside a
control (insertions kept, deletions ignored), LibreOffice 7.4 dropping tags
(controls are then matched by their title, then by order, with a warning;
one that matches no field keeps its value under ``unmapped``), checkboxes
wrapped in an extra control, long answers split out of their control, and
placeholder text handed back as content.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from lxml import etree

from .errors import ReadError
from .manifest import DOCX_NAMESPACE
from .read import RawDocument, check_manifest
from .values import parse_date

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W = f"{{{W}}}"
_W14 = f"{{{W14}}}"
MANIFEST_TAG = f"{{{DOCX_NAMESPACE}}}manifest"
MACRO_TYPES = ("macroEnabled", "vbaProject", "vbaData")
HYPERLINK_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
#: Placeholder texts a control may hand back as content (ours, Word's and LibreOffice's).
PLACEHOLDER_TEXTS = {"Enter text", "Type your name", "Enter a date", "Choose an item", "Choose an item.",
                     "Click or tap here to enter text.", "Click or tap to enter a date.", "Click here to enter text.",
                     "\u00a0\u00a0\u00a0", ""}
MAX_ENTRIES = 2_000
MAX_UNCOMPRESSED = 100_000_000
MAX_RATIO = 200

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_blank_text=False)


def parse_part(archive: zipfile.ZipFile, member: str, name: str) -> etree._Element:
    data = archive.read(member)
    doctype = ReadError(name, f"contains a DOCTYPE declaration in {member}; this is not a normal Word file")
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise doctype
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise ReadError(name, f"is damaged: {member} is not well-formed XML") from None
    if root.getroottree().docinfo.doctype:  # one pushed past the byte check by a long comment
        raise doctype
    return root


def open_package(data: bytes, name: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise ReadError(name, "is damaged or truncated and cannot be read as a Word file") from None
    if len(infos) > MAX_ENTRIES:
        raise ReadError(name, f"has {len(infos)} parts, far more than a portfolio; refused")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > MAX_UNCOMPRESSED or total > MAX_UNCOMPRESSED:
            raise ReadError(name, "unpacks to more than 100 MB; refused as a possible zip bomb")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000:
            raise ReadError(name, f"part {info.filename} is compressed {info.file_size // info.compress_size}:1; "
                                  "refused as a possible zip bomb")
        if info.filename.startswith("/") or ".." in info.filename.split("/"):
            raise ReadError(name, f"has a part with an unsafe path ({info.filename}); refused")
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument"):
            raise ReadError(name, "is an OpenDocument file (.odt), which cannot hold the pack's form; "
                                  "fill in the Word copy that was issued and save it as Word (.docx)")
        raise ReadError(name, "is not a Word (.docx) document")
    types = archive.read("[Content_Types].xml")
    if any(marker.encode() in types for marker in MACRO_TYPES) or any("vbaProject" in n for n in names):
        raise ReadError(name, "contains macros (.docm); save it as a Word Document (.docx) and send that")
    for member in names:
        if member.endswith(".rels"):
            rels = parse_part(archive, member, name)
            for rel in rels:
                if rel.get("TargetMode") == "External" and rel.get("Type") != HYPERLINK_REL:
                    raise ReadError(name, f"links to an external resource ({rel.get('Target')!r} in {member}); "
                                          "refused: save a plain copy without linked templates or objects")
    return archive


def find_manifest(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    for member in sorted(archive.namelist()):
        if member.startswith("customXml/item") and member.endswith(".xml") and "Props" not in member:
            root = parse_part(archive, member, name)
            if root.tag == MANIFEST_TAG:
                try:
                    return check_manifest(json.loads(root.text or ""), name)
                except json.JSONDecodeError:
                    raise ReadError(name, "its portfolio manifest is damaged and cannot be read") from None
    if parse_part(archive, "word/document.xml", name).find(f".//{_W}sdt") is not None:
        raise ReadError(name, "has form controls but no portfolio manifest: the copy was probably saved in "
                              "another format (such as .odt) and converted back, which removes it; ask for "
                              "the copy that was issued, filled in and saved as Word (.docx)")
    raise ReadError(name, "was not generated by this tool (no portfolio manifest inside); "
                          "ask for the copy that was issued")


def _text(content: etree._Element) -> str:
    """Visible text of a control: insertions kept, deletions and moved-from text ignored."""
    out: list[str] = []
    hidden = (f"{_W}del", f"{_W}moveFrom")
    joined = True  # no line break before the first paragraph, nor after a deleted paragraph mark
    for el in content.iter():
        tag = el.tag
        if tag == f"{_W}p":
            if not joined:
                out.append("\n")
            # a tracked deletion of the paragraph mark joins this paragraph to the next
            joined = el.find(f"{_W}pPr/{_W}rPr/{_W}del") is not None \
                or el.find(f"{_W}pPr/{_W}rPr/{_W}moveFrom") is not None
        elif tag == f"{_W}t" and not _inside(el, content, hidden):
            out.append(el.text or "")
        elif tag in (f"{_W}br", f"{_W}cr") and not _inside(el, content, hidden):
            out.append("\n")
        elif tag == f"{_W}tab" and el.getparent() is not None and el.getparent().tag == f"{_W}r" \
                and not _inside(el, content, hidden):
            out.append("\t")
        elif tag in _HYPHENS and not _inside(el, content, hidden):  # Word and LibreOffice write these as elements
            out.append(_HYPHENS[tag])
    return "".join(out)


_HYPHENS = {f"{_W}noBreakHyphen": "\u2011", f"{_W}softHyphen": "\u00ad"}


def _inside(el: etree._Element, stop: etree._Element, tags: tuple[str, ...]) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


def _control_value(sdt: etree._Element, definition: dict[str, Any] | None) -> Any:
    pr = sdt.find(f"{_W}sdtPr")
    content = sdt.find(f"{_W}sdtContent")
    if pr is None or content is None:
        return None
    checkbox = pr.find(f"{_W14}checkbox")
    if checkbox is not None:
        checked = checkbox.find(f"{_W14}checked")
        return checked is not None and checked.get(f"{_W14}val", "1").lower() in ("1", "true", "on")
    text = _text(content)
    if definition is not None and definition["kind"] == "longtext":
        # before the placeholder test: the first line alone may be blank or look like one
        text = "\n".join([text, *_spilled_paragraphs(sdt)])
    if pr.find(f"{_W}showingPlcHdr") is not None or text.strip() in PLACEHOLDER_TEXTS:
        return None
    dropdown = pr.find(f"{_W}dropDownList") if pr.find(f"{_W}dropDownList") is not None else pr.find(f"{_W}comboBox")
    if dropdown is not None:
        shown = text.strip()
        for item in dropdown.findall(f"{_W}listItem"):
            if shown in (item.get(f"{_W}displayText"), item.get(f"{_W}value")):
                return item.get(f"{_W}value") or item.get(f"{_W}displayText")
        if definition is not None:  # labels as content, when an editor dropped the list items
            for option in definition.get("options", ()):
                if shown in (option["label"], option["value"]):
                    return option["value"]
        return shown
    date = pr.find(f"{_W}date")
    if date is not None and text.strip():
        # What the learner sees wins; the picker's stored date only where the text is not a date
        # (an editor may change the text and leave a stale w:fullDate behind).
        shown = parse_date(text)
        if shown is not None:
            return shown
        if date.get(f"{_W}fullDate"):
            return date.get(f"{_W}fullDate")[:10]
    if definition is not None and definition["kind"] == "checkbox":  # a tick typed as a character
        return text.strip()
    return text


def _spilled_paragraphs(sdt: etree._Element) -> list[str]:
    """Lines LibreOffice 7.4 moved out of a long-text control into the paragraphs after it.

    Our long-text control is a block of paragraphs and the last thing in its
    table cell. On re-save LibreOffice 7.4 keeps the control around the first
    paragraph only; the rest follow it in the same cell.
    """
    paragraph = sdt.getparent()
    if paragraph is None or paragraph.tag != f"{_W}p" or paragraph.getparent() is None \
            or paragraph.getparent().tag != f"{_W}tc":
        return []
    lines = []
    for sibling in paragraph.itersiblings():
        if sibling.tag != f"{_W}p" or sibling.find(f".//{_W}sdt") is not None:
            break
        lines.append(_text(sibling))
    return lines


def _controls(root: etree._Element) -> list[tuple[etree._Element, etree._Element]]:
    """(control, value holder) pairs in document order: every innermost control.

    LibreOffice 7.4 wraps each checkbox in an extra control that keeps the
    title; such a wrapper (a control holding exactly one control) is paired with
    what it holds, so the title is not lost. A control wrapping several (a
    Word group around a table, say) only contributes the controls inside it.
    """
    out = []
    for sdt in root.iter(f"{_W}sdt"):
        content = sdt.find(f"{_W}sdtContent")
        if content is not None and content.find(f".//{_W}sdt") is not None:
            continue  # not innermost
        parent = _outer(sdt)
        only_child = parent is not None and len(parent.findall(f"{_W}sdtContent//{_W}sdt")) == 1
        out.append((parent, sdt) if only_child else (sdt, sdt))
    return out


def _outer(sdt: etree._Element) -> etree._Element | None:
    """The nearest control around ``sdt``, if any."""
    parent = sdt.getparent()
    while parent is not None:
        if parent.tag == f"{_W}sdt":
            return parent
        parent = parent.getparent()
    return None


def _attr(sdt: etree._Element, child: str) -> str | None:
    el = sdt.find(f"{_W}sdtPr/{_W}{child}")
    return el.get(f"{_W}val") if el is not None else None


def _editor(archive: zipfile.ZipFile) -> str:
    try:
        app = archive.read("docProps/app.xml")
    except KeyError:
        return "unknown"
    for key, editor in ((b"LibreOffice", "LibreOffice"), (b"Microsoft", "Microsoft Word"),
                        (b"portfolio", "unchanged or unknown")):
        if key in app:
            if key == b"LibreOffice":
                start = app.find(b"LibreOffice")
                return app[start:start + 40].split(b"<")[0].split(b"$")[0].decode("utf-8", "replace").strip()
            return editor
    return "unknown"


def _match_untagged(untagged: list[tuple[etree._Element, etree._Element]],
                    controls: list[tuple[etree._Element, etree._Element]],
                    fields: list[dict[str, Any]], values: dict[str, Any], unmapped: dict[str, Any]) -> str:
    """Map controls whose tags an editor dropped; returns the warning saying how.

    When the copy has exactly one control per field, control n is field n (the
    writer emits them in manifest order) and a control's title, where kept,
    must agree. Otherwise a control is matched by its title alone. A control
    that matches no field keeps its value under ``unmapped`` (named by its
    position among the controls and its title).
    """
    by_label = {d["label"]: d for d in fields}
    by_title = by_order = 0
    aligned = len(controls) == len(fields)
    for outer, holder in untagged:
        title = _attr(outer, "alias") or _attr(holder, "alias")
        definition = None
        if aligned:
            candidate = fields[controls.index((outer, holder))]
            if title is None or title == candidate["label"]:
                definition = candidate
                by_order += title is None
                by_title += title is not None
        elif title in by_label:
            definition = by_label[title]
            by_title += 1
        if definition is not None and definition["id"] not in values:
            values[definition["id"]] = _control_value(holder, definition)
        elif definition is None:
            value = _control_value(holder, None)
            if value not in (None, "", False):
                position = controls.index((outer, holder)) + 1
                unmapped[f"untagged control {position}" + (f" ({title})" if title else "")] = value
    unmatched = len(untagged) - by_title - by_order
    how = f"{by_title} by title and position, {by_order} by position alone" if aligned else f"{by_title} by title"
    return (f"{len(untagged)} control(s) had lost their field ids (the editor dropped the tags); matched {how}"
            + (f"; {unmatched} could not be matched" if unmatched else ""))


def read_docx_raw(data: bytes, name: str) -> RawDocument:
    archive = open_package(data, name)
    manifest = find_manifest(archive, name)
    root = parse_part(archive, "word/document.xml", name)
    definitions = {d["id"]: d for d in manifest["fields"]}
    by_label = {d["label"]: d["id"] for d in manifest["fields"]}
    controls = _controls(root)
    values: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    warnings: list[str] = []
    untagged: list[tuple[etree._Element, etree._Element]] = []
    for outer, holder in controls:
        tag = _attr(outer, "tag") or _attr(holder, "tag")
        if tag and tag in definitions:
            values.setdefault(tag, _control_value(holder, definitions[tag]))
        elif tag:
            value = _control_value(holder, None)
            if value not in (None, "", False):
                unmapped[tag] = value
        else:
            untagged.append((outer, holder))
    if untagged:
        warnings.append(_match_untagged(untagged, controls, manifest["fields"], values, unmapped))
    missing = [fid for fid in definitions if fid not in values]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.append(f"{len(missing)} field(s) of the pack are missing from the copy: {shown}")
    return RawDocument("docx", manifest, values, unmapped, _editor(archive), warnings)
