"""Low-level access to a Word package: namespaces, limits, safe opening and parsing, the manifest.

In: DOCX bytes. Out: a ``ZipFile`` checked before any XML is parsed (macros,
external relationships, entry count and sizes), parts parsed without DTDs,
entities or network, and the embedded manifest (checked). Shared by the Word
reader, filler and stamper.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from lxml import etree

from generator.errors import ReadError
from generator.model.document import check_manifest
from generator.model.manifest import DOCX_NAMESPACE

#: Characters XML 1.0 cannot hold (tab, LF and CR can), and lone surrogates.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: The attribute that keeps leading and trailing spaces of a ``w:t``.
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (a tab or newline stays); the one place they go."""
    return NOT_XML.sub("", text) if NOT_XML.search(text) else text

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


W14 = "http://schemas.microsoft.com/office/word/2010/wordml"


QW = f"{{{W}}}"


QW14 = f"{{{W14}}}"


MANIFEST_TAG = f"{{{DOCX_NAMESPACE}}}manifest"


#: A scale (Likert) question is a grid row in Word: one checkbox per answer, each
#: tagged ``<field id>=<option value>`` (a field id and a value hold no '=').
GRID_SEPARATOR = "="


def grid_tag(field_id: str, option_value: str) -> str:
    """The tag of the checkbox for ``option_value`` in the grid row of ``field_id``."""
    return f"{field_id}{GRID_SEPARATOR}{option_value}"


def split_grid_tag(tag: str | None) -> tuple[str, str] | None:
    """(field id, option value) of a grid checkbox's tag; None for any other tag."""
    if not tag or GRID_SEPARATOR not in tag:
        return None
    field_id, _, value = tag.partition(GRID_SEPARATOR)
    return field_id, value


def grid_title(label: str, option_label: str) -> str:
    """The title (alias) of a grid checkbox: the question's label and the answer's."""
    return f"{label}: {option_label}"


#: Markers of macros in content types and part names, compared case-insensitively (OPC part
#: names and content types ignore case, so ``word/VBAPROJECT.BIN`` is a macro part too).
MACRO_TYPES = ("macroenabled", "vbaproject", "vbadata")
MACRO_PARTS = ("vbaproject", "vbadata")
#: Extensions of macro-enabled Word files, refused whatever they hold.
MACRO_EXTENSIONS = (".docm", ".dotm")
MACRO_REFUSED = "contains macros (.docm); save it as a Word Document (.docx) and send that"


HYPERLINK_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"


MAX_ENTRIES = 2_000


MAX_UNCOMPRESSED = 100_000_000


MAX_RATIO = 200


SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                          huge_tree=False, remove_blank_text=False)


class Package(zipfile.ZipFile):
    """A Word package whose parts are read with the bytes actually inflated counted.

    The sizes in a zip's central directory are whatever its maker wrote; a part that
    inflates past ``MAX_UNCOMPRESSED`` (alone or with the parts read before it) is
    refused while it is being inflated, and a part that does not match its checksum
    is refused as damaged, whatever the directory says.
    """

    def __init__(self, data: bytes, name: str):
        super().__init__(io.BytesIO(data))
        self.display_name = name
        self.inflated = 0

    def read(self, name: Any, pwd: bytes | None = None) -> bytes:  # type: ignore[override]
        member = name.filename if isinstance(name, zipfile.ZipInfo) else name
        chunks = []
        try:
            with self.open(name, pwd=pwd) as handle:
                while chunk := handle.read(1 << 20):
                    self.inflated += len(chunk)
                    if self.inflated > MAX_UNCOMPRESSED:
                        raise ReadError(self.display_name, f"unpacks to more than {MAX_UNCOMPRESSED // 1_000_000} MB "
                                                           f"(counted while inflating {member}); refused as a "
                                                           "possible zip bomb")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ReadError.damaged(self.display_name, f"is damaged: part {member} cannot be unpacked "
                                                       f"({type(exc).__name__})") from None
        return b"".join(chunks)


def parse_part(archive: zipfile.ZipFile, member: str, name: str) -> etree._Element:
    data = archive.read(member)
    doctype = ReadError(name, f"contains a DOCTYPE declaration in {member}; this is not a normal Word file")
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise doctype
    try:
        root = etree.fromstring(data, SAFE_PARSER)
    except etree.XMLSyntaxError:
        raise ReadError.damaged(name, f"is damaged: {member} is not well-formed XML") from None
    if root.getroottree().docinfo.doctype:  # one pushed past the byte check by a long comment
        raise doctype
    return root


def open_package(data: bytes, name: str) -> Package:
    try:
        archive = Package(data, name)
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise ReadError.damaged(name, "is damaged or truncated and cannot be read as a Word file") from None
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
    folded: dict[str, str] = {}
    for member in sorted(names):
        if member.casefold() in folded:
            raise ReadError(name, f"has two parts named {folded[member.casefold()]!r} and {member!r} (part names "
                                  "ignore case in a Word file); refused as tampered")
        folded[member.casefold()] = member
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        if "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument"):
            raise ReadError(name, "is an OpenDocument file (.odt), which cannot hold the pack's form; "
                                  "fill in the Word copy that was issued and save it as Word (.docx)")
        if "xl/workbook.xml" in names:
            raise ReadError(name, "is an Excel workbook, not a returned copy of the pack (a roster is issued "
                                  "with 'portfolio issue')")
        raise ReadError(name, "is not a Word (.docx) document")
    types = archive.read("[Content_Types].xml").lower()
    if any(marker.encode() in types for marker in MACRO_TYPES) or \
            any(marker in n.casefold() for n in names for marker in MACRO_PARTS):
        raise ReadError(name, MACRO_REFUSED)
    if name.casefold().endswith(MACRO_EXTENSIONS):
        raise ReadError(name, "is a macro-enabled Word file (.docm); save it as a Word Document (.docx) and "
                              "send that")
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
                    raise ReadError.damaged(name, "its portfolio manifest is damaged and cannot be read") from None
    if parse_part(archive, "word/document.xml", name).find(f".//{QW}sdt") is not None:
        raise ReadError(name, "has form controls but no portfolio manifest: the copy was probably saved in "
                              "another format (such as .odt) and converted back, which removes it; ask for "
                              "the copy that was issued, filled in and saved as Word (.docx)")
    raise ReadError.not_ours(name)

