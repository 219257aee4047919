"""Benchmark: what hostile returns cost in ingest (not a test).

Makes a folder of returned copies: ``--slow`` copies whose answer is a date followed by
100,000 spaces (which took the old date-of-birth pattern quadratic time, past the 20 s
read time-out), ``--loops`` copies whose PDF field has a cyclic /Parent chain, and
``--good`` ordinary copies. Ingests the folder with ``portfolio ingest --jobs N`` in a
fresh process and prints the wall time, the CPU time of the command and its readers,
and the outcome line. Then times reading one slow copy alone.

Usage: python benchmarks/bench_hostile.py [--slow 5] [--loops 0] [--good 5] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from benchmarks.bench_ingest import run  # noqa: E402
from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402
from tests.hostile import cyclic_parent_pdf  # noqa: E402

NOTES = "final_review.review.self_assessment"
SLOW_DATE = "DOB 04/07/1941" + " " * 100_000 + "end"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=5)
    parser.add_argument("--loops", type=int, default=0)
    parser.add_argument("--good", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from generator.formats.pdf.fill import fill_pdf
    from generator.formats.pdf.stamp import PdfStamp
    from generator.formats.pdf.write import write_pdf
    from generator.issuing.issue import COVER_IDS
    form = build_form(load_content())
    blank = write_pdf(form, load_theme(), make_manifest(form))
    slow = PdfStamp.from_pdf(fill_pdf(blank, {NOTES: SLOW_DATE}), COVER_IDS)
    good = PdfStamp.from_pdf(fill_pdf(blank, {NOTES: "an ordinary answer"}), COVER_IDS)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "returned"
        folder.mkdir()
        for n in range(args.slow + args.loops + args.good):
            learner = {"name": f"Learner {n}", "practice": "Practice 1"}
            manifest = make_manifest(form, learner=learner, pcn={"slug": "riverside-pcn", "name": "Riverside PCN"})
            cover = {"cover.details.name": learner["name"], "cover.details.practice": learner["practice"]}
            if n < args.slow:
                data = slow.stamp(cover, manifest)
            elif n < args.slow + args.loops:
                data = cyclic_parent_pdf(good.stamp(cover, manifest))
            else:
                data = good.stamp(cover, manifest)
            (folder / f"{n:02d}.pdf").write_bytes(data)
        start = time.perf_counter()
        try:
            seconds, cpu, line = run(["ingest", str(folder), "--store", str(Path(work) / "r.sqlite"),
                                      "--jobs", str(args.jobs)], Path(work))
        except SystemExit as exc:  # ingest exits 1 when a file was refused: still a measurement
            seconds, cpu = time.perf_counter() - start, float("nan")
            line = next((x for x in reversed(str(exc).splitlines()) if "file(s) in" in x), str(exc))
        one, one_cpu, _ = run(["read", str(folder / "00.pdf"), "-o", str(Path(work) / "r.json")], Path(work)) \
            if args.slow else (0.0, 0.0, "")
    print(f"machine: {machine()}")
    print(f"| files | jobs | wall s | CPU s | outcome |\n|---|---|---|---|---|\n"
          f"| {args.slow} slow + {args.loops} cyclic + {args.good} good | {args.jobs} | {seconds:.1f} | {cpu:.1f} "
          f"| {line} |")
    if args.slow:
        print(f"read one slow copy alone: {one:.2f} s wall, {one_cpu:.2f} s CPU (the command and its reader)")


if __name__ == "__main__":
    main()
