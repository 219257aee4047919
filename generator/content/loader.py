"""Load and validate the pack's content.

In: a content folder (``pack.yaml`` plus one ``<section>.yaml`` per section).
Out: a ``Content`` holding plain, validated data (dicts and lists exactly as the
YAML says, checked against the schema in docs/content-schema.md), its hash, and
the file each section came from. Every problem in every file is collected and
raised together as one ``ContentError``; nothing is half-loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import yaml

from generator import DEFAULT_CONTENT_DIR  # noqa: F401  (the shipped content; importers name it here)
from generator.content.roles import Roles, parse_roles, roles_of
from generator.dates import month_index
from generator.errors import ContentError, Problem
from generator.kinds import FIELD_KINDS



ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PACK_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
MAX_YAML_BYTES = 1_000_000


@dataclass(frozen=True)
class Content:
    """Validated content: ``pack`` is pack.yaml, ``sections`` maps id -> section."""

    directory: Path
    pack: dict[str, Any]
    sections: dict[str, dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)  # section id -> file name
    hash: str = ""

    @property
    def id(self) -> str:
        return self.pack["id"]

    @property
    def version(self) -> str:
        return str(self.pack["version"])

    @cached_property
    def roles(self) -> Roles:
        """What the pack's fields and parts are for (pack.yaml ``roles``; see ``generator.content.roles``)."""
        return roles_of(self.pack)


