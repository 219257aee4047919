"""Word writer: form model -> fillable DOCX with content controls.

In: a ``Form``, a ``Theme``, the manifest (``generator.model.manifest.make_manifest``),
optional pre-filled values (field id -> ``str``, ``bool`` or ``datetime.date``;
``None`` means every control shows its placeholder) and the PCN name shown on
the cover. Out: the bytes of a .docx package (``write_docx``).

The package is written from scratch with lxml and zipfile: python-docx has no
content-control API, and its default template brings Letter paper, theme fonts,
a thumbnail and a bibliography part at the name the manifest needs. The look
comes from ``templates/word/styles.yaml`` and the ``Theme``; this module holds
no colour, size or font of its own.

Layout mirrors the PDF (``templates/pdf/pack.html.j2``): the cover section
(``Section.is_cover``) gets the coloured band (the PCN and "Issued by" the
organisation, or the organisation alone; the logo), title, subtitle and the
theme's contact; a part issued on its own starts with a smaller band. The
same sections follow in the same order, each ``new_page`` one starting a Word
section, so its header shows its short title; Heading 1/2/3 for section, prose
and block headings; one Word table per table, log, schedule, likert and field
group, with rows that do not split and grid header rows that repeat.

Fields: one content control (``w:sdt``, run level) per model field, in document
order; ``w:tag`` is the field id, ``w:alias`` (the title) its label, ``w:id`` a
unique number, and ``w:lock`` ``sdtLocked`` so it cannot be deleted.

    kind               control
    text, signature    plain text (``w:text``)
    longtext           plain text with ``w:multiLine="1"``
    date               date picker (``w:date``: dd/MM/yyyy, en-GB, ``w:fullDate`` when filled)
    checkbox           ``w14:checkbox``: U+2612 checked, U+2610 unchecked, in MS Gothic
    yesno, choice      ``w:dropDownList``: listItem displayText = option label, value = option value

An empty control has ``w:showingPlcHdr`` and shows ``PLACEHOLDERS[kind]`` (or,
in a narrow grid cell, ``COMPACT_PLACEHOLDER``: no-break spaces) in the
"Placeholder Text" style. Word has no radio groups, so a Likert scale is a grid
as in the PDF and the source form: one row per question, one column per answer
(the answers are the column headings, on screen and on paper), and a checkbox
in each cell tagged ``<field id>=<option value>`` (``access.grid_tag``) and
titled "<question label>: <answer label>". The reader takes the ticked column.

Re-saved by LibreOffice 7.4, a copy loses every ``w:tag`` and placeholder flag
(the placeholder text comes back as content), keeps ``w:alias`` on text controls
and on a wrapper it puts around each checkbox, drops it on dates and dropdowns,
and keeps the controls in document order and the manifest part. A reader can so
match the outermost controls, in order, to the manifest's fields.

Manifest: the part ``/customXml/item1.xml`` (``MANIFEST_PART``), related from
``/word/document.xml`` by a relationship of type ``CUSTOM_XML_REL``. Its root
element is ``manifest`` in namespace ``generator.model.manifest.DOCX_NAMESPACE``
(``MANIFEST_TAG``) and its text is the manifest JSON (``manifest.dumps``).
``/customXml/itemProps1.xml`` (related from item1.xml) names that namespace as
its schema reference. Protection: settings.xml holds
``<w:documentProtection w:edit="forms" w:enforcement="1"/>`` (no password).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import io
import re
import uuid
import zipfile
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Callable, Mapping

from docx.image.image import Image as DocxImage
from lxml import etree

from generator import __version__
from generator.content.loader import read_yaml
from generator.content.prose import BulletList, Paragraph, Run
from generator.content.theme import TEMPLATES_DIR, Theme
from generator.dates import format_date, iso_date, parse_date
from generator.errors import BuildError, ContentError, Problem
from generator.formats.docx.access import grid_tag, grid_title, xml_safe
from generator.kinds import KINDS
from generator.model.form import (
    Entry,
    Field,
    FieldsBlock,
    Form,
    LikertBlock,
    ProseBlock,
    TableBlock,
)
from generator.model.manifest import DOCX_NAMESPACE, RETURN_LINK_PLACEHOLDER, dumps
from generator.model.pagecode import QUIET_ZONE, WORD_PAGE, WORD_QR_BOX_MM, page_code, symbol

#: Where the Word look is defined.
STYLES_PATH = TEMPLATES_DIR / "word" / "styles.yaml"
#: Part holding the manifest, and its root element.
MANIFEST_PART = "/customXml/item1.xml"
MANIFEST_TAG = f"{{{DOCX_NAMESPACE}}}manifest"
CUSTOM_XML_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/customXml"
#: Text an empty control shows, by field kind (a reader treats it as empty).
PLACEHOLDERS: dict[str, str] = {name: kind.placeholder for name, kind in KINDS.items() if kind.placeholder}
#: What an empty text control shows in a narrow grid cell (a planner's month): blank.
COMPACT_PLACEHOLDER = "\u00a0" * 3
CHECKED, UNCHECKED = "\u2612", "\u2610"
DATE_FORMAT = "dd/MM/yyyy"
FIRST_CONTROL_ID = 1000

# ---------------------------------------------------------------- XML helpers

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {
    "w": W,
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "w14": "http://schemas.microsoft.com/office/word/2010/wordml",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "ds": "http://schemas.openxmlformats.org/officeDocument/2006/customXml",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_PART_NSMAP = {k: _NS[k] for k in ("w", "r", "w14", "mc", "wp", "a", "pic")}

_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml."


@functools.lru_cache(maxsize=None)
def _q(name: str) -> str:
    """Clark name of a prefixed name: ``w:p`` -> ``{...main}p``."""
    prefix, _, local = name.partition(":")
    return f"{{{_NS[prefix]}}}{local}"


def _el(parent: etree._Element, name: str, attrs: Mapping[str, Any] | None = None,
        text: str | None = None) -> etree._Element:
    """Append a child element; attribute names are prefixed (``w:val``)."""
    element = etree.SubElement(parent, _q(name))
    if attrs:
        for key, value in attrs.items():
            element.set(_q(key), str(value))
    if text is not None:
        element.text = text
    return element


def _root(name: str, nsmap: Mapping[str, str] | None = None) -> etree._Element:
    root = etree.Element(_q(name), nsmap=dict(nsmap or _PART_NSMAP))
    if "mc" in (nsmap or _PART_NSMAP):
        root.set(_q("mc:Ignorable"), "w14")
    return root


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _tw(mm: float) -> int:
    """Millimetres to twentieths of a point."""
    return round(mm * 1440 / 25.4)


def _emu(mm: float) -> int:
    return round(mm * 36000)


def _id(name: str) -> str:
    """Style id of a style name: ``Heading 1`` -> ``Heading1``."""
    return re.sub(r"[^0-9A-Za-z]", "", name)


# ---------------------------------------------------------------- the look

#: Word's own names for built-in styles (what Word matches on).
_BUILTIN_NAMES = {
    "Normal": "Normal", "Title": "Title", "Subtitle": "Subtitle", "List Bullet": "List Bullet",
    "Heading 1": "heading 1", "Heading 2": "heading 2", "Heading 3": "heading 3",
    "Header": "header", "Footer": "footer", "Placeholder Text": "Placeholder Text", "Hyperlink": "Hyperlink",
}
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


@functools.lru_cache(maxsize=8)
def _read_styles(path: Path, mtime_ns: int) -> dict[str, Any]:
    problems: list[Problem] = []
    data = read_yaml(path, problems, f"templates/word/{path.name}")
    if problems:
        raise ContentError(problems)
    if not isinstance(data, dict):
        raise ContentError([Problem(path.name, "", "expected a mapping of Word style settings")])
    return data


#: Settings styles.yaml must have (group -> keys).
_REQUIRED = {
    "page": ("width_mm", "height_mm", "margins_mm", "header_mm", "footer_mm"),
    "tables": ("border", "padding_mm", "header_fill", "stripe", "label_fill", "keep_border", "field_height_mm",
               "cover_field_height_mm", "line_height_mm", "band", "standalone_band", "note"),
    "widths": ("grid_by_id", "grid_by_kind", "likert_option", "entries", "cover_entries", "two_column_label",
               "logo_mm"),
}


@dataclass
class _Look:
    """The Word look: styles.yaml with the theme's colours and font resolved."""

    data: dict[str, Any]
    theme: Theme
    language: str = ""  # of the text: spelling, date pickers; default from styles.yaml

    def __post_init__(self) -> None:
        missing = [f"{group}.{key}" for group, keys in _REQUIRED.items() for key in keys
                   if not isinstance(self.data.get(group), dict) or key not in self.data[group]]
        if missing:
            raise BuildError(f"templates/word/styles.yaml: missing setting(s) {', '.join(missing)} "
                             "(see the shipped file for each one's meaning)")
        page = self.data["page"]
        margins = page["margins_mm"]
        self.text_width = _tw(page["width_mm"] - margins["left"] - margins["right"])
        self.tables = self.data["tables"]
        self.widths = self.data["widths"]
        self.language = self.language or self.data.get("fonts", {}).get("language", "en-GB")

    def colour(self, name: str) -> str:
        """A colour as Word wants it (``005EB8``) from a hex value or a name."""
        value = {"primary": self.theme.primary, "accent": self.theme.accent}.get(name)
        value = value or self.data.get("colours", {}).get(name, name)
        if not isinstance(value, str) or not _HEX.match(value):
            raise BuildError(f"templates/word/styles.yaml: unknown colour {name!r} "
                             "(use a hex value like '#005EB8', primary, accent or a name from colours)")
        return value[1:].upper()

    def width(self, spec: Any, total: int | None = None) -> int:
        """Twips of a width given in mm or as a share (``"30%"``) of ``total``."""
        total = self.text_width if total is None else total
        if isinstance(spec, str) and spec.endswith("%"):
            return round(total * float(spec[:-1]) / 100)
        return _tw(float(spec))

    def split(self, specs: list[Any], total: int | None = None, shares: list[float] | None = None) -> list[int]:
        """Column widths: given ones as set, the rest share what is left (by ``shares``, default equally)."""
        total = self.text_width if total is None else total
        fixed = [None if s is None else self.width(s, total) for s in specs]
        free = [i for i, v in enumerate(fixed) if v is None]
        used = sum(v for v in fixed if v is not None)
        if free:
            weights = shares or [1.0] * len(specs)
            unit = max(total - used, _tw(8) * len(free)) / sum(weights[i] for i in free)
            widths = [round(unit * weights[i]) if v is None else v for i, v in enumerate(fixed)]
        else:
            widths = [v for v in fixed if v is not None]
        scale = total / sum(widths)
        return [round(v * scale) for v in widths]


