"""Benchmark: ingest 1,000 returned packs, then list, export and report them.

Not a test. Generates the returned packs itself, cheaply: the default pack is
rendered once per format, filled a few different ways (``fill_pdf``,
``fill_docx``), and every learner's copy is a stamp of one of those fillings
(``stamp.PdfStamp``, ``word_stamp.DocxStamp``) with their own cover values
and manifest (instance id, learner, PCN) — as issuing does. Then it times the
commands a provider runs, each as its own process (``python -m generator``):
``portfolio ingest`` on the folder, the same again (everything already
ingested), ``records``, ``export`` (CSV and FHIR) and ``report`` (HTML and
PDF). Prints a Markdown table with the machine, for docs/ingest-performance.md.

The copies are registered first, as ``portfolio issue`` registers a cohort it
issues (an ``issued.csv`` of every copy, imported by ``ingest --register``
before the timings; ``--no-register`` leaves the store without one).

Usage: python benchmarks/bench_ingest.py [--packs 1000] [--pdf-share 0.5] [--jobs N] [--work DIR] [--keep] [--reuse]
       [--no-register]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402

COVER_IDS = load_content().roles.cover_ids  # the fields issuing stamps (pack.yaml roles.cover)

VARIANTS = 4  # different fillings per format; each copy is a stamp of one of them
FIRST = ["Zoë", "Siobhán", "Ngozi", "Åsa", "Dafydd", "Priya", "Tomasz", "Aoife", "Kwame", "Mei"]
LAST = ["Łukasiewicz", "Ní Bhriain", "Okonkwo-Smith", "Øberg", "ap Gruffudd", "Patel", "Nowak", "Byrne"]
PCNS = [("riverside-pcn", "Riverside Primary Care Network"), ("lakeside-pcn", "Lakeside PCN"),
        ("hillside-pcn", "Hillside PCN")]
TEXT = ("Coordinated a multidisciplinary review with the practice nurse and the social prescriber; "
        "agreed actions and a follow-up in two weeks. Reflected on what mattered to the person.")


def variant_values(form, seed: int) -> dict:
    """Plausible answers: some competency areas ticked, text, dates and choices; cover fields left to stamping."""
    rng = random.Random(seed)
    values = {}
    for fld in form.fields:
        if fld.id in COVER_IDS or rng.random() < 0.25:
            continue
        if fld.kind in ("text", "signature"):
            values[fld.id] = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        elif fld.kind == "longtext":
            values[fld.id] = TEXT[: rng.randint(40, len(TEXT))]
        elif fld.kind == "date":
            values[fld.id] = (date(2026, 9, 1) + timedelta(days=rng.randint(0, 200))).isoformat()
        elif fld.kind in ("checkbox", "yesno"):
            values[fld.id] = rng.random() < 0.7
        else:
            values[fld.id] = rng.choice(fld.options).value
    return values


def make_returned_packs(folder: Path, packs: int, pdf_share: float) -> dict[str, float]:
    """Write ``packs`` filled copies into ``folder``; returns the seconds each step took."""
    from generator.formats.docx.fill import fill_docx
    from generator.formats.docx.stamp import DocxStamp
    from generator.formats.docx.write import write_docx
    from generator.formats.pdf.fill import fill_pdf
    from generator.formats.pdf.stamp import PdfStamp
    from generator.formats.pdf.write import write_pdf

    from generator.records.register import REGISTER_COLUMNS

    timings = {}
    start = time.perf_counter()
    form = build_form(load_content())
    theme = load_theme()
    blank_manifest = make_manifest(form)
    blank_pdf = write_pdf(form, theme, blank_manifest)
    blank_docx = write_docx(form, theme, blank_manifest)
    timings["render blank PDF and DOCX"] = time.perf_counter() - start

    start = time.perf_counter()
    n_pdf = round(packs * pdf_share)
    stamps = {"pdf": [], "docx": []}
    for seed in range(VARIANTS):
        values = variant_values(form, seed)
        if n_pdf:
            stamps["pdf"].append(PdfStamp.from_pdf(fill_pdf(blank_pdf, values), COVER_IDS))
        if packs - n_pdf:
            stamps["docx"].append(DocxStamp(fill_docx(blank_docx, values), COVER_IDS))
    timings[f"fill {VARIANTS} variants per format"] = time.perf_counter() - start

    start = time.perf_counter()
    rng = random.Random(1)
    folder.mkdir(parents=True, exist_ok=True)
    register = []
    for n in range(packs):
        fmt = "pdf" if n < n_pdf else "docx"
        name = f"{FIRST[n % len(FIRST)]} {LAST[(n // len(FIRST)) % len(LAST)]} {n}"
        slug, pcn = PCNS[n % len(PCNS)]
        practice = f"Practice {n % 17}"
        learner = {"name": name, "practice": practice, "supervisor": "Dr Rees", "facilitator": "Ms Khan",
                   "start_date": "2026-09-01"}
        manifest = make_manifest(form, learner=learner, pcn={"slug": slug, "name": pcn})
        cover = {"cover.details.name": name, "cover.details.practice": practice, "cover.details.pcn": pcn,
                 "cover.details.supervisor": "Dr Rees", "cover.details.facilitator": "Ms Khan",
                 "cover.details.start_date": "01/09/2026"}
        stamp = rng.choice(stamps[fmt])
        (folder / slug).mkdir(exist_ok=True)
        (folder / slug / f"{n:04d}.{fmt}").write_bytes(stamp.stamp(cover, manifest))
        # as 'issue' writes it; no file named, so importing it records no layouts (paper returns only)
        register.append({"instance_id": manifest["instance_id"], "document": "pack", "learner": name,
                         "practice": practice, "pcn": slug, "supervisor": "Dr Rees", "facilitator": "Ms Khan",
                         "start_date": "2026-09-01", "email": "", "file": "",
                         "content_id": manifest["content"]["id"], "content_version": manifest["content"]["version"],
                         "issued_at": "2026-08-20"})
    with (folder.parent / "issued.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, REGISTER_COLUMNS)
        writer.writeheader()
        writer.writerows(register)
    timings[f"stamp {packs} copies"] = time.perf_counter() - start
    return timings


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants now (from /proc; 0 where /proc is missing)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            resident = int((entry / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        rss[int(entry.name)] = resident
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


#: Peak resident memory of the last ``run`` (the command and its readers together), bytes.
PEAK = {"bytes": 0}


def run(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and its reader processes) and the last line it printed.
    The peak of the command's memory together with its readers' is sampled every 20 ms into ``PEAK``."""
    cpu = cpu_of_children()
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "generator", *args], cwd=cwd, stdout=out, stderr=err,
                                 text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    PEAK["bytes"] = peak
    if child.returncode != 0:
        raise SystemExit(f"portfolio {' '.join(args)} failed ({child.returncode}):\n{stdout}\n{stderr}")
    return seconds, cpu_of_children() - cpu, stdout.strip().splitlines()[-1] if stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=1000)
    parser.add_argument("--pdf-share", type=float, default=0.5, help="share of the packs returned as PDF")
    parser.add_argument("--jobs", type=int, default=None, help="reader processes (default: one per core)")
    parser.add_argument("--work", type=Path, help="folder to work in (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated packs and the store")
    parser.add_argument("--no-report", action="store_true", help="skip the report (its PDF takes a while)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: keep the returned copies a run with the same --packs and --pdf-share "
                             "left there (to time one change against another on the same files)")
    parser.add_argument("--no-register", action="store_true",
                        help="ingest into a store without the copies' issue register (a register is imported "
                             "first by default, as 'portfolio issue' does for a cohort)")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    returned = work / "returned"
    for leftover in work.glob("records.sqlite*"):
        leftover.unlink()
    recipe = work / "returned.txt"  # what the copies in ``returned`` were made for
    wanted = f"{args.packs} {args.pdf_share}"
    if args.reuse and returned.exists() and recipe.exists() and recipe.read_text() == wanted:
        made = {"reused the copies of an earlier run": 0.0}
    else:
        if returned.exists():
            shutil.rmtree(returned)
        made = make_returned_packs(returned, args.packs, args.pdf_share)
        recipe.write_text(wanted)
    size = sum(p.stat().st_size for p in returned.rglob("*") if p.is_file())
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []

    if not args.no_register:  # before the timings: 'issue' imports it when it issues the cohort
        run(["ingest", "--register", str(work / "issued.csv"), "--store", "records.sqlite"], work)
    load = os.getloadavg()[0]
    rows: list[tuple[str, float, float, str]] = []
    seconds, cpu, summary = run(["ingest", str(returned), "--store", "records.sqlite", *jobs], work)
    rows.append((f"ingest {args.packs} packs (new)", seconds, cpu,
                 f"{args.packs / seconds:.1f} packs/s, {seconds / args.packs * 1000:.0f} ms/pack, "
                 f"peak memory {PEAK['bytes'] / 2**20:,.0f} MB (the command and its readers together)"))
    ingest_summary = summary
    seconds, cpu, _ = run(["ingest", str(returned), "--store", "records.sqlite", *jobs], work)
    rows.append((f"ingest the same {args.packs} again (unchanged)", seconds, cpu,
                 f"{args.packs / seconds:.0f} packs/s"))
    seconds, cpu, _ = run(["records", "--store", "records.sqlite"], work)
    rows.append(("records", seconds, cpu, ""))
    seconds, cpu, _ = run(["export", "--store", "records.sqlite", "--format", "csv", "-o", "records.csv"], work)
    rows.append(("export --format csv", seconds, cpu, f"{(work / 'records.csv').stat().st_size / 1e6:.1f} MB"))
    seconds, cpu, _ = run(["export", "--store", "records.sqlite", "--format", "fhir", "-o", "records.fhir.json"],
                          work)
    rows.append(("export --format fhir", seconds, cpu, f"{(work / 'records.fhir.json').stat().st_size / 1e6:.1f} MB"))
    if not args.no_report:
        seconds, cpu, _ = run(["report", "--store", "records.sqlite", "--out", "report", "--format", "html"], work)
        rows.append(("report --format html", seconds, cpu,
                     f"{(work / 'report' / 'cohort-progress.html').stat().st_size / 1e6:.1f} MB"))
        seconds, cpu, _ = run(["report", "--store", "records.sqlite", "--out", "report"], work)
        rows.append(("report (HTML and PDF)", seconds, cpu,
                     f"{(work / 'report' / 'cohort-progress.pdf').stat().st_size / 1e6:.1f} MB PDF"))
    store_size = sum(p.stat().st_size for p in work.glob("records.sqlite*"))

    n_pdf = round(args.packs * args.pdf_share)
    print(f"Machine: {machine()}; load average {load:.2f} when the timings began")
    print(f"Packs: {args.packs} returned copies of the default pack ({n_pdf} PDF, {args.packs - n_pdf} DOCX), "
          f"{size / 1e6:.0f} MB; {'no issue register' if args.no_register else 'their issue register imported first'}"
          f"; store afterwards {store_size / 1e6:.0f} MB")
    print("Generating them: " + ", ".join(f"{k} {v:.1f} s" for k, v in made.items()))
    print(f"Ingest summary: {ingest_summary}\n")
    print("| step | wall time | CPU time (all processes) | rate / size |")
    print("|---|---|---|---|")
    for name, seconds, cpu, note in rows:
        print(f"| {name} | {seconds:.1f} s | {cpu:.1f} s | {note} |")
    if args.keep or args.work:
        print(f"\nkept in {work}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
