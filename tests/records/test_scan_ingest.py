"""Ingesting scanned paper copies: issued copies come back on paper as submissions like any other."""

from __future__ import annotations

import csv
import io

import pytest
from PIL import Image

from generator import api
from generator.records.connect import open_store
from generator.records.ingest import ingest
from generator.records.register import import_register
from tests.scans import Scanner, fill_sheet, has_page_codes, pdf_geometry, scan_sheet, sheet_for, to_bytes

HEADER = "name,practice,pcn,supervisor,facilitator,start_date\n"
UNKNOWN = "00000000-0000-4000-8000-0000000000bb"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """One learner's pack and three feedback forms, issued (PDF only) with their register."""
    root = tmp_path_factory.mktemp("cohort")
    roster = root / "roster.csv"
    roster.write_text(HEADER + "Åsa Øberg,Riverside Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n",
                      encoding="utf-8")
    plan = api.plan_issue(roster, "2026 autumn", out_dir=root / "out", formats=["pdf"], feedback_forms=3)
    outcome = api.issue(plan, jobs=1, store=root / "no-store.sqlite")
    register = outcome.result.register
    rows = list(csv.DictReader(register.read_text(encoding="utf-8-sig").splitlines()))
    return register, rows


def issued_pdf(register, row):
    return (register.parent / row["file"]).read_bytes()


def sheet(data, page, dpi=200):
    manifest, fields, pages = pdf_geometry(data)
    if has_page_codes(data):
        from tests.scans import render_page
        return render_page(data, page, dpi), manifest, fields, pages
    return sheet_for(data, manifest, page, dpi), manifest, fields, pages


def test_a_scan_of_issued_copies_becomes_submissions_and_unknown_pages_are_kept(cohort, store_location):
    register, rows = cohort
    pack_row = next(r for r in rows if "feedback" not in r["file"])
    feedback_row = next(r for r in rows if "feedback" in r["file"])
    pack = issued_pdf(register, pack_row)
    sheets = []
    # a page of the learner's pack with two ticks and handwriting
    _, _, fields, pages = sheet(pack, 1)
    page = min(w["page"] for d in fields if d["kind"] == "checkbox" for w in d["widgets"])
    image, manifest, fields, pages = sheet(pack, page)
    boxes = [d for d in fields if d["kind"] == "checkbox" and d["widgets"][0]["page"] == page]
    texts = [d for d in fields if d["kind"] in ("text", "longtext", "signature")
             and d["widgets"] and d["widgets"][0]["page"] == page]
    styles = {(boxes[0]["id"], ""): "tick", (boxes[1]["id"], ""): "cross"}
    written = {texts[0]["id"]} if texts else set()
    fill_sheet(image, fields, page, pages[page - 1]["height"], 200, styles, written)
    sheets.append(scan_sheet(image, 200, Scanner(dpi=200, rotate=0.8, jpeg=85)))
    # a feedback form, upside down
    feedback = issued_pdf(register, feedback_row)
    image, fmanifest, ffields, fpages = sheet(feedback, 1)
    sheets.append(scan_sheet(image, 200, Scanner(dpi=200, upside_down=True)))
    # a blank sheet, and a page of a copy this store never issued
    sheets.append(Image.new("L", sheets[0].size, 250))
    sheets.append(scan_sheet(sheet_for(feedback, fmanifest, 1, 200, instance_id=UNKNOWN), 200, Scanner(dpi=200)))
    scan_file = register.parent.parent / f"scan-{store_location.rsplit('/', 1)[-1]}.pdf"
    scan_file.write_bytes(to_bytes(sheets, "pdf", 200))

    with open_store(store_location) as store:
        result = ingest([scan_file], store, registers=[register], jobs=1)
        statuses = [(o.status, o.instance_id) for o in result.files]
        assert statuses == [("new", pack_row["instance_id"]), ("new", feedback_row["instance_id"]),
                            ("unidentified", None)]  # the file's two unknown pages: one outcome
        assert not result.ok and result.counts["unidentified"] == 2  # two pages need a person
        [blank, stray] = result.files[2].pages
        assert blank == {"page": 3, "reason": "no QR code of this tool was found on the page", "instance_id": None}
        assert stray["page"] == 4 and stray["instance_id"] == UNKNOWN and "register the cohort first" in stray["reason"]
        assert result.files[2].reason == (
            "scanned pages 3 and 4 not identified (page 3: no QR code of this tool was found on the page; "
            f"page 4: {stray['reason']}); their images are kept (portfolio review pages)")
        subs = {s.instance_id: s for s in store.submissions()}
        assert {s.format for s in subs.values()} == {"scan"}
        assert subs[feedback_row["instance_id"]].part == "patient_feedback"
        learner = subs[pack_row["instance_id"]]
        assert learner.learner_name == "Åsa Øberg"
        values = {v.field_id: v for v in store.values([learner.id])[learner.id]}
        assert values[boxes[0]["id"]].value is True and values[boxes[1]["id"]].value is True
        assert all(values[b["id"]].value is False for b in boxes[2:])
        other_page = next(d for d in fields if d["widgets"] and d["widgets"][0]["page"] != page)
        assert values[other_page["id"]].state == "missing"
        marks = {(f.field_id, f.option): f for f in store.scan_fields([learner.id])}
        assert marks[(boxes[0]["id"], "")].decision == "ticked" and marks[(boxes[0]["id"], "")].ink > 0.1
        if texts:
            crop = marks[(texts[0]["id"], "")]
            assert crop.status == "needs transcription" and Image.open(io.BytesIO(crop.crop)).format == "PNG"
        [page_row] = store.scan_pages([learner.id])
        assert page_row.page == page and page_row.residual_mm < 0.5 and page_row.reason == ""
        lost = store.scan_pages(unidentified=True)
        assert [p.page_index for p in lost] == [3, 4] and all(p.image for p in lost)
        assert store.original(result.files[0].sha256) == scan_file.read_bytes()
        # the same file again: nothing new, no page stored twice
        again = ingest([scan_file], store, jobs=1)
        assert [o.status for o in again.files] == ["unchanged"]
        assert len(store.scan_pages(unidentified=True)) == 2


