"""Build the neutral form model from validated content.

In: a ``Content`` and the ``Layout`` choices a PCN may make (optional sections,
schedule, log rows, names used in prose).
Out: a ``Form``: sections of layout blocks that hold ``Field``s with stable ids,
kinds, labels and options. Both writers and both readers use this one model;
nothing downstream re-derives ids or labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

from generator.content.layout import Layout
from generator.content.loader import Content
from generator.content.prose import Prose, parse_prose, render_variables
from generator.content.roles import Roles
from generator.dates import MONTHS, month_index
from generator.errors import ContentError, Problem


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One fillable value. ``id`` is dotted and stable; ``label`` is its tooltip."""

    id: str
    kind: str  # text, longtext, date, checkbox, yesno, choice, signature
    label: str
    options: tuple[Option, ...] = ()
    hint: str = ""
    lines: int = 1


YES_NO = (Option("yes", "Yes"), Option("no", "No"))


@dataclass(frozen=True)
class ProseBlock:
    heading: str | None
    prose: Prose


@dataclass(frozen=True)
class Entry:
    """One labelled line of a fields block; a signature also carries its date."""

    label: str
    field: Field
    date: Field | None = None


@dataclass(frozen=True)
class FieldGroup:
    heading: str | None
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class FieldsBlock:
    heading: str | None
    groups: tuple[FieldGroup, ...]
    columns: int = 1
    keep_together: bool = False


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str | None  # None for a static text column
    lines: int = 1


@dataclass(frozen=True)
class TableRow:
    id: str
    cells: tuple[Union[str, Field], ...]  # static text or a field, one per column


@dataclass(frozen=True)
class TableBlock:
    """Fixed rows (criteria, worksheets, checklists), logs and schedules."""

    heading: str | None
    columns: tuple[Column, ...]
    rows: tuple[TableRow, ...]
    style: str = "table"  # table, log or schedule: a hint for layout only


@dataclass(frozen=True)
class LikertBlock:
    heading: str | None
    stem: str
    options: tuple[Option, ...]
    items: tuple[Field, ...]


Block = Union[ProseBlock, FieldsBlock, TableBlock, LikertBlock]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    short_title: str
    new_page: bool
    blocks: tuple[Block, ...]
    is_cover: bool = False


@dataclass(frozen=True)
class Form:
    """The whole pack as plain data."""

    pack_id: str
    title: str
    subtitle: str
    language: str
    content_id: str
    content_version: str
    content_hash: str
    sections: tuple[Section, ...]
    variables: dict[str, Any] = field(default_factory=dict)
    roles: Roles = field(default_factory=Roles)  # what the pack's fields and parts are for

    @property
    def fields(self) -> tuple[Field, ...]:
        """Every field in document order."""
        return tuple(iter_fields(self))




def iter_fields(form: Form):
    for section in form.sections:
        for block in section.blocks:
            yield from block_fields(block)


def block_fields(block: Block):
    if isinstance(block, FieldsBlock):
        for group in block.groups:
            for entry in group.entries:
                yield entry.field
                if entry.date:
                    yield entry.date
    elif isinstance(block, TableBlock):
        for row in block.rows:
            yield from (c for c in row.cells if isinstance(c, Field))
    elif isinstance(block, LikertBlock):
        yield from block.items


# ---------------------------------------------------------------- building

class _Builder:
    def __init__(self, content: Content, layout: Layout):
        self.content = content
        self.layout = layout
        self.option_lists = {
            name: tuple(Option(o["value"], o["label"]) for o in opts)
            for name, opts in (content.pack.get("option_lists") or {}).items()
        }

    def options(self, ref: Any) -> tuple[Option, ...]:
        if isinstance(ref, str):
            return self.option_lists[ref]
        return tuple(Option(o["value"], o["label"]) for o in ref)

    def field(self, fid: str, spec: dict[str, Any], label: str) -> Field:
        kind = spec["kind"]
        options = YES_NO if kind == "yesno" else self.options(spec["options"]) if kind == "choice" else ()
        lines = spec.get("lines", 4 if kind == "longtext" else 1)
        return Field(fid, kind, label, options, spec.get("hint", ""), lines)

    def entry(self, prefix: str, spec: dict[str, Any], context: str) -> Entry:
        fid = f"{prefix}.{spec['id']}"
        label = _label(context, spec["label"])
        if spec["kind"] == "signature":
            name = Field(f"{fid}.name", "signature", f"{label}: signature (typed name)")
            date = Field(f"{fid}.date", "date", f"{label}: date signed")
            return Entry(spec["label"], name, date)
        return Entry(spec["label"], self.field(fid, spec, label))