def load_look(theme: Theme, language: str = "", path: Path | None = None) -> _Look:
    """The Word look for ``theme`` (default styles: ``templates/word/styles.yaml``).

    An empty ``language`` means the one styles.yaml names (en-GB).
    """
    path = path or STYLES_PATH
    return _Look(_read_styles(path, path.stat().st_mtime_ns), theme, language)


# ---------------------------------------------------------------- style parts

def _border(parent: etree._Element, side: str, spec: Mapping[str, Any], look: _Look) -> None:
    _el(parent, f"w:{side}", {"w:val": "single", "w:sz": round(float(spec["width"]) * 8),
                              "w:space": spec.get("space", 0), "w:color": look.colour(spec["color"])})


def _style_ppr(parent: etree._Element, props: Mapping[str, Any], look: _Look) -> None:
    ppr = _el(parent, "w:pPr")
    if props.get("keep_next"):
        _el(ppr, "w:keepNext")
    if props.get("keep_lines"):
        _el(ppr, "w:keepLines")
    if props.get("bullet"):
        num = _el(ppr, "w:numPr")
        _el(num, "w:ilvl", {"w:val": 0})
        _el(num, "w:numId", {"w:val": 1})
    borders = [(side, props[f"border_{side}"]) for side in ("left", "bottom") if f"border_{side}" in props]
    if borders:
        pbdr = _el(ppr, "w:pBdr")
        for side, spec in borders:
            _border(pbdr, side, spec, look)
    if props.get("tab_right"):
        tabs = _el(ppr, "w:tabs")
        _el(tabs, "w:tab", {"w:val": "right", "w:pos": look.text_width})
    spacing = {}
    if "before" in props:
        spacing["w:before"] = round(float(props["before"]) * 20)
    if "after" in props:
        spacing["w:after"] = round(float(props["after"]) * 20)
    if "line" in props:
        spacing["w:line"] = round(float(props["line"]) * 240)
        spacing["w:lineRule"] = "auto"
    if spacing:
        _el(ppr, "w:spacing", spacing)
    if "indent_mm" in props:
        ind = {"w:left": _tw(props["indent_mm"])}
        if "hanging_mm" in props:
            ind["w:hanging"] = _tw(props["hanging_mm"])
        _el(ppr, "w:ind", ind)
    if "align" in props:
        _el(ppr, "w:jc", {"w:val": props["align"]})
    if "outline_level" in props:
        _el(ppr, "w:outlineLvl", {"w:val": props["outline_level"]})


def _style_rpr(parent: etree._Element, props: Mapping[str, Any], look: _Look) -> None:
    rpr = _el(parent, "w:rPr")
    if props.get("bold"):
        _el(rpr, "w:b")
        _el(rpr, "w:bCs")
    if "color" in props:
        _el(rpr, "w:color", {"w:val": look.colour(props["color"])})
    if "size" in props:
        half_points = round(float(props["size"]) * 2)
        _el(rpr, "w:sz", {"w:val": half_points})
        _el(rpr, "w:szCs", {"w:val": half_points})
    if props.get("underline"):
        _el(rpr, "w:u", {"w:val": "single"})


_STYLE_KEYS = {"based_on", "next", "size", "bold", "color", "before", "after", "line", "keep_next",
               "keep_lines", "outline_level", "align", "indent_mm", "hanging_mm", "bullet", "tab_right",
               "border_bottom", "border_left", "underline"}


def _styles_xml(look: _Look) -> bytes:
    fonts = look.data.get("fonts", {})
    font = look.theme.font
    lang = look.language
    root = _root("w:styles")
    defaults = _el(root, "w:docDefaults")
    rpr = _el(_el(defaults, "w:rPrDefault"), "w:rPr")
    _el(rpr, "w:rFonts", {"w:ascii": font, "w:hAnsi": font, "w:eastAsia": font, "w:cs": font})
    _el(rpr, "w:sz", {"w:val": 20})
    _el(rpr, "w:szCs", {"w:val": 20})
    _el(rpr, "w:lang", {"w:val": lang, "w:eastAsia": lang, "w:bidi": "ar-SA"})
    _el(_el(_el(defaults, "w:pPrDefault"), "w:pPr"), "w:spacing", {"w:after": 0, "w:line": 240,
                                                                   "w:lineRule": "auto"})

    def style(kind: str, name: str, props: Mapping[str, Any], default: bool = False) -> None:
        unknown = set(props) - _STYLE_KEYS
        if unknown:
            raise BuildError(f"templates/word/styles.yaml: {name}: unknown setting(s) "
                             f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(_STYLE_KEYS))})")
        attrs = {"w:type": kind, "w:styleId": _id(name)}
        if default:
            attrs["w:default"] = 1
        if name not in _BUILTIN_NAMES and not default:
            attrs["w:customStyle"] = 1
        element = _el(root, "w:style", attrs)
        _el(element, "w:name", {"w:val": _BUILTIN_NAMES.get(name, name)})
        if props.get("based_on"):
            _el(element, "w:basedOn", {"w:val": _id(props["based_on"])})
        if props.get("next"):
            _el(element, "w:next", {"w:val": _id(props["next"])})
        _el(element, "w:qFormat")
        if kind == "paragraph":
            _style_ppr(element, props, look)
        _style_rpr(element, props, look)

    paragraph_styles = look.data.get("paragraph_styles") or {}
    for name, props in paragraph_styles.items():
        style("paragraph", name, props or {}, default=(name == "Normal"))
    default_font = _el(root, "w:style", {"w:type": "character", "w:default": 1, "w:styleId": "DefaultParagraphFont"})
    _el(default_font, "w:name", {"w:val": "Default Paragraph Font"})
    _el(default_font, "w:uiPriority", {"w:val": 1})
    _el(default_font, "w:semiHidden")
    for name, props in (look.data.get("character_styles") or {}).items():
        style("character", name, props or {})
    table = _el(root, "w:style", {"w:type": "table", "w:default": 1, "w:styleId": "TableNormal"})
    _el(table, "w:name", {"w:val": "Normal Table"})
    _el(table, "w:semiHidden")
    tblpr = _el(table, "w:tblPr")
    _el(tblpr, "w:tblInd", {"w:w": 0, "w:type": "dxa"})
    margins = _el(tblpr, "w:tblCellMar")
    for side in ("top", "left", "bottom", "right"):
        _el(margins, f"w:{side}", {"w:w": 0 if side in ("top", "bottom") else 108, "w:type": "dxa"})
    no_list = _el(root, "w:style", {"w:type": "numbering", "w:default": 1, "w:styleId": "NoList"})
    _el(no_list, "w:name", {"w:val": "No List"})
    _el(no_list, "w:semiHidden")
    return _xml(root)


