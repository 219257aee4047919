"""Benchmark: how accurately and how fast scanned paper copies are read.

Not a test. Makes synthetic scans from our own rendered pages (the default
pack's pages with tick boxes and radio groups): marks are drawn with Pillow at
the widgets (ticks, crosses, filled bubbles, small and faint ticks, stray dots,
crossed-out ticks, two answers in one group), then each sheet is "printed and
scanned" at 150, 200 or 300 dpi with a random rotation (±3°), shift (±5 mm),
scale (97-100 %), blur, noise, JPEG quality (50-95) and sometimes a grey
photocopy. Every page is read back with ``generator.reading.scan`` and each
mark's decision compared with what was drawn.

Prints Markdown for docs/paper-returns.md: the pages whose QR code was read
and that were aligned, per resolution; the confusion table (true state x
decided state) at 200 dpi and above and at 150 dpi; the silent errors; then the
time to read a 24-page scanned pack at 200 dpi on one core, and (with
--forms N) the time to ingest N scanned feedback forms with two readers.

Usage: python benchmarks/bench_scan.py [--pages 120] [--seed 1] [--forms 500]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import machine  # noqa: E402
from generator.content.loader import load_content  # noqa: E402
from generator.content.theme import load_theme  # noqa: E402
from generator.formats.pdf.write import write_pdf  # noqa: E402
from generator.model.form import build_form  # noqa: E402
from generator.model.manifest import make_manifest  # noqa: E402
from generator.reading import scan  # noqa: E402
from generator.model import pagecode  # noqa: E402
from tests.scans import (  # noqa: E402
    Scanner,
    draw_codes,
    fill_sheet,
    pdf_geometry,
    render_page,
    scan_sheet,
    sheet_for,
    to_bytes,
)

TRUE_STATES = ("ticked", "empty", "ambiguous")
DECISIONS = ("ticked", "empty", "uncertain", "another option", "page not read")


def truth_of(style: str, kind: str) -> str:
    if style in ("tick", "cross", "small"):
        return "ticked"
    if style == "filled":
        return "ticked" if kind != "checkbox" else "ambiguous"  # a filled-in tick box may mean "crossed out"
    if style in ("none", "dot"):
        return "empty"
    return "ambiguous"  # faint, crossed out


def random_styles(rng: random.Random, fields: list[dict], page: int) -> tuple[dict, dict]:
    """Mark styles for every button on ``page``, and each field's true state per option."""
    styles: dict[tuple[str, str], str] = {}
    truth: dict[tuple[str, str], str] = {}
    for d in fields:
        widgets = [w for w in d.get("widgets") or () if w["page"] == page]
        if not widgets or d["kind"] not in ("checkbox", "yesno", "choice"):
            continue
        if d["kind"] == "checkbox":
            style = rng.choices(["tick", "cross", "small", "none", "dot", "faint", "crossed_out", "filled"],
                                [25, 12, 8, 35, 5, 6, 5, 4])[0]
            styles[(d["id"], "")] = style
            truth[(d["id"], "")] = truth_of(style, "checkbox")
            continue
        options = [str(w["on"]) for w in widgets]
        for option in options:
            styles[(d["id"], option)] = "none"
        roll = rng.random()
        chosen = rng.choice(options)
        if roll < 0.15:  # left blank (perhaps a stray dot)
            if rng.random() < 0.3:
                styles[(d["id"], chosen)] = "dot"
        elif roll < 0.22:  # two answers
            for option in rng.sample(options, 2):
                styles[(d["id"], option)] = "tick"
        else:
            styles[(d["id"], chosen)] = rng.choices(["tick", "cross", "filled", "small", "faint", "crossed_out"],
                                                    [35, 15, 30, 8, 6, 6])[0]
        marked = [o for o in options if truth_of(styles[(d["id"], o)], d["kind"]) == "ticked"]
        unsure = [o for o in options if truth_of(styles[(d["id"], o)], d["kind"]) == "ambiguous"]
        for option in options:
            state = truth_of(styles[(d["id"], option)], d["kind"])
            if len(marked) > 1 and state == "ticked":
                state = "ambiguous"  # two answers: only a person can say which
            truth[(d["id"], option)] = state
        del unsure
    return styles, truth


def random_scanner(rng: random.Random, dpi: int) -> Scanner:
    return Scanner(dpi=dpi, rotate=rng.uniform(-3, 3), shift_mm=(rng.uniform(-5, 5), rng.uniform(-5, 5)),
                   scale=rng.uniform(0.97, 1.0), blur=rng.choice([0, 0, 0.5, 1.0]), noise=rng.choice([0, 3, 6]),
                   jpeg=rng.choice([None, 50, 65, 80, 95]), grey=rng.random() < 0.2,
                   upside_down=rng.random() < 0.1)


