"""Web app fixtures: a store with accounts of each role, returned copies of two PCNs, a signed-in client."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.users import add_user

PASSWORD = "correct horse battery staple"
PROVIDER = "provider@training.example"
RIVERSIDE = "manager@riverside.example"
HILLTOP = "manager@hilltop.example"
ZOE = {"name": "Zoë Łukasiewicz", "practice": "Riverside Surgery"}
DAFYDD = {"name": "Dafydd ap Gruffudd", "practice": "Hilltop Practice"}
RIVERSIDE_PCN = {"slug": "riverside-pcn", "name": "Riverside Primary Care Network"}
HILLTOP_PCN = {"slug": "hilltop-pcn", "name": "Hilltop PCN"}


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="session")
def blank_docx(form, theme) -> bytes:
    return write_docx(form, theme, make_manifest(form, instance_id=iid(0)))


@pytest.fixture(scope="session")
def make_copy(form, blank_docx):
    """make_copy(instance, values, learner, pcn) -> a filled DOCX copy with its own manifest."""
    def make(instance: str, values: dict | None = None, learner: dict = ZOE, pcn: dict = RIVERSIDE_PCN) -> bytes:
        manifest = make_manifest(form, instance_id=instance, learner=learner, pcn=pcn,
                                 created=datetime.fromisoformat("2026-09-01T10:00:00+00:00"))
        return fill_docx(DocxStamp(blank_docx, []).stamp({}, manifest), values or {})
    return make


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Real argon2id hashes with small costs, so that each account takes milliseconds to make in tests."""
    from argon2 import PasswordHasher

    from generator.records import users
    monkeypatch.setattr(users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def store_file(tmp_path):
    path = tmp_path / "records.sqlite"
    with open_store(path) as store:
        add_user(store, PROVIDER, "provider", None, PASSWORD)
        add_user(store, RIVERSIDE, "pcn", "riverside-pcn", PASSWORD)
        add_user(store, HILLTOP, "pcn", "hilltop-pcn", PASSWORD)
    return path


@pytest.fixture
def app(store_file):
    from generator.web import create_app
    return create_app(store_file, key="k" * 64, config={"TESTING": True, "INGEST_JOBS": 1})


def csrf(response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    page = client.get("/signin")
    return client.post("/signin", data={"email": email, "password": password, "csrf_token": csrf(page)})


@pytest.fixture
def as_user(app):
    """as_user(email) -> a test client signed in as that account."""
    def make(email: str):
        client = app.test_client()
        response = sign_in(client, email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client
    return make


def post(client, url: str, data: dict | None = None, page: str = "/", **kwargs):
    """POST with the CSRF token of ``page`` (as a browser would)."""
    data = dict(data or {})
    data["csrf_token"] = csrf(client.get(page))
    return client.post(url, data=data, **kwargs)


# ---------------------------------------------------------------- the browser (Debian's Chromium)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's Chromium (Playwright's own browser download is not used)."""
    from tests.conftest import need_tool
    need_tool(CHROMIUM)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "timeout": 60_000}
