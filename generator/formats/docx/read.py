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

A scale question is a grid row of checkboxes (``access.grid_tag``): the ticked
column is the answer; two or more ticks in a row store nothing and warn. Copies
made before the grid, with one drop-down per question, are read as before.
"""

from __future__ import annotations

import zipfile
from typing import Any

from lxml import etree

from generator.formats.docx.access import (
    QW,
    QW14,
    find_manifest,
    grid_title,
    open_package,
    parse_part,
    split_grid_tag,
)
from generator.model.document import RawDocument
from generator.dates import parse_date

#: Placeholder texts a control may hand back as content (ours, Word's and LibreOffice's).
PLACEHOLDER_TEXTS = {"Enter text", "Type your name", "Enter a date", "Choose an item", "Choose an item.",
                     "Click or tap here to enter text.", "Click or tap to enter a date.", "Click here to enter text.",
                     "\u00a0\u00a0\u00a0", ""}









def _text(content: etree._Element) -> str:
    """Visible text of a control: insertions kept, deletions and moved-from text ignored."""
    out: list[str] = []
    hidden = (f"{QW}del", f"{QW}moveFrom")
    joined = True  # no line break before the first paragraph, nor after a deleted paragraph mark
    for el in content.iter():
        tag = el.tag
        if tag == f"{QW}p":
            if not joined:
                out.append("\n")
            # a tracked deletion of the paragraph mark joins this paragraph to the next
            joined = el.find(f"{QW}pPr/{QW}rPr/{QW}del") is not None \
                or el.find(f"{QW}pPr/{QW}rPr/{QW}moveFrom") is not None
        elif tag == f"{QW}t" and not _inside(el, content, hidden):
            out.append(el.text or "")
        elif tag in (f"{QW}br", f"{QW}cr") and not _inside(el, content, hidden):
            out.append("\n")
        elif tag == f"{QW}tab" and el.getparent() is not None and el.getparent().tag == f"{QW}r" \
                and not _inside(el, content, hidden):
            out.append("\t")
        elif tag in _HYPHENS and not _inside(el, content, hidden):  # Word and LibreOffice write these as elements
            out.append(_HYPHENS[tag])
    return "".join(out)


_HYPHENS = {f"{QW}noBreakHyphen": "\u2011", f"{QW}softHyphen": "\u00ad"}


def _inside(el: etree._Element, stop: etree._Element, tags: tuple[str, ...]) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


def _control_value(sdt: etree._Element, definition: dict[str, Any] | None) -> Any:
    pr = sdt.find(f"{QW}sdtPr")
    content = sdt.find(f"{QW}sdtContent")
    if pr is None or content is None:
        return None
    checkbox = pr.find(f"{QW14}checkbox")
    if checkbox is not None:
        checked = checkbox.find(f"{QW14}checked")
        return checked is not None and checked.get(f"{QW14}val", "1").lower() in ("1", "true", "on")
    text = _text(content)
    if definition is not None and definition["kind"] == "longtext":
        # before the placeholder test: the first line alone may be blank or look like one
        text = "\n".join([text, *_spilled_paragraphs(sdt)])
    if pr.find(f"{QW}showingPlcHdr") is not None or text.strip() in PLACEHOLDER_TEXTS:
        return None
    dropdown = pr.find(f"{QW}dropDownList") if pr.find(f"{QW}dropDownList") is not None else pr.find(f"{QW}comboBox")
    if dropdown is not None:
        shown = text.strip()
        for item in dropdown.findall(f"{QW}listItem"):
            if shown in (item.get(f"{QW}displayText"), item.get(f"{QW}value")):
                return item.get(f"{QW}value") or item.get(f"{QW}displayText")
        if definition is not None:  # labels as content, when an editor dropped the list items
            for option in definition.get("options", ()):
                if shown in (option["label"], option["value"]):
                    return option["value"]
        return shown
    date = pr.find(f"{QW}date")
    if date is not None and text.strip():
        # What the learner sees wins; the picker's stored date only where the text is not a date
        # (an editor may change the text and leave a stale w:fullDate behind).
        shown = parse_date(text)
        if shown is not None:
            return shown
        if date.get(f"{QW}fullDate"):
            return date.get(f"{QW}fullDate")[:10]
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
    if paragraph is None or paragraph.tag != f"{QW}p" or paragraph.getparent() is None \
            or paragraph.getparent().tag != f"{QW}tc":
        return []
    lines = []
    for sibling in paragraph.itersiblings():
        if sibling.tag != f"{QW}p" or sibling.find(f".//{QW}sdt") is not None:
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
    for sdt in root.iter(f"{QW}sdt"):
        content = sdt.find(f"{QW}sdtContent")
        if content is not None and content.find(f".//{QW}sdt") is not None:
            continue  # not innermost
        parent = _outer(sdt)
        only_child = parent is not None and len(parent.findall(f"{QW}sdtContent//{QW}sdt")) == 1
        out.append((parent, sdt) if only_child else (sdt, sdt))
    return out


def _outer(sdt: etree._Element) -> etree._Element | None:
    """The nearest control around ``sdt``, if any."""
    parent = sdt.getparent()
    while parent is not None:
        if parent.tag == f"{QW}sdt":
            return parent
        parent = parent.getparent()
    return None


def _attr(sdt: etree._Element, child: str) -> str | None:
    el = sdt.find(f"{QW}sdtPr/{QW}{child}")
    return el.get(f"{QW}val") if el is not None else None


def _editor(archive: zipfile.ZipFile) -> str:
    """The editor named in docProps/app.xml (``generator.formats.editors``)."""
    from generator.formats.editors import docx_editor
    try:
        info = archive.getinfo("docProps/app.xml")
    except KeyError:
        return docx_editor(None)
    return docx_editor(archive.read(info) if info.file_size <= 1_000_000 else None)


def _by_position(controls: list[tuple[etree._Element, etree._Element]],
                 fields: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[int]]] | None:
    """Each field with the positions of its controls, when the copy's controls line up with the
    fields in order (one control a field; a scale question's grid row is as many checkboxes as
    it has answers); None when they do not."""
    out = []
    cursor = 0
    for definition in fields:
        if cursor >= len(controls):
            return None
        width = len(definition.get("options", ()))
        is_box = controls[cursor][1].find(f"{QW}sdtPr/{QW14}checkbox") is not None
        if definition["kind"] == "choice" and is_box and width:
            out.append((definition, list(range(cursor, cursor + width))))
            cursor += width
        else:
            out.append((definition, [cursor]))
            cursor += 1
    return out if cursor == len(controls) else None


def _match_untagged(untagged: list[tuple[etree._Element, etree._Element]],
                    controls: list[tuple[etree._Element, etree._Element]],
                    fields: list[dict[str, Any]], values: dict[str, Any], unmapped: dict[str, Any],
                    warnings: list[str]) -> str:
    """Map controls whose tags an editor dropped; returns the warning saying how.

    When the copy's controls line up with the fields (``_by_position``: the
    writer emits them in manifest order), control n is field n and a control's
    title, where kept, must agree. Otherwise a control is matched by its title
    alone. A control that matches no field keeps its value under ``unmapped``
    (named by its position among the controls and its title).
    """
    by_label = {d["label"]: d for d in fields}
    by_title = by_order = 0
    lined_up = _by_position(controls, fields)
    aligned = lined_up is not None
    owner: dict[int, tuple[dict[str, Any], list[int]]] = {}
    for definition, positions in lined_up or ():
        for position in positions:
            owner[position] = (definition, positions)
    grid_rows: dict[str, list[int]] = {}
    for outer, holder in untagged:
        position = controls.index((outer, holder))
        title = _attr(outer, "alias") or _attr(holder, "alias")
        definition = None
        if aligned:
            candidate, positions = owner[position]
            if len(positions) > 1:  # a cell of a scale's grid row, placed by position
                grid_rows.setdefault(candidate["id"], positions)
                by_order += title is None
                by_title += title is not None
                continue
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
                unmapped[f"untagged control {position + 1}" + (f" ({title})" if title else "")] = value
    if grid_rows:
        definitions = {d["id"]: d for d in fields}
        cells = {position: (fid, definitions[fid]["options"][i]["value"])
                 for fid, positions in grid_rows.items() for i, position in enumerate(positions)}
        _grid_answers(cells, controls, fields, values, warnings)
    unmatched = len(untagged) - by_title - by_order
    how = f"{by_title} by title and position, {by_order} by position alone" if aligned else f"{by_title} by title"
    return (f"{len(untagged)} control(s) had lost their field ids (the editor dropped the tags); matched {how}"
            + (f"; {unmatched} could not be matched" if unmatched else ""))


def _grid_cells(controls: list[tuple[etree._Element, etree._Element]], fields: list[dict[str, Any]]
                ) -> dict[int, tuple[str, str]]:
    """Position in ``controls`` -> (field id, option value) for each scale grid checkbox,
    known by its tag or, where an editor dropped the tag, by its title."""
    definitions = {d["id"]: d for d in fields}
    by_title = {grid_title(d["label"], o["label"]): (d["id"], o["value"])
                for d in fields if d["kind"] == "choice" for o in d.get("options", ())}
    cells = {}
    for position, (outer, holder) in enumerate(controls):
        if holder.find(f"{QW}sdtPr/{QW14}checkbox") is None:
            continue
        grid = split_grid_tag(_attr(outer, "tag") or _attr(holder, "tag"))
        if grid is not None and grid[0] in definitions:
            cells[position] = grid
            continue
        title = _attr(outer, "alias") or _attr(holder, "alias")
        if grid is None and title in by_title and not (_attr(outer, "tag") or _attr(holder, "tag")):
            cells[position] = by_title[title]
    return cells


def _grid_answers(cells: dict[int, tuple[str, str]], controls: list[tuple[etree._Element, etree._Element]],
                  fields: list[dict[str, Any]], values: dict[str, Any], warnings: list[str]) -> None:
    """Each grid row's answer: the one ticked column; two or more ticks store nothing and warn."""
    labels = {d["id"]: {o["value"]: o["label"] for o in d.get("options", ())} for d in fields}
    ticked: dict[str, list[str]] = {}
    for position, (fid, option) in cells.items():
        ticked.setdefault(fid, [])
        if _control_value(controls[position][1], None) is True:
            ticked[fid].append(option)
    for fid, options in ticked.items():
        if len(options) > 1:
            shown = ", ".join(labels[fid].get(o, o) for o in options)
            warnings.append(f"{fid}: {len(options)} answers ticked ({shown}); none stored, "
                            "ask which one was meant")
            values[fid] = None
        else:
            values[fid] = options[0] if options else None


def read_docx_raw(data: bytes, name: str) -> RawDocument:
    archive = open_package(data, name)
    manifest = find_manifest(archive, name)
    root = parse_part(archive, "word/document.xml", name)
    definitions = {d["id"]: d for d in manifest["fields"]}
    controls = _controls(root)
    values: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    warnings: list[str] = []
    untagged: list[tuple[etree._Element, etree._Element]] = []
    cells = _grid_cells(controls, manifest["fields"])
    _grid_answers(cells, controls, manifest["fields"], values, warnings)
    if cells:  # the rest is one control per remaining field, as before the grid
        controls = [c for position, c in enumerate(controls) if position not in cells]
        fields = [d for d in manifest["fields"] if d["id"] not in values]
    else:
        fields = manifest["fields"]
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
        grid_warnings: list[str] = []
        warnings.insert(0, _match_untagged(untagged, controls, fields, values, unmapped, grid_warnings))
        warnings.extend(grid_warnings)
    missing = [fid for fid in definitions if fid not in values]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.append(f"{len(missing)} field(s) of the pack are missing from the copy: {shown}")
    return RawDocument("docx", manifest, values, unmapped, _editor(archive), warnings)
