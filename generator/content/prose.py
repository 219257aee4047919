"""Prose: sandboxed variable rendering and the small markup content may use.

In: a prose string from content (paragraphs split by blank lines, "- " bullets,
``**bold**``, ``{{ variable }}``) and the variables it may use.
Out: a tuple of ``Paragraph`` / ``BulletList`` made of ``Run``s, which both the
PDF and the Word writer lay out. Prose is data: it is rendered in an immutable
sandbox with strict undefined variables and an output cap, and never executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from generator.errors import TemplateError

#: Rendered prose longer than this is refused (a runaway repetition).
MAX_RENDERED_CHARS = 20_000


@dataclass(frozen=True)
class Run:
    """A stretch of text; ``bold`` is its only styling."""

    text: str
    bold: bool = False


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class BulletList:
    items: tuple[tuple[Run, ...], ...]


Prose = tuple["Paragraph | BulletList", ...]


class _CappedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox that also refuses huge repetitions (``'x' * 10**9``)."""

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator in ("*", "**") and isinstance(left, (str, int)) and isinstance(right, (str, int)):
            if isinstance(left, str) or isinstance(right, str):
                count = right if isinstance(left, str) else left
                text = left if isinstance(left, str) else right
                if isinstance(count, int) and len(text) * count > MAX_RENDERED_CHARS:
                    raise SecurityError("the result would be too long")
            elif operator == "**" and abs(right) > 64:
                raise SecurityError("the number would be too large")
        return super().call_binop(context, operator, left, right)


_ENV = _CappedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.intercepted_binops = frozenset(["*", "**"])


def render_variables(source: str, variables: Mapping[str, Any], where: str) -> str:
    """Render ``{{ variable }}`` in ``source``; ``where`` names the file and path for errors."""
    if "{" not in source:
        return source
    try:
        out = _ENV.from_string(source).render(**variables)
    except (SecurityError, OverflowError) as exc:
        raise TemplateError(f"{where}: refused template text ({exc}); prose may only use {{{{ variable }}}}") from exc
    except JinjaTemplateError as exc:
        known = ", ".join(sorted(variables))
        raise TemplateError(f"{where}: {exc.message or exc} (variables available: {known})") from exc
    if len(out) > MAX_RENDERED_CHARS:
        raise TemplateError(f"{where}: rendered text is {len(out)} characters, over the {MAX_RENDERED_CHARS} limit")
    return out


_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


def parse_runs(text: str) -> tuple[Run, ...]:
    """Split ``text`` into plain and ``**bold**`` runs, folding white space."""
    text = " ".join(text.split())
    runs: list[Run] = []
    pos = 0
    for match in _BOLD.finditer(text):
        if match.start() > pos:
            runs.append(Run(text[pos:match.start()]))
        runs.append(Run(match.group(1), bold=True))
        pos = match.end()
    if pos < len(text):
        runs.append(Run(text[pos:]))
    return tuple(runs)


def parse_prose(text: str) -> Prose:
    """Parse rendered prose into paragraphs and bullet lists."""
    blocks: list[Paragraph | BulletList] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        items: list[list[str]] = []
        para: list[str] = []
        for line in lines:
            stripped = line.lstrip()
            if stripped.startswith(("- ", "• ")):
                if para:
                    blocks.append(Paragraph(parse_runs(" ".join(para))))
                    para = []
                items.append([stripped[2:]])
            elif items and line[:1].isspace():
                items[-1].append(stripped)  # continuation of a bullet
            else:
                if items:
                    blocks.append(BulletList(tuple(parse_runs(" ".join(i)) for i in items)))
                    items = []
                para.append(stripped)
        if items:
            blocks.append(BulletList(tuple(parse_runs(" ".join(i)) for i in items)))
        if para:
            blocks.append(Paragraph(parse_runs(" ".join(para))))
    return tuple(blocks)
