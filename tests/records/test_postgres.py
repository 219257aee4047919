"""The PostgreSQL store on a real server: bad locations, least-privilege roles, several ingest processes at once.

The guarantees both engines share are tested over both in test_store.py and
test_ingest.py (the ``store_location`` fixture); this file holds what only a
server has.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli.common import main
from generator.content.layout import Layout
from generator.formats.docx.fill import fill_docx
from generator.formats.docx.stamp import DocxStamp
from generator.formats.docx.write import write_docx
from generator.model.form import build_form
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.store import StoreError
from tests.conftest import ROOT
from tests.pg import raw_execute, raw_query, refusal_error


def iid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def cover_form(content):
    """A one-section form: quick to fill and read, so that hundreds of copies stay cheap."""
    return build_form(content, Layout(only_sections=("cover",)))


@pytest.fixture(scope="module")
def blank_cover(cover_form, theme) -> bytes:
    return write_docx(cover_form, theme, make_manifest(cover_form, instance_id=iid(0)))


def cover_copy(form, blank: bytes, instance: str, name: str, practice: str = "Riverside Surgery") -> bytes:
    manifest = make_manifest(form, instance_id=instance, learner={"name": name, "practice": practice},
                             pcn={"slug": "riverside-pcn", "name": "Riverside PCN"})
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), {"cover.details.practice": practice})


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def database_tables(url: str) -> list[tuple]:
    return raw_query(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                          "ORDER BY table_name")


# ---------------------------------------------------------------- bad locations: one line, exit 1, nothing written

def test_an_unreachable_server_is_one_line_naming_host_and_database(pg_server):
    with socket_closed() as port:
        code, output = run_cli("records", "--store", f"postgresql://ann:pw-never-shown@127.0.0.1:{port}/cohort")
    assert code == 1
    assert output == (f"Error: postgresql://ann@127.0.0.1:{port}/cohort: no PostgreSQL server answers there; "
                      "check the host and port in --store, and that the server is running\n")


def socket_closed():
    """A port on 127.0.0.1 that nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            yield s.getsockname()[1]  # bound, not listening: connections are refused
    return closed()


def test_wrong_credentials_are_one_line_and_never_show_the_password(pg_server, pg_url, tmp_path):
    secret = "pw-" + secrets.token_hex(8)
    database = pg_url.rsplit("/", 1)[1]
    url = pg_server.url(database, password=secret)
    code, output = run_cli("ingest", "--store", url, "--register", str(write_register(tmp_path)))
    assert code == 1 and secret not in output
    assert output == (f"Error: postgresql://postgres@{pg_server.host}:{pg_server.port}/{database}: the server refused "
                      "user postgres (wrong or missing password); give the password in the URL, $PGPASSWORD or "
                      "~/.pgpass, or ask the database administrator for the right user\n")
    assert database_tables(pg_url) == []


def test_the_password_may_come_from_pgpassword(pg_server, pg_url, monkeypatch):
    database = pg_url.rsplit("/", 1)[1]
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    code, output = run_cli("records", "--summary", "--store", pg_server.url(database, password=""))
    assert (code, output.splitlines()[-1]) == (1, f"Error: postgresql://postgres@{pg_server.host}:{pg_server.port}/"
                                                  f"{database}: no records store here; run 'portfolio ingest' first "
                                                  "or name the store with --store (or $PORTFOLIO_STORE)")
    monkeypatch.setenv("PGPASSWORD", "wrong")
    code, output = run_cli("records", "--store", pg_server.url(database, password=""))
    assert code == 1 and "the server refused user postgres" in output


def test_a_database_that_does_not_exist_says_how_to_create_it(pg_server):
    code, output = run_cli("records", "--store", pg_server.url("no_such_db"))
    assert (code, output) == (1, f"Error: postgresql://postgres@{pg_server.host}:{pg_server.port}/no_such_db: there "
                                 "is no database no_such_db on the server; create it (createdb no_such_db) or name "
                                 "another in --store\n")


def test_another_applications_database_is_refused_and_left_alone(tmp_path, pg_url):
    raw_execute(pg_url, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total NUMERIC)")
    raw_execute(pg_url, "INSERT INTO invoices VALUES (1, 9.5)")
    code, output = run_cli("ingest", "--store", pg_url, "--register", str(write_register(tmp_path)))
    assert code == 1
    assert re.fullmatch(r"Error: postgresql://postgres@127\.0\.0\.1:\d+/t_\w+: this database holds another "
                        r"application's tables \(invoices\), not a records store; give the records store a database "
                        r"of its own \(createdb portfolio\) and name it in --store\n", output), output
    assert database_tables(pg_url) == [("invoices",)]


def test_a_store_made_by_a_newer_tool_is_refused_and_left_alone(tmp_path, pg_url):
    open_store(pg_url).close()
    raw_execute(pg_url, "INSERT INTO schema_version VALUES (99, 'later')")
    code, output = run_cli("ingest", "--store", pg_url, "--register", str(write_register(tmp_path)))
    assert code == 1 and output.count("\n") == 1
    assert "made by a newer version of this tool (schema 99, this tool knows" in output and "upgrade the tool" in output
    assert raw_query(pg_url, "SELECT COUNT(*) FROM packs_issued") == [(0,)]


