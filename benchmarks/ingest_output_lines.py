"""How many lines ingest prints for 1,000 returned copies, grouped (now) and one per warning (before).

Not a test. Builds an ``IngestResult`` like a real cohort's (most copies clean, some with
a few warnings, a few with dozens), prints it through the ``ingest`` command's printer and
counts the lines; "before" is one line per warning and per listed file, as ingest printed
until warnings were grouped per file.

Usage: python benchmarks/ingest_output_lines.py [--files 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.records.ingest import FileOutcome, IngestResult  # noqa: E402

KINDS = ["{f}: possible nhs number (value not shown); portfolios must not hold patient identifiers: ask the "
         "learner to remove it and return the copy again",
         "{f}: date not understood (expected DD/MM/YYYY); kept as written",
         "{f}: not in the pack's field definitions; kept under '…'"]


def cohort(files: int, rng: random.Random) -> IngestResult:
    outcomes = []
    for n in range(files):
        roll = rng.random()
        count = 0 if roll < 0.8 else rng.randint(1, 4) if roll < 0.97 else rng.randint(20, 60)
        warnings = [rng.choice(KINDS).format(f=f"case_studies.studies.case_{i % 3 + 1}.overview")
                    for i in range(count)]
        status = "rejected" if rng.random() < 0.01 else "new"
        outcomes.append(FileOutcome(f"returned/learner-{n:04d}.pdf", status,
                                    reason="is not a PDF or Word (.docx) file" if status == "rejected" else "",
                                    warnings=warnings if status == "new" else []))
    return IngestResult("records.sqlite", outcomes, seconds=30.0, jobs=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = cohort(args.files, random.Random(args.seed))
    from generator.cli.records import _print_ingest

    @click.command()
    @click.option("--quiet", is_flag=True)
    def show(quiet: bool) -> None:
        _print_ingest(result, verbose=False, quiet=quiet, as_json=False)

    now = CliRunner().invoke(show, []).output.splitlines()
    quiet = CliRunner().invoke(show, ["--quiet"]).output.splitlines()
    before = sum(len(o.warnings) for o in result.files) + sum(o.status == "rejected" for o in result.files) + 1
    with_warnings = sum(bool(o.warnings) for o in result.files)
    print(f"| files | with warnings | warnings | lines before | lines now | lines with --quiet |")
    print(f"|---|---|---|---|---|---|")
    print(f"| {len(result.files)} | {with_warnings} | {sum(len(o.warnings) for o in result.files)} | {before} | "
          f"{len(now)} | {len(quiet)} |")


if __name__ == "__main__":
    main()