class Checker:
    """Collects problems while walking one YAML document."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems

    def add(self, path: str, message: str, code: str = "E-CONTENT") -> None:
        self.problems.append(Problem(self.file, path, message, code))

    def mapping(self, value: Any, path: str, required: dict[str, type | tuple[type, ...]],
                optional: dict[str, type | tuple[type, ...]]) -> bool:
        """Check ``value`` is a mapping with these keys of these types.

        True when every required key is there with its type and every optional key given
        has its type, so that callers may use them; unknown keys are reported but do not
        make it False.
        """
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, found {_kind(value)}", "E-CONTENT-TYPE")
            return False
        ok = True
        for key in value:  # reported, but the known keys are still checked (every problem in one run)
            if key not in required and key not in optional:
                allowed = ", ".join(sorted({*required, *optional}))
                self.add(_join(path, str(key)), f"unknown key '{key}' (allowed here: {allowed})", "E-CONTENT-KEY")
        for key, types in required.items():
            if key not in value or value[key] is None or value[key] == "":
                self.add(_join(path, key), f"missing '{key}' (add it)", "E-CONTENT-MISSING")
                ok = False
            elif not isinstance(value[key], types):
                self.add(_join(path, key), f"expected {_types(types)}, found {_kind(value[key])}", "E-CONTENT-TYPE")
                ok = False
        for key, types in optional.items():
            if key in value and value[key] is not None and not isinstance(value[key], types):
                self.add(_join(path, key), f"expected {_types(types)}, found {_kind(value[key])}", "E-CONTENT-TYPE")
                ok = False
        return ok

    def ident(self, value: Any, path: str, pattern: re.Pattern[str] = ID_RE) -> bool:
        if not isinstance(value, str) or not pattern.match(value):
            self.add(path, f"invalid id {value!r}: use lower-case letters, digits and "
                           f"{'-' if pattern is PACK_ID_RE else '_'}, starting with a letter", "E-CONTENT-ID")
            return False
        return True

    def unique(self, items: list[Any], path: str, key: str = "id") -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                ident = item[key]
                if ident in seen:
                    self.add(f"{path}[{i}].{key}", f"duplicate '{ident}' (first at {path}[{seen[ident]}])",
                             "E-CONTENT-DUPLICATE")
                else:
                    seen[ident] = i


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _types(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(_kind(t()) for t in types)


# ---------------------------------------------------------------- pack.yaml

def _check_options(c: Checker, options: Any, path: str) -> None:
    if not isinstance(options, list) or len(options) < 2:
        c.add(path, "an option list needs at least two options, each {value, label}")
        return
    for i, opt in enumerate(options):
        if c.mapping(opt, f"{path}[{i}]", {"value": str, "label": str}, {}):
            c.ident(opt["value"], f"{path}[{i}].value")
    c.unique(options, path, "value")


def _check_pack(c: Checker, pack: Any) -> None:
    if not c.mapping(pack, "", {"id": str, "version": str, "title": str, "sections": list},
                     {"subtitle": str, "language": str, "variables": dict, "option_lists": dict,
                      "optional_sections": list, "optional_after": str, "organisation": str,
                      "roles": dict}):
        return
    c.problems.extend(parse_roles(pack.get("roles"), c.file)[1])
    c.ident(pack["id"], "id", PACK_ID_RE)
    for name, options in (pack.get("option_lists") or {}).items():
        c.ident(name, f"option_lists.{name}")
        _check_options(c, options, f"option_lists.{name}")
    for key in ("sections", "optional_sections"):
        ids = pack.get(key) or []
        for i, ident in enumerate(ids):
            c.ident(ident, f"{key}[{i}]")
    if "optional_after" in pack and pack["optional_after"] not in pack["sections"]:
        c.add("optional_after", f"'{pack['optional_after']}' is not in sections (name the section the optional "
                                "forms follow)")
    listed = [*pack["sections"], *(pack.get("optional_sections") or [])]
    seen: set[str] = set()
    for i, ident in enumerate(listed):
        if ident in seen:
            c.add(f"sections[{i}]", f"section '{ident}' is listed twice")
        seen.add(ident)
    for name, value in (pack.get("variables") or {}).items():
        if not isinstance(value, (str, int, float)):
            c.add(f"variables.{name}", f"expected text or a number, found {_kind(value)}")


# ---------------------------------------------------------------- sections

_FIELD_KEYS = {"options": (str, list), "hint": str, "lines": int}


def _check_field(c: Checker, fld: Any, path: str, option_lists: dict[str, Any],
                 kinds: tuple[str, ...] = FIELD_KINDS) -> None:
    if not c.mapping(fld, path, {"id": str, "label": str, "kind": str}, _FIELD_KEYS) and not isinstance(fld, dict):
        return
    # Each key is checked on its own, so that a field with several mistakes shows them all at once.
    if isinstance(fld.get("id"), str):
        c.ident(fld["id"], f"{path}.id")
    kind = fld.get("kind")
    if isinstance(kind, str) and kind and kind not in kinds:
        c.add(f"{path}.kind", f"unknown kind '{kind}' (use one of: {', '.join(kinds)})")
    if kind == "choice":
        if isinstance(fld.get("options"), (str, list)) or fld.get("options") is None:
            _check_option_ref(c, fld.get("options"), f"{path}.options", option_lists)
    elif "options" in fld and isinstance(kind, str) and kind:
        c.add(f"{path}.options", f"only a 'choice' field has options (this one is '{kind}')")
    if isinstance(fld.get("lines"), int) and not 1 <= fld["lines"] <= 40:
        c.add(f"{path}.lines", "lines must be between 1 and 40")


def _check_option_ref(c: Checker, ref: Any, path: str, option_lists: dict[str, Any]) -> None:
    if ref is None:
        c.add(path, "a choice needs 'options': a list name from pack.yaml option_lists or a list")
    elif isinstance(ref, str):
        if ref not in option_lists:
            c.add(path, f"unknown option list '{ref}' (pack.yaml option_lists has: "
                        f"{', '.join(sorted(option_lists)) or 'none'})")
    else:
        _check_options(c, ref, path)


def _check_fields_list(c: Checker, fields: Any, path: str, option_lists: dict[str, Any],
                       kinds: tuple[str, ...] = FIELD_KINDS) -> None:
    if not isinstance(fields, list) or not fields:
        c.add(path, "expected a non-empty list of fields")
        return
    for i, fld in enumerate(fields):
        _check_field(c, fld, f"{path}[{i}]", option_lists, kinds)
    c.unique(fields, path)


def _check_prose(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "text": str}, {"heading": str})


def _check_fields_block(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "id": str, "fields": list},
              {"heading": str, "columns": int, "copies": int, "copy_id": str,
               "copy_heading": str, "keep_together": bool})
    if isinstance(block.get("fields"), list):
        _check_fields_list(c, block["fields"], f"{path}.fields", opts)
    if isinstance(block.get("columns", 1), int) and block.get("columns", 1) not in (1, 2):
        c.add(f"{path}.columns", "columns must be 1 or 2")
    copies = block.get("copies")
    if copies is not None and isinstance(copies, int):
        if not 1 <= copies <= 50:
            c.add(f"{path}.copies", "copies must be between 1 and 50")
        if isinstance(block.get("copy_id"), str):
            c.ident(block["copy_id"], f"{path}.copy_id")
        elif "copy_id" in block:
            pass  # its type is reported already
        else:
            c.add(f"{path}.copy_id", "a block with copies needs 'copy_id' (e.g. case -> case_1, case_2)")
    elif "copy_id" in block or "copy_heading" in block:
        c.add(path, "'copy_id' and 'copy_heading' need 'copies'")


def _check_table(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "id": str, "columns": list, "rows": list}, {"heading": str})
    if not isinstance(block.get("columns"), list):
        return
    columns = block["columns"]
    static: list[str] = []
    for i, col in enumerate(columns):
        cpath = f"{path}.columns[{i}]"
        if not isinstance(col, dict):
            c.add(cpath, f"expected a mapping, found {_kind(col)}")
            continue
        if "kind" in col:
            _check_field(c, col, cpath, opts)
        elif c.mapping(col, cpath, {"id": str, "label": str}, {}):
            c.ident(col["id"], f"{cpath}.id")
            static.append(col["id"])
    c.unique(columns, f"{path}.columns")
    if not static:
        c.add(f"{path}.columns", "a table needs at least one static column (no 'kind') to label its rows")
    if not any(isinstance(col, dict) and "kind" in col for col in columns):
        c.add(f"{path}.columns", "a table needs at least one field column (with 'kind'); use prose for text")
    if not isinstance(block.get("rows"), list):
        return
    if not block["rows"]:
        c.add(f"{path}.rows", "a table needs at least one row")
    for i, row in enumerate(block["rows"]):
        rpath = f"{path}.rows[{i}]"
        if c.mapping(row, rpath, {"id": str, **{s: str for s in static}}, {}):
            c.ident(row["id"], f"{rpath}.id")
    c.unique(block["rows"], f"{path}.rows")


def _check_log(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "id": str, "columns": list, "rows": int}, {"heading": str})
    if isinstance(block.get("columns"), list):
        _check_fields_list(c, block["columns"], f"{path}.columns", opts,
                           tuple(k for k in FIELD_KINDS if k != "signature"))
    if isinstance(block.get("rows"), int) and not 1 <= block["rows"] <= 100:
        c.add(f"{path}.rows", "rows must be a count between 1 and 100")


def _check_labelled_rows(c: Checker, rows: list[Any], path: str, empty: str) -> None:
    """A non-empty list of {id, label} with unique ids (likert items, schedule rows)."""
    if not rows:
        c.add(path, empty)
    for i, row in enumerate(rows):
        if c.mapping(row, f"{path}[{i}]", {"id": str, "label": str}, {}):
            c.ident(row["id"], f"{path}[{i}].id")
    c.unique(rows, path)


def _check_likert(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "id": str, "options": (str, list), "items": list},
              {"heading": str, "stem": str})
    if isinstance(block.get("options"), (str, list)):
        _check_option_ref(c, block["options"], f"{path}.options", opts)
    if isinstance(block.get("items"), list):
        _check_labelled_rows(c, block["items"], f"{path}.items", "a likert block needs at least one item")


def _check_schedule(c: Checker, block: dict[str, Any], path: str, opts: dict[str, Any]) -> None:
    c.mapping(block, path, {"type": str, "id": str, "rows": list},
              {"heading": str, "months": int, "start_month": str, "kind": str})
    if isinstance(block.get("months", 6), int) and not 1 <= block.get("months", 6) <= 24:
        c.add(f"{path}.months", "months must be between 1 and 24")
    start = block.get("start_month", "January")
    if isinstance(start, str) and month_index(start) is None:
        c.add(f"{path}.start_month", f"unknown month '{start}' (use a month name such as January)")
    if isinstance(block.get("kind", "text"), str) and block.get("kind", "text") not in ("text", "checkbox", "date"):
        c.add(f"{path}.kind", "a schedule cell kind must be text, checkbox or date")
    if isinstance(block.get("rows"), list):
        _check_labelled_rows(c, block["rows"], f"{path}.rows", "a schedule needs at least one row")


BLOCK_CHECKS: dict[str, Callable[[Checker, dict[str, Any], str, dict[str, Any]], None]] = {
    "prose": _check_prose,
    "fields": _check_fields_block,
    "table": _check_table,
    "log": _check_log,
    "likert": _check_likert,
    "schedule": _check_schedule,
}


def _check_section(c: Checker, section: Any, expected_id: str, option_lists: dict[str, Any]) -> None:
    if not c.mapping(section, "", {"id": str, "title": str, "blocks": list},
                     {"short_title": str, "new_page": bool, "cover": bool}) and not isinstance(section, dict):
        return
    if isinstance(section.get("id"), str):
        if section["id"] != expected_id:
            c.add("id", f"section id '{section['id']}' must match the file name '{expected_id}'")
        c.ident(section["id"], "id")
    if not isinstance(section.get("blocks"), list):
        return
    for i, block in enumerate(section["blocks"]):
        path = f"blocks[{i}]"
        if not isinstance(block, dict):
            c.add(path, f"expected a mapping, found {_kind(block)}")
            continue
        kind = block.get("type")
        check = BLOCK_CHECKS.get(kind)  # type: ignore[arg-type]
        if check is None:
            c.add(f"{path}.type", f"unknown block type {kind!r} (use one of: {', '.join(BLOCK_CHECKS)})")
            continue
        check(c, block, path, option_lists)
        if "id" in block:
            c.ident(block["id"], f"{path}.id")
    c.unique(section["blocks"], "blocks")


# ---------------------------------------------------------------- loading

MAX_YAML_ALIASES = 50  # shipped content uses none; each alias can multiply what a walk visits


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing alias bombs ("billion laughs") and noting keys given twice.

    PyYAML keeps the last of two equal keys without a word; ``duplicates`` lists
    (key, line, first line) for each, so that the loader can report both lines.
    """

    aliases = 0

    def __init__(self, stream: Any):
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (*name); refused")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in first:
                    self.duplicates.append((key_node.value, line, first[key]))
                else:
                    first[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: Path, problems: list[Problem], name: str | None = None) -> Any:
    """Safely load one YAML file; a problem is recorded (and None returned) on failure."""
    name = name or path.name
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            problems.append(Problem(name, "", f"file is over {MAX_YAML_BYTES} bytes"))
            return None
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(name, "", "file not found (create it, or remove it from the list that names it)"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(name, "", f"cannot read: {exc}"))
        return None
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
        for key, line, first in loader.duplicates:
            problems.append(Problem(name, f"line {line}", f"duplicate key '{key}' (first on line {first}); "
                                                          "keep one of them"))
        return data
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(name, where, f"YAML syntax error: {problem}", "E-CONTENT-YAML"))
        return None
    finally:
        loader.dispose()