def test_registering_keeps_each_issued_copys_layout(cohort, store_location):
    register, rows = cohort
    with open_store(store_location) as store:
        import_register(store, register)
        layouts = store.issued_definitions()
        assert set(layouts) == {r["instance_id"] for r in rows}
        definition_id, pages = layouts[rows[0]["instance_id"]]
        fields = store.definitions()[definition_id].fields
        assert len(pages) >= 1 and pages[0]["height"] == pytest.approx(841.89, abs=0.01)
        boxes = [d for d in fields if d["kind"] == "checkbox"]
        assert boxes and all(len(d["widgets"]) == 1 and d["widgets"][0]["on"] is True for d in boxes)


def test_the_cli_ingests_a_scan_and_a_person_transcribes_and_decides_what_it_left(cohort, tmp_path):
    from click.testing import CliRunner

    from generator.cli import main
    register, rows = cohort
    pack_row = next(r for r in rows if "feedback" not in r["file"])
    pack = issued_pdf(register, pack_row)
    _, _, fields, _ = sheet(pack, 1)
    page = min(w["page"] for d in fields if d["kind"] == "yesno" for w in d["widgets"])
    image, manifest, fields, pages = sheet(pack, page)
    text = next(d for d in fields if d["kind"] in ("text", "longtext", "signature") and d["widgets"]
                and d["widgets"][0]["page"] == page)
    box = next(d for d in fields if d["kind"] == "yesno" and d["widgets"][0]["page"] == page)
    both = {(box["id"], str(w["on"])): "tick" for w in box["widgets"]}  # two answers ticked: a person decides
    fill_sheet(image, fields, page, pages[page - 1]["height"], 200, both, {text["id"]})
    scan_file = tmp_path / "scan.png"
    scan_file.write_bytes(to_bytes([scan_sheet(image, 200, Scanner(dpi=200))], "png", 200))
    store = str(tmp_path / "records.sqlite")
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(scan_file), "--register", str(register), "--store", store])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    listed = runner.invoke(main, ["review", "scans", "--store", store])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    sid = lines[0].split()[0]
    assert any(f"{text['id']} (page {page}, Åsa Øberg): needs transcription" in line for line in lines)
    assert any(f"{box['id']} (page {page}, Åsa Øberg): needs review: mark yes " in line for line in lines)
    assert lines[-1] == "2 field(s) waiting; 0 unidentified scanned page(s)"
    crop = tmp_path / "crop.png"
    assert runner.invoke(main, ["review", "crop", sid, text["id"], "--out", str(crop), "--store", store]).exit_code == 0
    assert Image.open(io.BytesIO(crop.read_bytes())).format == "PNG"
    typed = runner.invoke(main, ["review", "enter", sid, text["id"], "Dr A Okafor", "--by", "j.bennett",
                                 "--store", store])
    assert typed.exit_code == 0, typed.output
    bad = runner.invoke(main, ["review", "enter", sid, box["id"], "maybe", "--store", store])
    assert bad.exit_code == 1 and box["id"] in bad.output
    assert runner.invoke(main, ["review", "enter", sid, box["id"], "no", "--store", store]).exit_code == 0
    assert runner.invoke(main, ["review", "scans", "--store", store]).output.splitlines()[-1] == (
        "0 field(s) waiting; 0 unidentified scanned page(s)")
    with open_store(store) as opened:
        values = {v.field_id: v.value for v in opened.values([int(sid)])[int(sid)]}
        assert values[text["id"]] == "Dr A Okafor" and values[box["id"]] is False
        reviews = opened.scan_reviews()
        assert [(r.field_id, r.actor) for r in reviews][0] == (text["id"], "j.bennett")
        assert [a.action for a in opened.audit()].count("scan reviewed") == 2


