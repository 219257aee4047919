"""Benchmark: the web app's dashboard of 1,000 learners, 100 returned copies uploaded
through the Returned copies page, and the memory of a gunicorn worker.

Not a test. Makes its own data: one filled Word copy is read once, and 1,000
learners' submissions are written into a fresh store from it (each its own
instance id, learner and PCN), so the store holds what ingest would have
stored. Then:

- the Learners page is requested through the app (Flask's test client, so the
  figure is server time: routing, the store, progress, the template), wall and
  CPU time: a fresh worker's warm-up and first request, the median with the
  store unchanged, and the median of the first request after each of several
  changes (one more learner's copy stored each time);
- 100 distinct returned copies (Word, each its own instance id) are uploaded in
  one request to a real ``portfolio serve`` over HTTP, as the page's form does;
- the CPU time of that server's worker and its reader processes during the
  upload, and its resident memory afterwards, are read from /proc; so is the CPU
  time its master and its worker spent starting up (the master works the cohort's
  progress out once, before forking workers that inherit it).

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


def fill_store(store_file: Path, form, blank: bytes, learners: int):
    """A store of ``learners`` learners' copies; returns the submission they were made from."""
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
    return template


def add_learner(store_file: Path, template, n: int) -> None:
    """One more learner's copy stored, as an upload between two page loads would store it."""
    slug, name = PCNS[n % len(PCNS)]
    who, practice = f"Learner {n:04d}", f"Practice {n % 7}"
    with open_store(store_file) as store, store.transaction():
        store.add_submission(dataclasses.replace(
            template, sha256=hashlib.sha256(str(n).encode()).hexdigest(), filename=f"copy-{n}.docx",
            instance_id=str(uuid.UUID(int=n + 1)), learner_key=learner_key(slug, practice, who),
            learner_name=who, practice=practice, pcn=slug, pcn_name=name), 1, None)


def dashboard_ms(store_file: Path, runs: int, template):
    """(a fresh worker's warm-up, its first request, median with the store unchanged, median of the first
    request after each of ``runs`` changes to the store, page size); each time as (wall, CPU) milliseconds."""
    from generator.web import create_app
    app = create_app(store_file, key="b" * 64)
    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/signin", data={"email": "provider@bench.example", "password": PASSWORD, "csrf_token": token})

    def timed() -> tuple[float, float]:
        """(wall, CPU) milliseconds of one request; the test client runs the app in this process, so its
        CPU time is the server's (wall time on a shared machine also counts other jobs)."""
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get("/")
        elapsed = ((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)
        assert response.status_code == 200
        timed.size = len(response.get_data())
        return elapsed

    from generator.web.views import warm_up
    start, cpu = time.perf_counter(), time.process_time()
    warm_up(app)  # what 'portfolio serve' does in each worker before it takes requests
    boot = ((time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000)
    cold = timed()
    warm = [timed() for _ in range(runs)]
    changed = []
    for n in range(runs):
        add_learner(store_file, template, 50_000 + n)
        changed.append(timed())
    def median(times: list[tuple[float, float]]) -> tuple[float, float]:
        return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)

    return boot, cold, median(warm), median(changed), timed.size


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


def cpu_seconds(pid: str) -> float:
    """CPU time of a process and of its children it has waited for (the readers), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds(pid: str) -> float:
    """CPU time of a process itself (not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK")


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
        # Start-up: what the master and its worker have spent by the time the worker answered a first page.
        started = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        upload_seconds.startup = (own_cpu_seconds(str(server.pid)), sum(own_cpu_seconds(pid) for pid in started))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = f"email=provider%40bench.example&password={PASSWORD.replace(' ', '+')}&csrf_token={token}".encode()
        opener.open(urllib.request.Request(base + "/signin", data=body))
        page = opener.open(base + "/returned").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data, content_type = _multipart({"csrf_token": token}, [(f"copy-{n}.docx", c) for n, c in enumerate(copies)])
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        before = sum(cpu_seconds(pid) for pid in workers)
        start = time.perf_counter()
        result = opener.open(urllib.request.Request(base + "/returned", data=data,
                                                    headers={"Content-Type": content_type}), timeout=600).read()
        seconds = time.perf_counter() - start
        upload_seconds.cpu = sum(cpu_seconds(pid) for pid in workers) - before
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
        template = fill_store(store_file, form, blank, args.learners)
        boot, cold, warm, changed, size = dashboard_ms(store_file, args.runs, template)
        achieved = [f.id for f in form.fields if f.id.endswith(".achieved")]
        copies = [copy(form, blank, 100_000 + n, {achieved[n % len(achieved)]: True}) for n in range(args.uploads)]
        seconds, summary, rss = upload_seconds(store_file, copies) if copies else (0.0, "none", 0)
    print(f"machine: {machine()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| measure | result |\n|---|---|")
    print(f"| a fresh worker works out {args.learners} learners' progress before its first request "
          f"| {boot[0]:.0f} ms ({boot[1]:.0f} ms CPU) |")
    print(f"| Learners page, {args.learners} learners, first request of that worker (server time) "
          f"| {cold[0]:.0f} ms ({cold[1]:.0f} ms CPU) |")
    print(f"| Learners page, first request after a copy was stored (server time, median of {args.runs}) "
          f"| {changed[0]:.0f} ms ({changed[1]:.0f} ms CPU) |")
    print(f"| Learners page, store unchanged (server time, median of {args.runs}) "
          f"| {warm[0]:.0f} ms ({warm[1]:.0f} ms CPU; {size // 1000} kB of HTML) |")
    cpu = getattr(upload_seconds, "cpu", 0.0)
    print(f"| {args.uploads} returned copies (Word) uploaded in one request to 'portfolio serve' | {seconds:.1f} s "
          f"({cpu:.1f} s CPU in the worker and its readers; {summary}) |")
    print(f"| resident memory of the worker afterwards | {rss / 1024:.0f} MB |")
    master, worker = getattr(upload_seconds, "startup", (0.0, 0.0))
    print(f"| 'portfolio serve' start-up ({args.learners} learners), CPU by its first page: master, its worker "
          f"| {master:.2f} s, {worker:.2f} s |")


if __name__ == "__main__":
    main()