def _numbering_xml(look: _Look) -> bytes:
    props = (look.data.get("paragraph_styles") or {}).get("List Bullet") or {}
    root = _root("w:numbering")
    abstract = _el(root, "w:abstractNum", {"w:abstractNumId": 1})
    _el(abstract, "w:multiLevelType", {"w:val": "singleLevel"})
    lvl = _el(abstract, "w:lvl", {"w:ilvl": 0})
    _el(lvl, "w:start", {"w:val": 1})
    _el(lvl, "w:numFmt", {"w:val": "bullet"})
    _el(lvl, "w:lvlText", {"w:val": "\u2022"})
    _el(lvl, "w:lvlJc", {"w:val": "left"})
    _el(_el(lvl, "w:pPr"), "w:ind", {"w:left": _tw(props.get("indent_mm", 6)),
                                     "w:hanging": _tw(props.get("hanging_mm", 4))})
    font = look.theme.font
    _el(_el(lvl, "w:rPr"), "w:rFonts", {"w:ascii": font, "w:hAnsi": font, "w:hint": "default"})
    _el(_el(root, "w:num", {"w:numId": 1}), "w:abstractNumId", {"w:val": 1})
    return _xml(root)


def _settings_xml(look: _Look) -> bytes:
    lang = look.language
    root = _root("w:settings")
    _el(root, "w:zoom", {"w:percent": 100})
    _el(root, "w:documentProtection", {"w:edit": "forms", "w:enforcement": 1})
    _el(root, "w:defaultTabStop", {"w:val": 720})
    _el(root, "w:characterSpacingControl", {"w:val": "doNotCompress"})
    compat = _el(root, "w:compat")
    _el(compat, "w:compatSetting", {"w:name": "compatibilityMode", "w:uri": "http://schemas.microsoft.com/office/word",
                                    "w:val": 15})
    _el(root, "w:themeFontLang", {"w:val": lang})
    _el(root, "w:decimalSymbol", {"w:val": "."})
    _el(root, "w:listSeparator", {"w:val": ","})
    return _xml(root)


def _fonts_xml(look: _Look) -> bytes:
    fonts = look.data.get("fonts", {})
    root = _root("w:fonts")
    body = _el(root, "w:font", {"w:name": look.theme.font})
    if fonts.get("fallback") and fonts["fallback"] != look.theme.font:
        _el(body, "w:altName", {"w:val": fonts["fallback"]})
    if fonts.get("panose"):
        _el(body, "w:panose1", {"w:val": fonts["panose"]})
    _el(body, "w:charset", {"w:val": "00"})
    _el(body, "w:family", {"w:val": fonts.get("family", "swiss")})
    _el(body, "w:pitch", {"w:val": "variable"})
    if fonts.get("symbol"):
        symbol = _el(root, "w:font", {"w:name": fonts["symbol"]})
        _el(symbol, "w:charset", {"w:val": "80"})
        _el(symbol, "w:family", {"w:val": "modern"})
        _el(symbol, "w:pitch", {"w:val": "fixed"})
    return _xml(root)


# ---------------------------------------------------------------- package

@dataclass
class _Part:
    name: str  # without the leading slash: word/document.xml
    content_type: str | None  # None: the extension's default
    blob: bytes = b""
    rels: list[tuple[str, str, str]] = dc_field(default_factory=list)  # (id, type, target)

    def relate(self, rel_type: str, target: str) -> str:
        rid = f"rId{len(self.rels) + 1}"
        self.rels.append((rid, rel_type, target))
        return rid


_DEFAULT_TYPES = {"rels": "application/vnd.openxmlformats-package.relationships+xml",
                  "xml": "application/xml", "png": "image/png", "jpeg": "image/jpeg"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _rels_xml(rels: list[tuple[str, str, str]]) -> bytes:
    ns = "http://schemas.openxmlformats.org/package/2006/relationships"
    root = etree.Element(f"{{{ns}}}Relationships", nsmap={None: ns})
    for rid, rel_type, target in rels:
        rel = etree.SubElement(root, f"{{{ns}}}Relationship", Id=rid, Type=rel_type, Target=target)
        if rel_type == _OFFICE_REL + "hyperlink":  # a web address, not a part of the package
            rel.set("TargetMode", "External")
    return _xml(root)


def _zip(parts: list[_Part], package_rels: list[tuple[str, str, str]]) -> bytes:
    ns = "http://schemas.openxmlformats.org/package/2006/content-types"
    types = etree.Element(f"{{{ns}}}Types", nsmap={None: ns})
    for ext, ctype in _DEFAULT_TYPES.items():
        etree.SubElement(types, f"{{{ns}}}Default", Extension=ext, ContentType=ctype)
    for part in parts:
        if part.content_type:
            etree.SubElement(types, f"{{{ns}}}Override", PartName=f"/{part.name}", ContentType=part.content_type)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        def add(name: str, blob: bytes) -> None:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, blob)
        add("[Content_Types].xml", _xml(types))
        add("_rels/.rels", _rels_xml(package_rels))
        for part in parts:
            add(part.name, part.blob)
            if part.rels:
                folder, _, base = part.name.rpartition("/")
                add(f"{folder}/_rels/{base}.rels", _rels_xml(part.rels))
    return out.getvalue()


# ---------------------------------------------------------------- values

_TRUE = {"true", "yes", "y", "1", "on", "x", "checked"}
_FALSE = {"false", "no", "n", "0", "off", "", "unchecked"}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return format_date(value)
    return str(value)


