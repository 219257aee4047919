"""Scans of printed copies uploaded on the Returned copies page are read like `portfolio ingest` reads them."""

from __future__ import annotations

import csv
import io

from PIL import Image

from generator import api
from generator.records.connect import open_store
from tests.scans import render_page, to_bytes
from tests.web.conftest import PROVIDER, RIVERSIDE
from tests.web.test_app import upload


def issue_one_feedback_form(tmp_path, store_file) -> tuple[dict[str, str], bytes]:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,practice,pcn,supervisor,facilitator,start_date\n"
                      "Åsa Øberg,Riverside Surgery,riverside-pcn,Dr A Okafor,Jo Bennett,01/09/2026\n",
                      encoding="utf-8")
    plan = api.plan_issue(roster, "spring", out_dir=tmp_path / "out", formats=["pdf"], feedback_forms=1)
    register = api.issue(plan, jobs=1, store=store_file).result.register
    row = next(r for r in csv.DictReader(register.read_text(encoding="utf-8-sig").splitlines())
               if "feedback" in r["file"])
    return row, (register.parent / row["file"]).read_bytes()


def test_a_scanned_feedback_form_uploaded_as_png_is_stored_as_a_scan_of_its_copy(tmp_path, store_file, as_user):
    row, form = issue_one_feedback_form(tmp_path, store_file)
    scan = to_bytes([render_page(form, 1, 200)], "png", 200)
    body = upload(as_user(PROVIDER), ("feedback-scan.png", scan)).get_data(as_text=True)
    assert "feedback-scan.png" in body and "status-new" in body
    with open_store(store_file) as store:
        scans = [s for s in store.submissions() if s.format == "scan"]
    assert [(s.instance_id, s.learner_name) for s in scans] == [(row["instance_id"], "Åsa Øberg")]


def test_an_image_that_is_no_page_of_ours_is_kept_as_unidentified_not_refused_as_a_file_type(store_file, as_user):
    out = io.BytesIO()
    Image.new("L", (1654, 2339), 255).save(out, format="JPEG")  # a blank A4 sheet at 200 dpi
    body = upload(as_user(PROVIDER), ("blank.jpg", out.getvalue())).get_data(as_text=True)
    assert "blank.jpg" in body and "is not a PDF, Word" not in body
    assert "kept as an unidentified scanned page" in body
    with open_store(store_file) as store:
        assert [s for s in store.submissions() if s.format == "scan"] == []


def test_a_pcn_manager_cannot_store_a_scan_of_another_pcns_copy(tmp_path, store_file, as_user):
    from generator.records.users import add_user
    from tests.web.conftest import PASSWORD
    with open_store(store_file) as store:
        add_user(store, "manager@hillside.example", "pcn", "hillside-pcn", PASSWORD)
    _, form = issue_one_feedback_form(tmp_path, store_file)
    scan = to_bytes([render_page(form, 1, 200)], "png", 200)
    body = upload(as_user("manager@hillside.example"), ("feedback-scan.png", scan)).get_data(as_text=True)
    assert "not a copy of a learner of your PCN" in body and "status-new" not in body
    with open_store(store_file) as store:
        assert [s for s in store.submissions() if s.format == "scan"] == []
    assert RIVERSIDE  # the fixture's own manager belongs to the copy's PCN


def test_a_scanned_stack_shows_every_copy_found_in_it_and_its_unidentified_pages(tmp_path, store_file, as_user):
    """The page kept only the last outcome of a file, so a stack's stored copies were not shown (nor audited)."""
    row, form = issue_one_feedback_form(tmp_path, store_file)
    stack = to_bytes([render_page(form, 1, 200), Image.new("L", (1654, 2339), 255)], "pdf", 200)
    body = upload(as_user(PROVIDER), ("stack.pdf", stack), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert body.count('<tr class="status-') == 2 and "<caption>Results: 1 file(s)</caption>" in body
    assert body.index('<tr class="status-new">') < body.index('<tr class="status-unidentified">')
    assert "scanned page 1" in body and "scanned page 2 not identified" in body
    with open_store(store_file) as store:
        assert [s.instance_id for s in store.submissions() if s.format == "scan"] == [row["instance_id"]]
        assert [e.detail for e in store.audit() if e.action == "uploaded"] == [
            "new through the web app", "unidentified through the web app"]
