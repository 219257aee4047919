"""Shared fixtures: the default form and packs built once per test session."""

from __future__ import annotations

import os
import shutil
import threading
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


#: In a mutation run (mutmut sets MUTANT_UNDER_TEST), the seconds one test may run before the test process
#: ends with exit status 1 (the mutant counts as caught, as a test that fails). mutmut bounds a mutant's CPU
#: time only, and a mutant that leaves a test waiting for a reader process that never answers uses no CPU;
#: the suite's own tests take seconds at most.
MUTATION_TEST_SECONDS = 120


def _watchdog(done: threading.Event, seconds: int, nodeid: str) -> None:
    """End the process unless ``done`` is set within ``seconds`` one-second steps. Counted in steps, a time
    the process spends stopped (SIGSTOP, to take a quiet benchmark beside a mutation run) is not counted."""
    for _ in range(seconds):
        if done.wait(1):
            return
    os.write(2, f"\n{nodeid}: still running after {seconds} s; the mutant counts as caught\n".encode())
    os._exit(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if "MUTANT_UNDER_TEST" not in os.environ:
        yield
        return
    done = threading.Event()
    threading.Thread(target=_watchdog, args=(done, MUTATION_TEST_SECONDS, item.nodeid), daemon=True).start()
    try:
        yield
    finally:
        done.set()


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