def accuracy(pages: int, seed: int) -> str:
    content = load_content()
    form = build_form(content)
    data = write_pdf(form, load_theme(), make_manifest(form, instance_id="00000000-0000-4000-8000-000000000001"))
    manifest, fields, sizes = pdf_geometry(data)
    known = scan.Known(fields, sizes)
    with_buttons = sorted({w["page"] for d in fields if d["kind"] in ("checkbox", "yesno", "choice")
                           for w in d["widgets"]})
    rng = random.Random(seed)
    blanks = {p: sheet_for(data, manifest, p, 300) for p in with_buttons}
    table: dict[str, Counter] = {"200": Counter(), "300": Counter(), "200 and 300": Counter(), "150": Counter()}
    kinds: dict[str, Counter] = {"tick boxes": Counter(), "radio groups": Counter()}
    per_dpi: dict[int, Counter] = {150: Counter(), 200: Counter(), 300: Counter()}
    reasons: Counter = Counter()
    styles_seen: dict[str, Counter] = {}
    for n in range(pages):
        dpi = (150, 200, 300)[n % 3]
        page = rng.choice(with_buttons)
        sheet = blanks[page].copy()
        styles, truth = random_styles(rng, fields, page)
        fill_sheet(sheet, fields, page, sizes[page - 1]["height"], 300, styles, set(), seed=n)
        image = scan_sheet(sheet, 300, random_scanner(rng, dpi), seed=n)
        result = scan.read_scan(to_bytes([image], "png", dpi), "bench.png", lambda _: known)
        copy = result.copies[0] if result.copies else None
        info = copy.pages[0] if copy else result.unidentified[0]
        per_dpi[dpi]["pages"] += 1
        per_dpi[dpi]["qr"] += info.instance_id is not None
        per_dpi[dpi]["aligned"] += bool(copy) and not info.reason
        if info.reason:
            reasons[info.reason.split(" (")[0]] += 1
        read = bool(copy) and not info.reason
        decided = {(m.field_id, m.option): m.decision for m in copy.marks} if read else {}
        buckets = [table["150"]] if dpi == 150 else [table[str(dpi)], table["200 and 300"]]
        kinds_of = {d["id"]: d["kind"] for d in fields}
        for key, state in truth.items():
            style = styles[key] if styles[key] != "filled" else (
                "filled tick box" if kinds_of[key[0]] == "checkbox" else "filled bubble")
            styles_seen.setdefault(style, Counter())[(dpi >= 200, decided.get(key, "page not read"))] += 1
        # what is stored counts: a tick box's decision, and a radio group's answer as a whole
        for d in fields:
            keys = [k for k in truth if k[0] == d["id"]]
            if not keys:
                continue
            if d["kind"] == "checkbox":
                state = truth[keys[0]]
            else:
                states = [truth[k] for k in keys]
                state = "ambiguous" if "ambiguous" in states else ("ticked" if "ticked" in states else "empty")
            if not read:
                decision = "page not read"
            elif copy.states[d["id"]] != "read":
                decision = "uncertain"
            elif d["kind"] == "checkbox":
                decision = "ticked" if copy.values[d["id"]] else "empty"
            elif copy.values[d["id"]] is None:
                decision = "empty"
            else:
                chosen = next(k[1] for k in keys if truth[k] == "ticked") if state == "ticked" else None
                value = copy.values[d["id"]]
                got = ("yes" if value else "no") if d["kind"] == "yesno" else value
                decision = "ticked" if got == chosen else "another option"
            for bucket in buckets:
                bucket[(state, decision)] += 1
            if dpi >= 200:
                kinds["tick boxes" if d["kind"] == "checkbox" else "radio groups"][(state, decision)] += 1
    lines = ["| resolution | pages | QR read | aligned |", "|---|---|---|---|"]
    for dpi, c in per_dpi.items():
        lines.append(f"| {dpi} dpi | {c['pages']} | {c['qr']} ({c['qr'] / max(1, c['pages']):.1%}) | "
                     f"{c['aligned']} ({c['aligned'] / max(1, c['pages']):.1%}) |")
    if reasons:
        lines += ["", "Pages not read: " + "; ".join(f"{r} ({n})" for r, n in reasons.most_common())]
    for name, counts in [*((f"{k} dpi", c) for k, c in table.items()),
                         *((f"200 and 300 dpi, {k} only", c) for k, c in kinds.items())]:
        total = sum(counts.values())
        lines += ["", f"Answers at {name} ({total}: each tick box, and each radio group as a whole): "
                  "true state (rows) x what was stored (columns)", "",
                  "| true \\ decided | " + " | ".join(DECISIONS) + " |", "|---" * (len(DECISIONS) + 1) + "|"]
        for state in TRUE_STATES:
            lines.append(f"| {state} | " + " | ".join(str(counts[(state, d)]) for d in DECISIONS) + " |")
        right = counts[("ticked", "ticked")] + counts[("empty", "empty")] + counts[("ambiguous", "uncertain")]
        silent = (counts[("ticked", "empty")] + counts[("empty", "ticked")] + counts[("ambiguous", "ticked")]
                  + counts[("ambiguous", "empty")] + sum(counts[(s, "another option")] for s in TRUE_STATES))
        review = sum(counts[(s, "uncertain")] for s in TRUE_STATES) - counts[("ambiguous", "uncertain")]
        unread = sum(counts[(s, "page not read")] for s in TRUE_STATES)
        lines.append("")
        lines.append(f"Right: {right} of {total} ({right / max(1, total):.2%}); clear marks sent to review: {review}; "
                     f"silent errors: {silent}; on pages not read (stored for a person): {unread}")
    lines += ["", "Each drawn box's own decision, per style, at 200 and 300 dpi:", "",
              "| style | ticked | empty | uncertain | page not read |", "|---|---|---|---|---|"]
    for style, c in sorted(styles_seen.items()):
        lines.append(f"| {style} | " + " | ".join(str(c[(True, d)]) for d in DECISIONS if d != "another option")
                     + " |")
    return "\n".join(lines)


