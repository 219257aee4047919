"""A real PostgreSQL server for the tests, and the ``store_location`` fixture over both engines.

When $PORTFOLIO_TEST_PG names a server (``postgresql://user:password@host:port/db``
of a user who may create databases) the tests use it. Otherwise the suite starts
its own with the Debian ``postgresql`` package's ``initdb`` and ``pg_ctl``: as the
``postgres`` user when the tests run as root (PostgreSQL refuses to run as root),
on a temporary directory, on a free port of 127.0.0.1, with ``fsync=off``, and
stops it at the end. Where PostgreSQL is missing the PostgreSQL cases skip with
the reason, and fail under CI=true.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEST_PG_ENV = "PORTFOLIO_TEST_PG"
ENGINES = ("sqlite", "postgresql")


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name),
                            reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server the tests may create databases on."""

    admin_url: str  # a superuser (or CREATEDB user) on its maintenance database
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        user = user or self.user
        password = self.password if password is None else password
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"postgresql://{auth}{self.host}:{self.port}/{database}"

    def execute(self, sql: str, database: str | None = None) -> None:
        import psycopg
        url = self.url(database) if database else self.admin_url
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(sql)

    def new_database(self, options: str = "") -> str:
        """A new, empty database; ``options``: more of CREATE DATABASE (such as its locale)."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 {options}'.rstrip())
        return name


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_server(base: Path, fsync: bool = False) -> tuple[Server, callable]:
    """Start a throw-away server in ``base``; returns it and the function that stops it.

    ``fsync=False`` (the tests) trades durability for speed; benchmarks keep it on."""
    bindir = _bindir()
    if bindir is None:
        raise FileNotFoundError("needs PostgreSQL's initdb and pg_ctl (Debian package postgresql)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise FileNotFoundError("needs the 'postgres' user to run the server as (Debian package postgresql)")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    password = secrets.token_hex(16)
    pwfile = base / "pw"
    pwfile.write_text(password + "\n")
    data = base / "data"
    if os.geteuid() == 0:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                                 f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    pwfile.unlink()
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} -c max_connections=60"
    if not fsync:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
                                 "-o", options, "start"]), check=True, capture_output=True, timeout=120)

    def stop() -> None:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)

    server = Server(f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres", "127.0.0.1", port, "postgres",
                    password)
    return server, stop


def external_server(url: str) -> Server:
    import psycopg.conninfo
    parts = psycopg.conninfo.conninfo_to_dict(url)
    return Server(url, parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432), parts.get("user") or "",
                  parts.get("password") or "")


def benchmark_server(url: str | None) -> tuple[Server, Any]:
    """The server a benchmark measures: the one at ``url``, else a new one with fsync on (as a real server
    runs); returns it and its stop function (None for a server the benchmark did not start)."""
    if url:
        return external_server(url), None
    return start_server(Path(tempfile.mkdtemp(prefix="bench-pg-")), fsync=True)


def unavailable(reason: str) -> None:
    """Skip on a developer's machine, fail on CI (as ``need_tool`` does)."""
    from tests.conftest import skip_or_fail
    skip_or_fail(f"{reason}; scripts/system-deps.sh test installs it")


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server of this test session (started on first use, stopped at the end)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("needs psycopg (pip install 'psycopg[binary]')")
    if os.environ.get(TEST_PG_ENV):
        yield external_server(os.environ[TEST_PG_ENV])
        return
    base = Path(tempfile.mkdtemp(prefix="portfolio-pg-"))
    try:
        server, stop = start_server(base)
    except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        unavailable(f"cannot start a PostgreSQL server for the tests: {exc} {detail.decode(errors='replace')[-300:]}")
    try:
        yield server
    finally:
        stop()


@pytest.fixture
def pg_url(pg_server):
    """A URL of a new, empty database on the test server (dropped after the test, so that a long run, such as
    the mutation runs on one server, does not fill the disk)."""
    name = pg_server.new_database()
    yield pg_server.url(name)
    try:
        pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception:  # a server that has gone away, or a user that may not drop it: left for the server's end
        pass


@pytest.fixture(params=ENGINES)
def store_location(request, tmp_path) -> str:
    """Where a new store goes: an SQLite file, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "records.sqlite")
    return request.getfixturevalue("pg_url")


def raw_execute(location: str, sql: str) -> None:
    """Run one statement on the store's database directly, around the tool (for refusal tests)."""
    if location.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(location, autocommit=True) as db:
            db.execute(sql)
        return
    import sqlite3
    db = sqlite3.connect(location)
    try:
        db.execute(sql)
        db.commit()
    finally:
        db.close()


def raw_query(location: str, sql: str) -> list[tuple]:
    if location.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(location, autocommit=True) as db:
            return db.execute(sql).fetchall()
    import sqlite3
    db = sqlite3.connect(location)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def refusal_error() -> tuple[type[BaseException], ...]:
    """The exceptions a refused raw statement raises in either engine."""
    import sqlite3
    errors: list[type[BaseException]] = [sqlite3.IntegrityError]
    try:
        import psycopg
        errors.append(psycopg.errors.IntegrityError)
    except ImportError:
        pass
    return tuple(errors)