def load_content(directory: Path | str | None = None) -> Content:
    """Load and validate the content folder (default: the shipped content)."""
    directory = Path(directory) if directory else DEFAULT_CONTENT_DIR
    problems: list[Problem] = []
    if not directory.is_dir():
        raise ContentError([Problem(str(directory), "", "content folder not found")])
    pack = read_yaml(directory / "pack.yaml", problems)
    if pack is not None:
        _check_pack(Checker("pack.yaml", problems), pack)
    # The sections are checked even when pack.yaml has problems, as long as it lists them,
    # so that one run shows every problem of every file.
    if not (isinstance(pack, dict) and isinstance(pack.get("sections"), list)):
        raise ContentError(problems)
    option_lists = pack.get("option_lists") if isinstance(pack.get("option_lists"), dict) else {}
    optional = pack.get("optional_sections") if isinstance(pack.get("optional_sections"), list) else []
    sections: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    listed_ids = [i for i in dict.fromkeys([*pack["sections"], *optional]) if isinstance(i, str) and ID_RE.match(i)]
    for ident in listed_ids:
        name = f"{ident}.yaml"
        section = read_yaml(directory / name, problems)
        if section is None:
            if not any(p.file == name for p in problems):
                problems.append(Problem(name, "", "file is empty"))
            continue
        before = len(problems)
        _check_section(Checker(name, problems), section, ident, option_lists)
        if len(problems) == before:
            sections[ident] = section
            files[ident] = name
    listed = {f"{s}.yaml" for s in listed_ids}
    for stray in sorted(p.name for p in directory.glob("*.yaml")):
        if stray != "pack.yaml" and stray not in listed:
            problems.append(Problem(stray, "", "section file is not listed in pack.yaml sections or "
                                               "optional_sections (list it, or remove the file)"))
    if problems:
        raise ContentError(problems)
    digest = hashlib.sha256(json.dumps({"pack": pack, "sections": sections}, sort_keys=True,
                                       ensure_ascii=False).encode()).hexdigest()
    return Content(directory, pack, sections, files, f"sha256:{digest}")
