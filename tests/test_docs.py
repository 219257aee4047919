"""Meta-tests: every command has help with an example and is documented in the README."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from generator.cli.common import load_all_commands, main

from .conftest import ROOT

load_all_commands()
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path, command


ALL = list(commands())


def test_there_are_commands():
    assert {" ".join(p) for p, _ in ALL} >= {"build", "check", "fields", "fill", "read", "issue", "ingest",
                                             "records", "export", "report", "profile new", "profile list"}


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=" ".join)
def test_help_has_a_summary_and_an_example(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    command = dict(ALL)[path]
    assert isinstance(command.help, str) and command.help.strip(), "no help text"
    assert command.get_short_help_str().strip(), "no summary line"
    assert re.search(r"Example: portfolio " + re.escape(" ".join(path)), result.output), result.output


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=" ".join)
def test_command_is_in_the_readme(path):
    assert f"portfolio {' '.join(path)}" in README


def test_readme_names_the_two_setup_commands_and_ci_runs_the_test_one():
    assert "make build" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def _outputs_in_docs() -> set[str]:
    """Every file or folder the README and docs/ tell a user to write (``-o X``, ``--out X``)."""
    text = README + "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    files = set(re.findall(r"(?:-o|--output) ([A-Za-z0-9_./-]+)", text))
    folders = {f.rstrip("/") + "/" for f in re.findall(r"--out ([A-Za-z0-9_./-]+)", text)}
    return {f for f in files | folders if f.rstrip("/") not in {"OUT", "FILE"}}


def test_what_the_docs_write_is_git_ignored():
    import shutil
    import subprocess

    from .conftest import need_tool, skip_or_fail
    need_tool("git")
    if not (ROOT / ".git").exists():
        skip_or_fail("needs a git checkout to ask git what it ignores")
    outputs = _outputs_in_docs() | {"build/", "returned/x.pdf", "records.sqlite", "records.sqlite-wal"}
    assert {"dist/", "records.fhir.json", "reports/"} <= outputs
    result = subprocess.run([shutil.which("git"), "check-ignore", "--no-index", "-v", *sorted(outputs)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    ignored = {line.split("\t", 1)[1] for line in result.stdout.splitlines()}
    assert ignored == outputs, f"not in .gitignore: {sorted(outputs - ignored)}"
