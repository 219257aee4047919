"""The ``portfolio`` command group and what every command shares."""

from __future__ import annotations

import importlib
import logging
import sys
import unicodedata
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.errors import ContentError, OptionError, PortfolioError


def _escape(ch: str) -> str:
    code = ord(ch)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(ch: str) -> bool:
    # control characters (ANSI escapes start with ESC) and invisible format characters
    # (bidirectional overrides can make a line read backwards)
    return unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d"


def shown(text: object, keep_newlines: bool = False) -> str:
    """Text from a file, manifest or roster made safe to print on a terminal: control and
    format characters are written as escapes (``\\x1b``, ``\\n``, ``\\u202e``), so a
    name can neither send escape sequences nor start a line of its own."""
    value = str(text)
    if not any(_unsafe(ch) for ch in value):
        return value
    return "".join(_escape(ch) if _unsafe(ch) and not (keep_newlines and ch == "\n") else ch for ch in value)


def fail(exc: PortfolioError) -> None:
    """Turn a library error into click's one-line message and exit code (2 for a bad option, else 1).

    Text from files, manifests and rosters in the message is printed escaped (``shown``)."""
    from generator.errors import ReadError
    if isinstance(exc, OptionError):
        raise click.BadParameter(shown(exc), param_hint=f"--{exc.option.replace('_', '-')}") from None
    if isinstance(exc, ReadError):
        raise click.ClickException(f"{shown(exc.file)}: {shown(exc.reason)}") from None
    raise click.ClickException(shown(exc, keep_newlines=True)) from None


#: Each top-level command and the module that defines it. A command's module is imported only when
#: that command runs (or ``--help`` lists them all), so ``portfolio read`` does not load the store,
#: the web app or the use cases of other commands. ``tests/test_cli_lazy.py`` holds this table to the
#: commands the modules really register.
COMMAND_MODULES: dict[str, str] = {
    "build": "generator.cli.pack", "check": "generator.cli.pack", "fields": "generator.cli.pack",
    "fill": "generator.cli.pack", "issue": "generator.cli.pack", "profile": "generator.cli.pack",
    "read": "generator.cli.pack",
    "export": "generator.cli.records", "ingest": "generator.cli.records", "records": "generator.cli.records",
    "report": "generator.cli.records",
    "review": "generator.cli.review",
    "store": "generator.cli.store",
    "serve": "generator.cli.web", "user": "generator.cli.web",
}


class LazyGroup(click.Group):
    """A group whose commands are registered by their modules on first use (see ``COMMAND_MODULES``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in COMMAND_MODULES:
                importlib.import_module(COMMAND_MODULES[cmd_name])
            else:  # a command missing from the table still runs (tests/test_startup.py names it)
                load_all_commands()
        return self.commands.get(cmd_name)


def load_all_commands() -> None:
    """Import every command module, so ``main.commands`` holds every command (for docs and tests)."""
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(module)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="portfolio")
def main() -> None:
    """Build, issue and read Care Coordination Portfolio packs.

    Content lives as YAML in content/; packs are written as fillable PDF and
    Word files; completed copies are read back into records.
    """
    # pypdf logs what it repairs in damaged files; the reader turns what matters
    # into one clear error or warning, so its log lines would only be noise.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)


CONTENT_OPTION = click.option(
    "--content", "content_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Content folder (default: the content shipped with the tool).")


def fail_problems(exc: ContentError, where: str = "found") -> None:
    """Print every problem on its own line, then fail with a count."""
    for problem in exc.problems:
        click.echo(str(problem), err=True)
    noun = "problem" if len(exc.problems) == 1 else "problems"
    raise click.ClickException(f"{len(exc.problems)} {noun} {where}") from None


class ProgressBar:
    """An ``api`` progress callback ``(done, total)`` drawn as click's bar on stderr (hidden off a terminal).

    Use as a context manager; the bar opens on the first call, when the total is known.
    """

    def __init__(self, label: str):
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True,
                                         hidden=not sys.stderr.isatty())
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
