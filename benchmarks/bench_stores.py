"""Benchmark: 1,000 returned packs ingested into SQLite and into PostgreSQL, by 2 and then 4 processes at once.

Not a test. Makes the returned packs as ``bench_ingest.py`` does, shares them out
between N site folders (hard links, no copies), and starts N ``portfolio ingest``
processes at once, one per folder, each with one reader (``--jobs 1``), on a new
store: an SQLite file, then a new database on a PostgreSQL server. Times the
whole run (wall clock, from the first start to the last exit), checks every pack
was stored once, and prints a Markdown table.

The PostgreSQL server is the one named by ``--pg URL`` (a user who may create
databases), else one the benchmark starts itself as the tests do (Debian's
``initdb``/``pg_ctl``, a temporary directory, 127.0.0.1), but with ``fsync`` on,
as SQLite's store writes with ``synchronous = FULL``: both engines make every
file durable before the next.

Usage: python benchmarks/bench_stores.py [--packs 1000] [--processes 2 4] [--pg URL] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from benchmarks.bench_ingest import make_returned_packs  # noqa: E402


def share_out(returned: Path, sites: int, work: Path) -> list[Path]:
    """Hard-link the packs into ``sites`` folders, round robin."""
    files = sorted(p for p in returned.rglob("*") if p.is_file())
    folders = []
    for n in range(sites):
        folder = work / f"sites-{sites}" / f"site-{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        folders.append(folder)
    for n, path in enumerate(files):
        os.link(path, folders[n % sites] / path.name)
    return folders


def ingest_at_once(folders: list[Path], store: str, cwd: Path) -> tuple[float, int, list[str]]:
    """Wall seconds for one ingest process per folder, all at once; packs stored new; their summaries."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "generator", "ingest", str(folder), "--store", store,
                               "--jobs", "1"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for folder in folders]
    outputs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - start
    summaries = []
    for proc, (out, err) in zip(procs, outputs):
        if proc.returncode != 0:
            raise SystemExit(f"ingest failed ({proc.returncode}):\n{out}\n{err}")
        summaries.append(out.strip().splitlines()[-1])
    new = sum(int(m.group(1)) for s in summaries for m in [re.search(r": (\d+) new", s)] if m)
    return seconds, new, summaries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=1000)
    parser.add_argument("--pdf-share", type=float, default=0.5, help="share of the packs returned as PDF")
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--pg", help="a PostgreSQL server to use (default: start one)")
    parser.add_argument("--work", type=Path, help="folder to work in (default: a temporary folder)")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-stores-"))
    returned = work / "returned"
    if returned.exists():
        shutil.rmtree(returned)
    made = make_returned_packs(returned, args.packs, args.pdf_share)
    size = sum(p.stat().st_size for p in returned.rglob("*") if p.is_file())

    from tests.pg import benchmark_server
    server, stop = benchmark_server(args.pg)
    rows = []
    load = os.getloadavg()[0]
    try:
        for processes in args.processes:
            folders = share_out(returned, processes, work)
            for engine in ("sqlite", "postgresql"):
                if engine == "sqlite":
                    store = str(work / f"records-{processes}.sqlite")
                    for leftover in work.glob(f"records-{processes}.sqlite*"):
                        leftover.unlink()
                else:
                    store = server.url(server.new_database())
                seconds, new, _ = ingest_at_once(folders, store, work)
                if new != args.packs:
                    raise SystemExit(f"{engine}: {new} packs stored new, expected {args.packs}")
                rows.append((engine, processes, seconds))
                print(f"{engine} x{processes}: {seconds:.1f} s", file=sys.stderr)
    finally:
        if stop:
            stop()

    n_pdf = round(args.packs * args.pdf_share)
    print(f"Machine: {machine()}; load average {load:.2f} when the timings began")
    print(f"Packs: {args.packs} returned copies of the default pack ({n_pdf} PDF, {args.packs - n_pdf} DOCX), "
          f"{size / 1e6:.0f} MB, each stored with its original")
    print("Generating them: " + ", ".join(f"{k} {v:.1f} s" for k, v in made.items()) + "\n")
    print("| store | ingest processes at once (1 reader each) | wall time | packs/s |")
    print("|---|---|---|---|")
    for engine, processes, seconds in rows:
        name = "SQLite (file)" if engine == "sqlite" else "PostgreSQL 15 (127.0.0.1, fsync on)"
        print(f"| {name} | {processes} | {seconds:.1f} s | {args.packs / seconds:.1f} |")
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