def _as_bool(field: Field, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BuildError(f"values: {field.id}: {value!r} is not a checkbox value (use true or false)")


def _as_date(value: Any) -> tuple[str, str | None]:
    """Display text and ISO ``fullDate`` of a date value (``None`` if it is not a date)."""
    day = iso_date(value) or parse_date(_as_text(value))
    if day:
        return format_date(day), f"{day}T00:00:00Z"
    return _as_text(value).strip(), None  # kept as typed, never dropped


# ---------------------------------------------------------------- writer

@dataclass
class _Writer:
    """Builds one document; blocks and controls are written by the functions below."""

    form: Form
    theme: Theme
    look: _Look
    values: Mapping[str, Any]
    pcn: str
    document: _Part = dc_field(init=False)
    parts: list[_Part] = dc_field(default_factory=list)
    body: etree._Element = dc_field(init=False)
    next_control_id: int = FIRST_CONTROL_ID
    next_drawing_id: int = 1
    cover: bool = False
    logo: tuple[str, int, int] | None = None  # media part name, width and height in px
    header_rid: str = ""
    page_code_modules: int = 37  # side of the page code symbol, in modules (set by write_docx)
    root: etree._Element = dc_field(init=False)

    def __post_init__(self) -> None:
        self.document = _Part("word/document.xml", _WML + "document.main+xml")
        self.root = _root("w:document")
        self.body = _el(self.root, "w:body")

    # ------------------------------------------------------------ paragraphs

    def para(self, parent: etree._Element, style: str | None = None, text: str | None = None, *,
             align: str | None = None) -> etree._Element:
        p = _el(parent, "w:p")
        if style or align:
            ppr = _el(p, "w:pPr")
            if style:
                _el(ppr, "w:pStyle", {"w:val": style})
            if align:
                _el(ppr, "w:jc", {"w:val": align})
        if text:
            self.run(p, text)
        return p

    def run(self, p: etree._Element, text: str, *, bold: bool = False, style: str | None = None,
            color: str | None = None) -> etree._Element:
        r = _el(p, "w:r")
        if bold or style or color:
            rpr = _el(r, "w:rPr")
            if style:
                _el(rpr, "w:rStyle", {"w:val": style})
            if bold:
                _el(rpr, "w:b")
            if color:
                _el(rpr, "w:color", {"w:val": color})
        text = xml_safe(text)
        t = _el(r, "w:t", None, text)
        if text[:1].isspace() or text[-1:].isspace():
            t.set(_q("xml:space"), "preserve")
        return r

    def runs(self, p: etree._Element, runs: tuple[Run, ...]) -> None:
        for r in runs:
            self.run(p, r.text, bold=r.bold)

    def spacer(self) -> etree._Element:
        return self.para(self.body, "Spacer")

    # ------------------------------------------------------------ tables

    def table(self, widths: list[int], *, border: Mapping[str, Any] | None = None,
              outer: Mapping[str, Any] | None = None,
              padding: Mapping[str, float] | None = None) -> etree._Element:
        """A fixed-layout table in the body; ``border`` draws every line, ``outer`` the frame."""
        tbl = _el(self.body, "w:tbl")
        pr = _el(tbl, "w:tblPr")
        _el(pr, "w:tblW", {"w:w": sum(widths), "w:type": "dxa"})
        _el(pr, "w:tblInd", {"w:w": 0, "w:type": "dxa"})
        borders = _el(pr, "w:tblBorders")
        for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
            spec = (outer if outer and side in ("top", "left", "bottom", "right") else border)
            if spec:
                _border(borders, side, spec, self.look)
            else:
                _el(borders, f"w:{side}", {"w:val": "nil"})
        _el(pr, "w:tblLayout", {"w:type": "fixed"})
        padding = padding or self.look.tables["padding_mm"]
        margins = _el(pr, "w:tblCellMar")
        for side in ("top", "left", "bottom", "right"):
            _el(margins, f"w:{side}", {"w:w": _tw(padding[side]), "w:type": "dxa"})
        _el(pr, "w:tblLook", {"w:val": "0000", "w:firstRow": 0, "w:lastRow": 0, "w:firstColumn": 0,
                              "w:lastColumn": 0, "w:noHBand": 1, "w:noVBand": 1})
        grid = _el(tbl, "w:tblGrid")
        for width in widths:
            _el(grid, "w:gridCol", {"w:w": width})
        return tbl

    def row(self, tbl: etree._Element, *, header: bool = False, height_mm: float | None = None) -> etree._Element:
        tr = _el(tbl, "w:tr")
        pr = _el(tr, "w:trPr")
        _el(pr, "w:cantSplit")
        if height_mm:
            _el(pr, "w:trHeight", {"w:val": _tw(height_mm), "w:hRule": "atLeast"})
        if header:
            _el(pr, "w:tblHeader")
        return tr

    def cell(self, tr: etree._Element, width: int, *, span: int = 1, fill: str | None = None,
             valign: str | None = None,
             borders: Mapping[str, Mapping[str, Any] | None] | None = None) -> etree._Element:
        tc = _el(tr, "w:tc")
        pr = _el(tc, "w:tcPr")
        _el(pr, "w:tcW", {"w:w": width, "w:type": "dxa"})
        if span > 1:
            _el(pr, "w:gridSpan", {"w:val": span})
        if borders:
            tcb = _el(pr, "w:tcBorders")
            for side in ("top", "left", "bottom", "right"):
                if side in borders:
                    spec = borders[side]
                    if spec:
                        _border(tcb, side, spec, self.look)
                    else:
                        _el(tcb, f"w:{side}", {"w:val": "nil"})
        if fill:
            _el(pr, "w:shd", {"w:val": "clear", "w:color": "auto", "w:fill": fill})
        if valign:
            _el(pr, "w:vAlign", {"w:val": valign})
        return tc

    def end_table(self, tbl: etree._Element, *, keep: bool = False) -> None:
        """Optionally keep a table on one page, and part it from what follows."""
        if keep:
            for tr in tbl.findall(_q("w:tr"))[:-1]:
                for p in tr.iter(_q("w:p")):
                    _keep_next(p)
        self.spacer()

    # ------------------------------------------------------------ controls

    def control(self, p: etree._Element, field: Field, width: int | None = None) -> None:
        """The field's content control at the end of ``p``; ``width`` (twips) is its cell's."""
        try:
            writer = CONTROL_WRITERS[field.kind]
        except KeyError:
            raise BuildError(f"{field.id}: no Word control for field kind {field.kind!r} "
                             f"(known: {', '.join(sorted(CONTROL_WRITERS))})") from None
        narrow = self.look.tables.get("compact_below_mm")
        compact = bool(width and narrow and width < _tw(narrow))
        writer(self, p, field, self.values.get(field.id), compact)

    def sdt(self, p: etree._Element, field: Field, *, placeholder: bool,
            compact: bool = False, tag: str | None = None,
            title: str | None = None) -> tuple[etree._Element, etree._Element]:
        """A run-level content control; returns its properties and its content.
        ``tag`` and ``title`` default to the field's id and label."""
        sdt = _el(p, "w:sdt")
        pr = _el(sdt, "w:sdtPr")
        _el(pr, "w:alias", {"w:val": xml_safe(title or field.label)})
        _el(pr, "w:tag", {"w:val": tag or field.id})
        _el(pr, "w:id", {"w:val": self.next_control_id})
        self.next_control_id += 1
        _el(pr, "w:lock", {"w:val": "sdtLocked"})
        if placeholder:
            _el(pr, "w:showingPlcHdr")
        content = _el(sdt, "w:sdtContent")
        if placeholder:
            self.run(content, COMPACT_PLACEHOLDER if compact else PLACEHOLDERS[field.kind], style="PlaceholderText")
        return pr, content

    # ------------------------------------------------------------ images

    def image(self, part: _Part, height_mm: float, max_width_mm: float, descr: str) -> etree._Element:
        """A ``w:r`` holding the theme logo, related from ``part``."""
        assert self.logo is not None
        media, px_w, px_h = self.logo
        width_mm = height_mm * px_w / px_h
        if width_mm > max_width_mm:
            width_mm, height_mm = max_width_mm, max_width_mm * px_h / px_w
        return self.inline_picture(part, media, width_mm, height_mm, "Logo", descr)

    def inline_picture(self, part: _Part, media: str, width_mm: float, height_mm: float, name: str,
                       descr: str) -> etree._Element:
        """A ``w:r`` holding the picture ``media`` (a part name), related from ``part``, in line with text."""
        rid = part.relate(_OFFICE_REL + "image", "media/" + media.rpartition("/")[2])
        cx, cy = _emu(width_mm), _emu(height_mm)
        r = etree.Element(_q("w:r"))
        inline = _el(_el(r, "w:drawing"), "wp:inline", {})
        for key in ("distT", "distB", "distL", "distR"):
            inline.set(key, "0")
        extent = _el(inline, "wp:extent")
        extent.set("cx", str(cx))
        extent.set("cy", str(cy))
        doc_pr = _el(inline, "wp:docPr")
        doc_pr.set("id", str(self.next_drawing_id))
        doc_pr.set("name", f"{name} {self.next_drawing_id}")
        doc_pr.set("descr", descr)
        self.next_drawing_id += 1
        _picture(inline, rid, media.rpartition("/")[2], cx, cy)
        return r


def _picture(frame: etree._Element, rid: str, name: str, cx: int, cy: int, descr: str | None = None) -> None:
    """The picture inside a drawing's ``wp:inline`` or ``wp:anchor`` ``frame``: the related image ``rid``
    stretched over ``cx`` × ``cy`` EMU (the same DrawingML for the logo and the page code)."""
    _el(_el(frame, "wp:cNvGraphicFramePr"), "a:graphicFrameLocks").set("noChangeAspect", "1")
    data = _el(_el(frame, "a:graphic"), "a:graphicData")
    data.set("uri", _NS["pic"])
    pic = _el(data, "pic:pic")
    nv = _el(pic, "pic:nvPicPr")
    c_nv = _el(nv, "pic:cNvPr")
    c_nv.set("id", "0")
    c_nv.set("name", name)
    if descr is not None:
        c_nv.set("descr", descr)
    _el(nv, "pic:cNvPicPr")
    fill = _el(pic, "pic:blipFill")
    _el(fill, "a:blip", {"r:embed": rid})
    _el(_el(fill, "a:stretch"), "a:fillRect")
    sp = _el(pic, "pic:spPr")
    xfrm = _el(sp, "a:xfrm")
    off = _el(xfrm, "a:off")
    off.set("x", "0")
    off.set("y", "0")
    ext = _el(xfrm, "a:ext")
    ext.set("cx", str(cx))
    ext.set("cy", str(cy))
    geometry = _el(sp, "a:prstGeom")
    geometry.set("prst", "rect")
    _el(geometry, "a:avLst")


def _keep_next(p: etree._Element) -> None:
    ppr = p.find(_q("w:pPr"))
    if ppr is None:
        ppr = etree.Element(_q("w:pPr"))
        p.insert(0, ppr)
    if ppr.find(_q("w:keepNext")) is None:
        position = 1 if len(ppr) and ppr[0].tag == _q("w:pStyle") else 0
        ppr.insert(position, etree.Element(_q("w:keepNext")))


# ---------------------------------------------------------------- controls

def _text_control(w: _Writer, p: etree._Element, field: Field, value: Any, compact: bool) -> None:
    text = _as_text(value)
    pr, content = w.sdt(p, field, placeholder=not text, compact=compact)
    multiline = field.kind == "longtext"
    _el(pr, "w:text", {"w:multiLine": 1} if multiline else None)
    if not text:
        return
    lines = text.splitlines() if multiline else [" ".join(text.splitlines())]
    r = _el(content, "w:r")
    for i, line in enumerate(lines):
        if i:
            _el(r, "w:br")
        t = _el(r, "w:t", None, xml_safe(line))
        t.set(_q("xml:space"), "preserve")


def _date_control(w: _Writer, p: etree._Element, field: Field, value: Any, compact: bool) -> None:
    text, full = _as_date(value) if value not in (None, "") else ("", None)
    pr, content = w.sdt(p, field, placeholder=not text)
    date = _el(pr, "w:date", {"w:fullDate": full} if full else None)
    _el(date, "w:dateFormat", {"w:val": DATE_FORMAT})
    _el(date, "w:lid", {"w:val": w.look.language})
    _el(date, "w:storeMappedDataAs", {"w:val": "dateTime"})
    _el(date, "w:calendar", {"w:val": "gregorian"})
    if text:
        w.run(content, text)


def _checkbox_control(w: _Writer, p: etree._Element, field: Field, value: Any, compact: bool,
                      tag: str | None = None, title: str | None = None) -> None:
    checked = _as_bool(field, value) if tag is None else bool(value)
    pr, content = w.sdt(p, field, placeholder=False, tag=tag, title=title)
    font = w.look.data.get("fonts", {}).get("symbol", "MS Gothic")
    box = _el(pr, "w14:checkbox")
    _el(box, "w14:checked", {"w14:val": int(checked)})
    _el(box, "w14:checkedState", {"w14:val": f"{ord(CHECKED):04X}", "w14:font": font})
    _el(box, "w14:uncheckedState", {"w14:val": f"{ord(UNCHECKED):04X}", "w14:font": font})
    r = _el(content, "w:r")
    rpr = _el(r, "w:rPr")
    _el(rpr, "w:rFonts", {"w:ascii": font, "w:eastAsia": font, "w:hAnsi": font, "w:hint": "eastAsia"})
    size = round(float(w.look.tables.get("checkbox_size", 11)) * 2)
    _el(rpr, "w:sz", {"w:val": size})
    _el(rpr, "w:szCs", {"w:val": size})
    _el(r, "w:t", None, CHECKED if checked else UNCHECKED)


def _dropdown_control(w: _Writer, p: etree._Element, field: Field, value: Any, compact: bool) -> None:
    chosen = None
    if value not in (None, ""):
        text = _as_text(value)
        chosen = next((o for o in field.options if text in (o.value, o.label)), None)
        if chosen is None:
            raise BuildError(f"values: {field.id}: {text!r} is not an option of this field "
                             f"(expected one of: {', '.join(o.value for o in field.options)})")
    pr, content = w.sdt(p, field, placeholder=chosen is None)
    dropdown = _el(pr, "w:dropDownList", {"w:lastValue": chosen.value} if chosen else None)
    for option in field.options:
        _el(dropdown, "w:listItem", {"w:displayText": xml_safe(option.label), "w:value": xml_safe(option.value)})
    if chosen:
        w.run(content, chosen.label)


#: Control writers by field kind.
#: Each takes the writer, the paragraph, the field, its pre-filled value (or None)
#: and whether its cell is narrow (text controls then show a blank placeholder).
def _longtext_control(w: _Writer, p: etree._Element, field: Field, value: Any, compact: bool) -> None:
    """A block-level rich text control holding one paragraph per line, in place of ``p``.

    A run-level multi-line plain text control keeps lines apart with ``w:br``,
    which LibreOffice 7.4 moves out of the control on re-save (the lines run
    together); paragraphs survive it, so long answers live in paragraphs.
    """
    if len(p) > 1 or p.find(_q("w:r")) is not None:  # not an empty paragraph of its own
        _text_control(w, p, field, value, compact)
        return
    text = _as_text(value)
    holder = etree.Element(_q("w:p"))
    pr, content = w.sdt(holder, field, placeholder=not text, compact=compact)
    sdt = holder[0]
    ppr = p.find(_q("w:pPr"))
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if text else [None]
    for line in lines:
        para = _el(content, "w:p") if line is not None or not len(content) else None
        if line is None:  # the placeholder run w.sdt() made goes inside a paragraph
            para = etree.Element(_q("w:p"))
            for run in list(content):
                para.append(run)
            content.append(para)
        if ppr is not None:
            para.insert(0, copy.deepcopy(ppr))
        if line:
            t = _el(_el(para, "w:r"), "w:t", None, xml_safe(line))
            t.set(_q("xml:space"), "preserve")
    p.getparent().replace(p, sdt)


CONTROL_WRITERS: dict[str, Callable[[_Writer, etree._Element, Field, Any, bool], None]] = {
    "text": _text_control,
    "longtext": _longtext_control,
    "signature": _text_control,
    "date": _date_control,
    "checkbox": _checkbox_control,
    "yesno": _dropdown_control,
    "choice": _dropdown_control,
}


# ---------------------------------------------------------------- blocks

def _write_prose(w: _Writer, block: ProseBlock) -> None:
    if block.heading:
        w.para(w.body, "Heading2", block.heading)
    parent = w.body
    if w.cover:  # the cover's note sits in a shaded box with an accent rule
        note = w.look.tables["note"]
        tbl = w.table([w.look.text_width], padding=note["padding_mm"])
        tc = w.cell(w.row(tbl), w.look.text_width, fill=w.look.colour(note["fill"]),
                    borders={"left": note["border"]})
        parent = tc
    style = "CoverNote" if w.cover else None
    for item in block.prose:
        if isinstance(item, BulletList):
            for runs in item.items:
                w.runs(w.para(parent, "ListBullet"), runs)
        elif isinstance(item, Paragraph):
            w.runs(w.para(parent, style), item.runs)
    if w.cover:
        last = parent.findall(_q("w:p"))
        if not last:
            w.para(parent)
        else:  # no space under the last paragraph of the box
            _space_after_zero(last[-1])
        w.end_table(tbl)


def _space_after_zero(p: etree._Element) -> None:
    ppr = p.find(_q("w:pPr"))
    if ppr is None:
        ppr = etree.Element(_q("w:pPr"))
        p.insert(0, ppr)
    _el(ppr, "w:spacing", {"w:after": 0})


def _label_cell(w: _Writer, tr: etree._Element, width: int, entry: Entry, *, span: int = 1) -> etree._Element:
    tc = w.cell(tr, width, span=span, fill=w.look.colour(w.look.tables["label_fill"]), valign="center")
    w.para(tc, "CoverLabel" if w.cover else "FieldLabel", entry.label)
    if entry.field.hint:
        w.para(tc, "FieldHint", entry.field.hint)
    return tc


def _field_cell(w: _Writer, tr: etree._Element, width: int, field: Field, *, span: int = 1,
                caption: str | None = None) -> etree._Element:
    tc = w.cell(tr, width, span=span, valign="top" if field.kind == "longtext" or caption else "center")
    if caption:
        w.para(tc, "FieldCaption", caption)
    w.control(w.para(tc, "CoverField" if w.cover else "Field"), field)
    return tc


def _entry_rows(w: _Writer, tbl: etree._Element, widths: list[int], entry: Entry,
                pair: Entry | None = None) -> None:
    """One labelled entry (or, in two-column blocks, two simple entries side by side)."""
    look, total = w.look, sum(widths)
    height = look.tables["cover_field_height_mm" if w.cover else "field_height_mm"]
    if entry.date:  # label | typed name | date
        tr = w.row(tbl)
        _label_cell(w, tr, widths[0], entry)
        _field_cell(w, tr, widths[1], entry.field, caption="Signature (sign, or type your name)")
        _field_cell(w, tr, total - widths[0] - widths[1], entry.date, span=len(widths) - 2, caption="Date")
    elif entry.field.kind == "longtext":  # label above a box as tall as the expected answer
        tr = w.row(tbl)
        _label_cell(w, tr, total, entry, span=len(widths))
        tr = w.row(tbl, height_mm=entry.field.lines * look.tables["line_height_mm"] + 2)
        _field_cell(w, tr, total, entry.field, span=len(widths))
        for p in tbl.findall(_q("w:tr"))[-2].iter(_q("w:p")):
            _keep_next(p)  # the label stays with its box
    elif pair is not None:
        tr = w.row(tbl, height_mm=height)
        for i, e in enumerate((entry, pair)):
            _label_cell(w, tr, widths[2 * i], e)
            _field_cell(w, tr, widths[2 * i + 1], e.field)
    else:
        tr = w.row(tbl, height_mm=height)
        _label_cell(w, tr, widths[0], entry)
        _field_cell(w, tr, total - widths[0], entry.field, span=len(widths) - 1)


def _simple(entry: Entry) -> bool:
    return entry.date is None and entry.field.kind != "longtext"


def _write_fields(w: _Writer, block: FieldsBlock) -> None:
    look = w.look
    if block.heading:
        w.para(w.body, "Heading3", block.heading)
    if block.columns == 2:
        label = look.width(look.widths["two_column_label"])
        half = look.text_width // 2
        widths = [label, half - label, label, look.text_width - half - label]
    else:
        spec = look.widths["cover_entries" if w.cover else "entries"]
        widths = look.split([spec["label"], spec["signature"], None])
    border = look.tables["border"]
    for group in block.groups:
        if group.heading:
            w.para(w.body, "Heading3", group.heading)
        tbl = w.table(widths, border=border, outer=look.tables["keep_border"] if block.keep_together else None)
        entries = list(group.entries)
        i = 0
        while i < len(entries):
            entry = entries[i]
            pair = entries[i + 1] if (block.columns == 2 and i + 1 < len(entries) and _simple(entry)
                                      and _simple(entries[i + 1])) else None
            _entry_rows(w, tbl, widths, entry, pair)
            i += 2 if pair else 1
        w.end_table(tbl, keep=True)  # a group, like the PDF's, is not split across pages


def _grid_header(w: _Writer, tbl: etree._Element, widths: list[int], labels: list[tuple[str, str | None]]) -> None:
    tr = w.row(tbl, header=True)
    fill = w.look.colour(w.look.tables["header_fill"])
    for width, (label, align) in zip(widths, labels):
        w.para(w.cell(tr, width, fill=fill, valign="bottom"), "TableHeading", label, align=align)


def _column_spec(w: _Writer, column_id: str, kind: str | None) -> Any:
    return w.look.widths["grid_by_id"].get(column_id) or (w.look.widths["grid_by_kind"].get(kind) if kind else None)


def _write_table(w: _Writer, block: TableBlock) -> None:
    look = w.look
    if block.heading:
        w.para(w.body, "Heading3", block.heading)
    long_text = look.widths.get("grid_long_text") or {}
    shares = []
    for position, column in enumerate(block.columns):
        texts = [r.cells[position] for r in block.rows if isinstance(r.cells[position], str)]
        average = sum(map(len, texts)) / len(texts) if texts else 0
        long = column.kind is None and long_text and average >= long_text["average_chars"]
        shares.append(float(long_text["shares"]) if long else 1.0)
    widths = look.split([_column_spec(w, c.id, c.kind) for c in block.columns], shares=shares)
    tbl = w.table(widths, border=look.tables["border"])
    _grid_header(w, tbl, widths, [(c.label, "center" if c.kind == "checkbox" else None) for c in block.columns])
    heading = (look.data.get("row_headings") or {}).get(block.style) or {"style": "Row Heading"}
    stripe = look.colour(look.tables["stripe"])
    for index, row in enumerate(block.rows):
        fields = [c for c in row.cells if isinstance(c, Field)]
        lines = max((c.lines for c in fields if c.kind == "longtext"), default=0)
        height = (lines * look.tables["line_height_mm"] + 2 if lines
                  else look.tables["field_height_mm"] if fields else None)
        tr = w.row(tbl, height_mm=height)
        fill = stripe if index % 2 else None
        for position, (width, cell) in enumerate(zip(widths, row.cells)):
            if isinstance(cell, str):
                tc = w.cell(tr, width, fill=fill)
                if position == 0:
                    p = w.para(tc, _id(heading.get("style", "Row Heading")), align=heading.get("align"))
                    if cell:
                        w.run(p, cell, color=look.colour(heading["color"]) if heading.get("color") else None)
                else:
                    w.para(tc, "TableText", cell or None)
            else:
                centred = cell.kind == "checkbox"
                tc = w.cell(tr, width, fill=fill, valign="center" if centred else "top")
                w.control(w.para(tc, "TableText", align="center" if centred else None), cell, width)
    w.end_table(tbl)


def _write_likert(w: _Writer, block: LikertBlock) -> None:
    """The scale as a grid: a row per question, a column per answer, a checkbox per cell."""
    look = w.look
    if block.heading:
        w.para(w.body, "Heading3", block.heading)
    answer = look.width(look.widths["likert_option"])
    widths = [look.text_width - answer * len(block.options)] + [answer] * len(block.options)
    tbl = w.table(widths, border=look.tables["border"])
    _grid_header(w, tbl, widths, [(block.stem, None)] + [(o.label, "center") for o in block.options])
    stripe = look.colour(look.tables["stripe"])
    for index, item in enumerate(block.items):
        tr = w.row(tbl, height_mm=look.tables["field_height_mm"])
        fill = stripe if index % 2 else None
        w.para(w.cell(tr, widths[0], fill=fill, valign="center"), "RowHeading", item.label.split(": ")[-1])
        chosen = w.values.get(item.id)
        if chosen not in (None, "") and chosen not in {o.value for o in item.options}:
            raise BuildError(f"values: {item.id}: {chosen!r} is not an option of this field "
                             f"(expected one of: {', '.join(o.value for o in item.options)})")
        for option, width in zip(item.options, widths[1:]):
            p = w.para(w.cell(tr, width, fill=fill, valign="center"), "TableText", align="center")
            _checkbox_control(w, p, item, chosen == option.value, False,
                              tag=grid_tag(item.id, option.value), title=grid_title(item.label, option.label))
    w.end_table(tbl, keep=True)


#: Block writers by block type (mirrors ``model.BLOCK_BUILDERS``).
BLOCK_WRITERS: dict[type, Callable[[_Writer, Any], None]] = {
    ProseBlock: _write_prose,
    FieldsBlock: _write_fields,
    TableBlock: _write_table,
    LikertBlock: _write_likert,
}


# ---------------------------------------------------------------- page furniture

#: The page code picture every header shows (one media part; a stamped copy replaces it).
PAGE_CODE_MEDIA = "word/media/pagecode.png"
#: Its alternative text.
PAGE_CODE_ALT = "Page code: a QR code that identifies this copy when a printed page is scanned"
#: Pixels per QR module in that picture.
PAGE_CODE_SCALE = 8
#: Where the header's right-aligned text ends, mm in from the page's right edge: clear of the
#: page code and its quiet zone (``pagecode.WORD_QR_BOX_MM``).
HEADER_TEXT_END_MM = 26.0


def page_code_png(manifest: Mapping[str, Any]) -> tuple[bytes, int]:
    """The picture of the copy's page code, and the symbol's side in modules. A Word page is
    page 0 (``pagecode.WORD_PAGE``): Word, not the writer, decides where its pages break."""
    qr = symbol(page_code(manifest, WORD_PAGE))
    out = io.BytesIO()
    qr.save(out, kind="png", scale=PAGE_CODE_SCALE, border=QUIET_ZONE)
    return out.getvalue(), len(qr.matrix)


def _page_code_run(w: _Writer, part: _Part) -> etree._Element:
    """A ``w:r`` with the page code picture anchored to the page at ``WORD_QR_BOX_MM``,
    its quiet zone around it, floating over nothing (the header's text ends before it)."""
    left, top, size = WORD_QR_BOX_MM
    modules = w.page_code_modules
    quiet = size * QUIET_ZONE / modules
    rid = part.relate(_OFFICE_REL + "image", "media/" + PAGE_CODE_MEDIA.rpartition("/")[2])
    extent = _emu(size + 2 * quiet)
    r = etree.Element(_q("w:r"))
    anchor = _el(_el(r, "w:drawing"), "wp:anchor")
    for key, value in (("distT", 0), ("distB", 0), ("distL", 0), ("distR", 0), ("simplePos", 0),
                       ("relativeHeight", 251659264), ("behindDoc", 0), ("locked", 1), ("layoutInCell", 1),
                       ("allowOverlap", 1)):
        anchor.set(key, str(value))
    simple = _el(anchor, "wp:simplePos")
    simple.set("x", "0")
    simple.set("y", "0")
    for axis, offset in (("wp:positionH", left - quiet), ("wp:positionV", top - quiet)):
        position = _el(anchor, axis)
        position.set("relativeFrom", "page")
        _el(position, "wp:posOffset", None, str(_emu(offset)))
    ext = _el(anchor, "wp:extent")
    ext.set("cx", str(extent))
    ext.set("cy", str(extent))
    effect = _el(anchor, "wp:effectExtent")
    for side in "ltrb":
        effect.set(side, "0")
    _el(anchor, "wp:wrapNone")
    doc_pr = _el(anchor, "wp:docPr")
    doc_pr.set("id", str(w.next_drawing_id))
    doc_pr.set("name", f"Page code {w.next_drawing_id}")
    doc_pr.set("descr", PAGE_CODE_ALT)
    w.next_drawing_id += 1
    _picture(anchor, rid, "pagecode.png", extent, extent, descr=PAGE_CODE_ALT)
    return r


def _header_part(w: _Writer, number: int, short_title: str | None) -> str:
    """A header part (``None`` title: the cover's empty first-page header); returns its rId.
    Every header carries the page code picture (``_page_code_run``)."""
    part = _Part(f"word/header{number}.xml", _WML + "header+xml")
    root = _root("w:hdr")
    p = w.para(root, "Header")
    # The right tab stop moves in from the margin so the section's name ends clear of the code.
    tabs = _el(p.find(_q("w:pPr")), "w:tabs")
    _el(tabs, "w:tab", {"w:val": "clear", "w:pos": w.look.text_width})
    margins = w.look.data["page"]["margins_mm"]
    _el(tabs, "w:tab", {"w:val": "right", "w:pos": w.look.text_width - _tw(HEADER_TEXT_END_MM - margins["right"])})
    p.append(_page_code_run(w, part))
    if short_title is not None:
        if w.logo:
            p.append(w.image(part, w.look.widths["logo_mm"]["header_height"], 40, f"{w.theme.organisation} logo"))
            w.run(p, " ")
        w.run(p, f"{w.pcn} · {w.theme.organisation}" if w.pcn else w.theme.organisation, style="HeaderOrganisation")
        _el(_el(p, "w:r"), "w:tab")
        w.run(p, short_title)
    part.blob = _xml(root)
    w.parts.append(part)
    return w.document.relate(_OFFICE_REL + "header", part.name.rpartition("/")[2])


def _field_code(w: _Writer, p: etree._Element, instruction: str, result: str) -> None:
    _el(_el(p, "w:r"), "w:fldChar", {"w:fldCharType": "begin"})
    instr = _el(_el(p, "w:r"), "w:instrText", None, f" {instruction} ")
    instr.set(_q("xml:space"), "preserve")
    _el(_el(p, "w:r"), "w:fldChar", {"w:fldCharType": "separate"})
    w.run(p, result)
    _el(_el(p, "w:r"), "w:fldChar", {"w:fldCharType": "end"})


def _footer_part(w: _Writer, number: int) -> str:
    part = _Part(f"word/footer{number}.xml", _WML + "footer+xml")
    root = _root("w:ftr")
    p = w.para(root, "Footer")
    w.run(p, w.theme.footer or w.form.title)
    _el(_el(p, "w:r"), "w:tab")
    w.run(p, "Page ")
    _field_code(w, p, "PAGE", "1")
    w.run(p, " of ")
    _field_code(w, p, "NUMPAGES", "1")
    part.blob = _xml(root)
    w.parts.append(part)
    return w.document.relate(_OFFICE_REL + "footer", part.name.rpartition("/")[2])


def _sect_pr(w: _Writer, parent: etree._Element, header_rid: str,
             first: tuple[str, str, str] | None = None) -> None:
    """Section properties; ``first`` = (first-page header, footer, first-page footer) of the cover."""
    page = w.look.data["page"]
    margins = page["margins_mm"]
    sect = _el(parent, "w:sectPr")
    _el(sect, "w:headerReference", {"w:type": "default", "r:id": header_rid})
    if first:
        _el(sect, "w:headerReference", {"w:type": "first", "r:id": first[0]})
        _el(sect, "w:footerReference", {"w:type": "default", "r:id": first[1]})
        _el(sect, "w:footerReference", {"w:type": "first", "r:id": first[2]})
    _el(sect, "w:type", {"w:val": "nextPage"})
    _el(sect, "w:pgSz", {"w:w": _tw(page["width_mm"]), "w:h": _tw(page["height_mm"])})
    _el(sect, "w:pgMar", {"w:top": _tw(margins["top"]), "w:right": _tw(margins["right"]),
                          "w:bottom": _tw(margins["bottom"]), "w:left": _tw(margins["left"]),
                          "w:header": _tw(page["header_mm"]), "w:footer": _tw(page["footer_mm"]),
                          "w:gutter": 0})
    if first:
        _el(sect, "w:titlePg")


def _write_band(w: _Writer, kind: str) -> None:
    """The coloured band naming the issuer: ``band`` on the cover, ``standalone_band``
    above the first section of a part issued on its own."""
    band = w.look.tables[kind]
    tbl = w.table([w.look.text_width], padding=band["padding_mm"])
    tc = w.cell(w.row(tbl), w.look.text_width, fill=w.look.colour(band["fill"]))
    if w.logo:
        p = w.para(tc, "BandLogo")
        p.append(w.image(w.document, band["logo_height_mm"], band["logo_width_mm"], f"{w.theme.organisation} logo"))
    if w.pcn:
        w.para(tc, "BandName", w.pcn)
        w.para(tc, "BandIssuer", f"Issued by {w.theme.organisation}")
    else:
        w.para(tc, "BandName", w.theme.organisation)
    _el(w.spacer()[0], "w:spacing", {"w:after": _tw(float(band.get("after_mm", 0)))})


# ---------------------------------------------------------------- the cover's return link

#: The return link's hyperlink relationship (a fixed id, so the stamper finds it) and its QR picture;
#: a blank carries ``RETURN_LINK_PLACEHOLDER`` in both, and each stamped copy its learner's own link.
RETURN_LINK_RID = "rIdReturnLink"
RETURN_LINK_MEDIA = "word/media/returnlink.png"
#: The QR picture's alternative text (the stamper adds ": " and the link).
RETURN_LINK_ALT = "QR code of your personal return link"
#: Side of the QR picture, mm (the PDF cover's slot is 24 mm high).
RETURN_QR_MM = 24.0


def return_link_png(link: str) -> bytes:
    """A QR code of ``link`` as a PNG (the symbol and its quiet zone)."""
    import segno
    out = io.BytesIO()
    segno.make(link, error="m", boost_error=False, micro=False).save(out, kind="png", scale=8, border=QUIET_ZONE)
    return out.getvalue()


def _write_return_link(w: _Writer, return_by: str) -> None:
    """What the PDF cover says about returning the copy, and a borderless table holding the QR
    picture of the learner's link and the link itself (a real hyperlink), stamped per copy."""
    w.para(w.body, "Heading2", "Returning your filled copy")
    w.para(w.body, None, f"When your portfolio is complete, upload this copy by {return_by} at your personal "
                         "link below, or scan its QR code with a phone. The link accepts this copy only.")
    w.parts.append(_Part(RETURN_LINK_MEDIA, None, return_link_png(RETURN_LINK_PLACEHOLDER)))
    qr_width = _tw(RETURN_QR_MM + 4)
    tbl = w.table([qr_width, w.look.text_width - qr_width], padding={"top": 0, "bottom": 0, "left": 0, "right": 0})
    tr = w.row(tbl)
    picture = w.para(w.cell(tr, qr_width, valign="center"))
    picture.append(w.inline_picture(w.document, RETURN_LINK_MEDIA, RETURN_QR_MM, RETURN_QR_MM, "Return link",
                                    f"{RETURN_LINK_ALT}: {RETURN_LINK_PLACEHOLDER}"))
    text = w.cell(tr, w.look.text_width - qr_width, valign="center")
    w.para(text, None, "Your personal return link:")
    link = _el(w.para(text), "w:hyperlink", {"r:id": RETURN_LINK_RID, "w:history": 1})
    w.run(link, RETURN_LINK_PLACEHOLDER, style="Hyperlink")
    w.document.rels.append((RETURN_LINK_RID, _OFFICE_REL + "hyperlink", RETURN_LINK_PLACEHOLDER))
    w.end_table(tbl)


def _write_cover_top(w: _Writer) -> None:
    _write_band(w, "band")
    w.para(w.body, "Title", w.form.title)
    if w.form.subtitle:
        w.para(w.body, "Subtitle", w.form.subtitle)
    if w.theme.contact:
        w.para(w.body, "CoverContact", w.theme.contact)


def _load_logo(w: _Writer, blob: bytes) -> None:
    """Add the theme's logo (already checked and re-encoded by ``generator.content.logo``)."""
    try:
        image = DocxImage.from_blob(blob)
    except Exception as exc:  # an unreadable or unknown image
        raise BuildError(f"theme logo: cannot read it as an image ({exc}); use a PNG or JPEG") from exc
    ext = {"image/png": "png", "image/jpeg": "jpeg"}.get(image.content_type)
    if ext is None or not image.px_width or not image.px_height:
        raise BuildError(f"theme logo: {image.content_type} is not supported; use a PNG or JPEG")
    name = f"word/media/logo.{ext}"
    w.parts.append(_Part(name, None, blob))
    w.logo = (name, image.px_width, image.px_height)


# ---------------------------------------------------------------- metadata parts

def _core_xml(form: Form, theme: Theme, manifest: Mapping[str, Any], language: str) -> bytes:
    root = etree.Element(_q("cp:coreProperties"), nsmap={k: _NS[k] for k in ("cp", "dc", "dcterms", "xsi")})
    _el(root, "dc:title", None, xml_safe(form.title))
    if form.subtitle:
        _el(root, "dc:subject", None, xml_safe(form.subtitle))
    _el(root, "dc:creator", None, xml_safe(theme.organisation))
    _el(root, "cp:lastModifiedBy", None, xml_safe(theme.organisation))
    _el(root, "cp:revision", None, "1")
    created = str(manifest.get("created") or "")
    try:
        stamp = dt.datetime.fromisoformat(created).astimezone(dt.timezone.utc)
    except ValueError:
        stamp = dt.datetime.now(dt.timezone.utc)
    text = stamp.replace(microsecond=0, tzinfo=None).isoformat() + "Z"
    for name in ("dcterms:created", "dcterms:modified"):
        _el(root, name, {"xsi:type": "dcterms:W3CDTF"}, text)
    _el(root, "dc:language", None, language)
    _el(root, "dc:identifier", None, str(manifest.get("instance_id", "")))
    return _xml(root)


def _app_xml() -> bytes:
    ns = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
    root = etree.Element(f"{{{ns}}}Properties", nsmap={None: ns})
    etree.SubElement(root, f"{{{ns}}}Application").text = f"portfolio {__version__}"
    return _xml(root)


def _manifest_parts(document: _Part, manifest: Mapping[str, Any]) -> list[_Part]:
    root = etree.Element(MANIFEST_TAG, nsmap={None: DOCX_NAMESPACE})
    root.text = dumps(dict(manifest))
    item = _Part(MANIFEST_PART.lstrip("/"), None, _xml(root))
    props = etree.Element(_q("ds:datastoreItem"), nsmap={"ds": _NS["ds"]})
    item_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{DOCX_NAMESPACE}:{manifest.get('instance_id', '')}")
    props.set(_q("ds:itemID"), "{" + str(item_id).upper() + "}")
    _el(_el(props, "ds:schemaRefs"), "ds:schemaRef", {"ds:uri": DOCX_NAMESPACE})
    item_props = _Part("customXml/itemProps1.xml",
                       "application/vnd.openxmlformats-officedocument.customXmlProperties+xml", _xml(props))
    item.relate(_OFFICE_REL + "customXmlProps", "itemProps1.xml")
    document.relate(CUSTOM_XML_REL, "../" + MANIFEST_PART.lstrip("/"))
    return [item, item_props]


# ---------------------------------------------------------------- entry point

def write_docx(form: Form, theme: Theme, manifest: Mapping[str, Any],
               values: Mapping[str, Any] | None = None, pcn: str = "", return_by: str = "") -> bytes:
    """Render the pack to DOCX bytes with its manifest in a custom XML part.

    ``values`` pre-fills controls by field id (``None``: all empty); an id that
    is not in the form, or a value a control cannot hold, raises ``BuildError``.
    With ``return_by`` (a date as the cover shows it), the cover asks for the copy back by
    then at the learner's personal link: a hyperlink and its QR picture, both pointing at
    ``RETURN_LINK_PLACEHOLDER`` until ``stamp.DocxStamp`` stamps each copy's own.
    """
    values = dict(values or {})
    known = {f.id for f in form.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise BuildError(f"values: no field with id {', '.join(map(repr, unknown[:5]))}"
                         f"{' …' if len(unknown) > 5 else ''} in pack {form.pack_id!r}")
    look = load_look(theme, form.language)
    w = _Writer(form, theme, look, values, pcn)
    if theme.logo:
        _load_logo(w, theme.logo)
    picture, w.page_code_modules = page_code_png(manifest)
    w.parts.append(_Part(PAGE_CODE_MEDIA, None, picture))

    empty_header = _header_part(w, 1, None)
    footer, first_footer = _footer_part(w, 1), _footer_part(w, 2)
    headers = 1
    first: tuple[str, str, str] | None = (empty_header, footer, first_footer)
    for index, section in enumerate(form.sections):
        if index == 0 or section.new_page:
            if index:  # close the Word section before: its sectPr sits in its last paragraph
                # in the spacer's own paragraph properties (a paragraph has one w:pPr; sectPr comes last in it)
                _sect_pr(w, w.spacer().find(_q("w:pPr")), w.header_rid, first)
                first = None
            headers += 1
            w.header_rid = _header_part(w, headers, section.short_title)
        w.cover = section.is_cover
        if w.cover:
            _write_cover_top(w)
        else:
            if index == 0:  # a part of the pack issued on its own still says who issued it
                _write_band(w, "standalone_band")
            w.para(w.body, "Heading1", section.title)
        for position, block in enumerate(section.blocks):
            BLOCK_WRITERS[type(block)](w, block)
            following = section.blocks[position + 1] if position + 1 < len(section.blocks) else None
            if (isinstance(block, ProseBlock) and isinstance(following, TableBlock)
                    and not w.cover and w.body[-1].tag == _q("w:p")):
                # An introduction stays with the table it introduces. Only before grids:
                # LibreOffice 7.4 pushes a kept paragraph and a following field table to the next page.
                _keep_next(w.body[-1])
        if w.cover and return_by:
            _write_return_link(w, return_by)
    if not w.header_rid:  # a form without sections
        w.header_rid = _header_part(w, headers + 1, "")
    _sect_pr(w, w.body, w.header_rid, first)

    doc = w.document
    for name, ctype, blob, rel in (
        ("styles.xml", _WML + "styles+xml", _styles_xml(look), "styles"),
        ("settings.xml", _WML + "settings+xml", _settings_xml(look), "settings"),
        ("numbering.xml", _WML + "numbering+xml", _numbering_xml(look), "numbering"),
        ("fontTable.xml", _WML + "fontTable+xml", _fonts_xml(look), "fontTable"),
    ):
        w.parts.append(_Part(f"word/{name}", ctype, blob))
        doc.relate(_OFFICE_REL + rel, name)
    w.parts.extend(_manifest_parts(doc, manifest))
    doc.blob = _xml(w.root)
    core = _Part("docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml",
                 _core_xml(form, theme, manifest, look.language))
    app = _Part("docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml",
                _app_xml())
    package_rels = [
        ("rId1", _OFFICE_REL + "officeDocument", "word/document.xml"),
        ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
         "docProps/core.xml"),
        ("rId3", _OFFICE_REL + "extended-properties", "docProps/app.xml"),
    ]
    return _zip([doc, *w.parts, core, app], package_rels)
