"""'portfolio user' and 'portfolio serve': accounts in the store, a real gunicorn server, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from generator.cli.common import main
from generator.records.connect import open_store
from tests.web.conftest import PASSWORD


def run(*args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def test_user_add_list_disable(tmp_path):
    store = str(tmp_path / "r.sqlite")
    added = run("user", "add", "Lead@Riverside.Example", "--role", "pcn", "--pcn", "riverside-pcn",
                "--password-stdin", "--store", store, input=PASSWORD + "\n")
    assert added.exit_code == 0 and added.output == "added lead@riverside.example (pcn of riverside-pcn)\n"
    provider = run("user", "add", "p@training.example", "--role", "provider", "--password-stdin",
                   env={"PORTFOLIO_STORE": store}, input=PASSWORD + "\n")
    assert provider.exit_code == 0
    listed = run("user", "list", "--store", store)
    assert listed.stdout == ("lead@riverside.example\tpcn\triverside-pcn\tactive\n"
                             "p@training.example\tprovider\t-\tactive\n")
    assert run("user", "disable", "LEAD@riverside.example", "--store", store).exit_code == 0
    assert "lead@riverside.example\tpcn\triverside-pcn\tdisabled" in run("user", "list", "--store", store).stdout
    with open_store(store) as s:
        assert [e.action for e in s.audit()] == ["user added", "user added", "user disabled"]
        assert all(PASSWORD not in e.detail for e in s.audit())


def test_user_add_explains_what_is_wrong(tmp_path):
    store = str(tmp_path / "r.sqlite")
    short = run("user", "add", "a@b.example", "--role", "provider", "--password-stdin", "--store", store,
                input="short\n")
    assert short.exit_code == 1 and "Error: the password is too short: use at least 12 characters" in short.output
    no_pcn = run("user", "add", "a@b.example", "--role", "pcn", "--password-stdin", "--store", store,
                 input=PASSWORD + "\n")
    assert no_pcn.exit_code == 1 and "needs --pcn SLUG" in no_pcn.output
    typo = run("user", "add", "m@b.example", "--role", "pcn", "--pcn", "riversde-pcn", "--password-stdin",
               "--store", store, input=PASSWORD + "\n")
    assert typo.exit_code == 2
    assert ("there is no PCN profile 'riversde-pcn' — did you mean riverside-pcn? (profiles: riverside-pcn; "
            "create one with 'portfolio profile new riversde-pcn')") in typo.output
    missing = run("user", "disable", "nobody@b.example", "--store", store)
    assert missing.exit_code == 1 and "no user nobody@b.example" in missing.output
    assert run("user", "list", "--store", str(tmp_path / "none.sqlite")).exit_code == 1


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_refuses_a_store_that_is_not_there(tmp_path):
    result = run("serve", "--port", str(_free_port()), "--store", str(tmp_path / "typo.sqlite"))
    assert result.exit_code == 1
    assert result.output == (f"Error: {tmp_path / 'typo.sqlite'}: no records store here; make it with its first "
                             "account: portfolio user add EMAIL --role provider --password-stdin --store "
                             f"{tmp_path / 'typo.sqlite'} (or name the store with --store or $PORTFOLIO_STORE)\n")
    assert not (tmp_path / "typo.sqlite").exists()


def test_serve_prints_the_address_serves_and_stops_cleanly_on_ctrl_c(tmp_path):
    store = tmp_path / "r.sqlite"
    with open_store(store):  # made, with no account yet
        pass
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PORTFOLIO_SECRET_KEY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", "1", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert re.fullmatch(rf"Serving on http://127\.0\.0\.1:{port}/ \(1 worker\(s\), store .*\); Ctrl-C stops\n",
                            line), line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/signin", timeout=30) as response:
            page = response.read().decode()
            assert response.status == 200 and '<label for="email">Email</label>' in page
            cookie = response.headers["Set-Cookie"] or ""
        access = process.stdout.readline()  # the request is over once its access-log line is written
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        out = access + out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert '"GET /signin" 200' in out  # the access log: method, path without query, status
    assert out.endswith("stopped\n")
    key = tmp_path / "r.sqlite.web" / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert "HttpOnly" in cookie or cookie == ""


def test_the_secret_key_is_made_once_or_taken_from_the_environment(tmp_path, monkeypatch):
    from generator.web import secret_key
    monkeypatch.delenv("PORTFOLIO_SECRET_KEY", raising=False)
    store = tmp_path / "r.sqlite"
    first = secret_key(store)
    assert secret_key(store) == first and len(first) == 64
    monkeypatch.setenv("PORTFOLIO_SECRET_KEY", "from-the-environment-" * 3)
    assert secret_key(store) == "from-the-environment-" * 3
    assert Path(tmp_path / "r.sqlite.web" / "secret_key").read_text().strip() == first


WARMED_SERVE = """
import os, sys
from pathlib import Path
from generator.web import create_app, views
from generator.web.serve import serve
log = Path(sys.argv[2])
worked_out = views.warm_up

def noting(app):
    known = len(views._PROGRESS)  # what this process had before (a worker: what it inherited)
    worked_out(app)
    with log.open("a") as handle:
        handle.write(f"{os.getpid()} {known} {len(views._PROGRESS)}\\n")

views.warm_up = noting
serve(create_app(sys.argv[1], key="k" * 64), "127.0.0.1", int(sys.argv[3]), 2,
      on_ready=lambda: print("ready", flush=True))
"""


def test_serve_works_progress_out_once_in_the_master_and_its_workers_inherit_it(tmp_path, make_copy):
    import time

    from generator.records.ingest import ingest
    from tests.web.conftest import iid
    store = tmp_path / "r.sqlite"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "zoe.docx").write_bytes(make_copy(iid(90)))
    with open_store(store) as s:
        ingest([tmp_path / "in"], s, jobs=1)
    log, port = tmp_path / "warm.log", _free_port()
    process = subprocess.Popen([sys.executable, "-c", WARMED_SERVE, str(store), str(log), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert process.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 120  # bounds a hang while the workers start; not a speed check
        while (not log.exists() or len(log.read_text().splitlines()) < 3) and time.monotonic() < deadline:
            time.sleep(0.2)
        calls = [tuple(int(x) for x in line.split()) for line in log.read_text().splitlines()] if log.exists() else []
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
    # the master first, from nothing; then each of the two workers, which had it already
    assert calls[0] == (process.pid, 0, 1), calls
    assert sorted(calls[1:]) == sorted((pid, 1, 1) for pid, _, _ in calls[1:]) and len(calls) == 3
    assert len({pid for pid, _, _ in calls}) == 3


def test_serve_refuses_a_public_address_it_cannot_use(tmp_path):
    store = tmp_path / "r.sqlite"
    with open_store(store):
        pass
    for bad in ("portfolio.example.org", "ftp://portfolio.example.org", "https://portfolio.example.org/?x=1"):
        result = run("serve", "--port", str(_free_port()), "--store", str(store), "--public-url", bad)
        assert result.exit_code == 2  # a bad option, as click answers one
        assert result.output.endswith(f"Error: Invalid value for --public-url: {bad!r} is not the web app's "
                                      "address: give it as https://portfolio.example.org (http or https, no "
                                      "query)\n"), result.output
    result = run("serve", "--port", str(_free_port()), "--store", str(store),
                 env={"PORTFOLIO_PUBLIC_URL": "mailto:someone"})
    assert result.exit_code == 2 and "'mailto:someone' is not the web app's address" in result.output
