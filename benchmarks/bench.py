"""Benchmark: build the default pack and read filled copies back, each beside an anchor run in the same go.

Not a test. Prints Markdown tables to paste into docs/performance.md, with the
machine it ran on and its load. Each of our steps is timed next to a well-known
tool doing comparable work on the same file in the same run, and the ratio is
printed, so that figures from a busy machine still compare:

- reading a filled PDF in process, against pypdf alone listing its fields
  (``PdfReader(...).get_fields()``);
- ``portfolio read`` as a whole process, against ``pdftk dump_data_fields_utf8``;
- building the PDF pack, against LibreOffice exporting our own DOCX to a flat PDF.

In-process rows give the median wall time and the median CPU time of warm runs;
whole-process rows the median wall time of fresh processes, run from cached bytecode
(written to a temporary folder by a first run) as an installed tool is.

Usage: python benchmarks/bench.py [--runs N] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def timed(fn, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``runs`` warm calls (one call first to warm imports, fonts, templates)."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def process(args: list[str], runs: int, cwd: Path | None = None) -> tuple[float, float] | None:
    """Median wall and CPU seconds (the process and its children) of ``runs`` fresh processes;
    None when the program is missing or fails."""
    if shutil.which(args[0]) is None:
        return None
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, capture_output=True)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            print(f"(failed: {' '.join(args)}: {done.stderr.decode(errors='replace')[-300:]})", file=sys.stderr)
            return None
    return statistics.median(wall), statistics.median(cpu)


def imports_weasyprint(*command: str) -> bool:
    """Whether ``portfolio COMMAND`` loads WeasyPrint (from Python's -X importtime listing)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *command],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return any(line.rstrip().endswith("| weasyprint") for line in done.stderr.splitlines())


def pikepdf_walk(data: bytes) -> dict[str, object]:
    """The anchor for reading: pikepdf alone walking the AcroForm tree, each field's full name and /V
    (no manifest, no typing, no checks), the "6 ms" of the issue."""
    import pikepdf
    out: dict[str, object] = {}
    with pikepdf.open(io.BytesIO(data)) as pdf:
        stack = [(f, "") for f in pdf.Root.AcroForm.Fields]
        while stack:
            node, prefix = stack.pop()
            name = f"{prefix}.{node.T}" if prefix and "/T" in node else (str(node.T) if "/T" in node else prefix)
            kids = node.get("/Kids")
            if kids is not None and any("/T" in k for k in kids):
                stack.extend((k, name) for k in kids)
            else:
                out[name] = node.get("/V")
    return out


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


def ratio(ours: float | None, anchor: float | None) -> str:
    return "–" if not ours or not anchor else f"{ours / anchor:.2f}"


ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=Path,
                        help="write a cProfile listing of one PDF build here (by cumulative and by own time)")
    args = parser.parse_args()

    from pypdf import PdfReader

    from generator.formats.docx.fill import fill_docx
    from generator.formats.docx.write import write_docx
    from generator.formats.pdf.fill import fill_pdf
    from generator.formats.pdf.write import write_pdf
    from generator.reading.read import read_bytes
    sys.path.insert(0, str(ROOT / "tests"))
    from samples import sample_values

    load = os.getloadavg()[0]
    content = load_content()
    form = build_form(content)
    theme = load_theme()
    manifest = make_manifest(form)
    values = sample_values(form)
    blank_pdf = write_pdf(form, theme, manifest)
    blank_docx = write_docx(form, theme, manifest)
    filled_pdf = fill_pdf(blank_pdf, values)
    filled_docx = fill_docx(blank_docx, values)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    (work / "filled.pdf").write_bytes(filled_pdf)
    (work / "pack.docx").write_bytes(blank_docx)
    python = [sys.executable, "-m", "generator"]

    inproc = {
        "load and validate content, build the form model": (timed(lambda: build_form(load_content()), args.runs),
                                                             None, ""),
        "read a filled PDF pack: record typed and checked": (
            timed(lambda: read_bytes(filled_pdf, "pack.pdf"), args.runs),
            timed(lambda: PdfReader(io.BytesIO(filled_pdf)).get_fields(), args.runs),
            "pypdf alone: `PdfReader(...).get_fields()`"),
        "read a filled PDF pack (again, beside the other anchor)": (
            timed(lambda: read_bytes(filled_pdf, "pack.pdf"), args.runs),
            timed(lambda: pikepdf_walk(filled_pdf), args.runs),
            "pikepdf alone: walk the AcroForm tree, each field's name and /V"),
        "read a filled DOCX pack": (timed(lambda: read_bytes(filled_docx, "pack.docx"), args.runs), None, ""),
        "build the DOCX pack": (timed(lambda: write_docx(form, theme, manifest), args.runs), None, ""),
        "build the PDF pack (WeasyPrint)": (timed(lambda: write_pdf(form, theme, manifest), max(1, args.runs // 2)),
                                            None, ""),
    }
    env_runs = max(3, args.runs)
    os.environ["PYTHONPATH"] = str(ROOT)
    # Fresh processes run from cached bytecode, as an installed tool does (pip compiles it at install);
    # an environment that forbids writing bytecode would otherwise compile every module on every run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    process([*python, "read", str(work / "filled.pdf")], 1)  # writes the bytecode
    lo = ["soffice", f"-env:UserInstallation={(work / 'lo').as_uri()}", "--headless", "--convert-to", "pdf",
          "--outdir", str(work / "lo-out"), str(work / "pack.docx")]
    process(lo, 1)  # first start makes LibreOffice's profile
    whole = {
        "`portfolio --help`": (process([*python, "--help"], env_runs), None, ""),
        "importing the PDF writer (WeasyPrint and ours)": (
            process([sys.executable, "-c", "import generator.formats.pdf.write"], env_runs), None, ""),
        "`portfolio read filled.pdf`": (process([*python, "read", str(work / "filled.pdf")], env_runs),
                                       process(["pdftk", str(work / "filled.pdf"), "dump_data_fields_utf8"], env_runs),
                                       "`pdftk filled.pdf dump_data_fields_utf8`"),
        "`portfolio build --format pdf --rebuild` (renders)": (
            process([*python, "build", "--format", "pdf", "--rebuild", "--out", str(work / "b")],
                    max(1, env_runs // 2)),
            process(lo, max(1, env_runs // 2)),
            "LibreOffice exporting our DOCX to a flat PDF"),
        "`portfolio build --format pdf` again, nothing changed (renders nothing)": (
            process([*python, "build", "--format", "pdf", "--out", str(work / "b")], env_runs), None, ""),
    }
    print(f"Machine: {machine()}; load average {load:.2f} when the timings began")
    print(f"Default pack: {len(form.sections)} sections, {len(form.fields)} fields; {args.runs} warm runs each")
    print("Ratios are ours / the anchor's CPU time (wall time follows the machine's load; CPU time much less).")
    print("Fresh processes run from cached bytecode, as an installed tool does.\n")
    print("| step, in process | median wall | median CPU | anchor in the same run | anchor wall | anchor CPU | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, (ours, anchor, what) in inproc.items():
        a_wall, a_cpu = anchor or (None, None)
        print(f"| {name} | {ms(ours[0])} | {ms(ours[1])} | {what or '–'} | {ms(a_wall)} | {ms(a_cpu)} "
              f"| {ratio(ours[1], a_cpu)} |")
    print("\n| whole process | median wall | median CPU | anchor in the same run | anchor wall | anchor CPU | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, (ours, anchor, what) in whole.items():
        o_wall, o_cpu = ours or (None, None)
        a_wall, a_cpu = anchor or (None, None)
        print(f"| {name} | {ms(o_wall)} | {ms(o_cpu)} | {what or '–'} | {ms(a_wall)} | {ms(a_cpu)} "
              f"| {ratio(o_cpu, a_cpu)} |")
    print(f"\nWeasyPrint imported by `portfolio --help`: {imports_weasyprint('--help')}; "
          f"by `portfolio read`: {imports_weasyprint('read', str(work / 'filled.pdf'))}")
    shutil.rmtree(work, ignore_errors=True)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        write_pdf(form, theme, manifest)
        profiler.disable()
        with args.profile.open("w") as handle:
            stats = pstats.Stats(profiler, stream=handle)
            stats.sort_stats("cumulative").print_stats(60)  # where the time goes, stage by stage
            stats.sort_stats("tottime").print_stats(40)  # the functions it is spent in
        print(f"\nprofile written to {args.profile}")


if __name__ == "__main__":
    main()
