"""Benchmark: what the page codes (QR code and alignment marks on every page) cost.

Not a test. Times, in CPU seconds (best of N), rendering the default pack with and
without its page codes, stamping a personalised copy with and without redrawing
every page's code, and making one QR symbol with segno and with the fast encoder.

Usage: python benchmarks/bench_pagecodes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import machine  # noqa: E402

import generator.formats.pdf.write as write  # noqa: E402
from generator.content.layout import Layout  # noqa: E402
from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.formats.pdf import qrfast  # noqa: E402
from generator.formats.pdf.stamp import PdfStamp  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402
from generator.model.pagecode import PageCode, symbol  # noqa: E402


def cpu(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    content = load_content()
    form, theme = build_form(content, Layout()), load_theme()
    manifest = make_manifest(form)
    write.write_pdf(form, theme, manifest)  # warm up fonts and templates
    drawn = write._draw_page_codes
    with_codes = cpu(lambda: write.write_pdf(form, theme, manifest), args.runs)
    write._draw_page_codes = lambda pdf, manifest: None
    without = cpu(lambda: write.write_pdf(form, theme, manifest), args.runs)
    write._draw_page_codes = drawn
    stamper = PdfStamp.from_pdf(write.write_pdf(form, theme, manifest), list(content.roles.cover_ids))
    values = {fid: "Ada Example" for fid in content.roles.cover_ids}
    copies = [make_manifest(form, instance_id=str(uuid.uuid4())) for _ in range(50)]
    stamp_with = cpu(lambda: [stamper.stamp(values, m) for m in copies], args.runs) / len(copies)
    codes, stamper.page_codes = stamper.page_codes, []
    stamp_without = cpu(lambda: [stamper.stamp(values, m) for m in copies], args.runs) / len(copies)
    code = PageCode(form.pack_id, str(uuid.uuid4()), 12, form.content_version)
    segno_ms = cpu(lambda: [symbol(code) for _ in range(200)], args.runs) / 200 * 1000
    fast_ms = cpu(lambda: [qrfast.matrix(code) for _ in range(200)], args.runs) / 200 * 1000
    print(machine())
    print(f"| step (CPU, best of {args.runs}) | with page codes | without | extra |")
    print("|---|---|---|---|")
    print(f"| render the default pack ({len(codes)} pages) | {with_codes:.3f} s | {without:.3f} s | "
          f"{(with_codes / without - 1) * 100:+.1f}% |")
    print(f"| stamp one copy | {stamp_with * 1000:.1f} ms | {stamp_without * 1000:.1f} ms | "
          f"{(stamp_with - stamp_without) * 1000:+.1f} ms |")
    print(f"| one QR symbol | fast {fast_ms:.2f} ms | segno {segno_ms:.2f} ms | |")


if __name__ == "__main__":
    main()
