"""Typed field values: what a raw value read from a document means for a field kind.

In: the field's definition from the manifest (kind, options) and the raw text or
state a reader found. Out: the typed value (str, bool, ISO date string, option
value, or None for empty) and a warning when the raw value could not be read
unambiguously. Used by both readers and by ``fill``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from generator.dates import format_date, impossible_date, parse_date
from generator.errors import FillError
from generator.kinds import KINDS

_TRUE = {"yes", "y", "true", "1", "on", "x", "✓", "✔", "☒", "checked"}
_FALSE = {"no", "n", "false", "0", "off", "", "☐", "unchecked"}


def normalise_text(raw: Any) -> str | None:
    """Text with CR and CRLF line ends made LF; blank is None."""
    if raw is None:
        return None
    text = str(raw).replace("\r\n", "\n").replace("\r", "\n")
    return text if text.strip() else None


def _shape(text: str) -> str:
    """What a warning may say about an unreadable value: its length, never the value itself
    (it may hold a patient identifier, and warnings are stored, exported and printed)."""
    return f"{len(text)} character{'' if len(text) == 1 else 's'}, value not shown"


def _text(raw: Any, options: tuple[str, ...]) -> tuple[Any, str | None]:
    return normalise_text(raw), None


def _date(raw: Any, options: tuple[str, ...]) -> tuple[Any, str | None]:
    text = normalise_text(raw)
    if text is None:
        return None, None
    iso = parse_date(text)
    if iso is None:
        if impossible_date(text):
            return text.strip(), "date not understood (no such day: its day or month is out of range); kept as written"
        return text.strip(), "date not understood (expected DD/MM/YYYY); kept as written"
    return iso, None


def _flag(raw: Any, options: tuple[str, ...]) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        return raw, None
    text = "" if raw is None else str(raw).strip().lstrip("/").lower()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return True, f"unexpected tick state ({_shape(text)}): read as ticked"


def _yesno(raw: Any, options: tuple[str, ...]) -> tuple[Any, str | None]:
    if isinstance(raw, bool) or raw is None:
        return raw, None
    text = str(raw).strip().lstrip("/").lower()
    if text in ("yes", "y", "true"):
        return True, None
    if text in ("no", "n", "false"):
        return False, None
    if text in ("", "off"):
        return None, None
    return None, f"unexpected yes/no value ({_shape(text)}): left empty"


def _choice(raw: Any, options: tuple[str, ...]) -> tuple[Any, str | None]:
    if raw is None:
        return None, None
    text = str(raw).strip().lstrip("/")
    if text in ("", "Off"):
        return None, None
    if text in options:
        return text, None
    return None, f"not one of its options ({_shape(text)}; expected one of: {', '.join(options)}): left empty"


COERCE: dict[str, Callable[[Any, tuple[str, ...]], tuple[Any, str | None]]] = {
    "text": _text,
    "longtext": _text,
    "signature": _text,
    "date": _date,
    "checkbox": _flag,
    "yesno": _yesno,
    "choice": _choice,
}


def coerce(definition: dict[str, Any], raw: Any) -> tuple[Any, str | None]:
    """Typed value of ``raw`` for a manifest field definition, and a warning or None."""
    options = tuple(o["value"] for o in definition.get("options", ()))
    return COERCE[definition["kind"]](raw, options)


def to_document(definition: dict[str, Any], value: Any) -> Any:
    """The value a writer puts in a document for a typed record value (inverse of ``coerce``)."""
    kind = definition["kind"]
    if value is None:
        return None
    if kind == "checkbox":
        return bool(value)
    if kind == "yesno":
        if isinstance(value, str):  # "yes" / "no", as value_problem allows (a non-empty "no" is truthy)
            return "yes" if value.strip().lower() in _TRUE else "no"
        return "yes" if value else "no"
    if kind == "date":
        return format_date(str(value))
    return str(value)


def value_problem(definition: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` cannot go into this field, or None (None as a value empties a field)."""
    kind = definition["kind"]
    if value is None:
        return None
    if kind == "checkbox" and not isinstance(value, bool):
        return "expected true or false"
    if kind == "yesno" and not (isinstance(value, bool) or value in ("yes", "no")):
        return "expected true or false (or \"yes\" / \"no\")"
    if kind == "choice":
        options = [o["value"] for o in definition.get("options", ())]
        if value not in options:
            return f"expected one of: {', '.join(options)}"
    if KINDS[kind].value == "text" and not isinstance(value, str):
        return "expected text" + (" (a date as YYYY-MM-DD or DD/MM/YYYY)" if kind == "date" else "")
    if kind == "date" and impossible_date(value):
        return "no such day (its day or month is out of range)"
    return None


def check_fill_values(manifest: dict[str, Any], values: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """The manifest's definitions, once every id and value is known to fit; FillError lists all that do not."""
    definitions = {d["id"]: d for d in manifest["fields"]}
    unknown = [fid for fid in values if fid not in definitions]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        slug = (manifest.get("pcn") or {}).get("slug")  # a PCN's pack may have other fields (e.g. fewer rows)
        command = f"portfolio fields --profile {slug}" if slug else "portfolio fields"
        raise FillError(f"{name}: the pack has no field(s) {shown} (check the ids with '{command}')")
    problems = [f"{fid}: {problem}, not {value!r}" for fid, value in values.items()
                if (problem := value_problem(definitions[fid], value))]
    if problems:
        raise FillError(f"{name}: {len(problems)} value(s) do not fit their fields; nothing was written:\n  "
                        + "\n  ".join(problems))
    return definitions

