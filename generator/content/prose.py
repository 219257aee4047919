"""Prose: sandboxed variable rendering and the small markup content may use.

In: a prose string from content (paragraphs split by blank lines, "- " bullets,
``**bold**``, ``{{ variable }}``) and the variables it may use.
Out: a tuple of ``Paragraph`` / ``BulletList`` made of ``Run``s, which both the
PDF and the Word writer lay out. Prose is data: it is rendered in an immutable
sandbox with strict undefined variables and an output cap, and never executed.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from generator.errors import TemplateError

#: Rendered prose longer than this is refused (a runaway repetition); counted while rendering.
MAX_RENDERED_CHARS = 20_000
#: Wall-clock seconds one piece of prose may take to render (nested loops are refused past it).
MAX_RENDER_SECONDS = 2.0
#: The most items ``range()`` may give in prose.
MAX_RANGE = 1_000


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


class _TooSlow(Exception):
    pass


_DEADLINE: ContextVar[float] = ContextVar("prose_deadline", default=float("inf"))


def _bounded_range(*args: int) -> Iterator[int]:
    """``range`` for prose: at most MAX_RANGE items, and it stops a render past its deadline
    (so loops nested in loops end in time even where no timer signal can be used)."""
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise SecurityError(f"range() of {len(items)} items; at most {MAX_RANGE}")
    deadline = _DEADLINE.get()
    for item in items:
        if time.monotonic() > deadline:
            raise _TooSlow()
        yield item


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise _TooSlow in the render after ``seconds``: by a timer signal in the main thread, and
    by the deadline ``_bounded_range`` checks in any thread."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    timer = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if timer:
        def expired(signum: int, frame: Any) -> None:
            raise _TooSlow()
        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        _DEADLINE.reset(token)


_ENV = _CappedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ENV.intercepted_binops = frozenset(["*", "**"])
_ENV.globals["range"] = _bounded_range


def render_variables(source: str, variables: Mapping[str, Any], where: str) -> str:
    """Render ``{{ variable }}`` in ``source``; ``where`` names the file and path for errors."""
    if "{" not in source:
        return source
    try:
        chunks: list[str] = []
        length = 0
        with _time_limit(MAX_RENDER_SECONDS):
            for chunk in _ENV.from_string(source).generate(**variables):
                length += len(chunk)
                if length > MAX_RENDERED_CHARS:
                    raise SecurityError("the result would be too long")
                chunks.append(chunk)
        out = "".join(chunks)
    except _TooSlow:
        raise TemplateError(f"{where}: refused template text (it takes longer than {MAX_RENDER_SECONDS:g} s to "
                            "render); prose may only use {{ variable }}") from None
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
