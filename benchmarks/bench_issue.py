"""Benchmark: issue 1,000 personalised packs (PDF + DOCX), stamped vs rendered from scratch.

Not a test. Builds a roster of N synthetic learners across two PCN profiles in a
temporary copy of the content, issues it with ``portfolio issue`` (render once
per PCN, stamp each learner, all cores), and in the same run renders a sample of
learners from scratch to compare. Prints a Markdown table and the machine.

Usage: python benchmarks/bench_issue.py [--learners 1000] [--scratch-sample 10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import machine  # noqa: E402

from generator.content.loader import DEFAULT_CONTENT_DIR, load_content  # noqa: E402
from generator.content.profile import load_profile, scaffold_profile  # noqa: E402
from generator.issuing.issue import issue_cohort  # noqa: E402
from generator.issuing.roster import read_roster  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402

FIRST = ["Zoë", "Siobhán", "Ngozi", "Priya", "Tomasz", "Aled", "Mei", "Fatima", "Oluwaseun", "Ewa"]
LAST = ["Łukasiewicz", "Kelly", "Okonkwo", "Natarajan", "Nowak", "Jones", "Chen", "Hussain", "Adeyemi", "Ó Briain"]


def make_roster(path: Path, count: int) -> None:
    lines = ["name,practice,pcn,supervisor,facilitator,start_date,email"]
    for i in range(count):
        pcn = "riverside-pcn" if i % 2 else "hillside-pcn"
        name = f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i:04d}"
        lines.append(f"{name},Practice {i % 7},{pcn},Dr Supervisor {i % 5},Facilitator {i % 3},01/09/2026,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--scratch-sample", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        content_dir = tmp_path / "content"
        shutil.copytree(DEFAULT_CONTENT_DIR, content_dir)
        scaffold_profile("hillside-pcn", "Hillside PCN", content_dir)
        content = load_content(content_dir)
        roster = tmp_path / "roster.csv"
        make_roster(roster, args.learners)
        learners = read_roster(roster, {"riverside-pcn", "hillside-pcn"})

        start = time.perf_counter()
        result = issue_cohort(learners, "bench", tmp_path / "out", content, ("pdf", "docx"), jobs=args.jobs)
        stamped = time.perf_counter() - start
        size = sum(p.stat().st_size for p in result.cohort_dir.rglob("*") if p.is_file())
        own, children = peak_mb()

        from generator.formats.docx.write import write_docx
        from generator.formats.pdf.write import write_pdf
        sample = learners[: args.scratch_sample]
        start = time.perf_counter()
        for learner in sample:
            profile = load_profile(learner.pcn, content)
            form = build_form(content, profile.layout)
            manifest = make_manifest(form, learner=learner.manifest_facts())
            values = learner.cover_values(profile.name)
            write_pdf(form, profile.theme, manifest, values, pcn=profile.layout.pcn)
            write_docx(form, profile.theme, manifest, values, pcn=profile.layout.pcn)
        scratch_each = (time.perf_counter() - start) / len(sample)

    n = args.learners
    print(f"Machine: {machine()}\n")
    print("| method | learners | files | wall time | per learner | peak memory |")
    print("|---|---|---|---|---|---|")
    print(f"| stamp (render once per PCN, {result.timings['render']:.1f} s; stamp {result.timings['stamp']:.1f} s) "
          f"| {n} | {result.files} | {stamped:.1f} s | {stamped / n * 1000:.1f} ms "
          f"| parent {own:.0f} MB, largest worker {children:.0f} MB |")
    print(f"| render from scratch (measured on {len(sample)}, one core) | {n} | {2 * n} "
          f"| {scratch_each * n:.0f} s (extrapolated) | {scratch_each * 1000:.0f} ms | – |")
    print(f"\nOutput: {size / 1e6:.0f} MB on disk; speed-up {scratch_each * n / stamped:.0f}x")


if __name__ == "__main__":
    main()