def test_text_typed_in_from_a_scan_is_checked_for_patient_identifiers(cohort, tmp_path):
    """An NHS number typed in from a scan's handwriting is not stored: its marker is, as exports
    withhold a flagged value; the audit entry names the kind, never the number."""
    from click.testing import CliRunner

    from generator.cli import main
    register, rows = cohort
    pack = issued_pdf(register, next(r for r in rows if "feedback" not in r["file"]))
    _, _, fields, _ = sheet(pack, 1)
    page = min(w["page"] for d in fields if d["kind"] == "yesno" for w in d["widgets"])
    image, manifest, fields, pages = sheet(pack, page)
    texts = [d for d in fields if d["kind"] in ("text", "longtext", "signature") and d["widgets"]
             and d["widgets"][0]["page"] == page][:2]
    assert len(texts) == 2
    fill_sheet(image, fields, page, pages[page - 1]["height"], 200, {}, {t["id"] for t in texts})
    scan_file = tmp_path / "scan.png"
    scan_file.write_bytes(to_bytes([scan_sheet(image, 200, Scanner(dpi=200))], "png", 200))
    store = str(tmp_path / "records.sqlite")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(scan_file), "--register", str(register), "--store", store]).exit_code == 0
    sid = runner.invoke(main, ["review", "scans", "--store", store]).output.split()[0]
    flagged = runner.invoke(main, ["review", "enter", sid, texts[0]["id"], "Saw patient 999 000 0018 today",
                                   "--store", store])
    assert flagged.exit_code == 0, flagged.output
    assert "looks like a patient identifier (possible NHS number), so it was not stored" in flagged.output
    assert "999" not in flagged.output
    plain = runner.invoke(main, ["review", "enter", sid, texts[1]["id"], "Discussed the care plan", "--store", store])
    assert plain.exit_code == 0 and "= 'Discussed the care plan'" in plain.output
    with open_store(store) as opened:
        values = {v.field_id: v.value for v in opened.values([int(sid)])[int(sid)]}
        assert values[texts[0]["id"]] == "[withheld: possible NHS number]"
        assert values[texts[1]["id"]] == "Discussed the care plan"
        assert all("999" not in str(r.value) for r in opened.scan_reviews())
        details = [a.detail for a in opened.audit() if a.action == "scan reviewed"]
        assert details[0] == f"{texts[0]['id']}: needs transcription entered by hand; possible NHS number: " \
                             "not stored (value not shown)"
        assert all("999" not in d for d in details)


