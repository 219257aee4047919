"""Commands start lazily: `portfolio --help` and `portfolio read` load no PDF renderer and no pypdf.

Each case runs the command in a fresh interpreter and lists the modules it
imported (Python's ``-X importtime``), so the test sees what really loads.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from generator.formats.pdf.fill import fill_pdf
from tests.conftest import ROOT


def imported(*command: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *command], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.fixture(scope="module")
def filled(pdf_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("startup") / "filled.pdf"
    path.write_bytes(fill_pdf(pdf_path.read_bytes(), {"cover.details.name": "Zoë Łukasiewicz"}))
    return path


def test_help_loads_no_renderer():
    modules = imported("--help")
    assert "generator.cli" in modules  # the listing is real
    assert not {m for m in modules if m.split(".")[0] in ("weasyprint", "pypdf", "pikepdf", "docx")}


def test_read_loads_pikepdf_but_no_renderer_and_no_pypdf(filled):
    modules = imported("read", str(filled))
    assert "pikepdf" in modules and "generator.formats.pdf.read" in modules
    assert not {m for m in modules if m.split(".")[0] in ("weasyprint", "pypdf", "pydyf", "tinyhtml5")}


def test_read_loads_only_what_reading_needs(filled):
    """`portfolio read` starts without the content checks, the templates, the store or the web app."""
    modules = imported("read", str(filled))
    assert "generator.reading.read" in modules
    unwanted = {"jinja2", "yaml", "flask", "sqlite3", "psycopg", "generator.content.loader", "generator.model.form",
                "generator.records.store", "generator.web", "generator.cli.records", "generator.cli.web"}
    assert not modules & unwanted


def test_the_lazy_command_table_names_every_command_and_its_module():
    from generator.cli.common import COMMAND_MODULES, load_all_commands, main
    load_all_commands()
    registered = {name: command.callback.__module__ for name, command in main.commands.items()}
    assert registered == COMMAND_MODULES, "add each new command to generator.cli.common.COMMAND_MODULES"
    assert set(registered) >= {"build", "read", "ingest", "records", "serve", "user", "store", "review"}
