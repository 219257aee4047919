"""Benchmark: what the tamper-evident ledger costs an ingest, on SQLite and on PostgreSQL.

Not a test. Makes returned packs as ``bench_ingest.py`` does (half PDF, half DOCX), then
ingests them into a new store of each engine with the code of each checkout given
(``--code DIR``, the current one by default; give a checkout from before the ledger as
well for before/after figures). Each ingest runs in a process of its own with one
reader (``jobs=1``) and reports its wall time and the CPU time of the ingesting process
itself, without its reader processes: hashing, building the submissions and storing
them, which is where the ledger's work (the tail check, reading each row back, hashing
it, one more row) happens; reading the copies is the same with or without it. Then it
times ``store verify`` on the stores that have a ledger.

The PostgreSQL server is the one named by ``--pg URL`` (a user who may create
databases), else one the benchmark starts as the tests do, with ``fsync`` on as
SQLite's ``synchronous = FULL`` store makes every file durable.

Usage: python benchmarks/bench_ledger.py [--packs 200] [--code DIR [DIR ...]] [--rounds 1] [--pg URL]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from benchmarks.bench_ingest import make_returned_packs  # noqa: E402

#: Run in the child with the checkout's code first on sys.path.
CHILD = r"""
import json, resource, sys, time
import generator
from generator import api
folder, store = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
result = api.ingest([folder], store=store, jobs=1)
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
out = {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
       "new": sum(1 for f in result.files if f.status == "new"), "code": generator.__file__}
if hasattr(api, "verify_store"):
    start = time.perf_counter()
    report, _ = api.verify_store(store)
    out.update(verify=time.perf_counter() - start, entries=report.entries, ok=report.ok)
print(json.dumps(out))
"""


def ingest_once(code: Path, folder: Path, store: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), store], cwd=code, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ingest with {code} failed:\n{done.stdout}\n{done.stderr}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(got.pop("code")).resolve().is_relative_to(code):
        raise SystemExit(f"the child ran another checkout's code than {code}")
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=200)
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT], help="checkouts to measure")
    parser.add_argument("--rounds", type=int, default=1, help="ingests per checkout and engine (the best is kept)")
    parser.add_argument("--pg", help="a PostgreSQL server to use (default: start one)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    returned = work / "returned"
    made = make_returned_packs(returned, args.packs, 0.5)
    from tests.pg import benchmark_server
    server, stop = benchmark_server(args.pg)
    load = os.getloadavg()[0]
    rows = []
    try:
        for code in args.code:
            for engine in ("sqlite", "postgresql"):
                best = None
                for n in range(args.rounds):
                    store = (str(work / f"r-{len(rows)}-{n}.sqlite") if engine == "sqlite"
                             else server.url(server.new_database()))
                    got = ingest_once(code.resolve(), returned, store)
                    if got["new"] != args.packs:
                        raise SystemExit(f"{code} {engine}: {got['new']} packs stored new, expected {args.packs}")
                    if got.get("ok") is False:
                        raise SystemExit(f"{code} {engine}: store verify found the new store broken")
                    print(f"{code.name} {engine}: {got}", file=sys.stderr)
                    best = got if best is None or got["cpu"] < best["cpu"] else best
                rows.append((code.name, engine, best))
    finally:
        if stop:
            stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"Machine: {machine()}; load average {load:.2f} when the timings began")
    print(f"Packs: {args.packs} returned copies of the default pack (half PDF, half DOCX), one reader; "
          "generating them: " + ", ".join(f"{k} {v:.1f} s" for k, v in made.items()) + "\n")
    print("| code | store | ingest wall time | CPU of the ingesting process | per pack | store verify |")
    print("|---|---|---|---|---|---|")
    for name, engine, got in rows:
        store = "SQLite (file)" if engine == "sqlite" else "PostgreSQL 15 (127.0.0.1, fsync on)"
        verify = f"{got['verify']:.2f} s ({got['entries']} entries)" if "verify" in got else "—"
        print(f"| {name} | {store} | {got['wall']:.1f} s | {got['cpu']:.2f} s | "
              f"{1000 * got['cpu'] / args.packs:.1f} ms | {verify} |")


if __name__ == "__main__":
    main()
