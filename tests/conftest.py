"""Shared fixtures: the default form and packs built once per test session."""

from __future__ import annotations

import faulthandler
import os
import shutil
from pathlib import Path

import pytest

from generator.content.layout import Layout
from generator.content.loader import load_content
from generator.content.theme import load_theme
from generator.model.form import build_form
from generator.model.manifest import make_manifest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"


def on_ci(environ=os.environ) -> bool:
    """True when ``CI`` is set to anything but empty, ``false`` or ``0`` (CI=true, CI=1, CI=yes ...)."""
    return environ.get("CI", "").strip().lower() not in ("", "false", "0")


ON_CI = on_ci()


def skip_or_fail(message: str) -> None:
    """Skip with ``message`` on a developer's machine; on CI fail, since CI must run every test."""
    if ON_CI:
        pytest.fail(message + " (CI must run this test: see .ci/run)")
    pytest.skip(message)


def need_tool(*names: str) -> None:
    """Skip when a command-line tool is missing; on CI fail instead."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        skip_or_fail(f"needs {', '.join(missing)} on PATH")


#: In a mutation run (mutmut sets MUTANT_UNDER_TEST), the wall-clock seconds one test may take before the
#: test process ends with exit status 1 (the mutant counts as caught, as a test that fails). mutmut bounds a
#: mutant's CPU time only, and a mutant that leaves a test waiting for a reader process that never answers
#: uses no CPU; the suite's own tests take seconds at most.
MUTATION_TEST_WALL_SECONDS = 120
_WATCHDOG_OUT: list = []  # where the hung test's traceback goes: the process's own standard error


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if "MUTANT_UNDER_TEST" not in os.environ:
        yield
        return
    if not _WATCHDOG_OUT:  # mutmut's sys.stderr has no file descriptor; the process's fd 2 does
        _WATCHDOG_OUT.append(os.fdopen(os.dup(2), "w"))
    # a C thread: it ends even a call blocked in the kernel
    faulthandler.dump_traceback_later(MUTATION_TEST_WALL_SECONDS, exit=True, file=_WATCHDOG_OUT[0])
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def content():
    return load_content()


@pytest.fixture(scope="session")
def form(content):
    return build_form(content)


@pytest.fixture(scope="session")
def full_form(content):
    """The form with every optional section switched on."""
    return build_form(content, Layout(optional_sections=frozenset(content.pack["optional_sections"])))


@pytest.fixture(scope="session")
def theme():
    return load_theme()


@pytest.fixture(scope="session")
def manifest(form):
    return make_manifest(form, instance_id="00000000-0000-4000-8000-000000000001")


def _blank_pack(path: Path, make) -> Path:
    """Write the blank pack to ``path``. Under ``make mutate`` only (PORTFOLIO_MUTATE_PACKS names a
    folder), the pack built by the first run is reused: the writers are not mutated there, and each
    mutant's test run would otherwise spend most of its time rendering the same pack again."""
    cache = os.environ.get("PORTFOLIO_MUTATE_PACKS")
    kept = Path(cache) / path.name if cache else None
    if kept is not None and kept.exists():
        path.write_bytes(kept.read_bytes())
        return path
    path.write_bytes(make())
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(path.read_bytes())
    return path


@pytest.fixture(scope="session")
def pdf_path(tmp_path_factory, form, theme, manifest) -> Path:
    from generator.formats.pdf.write import write_pdf
    return _blank_pack(tmp_path_factory.mktemp("pack") / "pack.pdf", lambda: write_pdf(form, theme, manifest))


@pytest.fixture(scope="session")
def docx_path(tmp_path_factory, form, theme, manifest) -> Path:
    from generator.formats.docx.write import write_docx
    return _blank_pack(tmp_path_factory.mktemp("pack") / "pack.docx", lambda: write_docx(form, theme, manifest))


# The PostgreSQL test server and the store_location fixture (both engines); see tests/pg.py.
from tests.pg import pg_server, pg_url, store_location  # noqa: E402,F401
