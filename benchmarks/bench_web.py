"""Benchmark: the web app's dashboard of 1,000 learners, 100 returned copies uploaded
through the Returned copies page, and the memory of a gunicorn worker.

Not a test. Makes its own data: one filled Word copy is read once, and 1,000
learners' submissions are written into a fresh store from it (each its own
instance id, learner and PCN), so the store holds what ingest would have
stored. Then:

- the Learners page is requested through the app (Flask's test client, so the
  figure is server time: routing, the store, progress, the template); median
  of several runs;
- 100 distinct returned copies (Word, each its own instance id) are uploaded in
  one request to a real ``portfolio serve`` over HTTP, as the page's form does;
- the resident memory of that server's worker is read from /proc after both.

Usage: python benchmarks/bench_web.py [--learners 1000] [--uploads 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.formats.docx.fill import fill_docx  # noqa: E402
from generator.formats.docx.stamp import DocxStamp  # noqa: E402
from generator.formats.docx.write import write_docx  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402
from generator.records.connect import open_store  # noqa: E402
from generator.records.ingest import new_submission, read_copy  # noqa: E402
from generator.records.register import learner_key  # noqa: E402
from generator.records.users import add_user  # noqa: E402

PASSWORD = "benchmark password 1"
PCNS = [("riverside-pcn", "Riverside PCN"), ("hilltop-pcn", "Hilltop PCN"), ("weir-pcn", "Weir PCN")]


def copy(form, blank: bytes, n: int, values: dict) -> bytes:
    slug, name = PCNS[n % len(PCNS)]
    manifest = make_manifest(form, instance_id=str(uuid.UUID(int=n + 1)),
                             learner={"name": f"Learner {n:04d}", "practice": f"Practice {n % 7}"},
                             pcn={"slug": slug, "name": name})
    return fill_docx(DocxStamp(blank, []).stamp({}, manifest), values)


def fill_store(store_file: Path, form, blank: bytes, learners: int) -> None:
    ids = [f.id for f in form.fields]
    values = {fid: True for fid in ids if fid.endswith(".achieved")}
    read = read_copy(copy(form, blank, 0, values), "copy.docx")
    template = new_submission(Path("copy.docx"), "0" * 64, 1, read)
    with open_store(store_file) as store:
        add_user(store, "provider@bench.example", "provider", None, PASSWORD)
        with store.transaction():
            for n in range(learners):
                slug, name = PCNS[n % len(PCNS)]
                who, practice = f"Learner {n:04d}", f"Practice {n % 7}"
                sub = dataclasses.replace(
                    template, sha256=hashlib.sha256(str(n).encode()).hexdigest(), filename=f"copy-{n}.docx",
                    instance_id=str(uuid.UUID(int=n + 1)), learner_key=learner_key(slug, practice, who),
                    learner_name=who, practice=practice, pcn=slug, pcn_name=name,
                    values=template.values[: len(template.values) - (n % 40)])
                store.add_submission(sub, 1, None)


def dashboard_ms(store_file: Path, runs: int) -> tuple[float, float, int]:
    """(first request, median of the later ones, page size): the first computes every learner's progress,
    the later ones reuse it (the store has not changed)."""
    from generator.web import create_app
    app = create_app(store_file, key="b" * 64)
    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/signin", data={"email": "provider@bench.example", "password": PASSWORD, "csrf_token": token})
    times = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get("/")
        times.append((time.perf_counter() - start) * 1000)
        size = len(response.get_data())
        assert response.status_code == 200
    return times[0], statistics.median(times[1:] or times), size


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="copies"; filename="{filename}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_seconds(store_file: Path, copies: list[bytes]) -> tuple[float, str, int]:
    """Upload through a real 'portfolio serve' (one worker); returns seconds, result summary, worker RSS (kB)."""
    import http.cookiejar
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORTFOLIO_SECRET_KEY": "bench-" + "k" * 60}
    server = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", "1",
                               "--store", str(store_file)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    try:
        server.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(base + "/signin").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = f"email=provider%40bench.example&password={PASSWORD.replace(' ', '+')}&csrf_token={token}".encode()
        opener.open(urllib.request.Request(base + "/signin", data=body))
        page = opener.open(base + "/returned").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data, content_type = _multipart({"csrf_token": token}, [(f"copy-{n}.docx", c) for n, c in enumerate(copies)])
        start = time.perf_counter()
        result = opener.open(urllib.request.Request(base + "/returned", data=data,
                                                    headers={"Content-Type": content_type}), timeout=600).read()
        seconds = time.perf_counter() - start
        statuses = re.findall(rb'<tr class="status-(\w+)">', result)
        summary = ", ".join(f"{statuses.count(s)} {s.decode()}" for s in sorted(set(statuses)))
        opener.open(base + "/").read()
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        rss = 0
        for pid in workers:
            status = Path(f"/proc/{pid}/status").read_text()
            rss = max(rss, int(re.search(r"VmRSS:\s+(\d+)", status).group(1)))
        return seconds, summary, rss
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    content = load_content()
    form = build_form(content)
    blank = write_docx(form, load_theme(), make_manifest(form))
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        store_file = Path(tmp) / "records.sqlite"
        fill_store(store_file, form, blank, args.learners)
        cold, warm, size = dashboard_ms(store_file, args.runs)
        achieved = [f.id for f in form.fields if f.id.endswith(".achieved")]
        copies = [copy(form, blank, 100_000 + n, {achieved[n % len(achieved)]: True}) for n in range(args.uploads)]
        seconds, summary, rss = upload_seconds(store_file, copies)
    print(f"machine: {machine()}")
    print("| measure | result |\n|---|---|")
    print(f"| Learners page, {args.learners} learners, first request (server time) | {cold:.0f} ms |")
    print(f"| Learners page, {args.learners} learners, store unchanged (server time, median of {args.runs - 1}) "
          f"| {warm:.0f} ms ({size // 1000} kB of HTML) |")
    print(f"| {args.uploads} returned copies (Word) uploaded in one request to 'portfolio serve' | {seconds:.1f} s "
          f"({summary}) |")
    print(f"| resident memory of the worker afterwards | {rss / 1024:.0f} MB |")


if __name__ == "__main__":
    main()
