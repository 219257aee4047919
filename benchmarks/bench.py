"""Benchmark: build the default pack (PDF and DOCX separately) and read filled copies back, warm.

Not a test. Prints a Markdown table to paste into docs/performance.md, with the
machine it ran on. Usage: python benchmarks/bench.py [--runs N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def timed(fn, runs: int) -> list[float]:
    fn()  # warm: imports, fonts, templates
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=Path, help="write a cProfile listing of one PDF build here")
    args = parser.parse_args()

    from generator.formats.docx.write import write_docx
    from generator.formats.pdf.write import write_pdf

    content = load_content()
    form = build_form(content)
    theme = load_theme()
    manifest = make_manifest(form)
    from generator.formats.docx.fill import fill_docx
    from generator.formats.pdf.fill import fill_pdf
    from generator.reading.read import read_bytes
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from samples import sample_values

    values = sample_values(form)
    filled_pdf = fill_pdf(write_pdf(form, theme, manifest), values)
    filled_docx = fill_docx(write_docx(form, theme, manifest), values)
    rows = {
        "content load + model": timed(lambda: build_form(load_content()), args.runs),
        "build PDF pack": timed(lambda: write_pdf(form, theme, manifest), args.runs),
        "build DOCX pack": timed(lambda: write_docx(form, theme, manifest), args.runs),
        "read filled PDF pack": timed(lambda: read_bytes(filled_pdf, "pack.pdf"), args.runs),
        "read filled DOCX pack": timed(lambda: read_bytes(filled_docx, "pack.docx"), args.runs),
    }
    print(f"Machine: {machine()}")
    print(f"Default pack: {len(form.sections)} sections, {len(form.fields)} fields; {args.runs} warm runs each\n")
    print("| step | median | min | max |")
    print("|---|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {statistics.median(times) * 1000:.0f} ms | {min(times) * 1000:.0f} ms "
              f"| {max(times) * 1000:.0f} ms |")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        write_pdf(form, theme, manifest)
        profiler.disable()
        with args.profile.open("w") as handle:
            pstats.Stats(profiler, stream=handle).sort_stats("cumulative").print_stats(40)
        print(f"\nprofile written to {args.profile}")


if __name__ == "__main__":
    main()