def write_register(folder: Path) -> Path:
    path = folder / "issued.csv"
    path.write_text("instance_id,learner,practice,pcn\n" + iid(1) + ",Zoë Łukasiewicz,Riverside Surgery,riverside-pcn\n",
                    encoding="utf-8")
    return path


# ---------------------------------------------------------------- a least-privilege role (the README's GRANTs)

def readme_grants() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sql\n(-- least-privilege role.*?)```", text, re.S)
    assert block, "README.md shows the GRANTs for a least-privilege role in a ```sql block"
    return block.group(1)


def test_the_readme_grants_let_a_role_ingest_but_never_change_or_remove(tmp_path, pg_server, pg_url,
                                                                        cover_form, blank_cover):
    open_store(pg_url).close()  # the owner creates the schema
    database = pg_url.rsplit("/", 1)[1]
    role, password = f"app_{secrets.token_hex(4)}", secrets.token_hex(12)
    grants = readme_grants().replace("portfolio_app", role).replace("DATABASE portfolio", f'DATABASE "{database}"')
    grants = grants.replace("'change-me'", f"'{password}'")
    for statement in filter(str.strip, re.sub(r"--.*", "", grants).split(";")):
        raw_execute(pg_url, statement)
    app_url = pg_server.url(database, user=role, password=password)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(5), "Ann Example"))
    code, output = run_cli("ingest", str(tmp_path / "in"), "--store", app_url, "--jobs", "1")
    assert code == 0, output
    assert output.endswith(f"1 new, 0 unchanged, 0 superseded, 0 conflicting, 0 rejected; store "
                           f"postgresql://{role}@{pg_server.host}:{pg_server.port}/{database}\n")
    import psycopg
    for sql in ("UPDATE submissions SET filename = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER USER", "DROP TABLE field_values"):
        with pytest.raises((psycopg.errors.InsufficientPrivilege, *refusal_error())):
            raw_execute(app_url, sql)
    assert raw_query(pg_url, "SELECT COUNT(*), MIN(filename) FROM submissions") == [(1, "a.docx")]


# ---------------------------------------------------------------- several ingest processes at once

CONFLICTING = 20  # instances returned twice with different answers


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_four_ingest_processes_on_overlapping_folders_store_every_file_once(tmp_path, engine, request,
                                                                           cover_form, blank_cover):
    """200 distinct copies in four folders of 50; each of four processes ingests two neighbouring folders
    (so every file is offered twice, by two processes at about the same time). 20 copies come back twice
    with other answers, one in each of two folders: exactly one of each pair is stored, the other is
    exactly one conflict."""
    location = request.getfixturevalue("pg_url") if engine == "postgresql" else str(tmp_path / "records.sqlite")
    folders = [tmp_path / f"site-{n}" for n in range(4)]
    for folder in folders:
        folder.mkdir()
    files = 0
    for n in range(200 - CONFLICTING):
        name = f"Learner {n:03d}"
        (folders[n % 4] / f"c{n:03d}.docx").write_bytes(cover_copy(cover_form, blank_cover, iid(1000 + n), name))
        files += 1
        if n < CONFLICTING:  # the same copy again, with another practice, in the next folder but one
            (folders[(n + 2) % 4] / f"c{n:03d}-again.docx").write_bytes(
                cover_copy(cover_form, blank_cover, iid(1000 + n), name, practice="Hill Practice"))
            files += 1
    assert files == 200
    command = [sys.executable, "-m", "generator", "ingest", "--store", location, "--jobs", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(command + [str(folders[n]), str(folders[(n + 1) % 4])], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(4)]
    outputs = [p.communicate(timeout=900) for p in procs]  # a deadlock would end here, not hang the suite
    codes = [p.returncode for p in procs]
    assert all(code in (0, 1) for code in codes), outputs
    summaries = [out.decode().strip().splitlines()[-1] for out, _ in outputs]
    statuses = Counter()
    for summary in summaries:
        for count, word in re.findall(r"(\d+) (new|unchanged|superseded|conflicting|rejected|failed)", summary):
            statuses[word] += int(count)
    assert statuses["new"] == 180 and statuses["failed"] == 0 and statuses["rejected"] == 0, summaries
    with open_store(location) as store:
        subs = store.submissions(current_only=False)
        assert len(subs) == 180 and len({s.sha256 for s in subs}) == 180
        assert len({s.instance_id for s in subs}) == 180 and {s.version for s in subs} == {1}
        actions = Counter(a.action for a in store.audit())
        assert actions == {"ingested": 180, "conflict": CONFLICTING}
        conflicts = [a for a in store.audit() if a.action == "conflict"]
        assert len({a.sha256 for a in conflicts}) == CONFLICTING
        assert len(store.values()) == 180
