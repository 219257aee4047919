"""Meta-tests: every command has help with an example and is documented in the README."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from generator.cli.common import main

from .conftest import ROOT

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