def speed(pages: int = 24) -> str:
    content = load_content()
    form = build_form(content)
    data = write_pdf(form, load_theme(), make_manifest(form, instance_id="00000000-0000-4000-8000-000000000001"))
    manifest, fields, sizes = pdf_geometry(data)
    known = scan.Known(fields, sizes)
    images = [scan_sheet(sheet_for(data, manifest, 1 + n % len(sizes), 200), 200,
                         Scanner(dpi=200, rotate=0.7, jpeg=85)) for n in range(pages)]
    pdf = to_bytes(images, "pdf", 200)
    scan.read_scan(pdf, "warm.pdf", lambda _: known)
    times, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = scan.read_scan(pdf, "pack.pdf", lambda _: known)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert sum(len(c.pages) for c in result.copies) == pages
    load = os.getloadavg()[0]
    return (f"A {pages}-page scanned pack (one PDF, 200 dpi, JPEG pages): read in {min(times):.2f} s "
            f"({min(cpu):.2f} s of CPU; best of 3, one core; load average {load:.1f} on {os.cpu_count()} cores).")


def forms(count: int, jobs: int = 2) -> str:
    """Issue ``count`` feedback forms (50 per learner), scan them as stacks of 50 and time the ingest."""
    from generator import api
    from generator.records.connect import open_store
    from generator.records.ingest import ingest
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    learners = max(1, count // 50)
    roster = work / "roster.csv"
    roster.write_text("name,practice,pcn,supervisor,facilitator,start_date\n" + "".join(
        f"Learner {n:03d},Riverside Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n"
        for n in range(learners)), encoding="utf-8")
    plan = api.plan_issue(roster, "bench", out_dir=work / "out", formats=["pdf"], feedback_forms=min(50, count))
    issued = api.issue(plan, jobs=jobs, store=work / "none.sqlite")
    register = issued.result.register
    import csv
    rows = [r for r in csv.DictReader(register.read_text(encoding="utf-8-sig").splitlines())
            if "feedback" in r["file"]]
    first = (register.parent / rows[0]["file"]).read_bytes()
    manifest, _, _ = pdf_geometry(first)
    blank = None
    stacks = work / "scans"
    stacks.mkdir()
    for start in range(0, len(rows), 50):
        sheets = []
        for row in rows[start:start + 50]:
            if blank is None:
                blank = render_page(first, 1, 200)
            sheet = blank.copy()  # every form is the same page but for its code
            draw_codes(sheet, pagecode.PageCode(manifest["pack_id"], row["instance_id"], 1,
                                                manifest["content"]["version"]), 200)
            sheets.append(scan_sheet(sheet, 200, Scanner(dpi=200, rotate=0.5, jpeg=80)))
        (stacks / f"stack-{start // 50:02d}.pdf").write_bytes(to_bytes(sheets, "pdf", 200))
    with open_store(work / "records.sqlite") as store:
        from generator.records.register import import_register
        import_register(store, register)
        before = os.times()
        start = time.perf_counter()
        result = ingest([stacks], store, jobs=jobs)
        seconds = time.perf_counter() - start
        after = os.times()
        new = result.counts["new"]
    cpu = sum(b - a for a, b in zip(before[:4], after[:4]))  # this process and its readers, user and system
    load = os.getloadavg()[0]
    return (f"{len(rows)} scanned feedback forms ({len(rows) // 50 or 1} files of up to 50 pages, 200 dpi): "
            f"ingested in {seconds:.1f} s with {jobs} readers ({cpu:.1f} s of CPU in all), {new} new submissions "
            f"(load average {load:.1f} on {os.cpu_count()} cores).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--forms", type=int, default=0, help="also time the ingest of this many feedback forms")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}\n")
    print(accuracy(args.pages, args.seed))
    print()
    print(speed())
    if args.forms:
        print(forms(args.forms))


if __name__ == "__main__":
    main()