def test_a_stack_of_fifty_printed_feedback_forms_comes_back_as_fifty_submissions(tmp_path):
    from tests.scans import render_page
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "Åsa Øberg,Riverside Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n",
                      encoding="utf-8")
    plan = api.plan_issue(roster, "2026 autumn", out_dir=tmp_path / "out", formats=["pdf"], feedback_forms=50,
                          print_forms=True)
    register = api.issue(plan, jobs=1, store=tmp_path / "no-store.sqlite").result.register
    rows = [r for r in csv.DictReader(register.read_text(encoding="utf-8-sig").splitlines())
            if r["document"] != "pack"]
    assert len(rows) == 50 and len({r["file"] for r in rows}) == 1
    printed = (register.parent / rows[0]["file"]).read_bytes()
    import pypdfium2 as pdfium
    pdf = pdfium.PdfDocument(printed)
    count = len(pdf)
    pdf.close()
    sheets = [scan_sheet(render_page(printed, n, 200), 200, Scanner(dpi=200, rotate=0.6, jpeg=85), seed=n)
              for n in range(1, count + 1)]
    stack = tmp_path / "stack.pdf"
    stack.write_bytes(to_bytes(list(reversed(sheets)), "pdf", 200))  # the pile came out of the scanner reversed
    with open_store(tmp_path / "records.sqlite") as store:
        result = ingest([stack], store, registers=[register], jobs=1)
        assert result.counts["new"] == 50 and result.counts["unidentified"] == 0, [o.reason for o in result.files]
        subs = store.submissions()
        assert len(subs) == 50 and {s.part for s in subs} == {"patient_feedback"} and {s.format for s in subs} == {"scan"}
        assert {s.instance_id for s in subs} == {r["instance_id"] for r in rows}


def test_a_scan_sent_to_a_return_link_is_stored_only_when_it_is_the_links_own_copy(cohort, tmp_path):
    """A learner who printed their copy, filled it in by hand and scanned it can send the scan to their
    return link: it is read against that copy's layout alone, and a scan of another copy is refused."""
    from datetime import datetime, timedelta, timezone

    from generator.records.users import new_return_token
    register, rows = cohort
    pack_row = next(r for r in rows if "feedback" not in r["file"])
    feedback_row = next(r for r in rows if "feedback" in r["file"])
    pack = issued_pdf(register, pack_row)
    _, _, fields, _ = sheet(pack, 1)
    page = min(w["page"] for d in fields if d["kind"] == "checkbox" for w in d["widgets"])
    image, _, fields, pages = sheet(pack, page)
    box = next(d for d in fields if d["kind"] == "checkbox" and d["widgets"][0]["page"] == page)
    fill_sheet(image, fields, page, pages[page - 1]["height"], 200, {(box["id"], ""): "tick"}, set())
    mine = to_bytes([scan_sheet(image, 200, Scanner(dpi=200, rotate=0.5))], "png", 200)
    other = to_bytes([scan_sheet(sheet(issued_pdf(register, feedback_row), 1)[0], 200, Scanner(dpi=200))], "png", 200)
    with open_store(str(tmp_path / "records.sqlite")) as store:
        import_register(store, register)
        token = new_return_token(store, pack_row["instance_id"], datetime.now(timezone.utc) + timedelta(days=2))
        refused = api.return_by_link(token, other, "png", store, jobs=1)
        assert refused.status == "other copy" and store.submissions() == []
        blank = to_bytes([Image.new("L", (1654, 2339), 250)], "png", 200)  # a blank sheet: no copy at all
        assert api.return_by_link(token, blank, "png", store, jobs=1).status == "unreadable"
        taken = api.return_by_link(token, mine, "png", store, jobs=1)
        assert taken.status == "new"
        [submission] = store.submissions()
        assert (submission.instance_id, submission.format) == (pack_row["instance_id"], "scan")
        values = {v.field_id: v.value for v in store.values([submission.id])[submission.id]}
        assert values[box["id"]] is True
        entries = [(e.action, e.detail) for e in store.audit() if "return" in e.action and e.action != "return link made"]
    assert entries == [("return refused", "a copy of another instance was sent to this return link"),
                       ("returned by link", "new")]