@dataclass(frozen=True)
class _Where:
    """What a block builder needs besides the block: where it is, for errors and labels."""

    file_path: str  # "values.yaml: blocks[2]", for error messages
    context: str  # nearest heading above the block (or the section's short title)
    variables: dict[str, Any]


def _label(*parts: str | None) -> str:
    return ": ".join(p.rstrip(":?").strip() if i < len(parts) - 1 else p.strip()
                     for i, p in enumerate(parts) if p)


def _prose(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    text = render_variables(block["text"], at.variables, at.file_path)
    return ProseBlock(block.get("heading"), parse_prose(text))


def _fields(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    prefix = f"{sid}.{block['id']}"
    heading = block.get("heading")
    copies = block.get("copies")
    groups = []
    for n in range(1, (copies or 1) + 1):
        copy_heading = block.get("copy_heading", "").replace("{n}", str(n)) if copies else None
        p = f"{prefix}.{block['copy_id']}_{n}" if copies else prefix
        context = _label(at.context, heading, copy_heading)
        groups.append(FieldGroup(copy_heading, tuple(b.entry(p, f, context) for f in block["fields"])))
    return FieldsBlock(heading, tuple(groups), block.get("columns", 1), block.get("keep_together", False))


def _table(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    prefix = f"{sid}.{block['id']}"
    columns = tuple(Column(c["id"], c["label"], c.get("kind"), c.get("lines", 1)) for c in block["columns"])
    first_static = next(c["id"] for c in block["columns"] if "kind" not in c)
    rows = []
    for row in block["rows"]:
        cells: list[str | Field] = []
        for col in block["columns"]:
            if "kind" in col:
                label = _label(at.context, row[first_static], col["label"])
                cells.append(b.field(f"{prefix}.{row['id']}.{col['id']}", col, label))
            else:
                cells.append(row[col["id"]])
        rows.append(TableRow(row["id"], tuple(cells)))
    return TableBlock(block.get("heading"), columns, tuple(rows))


def _log(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    prefix = f"{sid}.{block['id']}"
    count = b.layout.log_rows.get(f"{sid}.{block['id']}", block["rows"])
    columns = (Column("entry", "No.", None),) + tuple(
        Column(c["id"], c["label"], c["kind"], c.get("lines", 1)) for c in block["columns"])
    rows = tuple(
        TableRow(f"row{n}", (str(n),) + tuple(
            b.field(f"{prefix}.row{n}.{c['id']}", c, _label(at.context, f"Entry {n}", c["label"]))
            for c in block["columns"]))
        for n in range(1, count + 1))
    return TableBlock(block.get("heading"), columns, rows, style="log")


def uk_date(text: str) -> str:
    """'2026-09-10' as '10/09/2026'; anything else as written."""
    parts = text.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        return f"{parts[2]}/{parts[1]}/{parts[0]}"
    return text


def schedule_months(block: dict, layout: Layout) -> tuple[str, ...]:
    count = layout.schedule_months or block.get("months", 6)
    start = month_index(layout.schedule_start_month or block.get("start_month", "January")) or 0
    return tuple(MONTHS[(start + i) % 12] for i in range(count))


def _schedule(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    prefix = f"{sid}.{block['id']}"
    months = schedule_months(block, b.layout)
    kind = block.get("kind", "text")
    row_specs = b.layout.schedule_rows or tuple((r["id"], r["label"]) for r in block["rows"])
    dates = b.layout.schedule_dates
    has_dates = bool(dates)
    columns = (Column("workshop", "Workshop", None),)
    if has_dates:
        columns += (Column("date", "Date", None),)
    columns += tuple(Column(f"m{i}", m[:3], kind) for i, m in enumerate(months, 1))
    rows = []
    for rid, label in row_specs:
        cells: tuple[str | Field, ...] = (label,)
        if has_dates:
            cells += (uk_date(dates.get(rid, "")),)
        cells += tuple(Field(f"{prefix}.{rid}.m{i}", kind, _label(at.context, label, m))
                       for i, m in enumerate(months, 1))
        rows.append(TableRow(rid, cells))
    return TableBlock(block.get("heading"), columns, tuple(rows), style="schedule")


def _likert(b: _Builder, sid: str, block: dict, at: _Where) -> Block:
    prefix = f"{sid}.{block['id']}"
    options = b.options(block["options"])
    stem = block.get("stem", "")
    items = tuple(Field(f"{prefix}.{i['id']}", "choice", _label(at.context, stem.rstrip(".… "), i["label"]), options)
                  for i in block["items"])
    return LikertBlock(block.get("heading"), stem, options, items)


BLOCK_BUILDERS: dict[str, Callable[[_Builder, str, dict, _Where], Block]] = {
    "prose": _prose,
    "fields": _fields,
    "table": _table,
    "log": _log,
    "likert": _likert,
    "schedule": _schedule,
}


def prose_variables(content: Content, layout: Layout) -> dict[str, Any]:
    """The variables prose may use: names, counts from the data, pack variables."""
    variables: dict[str, Any] = {
        "pack_title": content.pack["title"],
        "organisation": layout.organisation,
        "provider": layout.organisation,
        "pcn": layout.pcn or "your primary care network",
        "practice_count": len(layout.practices),
    }
    for section in content.sections.values():
        for block in section["blocks"]:
            if block["type"] in ("table", "schedule"):
                variables[f"{block['id']}_count"] = len(block["rows"])
            elif block["type"] == "likert":
                variables[f"{block['id']}_count"] = len(block["items"])
            elif block["type"] == "fields" and "copies" in block:
                variables[f"{block['id']}_count"] = block["copies"]
    if layout.schedule_rows is not None:
        for section in content.sections.values():
            for block in section["blocks"]:
                if block["type"] == "schedule":
                    variables[f"{block['id']}_count"] = len(layout.schedule_rows)
    variables.update(content.pack.get("variables") or {})
    return variables


def build_form(content: Content, layout: Layout | None = None) -> Form:
    """Turn content into the form model, applying a PCN's layout choices."""
    layout = layout or Layout()
    builder = _Builder(content, layout)
    variables = prose_variables(content, layout)
    optional = [s for s in content.pack.get("optional_sections") or [] if s in layout.optional_sections]
    wanted = list(content.pack["sections"])
    after = content.pack.get("optional_after")
    at = wanted.index(after) + 1 if after in wanted else len(wanted)
    wanted[at:at] = optional
    if layout.only_sections is not None:
        wanted = [s for s in layout.only_sections if s in content.sections]
    sections = []
    for sid in wanted:
        spec = content.sections[sid]
        file = content.files[sid]
        short_title = spec.get("short_title", spec["title"])
        context = short_title
        blocks = []
        for i, block in enumerate(spec["blocks"]):
            # A heading on anything but a fields block starts a new context for
            # the labels below it; a fields block's heading only prefixes its own.
            if block.get("heading") and block["type"] != "fields":
                context = block["heading"]
            at = _Where(f"{file}: blocks[{i}]", context, variables)
            blocks.append(BLOCK_BUILDERS[block["type"]](builder, sid, block, at))
        sections.append(Section(sid, spec["title"], short_title, spec.get("new_page", True), tuple(blocks),
                                spec.get("cover", False)))
    form = Form(content.id, content.pack["title"], content.pack.get("subtitle", ""),
                content.pack.get("language", "en-GB"), content.id, content.version, content.hash,
                tuple(sections), variables, content.roles)
    _check_unique(form, content)
    return form


def _check_unique(form: Form, content: Content) -> None:
    """Ids are unique by construction; labels must be too, or a screen reader can't tell fields apart."""
    problems: list[Problem] = []
    seen_ids: set[str] = set()
    seen_labels: dict[str, str] = {}
    for fld in form.fields:
        file = content.files.get(fld.id.split(".")[0], "pack.yaml")
        if fld.id in seen_ids:
            problems.append(Problem(file, fld.id, "duplicate field id (rename the block, row or field)"))
        seen_ids.add(fld.id)
        if fld.label in seen_labels:
            problems.append(Problem(file, fld.id, f"label {fld.label!r} is the same as field "
                                    f"{seen_labels[fld.label]!r}'s; give the block a heading that tells them apart"))
        seen_labels.setdefault(fld.label, fld.id)
    if problems:
        raise ContentError(problems)
