"""Benchmark: what ingest's main process spends storing one read copy, without the reading.

Not a test. Makes returned copies as ``bench_ingest.py`` does, reads each once in this
process (``read_copy``), then stores them one by one into a new SQLite store, as ingest's
main process does for each file (``new_submission`` and ``store_submission``: the decision,
the values, the kept original, the ledger entries, one transaction with
``synchronous = FULL``). Prints wall and CPU time per copy and the load average.

Usage: python benchmarks/bench_storing.py [--packs 200] [--pdf-share 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from benchmarks.bench_ingest import make_returned_packs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=200)
    parser.add_argument("--pdf-share", type=float, default=1.0, help="share of the copies that are PDF")
    args = parser.parse_args()

    from generator.records.connect import open_store
    from generator.records.ingest import new_submission, read_copy, store_submission

    work = Path(tempfile.mkdtemp(prefix="bench-storing-"))
    try:
        make_returned_packs(work / "returned", args.packs, args.pdf_share)
        copies = []
        for path in sorted((work / "returned").rglob("*.*")):
            data = path.read_bytes()
            read = read_copy(data, path.name)
            assert read.error is None, read.error
            copies.append((path, hashlib.sha256(data).hexdigest(), data, read))
        load = os.getloadavg()[0]
        with open_store(str(work / "records.sqlite")) as store:
            start, start_cpu = time.perf_counter(), time.process_time()
            statuses = [store_submission(store, new_submission(path, sha, len(data), read, data), False)[0]
                        for path, sha, data, read in copies]
            wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        assert set(statuses) == {"new"}, statuses
        n = len(copies)
        print(f"Machine: {machine()}; load average {load:.2f} when the timings began")
        print(f"{n} copies ({sum(p.suffix == '.pdf' for p, *_ in copies)} PDF), each stored in its own transaction\n")
        print("| step | per copy: wall | per copy: CPU |")
        print("|---|---|---|")
        print(f"| store one read copy (SQLite, `synchronous = FULL`) | {wall / n * 1000:.1f} ms | "
              f"{cpu / n * 1000:.1f} ms |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
