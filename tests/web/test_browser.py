"""End to end in a real headless Chromium (Debian's), against 'portfolio serve' under gunicorn.

A provider signs in, uploads two returned copies (one filled by pdftk, one re-saved by
LibreOffice) and sees the learner's progress change; a flagged value stays hidden until
"Show"; a PCN manager cannot reach another PCN's learner. axe-core runs on every page:
no serious or critical violation. Screenshots go to $PORTFOLIO_SCREENSHOTS when set (the
README's pictures are made so).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from datetime import datetime
from html import escape
from pathlib import Path

import pytest

from generator.formats.pdf.write import write_pdf
from generator.model.manifest import make_manifest
from generator.records.connect import open_store
from generator.records.register import learner_key
from generator.records.store import IssuedPack
from generator.records.users import add_user
from tests.conftest import ROOT, need_tool
from tests.web.conftest import DAFYDD, HILLTOP, HILLTOP_PCN, PASSWORD, PROVIDER, RIVERSIDE_PCN, ZOE, iid

AXE = Path(__file__).with_name("axe-4.14.1.min.js")
ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"
ALSO = "competencies.personalised_care.care_planning_discussions.achieved"
FLAGGED = "case_studies.studies.case_1.overview"
NHS = "NHS 943 476 5919"


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A store with a provider, a Hilltop manager and two issued learners, served by 'portfolio serve'."""
    folder = tmp_path_factory.mktemp("served")
    shutil.copytree(ROOT / "content", folder / "content")  # the profile editor writes here
    store = folder / "records.sqlite"
    with open_store(store) as s:
        add_user(s, PROVIDER, "provider", None, PASSWORD)
        add_user(s, HILLTOP, "pcn", "hilltop-pcn", PASSWORD)
        with s.transaction():
            s.add_issued([IssuedPack(iid(i), "pack", who["name"], who["practice"], pcn["slug"], "", "", "01/09/2026",
                                     "", f"{who['name']}.pdf", "care-coordination-portfolio", "1.0.0",
                                     "2026-09-01T10:00:00+00:00",
                                     learner_key(pcn["slug"], who["practice"], who["name"]))
                          for i, who, pcn in ((11, ZOE, RIVERSIDE_PCN), (12, DAFYDD, HILLTOP_PCN))], "issued.csv")
    port = _free_port()
    env = {**os.environ, "PORTFOLIO_SECRET_KEY": "e2e-" + "k" * 60}
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", "2", "--store", str(store),
         "--content", str(folder / "content")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=folder)
    line = process.stdout.readline()
    assert line.startswith(f"Serving on http://127.0.0.1:{port}/"), line
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGINT)
    log, _ = process.communicate(timeout=60)
    assert process.returncode == 0, log
    for secret in ("Zoë", "Łukasiewicz", "Dafydd", "943 476 5919", PASSWORD):
        assert secret not in log  # identifiers never in the server's log


@pytest.fixture(scope="module")
def copies(tmp_path_factory, form, theme, make_copy):
    """Zoë's pack as a PDF filled by pdftk, and her patient feedback... as a Word copy re-saved by LibreOffice."""
    need_tool("pdftk")
    need_tool("soffice")
    work = tmp_path_factory.mktemp("copies")
    manifest = make_manifest(form, instance_id=iid(11), learner=ZOE, pcn=RIVERSIDE_PCN,
                             created=datetime.fromisoformat("2026-09-01T10:00:00+00:00"))
    (work / "blank.pdf").write_bytes(write_pdf(form, theme, manifest))
    fields = {ACHIEVED: "Yes", ALSO: "Yes", FLAGGED: f"Met the patient ({NHS}) at home"}
    (work / "v.xfdf").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><xfdf xmlns="http://ns.adobe.com/xfdf/"><fields>'
        + "".join(f'<field name="{k}"><value>{escape(v)}</value></field>' for k, v in fields.items())
        + "</fields></xfdf>", encoding="utf-8")
    subprocess.run(["pdftk", str(work / "blank.pdf"), "fill_form", str(work / "v.xfdf"), "output",
                    str(work / "zoe-pdftk.pdf")], check=True, capture_output=True, timeout=120)
    (work / "in").mkdir()
    (work / "in" / "dafydd.docx").write_bytes(make_copy(iid(12), {ACHIEVED: True}, DAFYDD, HILLTOP_PCN))
    subprocess.run(["soffice", f"-env:UserInstallation={(work / 'lo').as_uri()}", "--headless", "--convert-to",
                    "docx", "--outdir", str(work / "out"), str(work / "in" / "dafydd.docx")],
                   check=True, capture_output=True, timeout=300)
    resaved = work / "dafydd-libreoffice.docx"
    shutil.move(work / "out" / "dafydd.docx", resaved)
    return [work / "zoe-pdftk.pdf", resaved]


def check_page(page, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation. Then a screenshot."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{name}: {bad}"
    folder = os.environ.get("PORTFOLIO_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"web-{name}.png"), full_page=True)


@pytest.fixture
def watched(page):
    """The page, failing the test on any console error (a CSP violation, a script error); the 4xx
    answers the tests ask for (a refused sign-in, another PCN's learner, a profile refused) are expected."""
    errors: list[str] = []
    expected = "Failed to load resource: the server responded with a status of 4"
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not m.text.startswith(expected)
            else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    assert errors == []


def sign_in(page, server: str, email: str) -> None:
    page.goto(server + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Learners").wait_for()


def row_of(page, name: str):
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name))


def test_sign_in_page(watched, server):
    page = watched
    page.goto(server + "/signin")
    check_page(page, "signin")
    page.get_by_label("Email").fill(PROVIDER)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "The email or password is not right."
    assert page.get_by_label("Email").input_value() == PROVIDER  # kept for the next try
    assert page.get_by_label("Password").input_value() == ""  # never sent back
    check_page(page, "signin-refused")


def test_upload_returned_copies_and_see_progress_change(watched, server, copies):
    page = watched
    sign_in(page, server, PROVIDER)
    zoe = row_of(page, "Zoë Łukasiewicz")
    assert "nothing returned yet (1 issued)" in zoe.inner_text()
    check_page(page, "learners-before")

    page.get_by_role("link", name="Returned copies").click()
    page.get_by_role("heading", name="Returned copies").wait_for()
    check_page(page, "returned-empty")
    page.get_by_label("Returned copies").set_input_files([str(p) for p in copies])
    page.get_by_role("button", name="Upload").click()
    results = page.locator("#results table")
    results.wait_for(timeout=120_000)
    rows = results.locator("tbody tr")
    assert rows.count() == 2
    assert re.search(r"zoe-pdftk\.pdf.*\s+new", rows.nth(0).inner_text(), re.S)
    assert re.search(r"dafydd-libreoffice\.docx.*\s+new", rows.nth(1).inner_text(), re.S)
    check_page(page, "upload-results")

    page.get_by_role("link", name="Learners").click()
    zoe = row_of(page, "Zoë Łukasiewicz")
    cells = zoe.get_by_role("cell").all_inner_texts()
    assert cells[1:3] == ["2/31", "0/5"], cells  # two competency areas achieved, no sign-off yet
    assert "review" in zoe.inner_text()
    assert row_of(page, "Dafydd ap Gruffudd").get_by_role("cell").all_inner_texts()[1] == "1/31"
    check_page(page, "learners")

    page.get_by_role("link", name="Zoë Łukasiewicz").click()
    page.get_by_role("heading", name="Zoë Łukasiewicz").wait_for()
    assert "Met the patient" not in page.content()
    check_page(page, "learner")
    page.get_by_role("button", name=re.compile(r"^Show ")).first.click()
    page.get_by_text(f"Met the patient ({NHS}) at home").wait_for()

    page.get_by_role("link", name="Exports").click()
    check_page(page, "exports")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV, a row per submission").click()
    assert download.value.suggested_filename == "records.csv"
    page.get_by_role("link", name="Audit log", exact=True).first.click()
    page.get_by_role("heading", name="Audit log").wait_for()
    assert "flag shown" in page.locator("table.audit").inner_text()
    check_page(page, "audit")


def test_another_pcns_learner_is_unreachable(watched, browser, server):
    provider = browser.new_page()
    sign_in(provider, server, PROVIDER)
    zoe_url = provider.get_by_role("link", name="Zoë Łukasiewicz").get_attribute("href")
    provider.close()

    page = watched
    sign_in(page, server, HILLTOP)
    assert page.get_by_role("link", name="Zoë Łukasiewicz").count() == 0
    assert page.get_by_role("link", name="Dafydd ap Gruffudd").count() == 1
    check_page(page, "learners-pcn")
    response = page.goto(server + zoe_url)
    assert response.status == 404
    page.get_by_role("heading", name="Not found").wait_for()
    assert "Zoë" not in page.content()
    check_page(page, "not-found")
    assert page.goto(server + "/exports").status == 403


def test_upload_a_logo_and_see_the_preview_change(watched, server, tmp_path):
    from PIL import Image
    need_tool("pdftoppm")
    page = watched
    sign_in(page, server, PROVIDER)
    page.get_by_role("link", name="PCN profile").click()
    page.get_by_role("link", name="riverside-pcn").click()
    page.get_by_role("heading", name="PCN profile").wait_for()
    cover = page.get_by_role("img", name="Preview of the cover")
    cover.wait_for(timeout=180_000)
    before = cover.get_attribute("src")
    check_page(page, "profile")
    Image.new("RGB", (240, 80), "#d5281b").save(tmp_path / "red-logo.png")
    page.get_by_label("Logo (PNG or JPEG, up to 2 MB)").set_input_files(str(tmp_path / "red-logo.png"))
    page.wait_for_function("(before) => { const i = document.querySelector('img[alt=\"Preview of the cover\"]');"
                           " return i && i.src !== before; }", arg=before, timeout=180_000)
    check_page(page, "profile-new-logo")
    primary = page.get_by_label("Primary (white text on it)")
    primary.fill("#ffee00")
    assert "below the WCAG AA minimum of 4.5:1" in page.locator("#primary-contrast").inner_text()
    primary.fill("#00614e")
    assert page.locator("#primary-contrast").inner_text() == "contrast with white 7.45:1 (passes WCAG AA)"


def test_upload_a_roster_and_download_the_zip(watched, server, tmp_path):
    page = watched
    sign_in(page, server, PROVIDER)
    page.get_by_role("link", name="Issue a cohort").click()
    from tests.web.test_cohorts import xlsx
    (tmp_path / "cohort 2027.xlsx").write_bytes(xlsx([  # a real workbook, as Excel saves it
        ["Name", "Practice", "PCN", "Supervisor", "Learning Facilitator (LF)", "Start date"],
        ["Ngozi Okonkwo-Smith", "Riverside Surgery", "Riverside PCN", "Dr Ada Jones", "Sam Patel", datetime(2026, 9, 1)]]))
    warning = page.get_by_role("note")  # the server is on 127.0.0.1: a return link would reach no learner
    assert warning.is_visible() and f"Learners' covers would link to {server}/return/…" in warning.inner_text()
    check_page(page, "cohort-form")
    page.get_by_label("Cohort name").fill("2027 spring")
    page.get_by_label("Roster").set_input_files(str(tmp_path / "cohort 2027.xlsx"))
    page.get_by_role("button", name="Check roster").click()
    page.get_by_role("heading", name="1 learner(s) ready to issue").wait_for()
    check_page(page, "cohort-checked")
    page.get_by_role("button", name="Issue").click()
    link = page.get_by_role("link", name="Download the cohort's packs (zip)")
    link.wait_for(timeout=300_000)
    check_page(page, "cohort-done")
    with page.expect_download() as download:
        link.click()
    download.value.save_as(tmp_path / "cohort.zip")
    assert sorted(zipfile.ZipFile(tmp_path / "cohort.zip").namelist()) == [
        "2027-spring/issued.csv", "2027-spring/riverside-pcn/ngozi-okonkwo-smith.docx",
        "2027-spring/riverside-pcn/ngozi-okonkwo-smith.pdf"]


#: Each navigation link and the title of the page it opens.
NAV = [("Learners", "Learners"), ("Returned copies", "Returned copies"), ("PCN profile", "PCN profiles"),
       ("Issue a cohort", "Issue a cohort"), ("Exports", "Exports"), ("Scans to review", "Scanned copies to review"),
       ("Audit log", "Audit log")]


@pytest.mark.parametrize("email, links", [(PROVIDER, NAV), (HILLTOP, NAV[:3])])
def test_on_a_phone_every_navigation_link_is_in_view_and_opens_its_page(watched, server, email, links):
    page = watched
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, server, email)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").count() == len(links)
    for name, title in links:
        link = nav.get_by_role("link", name=name, exact=True)
        assert link.is_visible(), name
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)  # not cut off
        href = link.get_attribute("href")
        link.click()  # Playwright clicks only what is visible, enabled and not covered
        page.wait_for_load_state()
        assert page.url.split(server, 1)[1].startswith(href), (name, page.url)
        assert page.title() == f"{title} · Portfolio", name
    # the page itself is no wider than the phone (nothing to scroll sideways for the header)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    check_page(page, "phone-" + ("provider" if email == PROVIDER else "pcn"))


def test_a_colours_hex_box_and_picker_keep_in_step(watched, server):
    page = watched
    sign_in(page, server, PROVIDER)
    page.goto(server + "/pcns/riverside-pcn")
    page.get_by_role("img", name="Preview of the cover").wait_for(timeout=180_000)  # the first preview is done
    box, picker = page.get_by_label("Primary (white text on it)"), page.get_by_label("Primary colour picker")
    contrast = page.locator("#primary-contrast")
    assert box.input_value() == "#00614E" and picker.input_value() == "#00614e"
    box.fill("005eb8")  # typed without its '#'
    assert picker.input_value() == "#005eb8"
    assert contrast.inner_text() == "contrast with white 6.38:1 (passes WCAG AA)"
    with page.expect_response(lambda r: r.url.endswith("/preview"), timeout=180_000):
        picker.fill("#ffee00")  # chosen with the picker (the preview follows)
    assert box.input_value() == "#FFEE00"
    assert "below the WCAG AA minimum of 4.5:1" in contrast.inner_text()
    box.fill("blue")
    assert contrast.inner_text() == "not a colour: write it as #RRGGBB (e.g. #005EB8)"
    assert picker.input_value() == "#ffee00"  # a picker holds only colours: it keeps the last one
    with page.expect_response(lambda r: r.url.endswith("/preview"), timeout=180_000):
        box.press("Tab")  # leaving the box updates the preview, which names the problem too
    page.locator("#preview").get_by_text("Primary colour: 'blue' is not a colour").wait_for()
    page.get_by_role("button", name="Save").click()
    error = page.locator("#colours-primary-error")
    error.wait_for()
    assert error.inner_text() == ("Primary colour: 'blue' is not a colour; write it as #RRGGBB, six hexadecimal "
                                  "digits (e.g. #005EB8)")
    assert page.get_by_label("Primary (white text on it)").input_value() == "blue"
    box_at, error_at = page.get_by_label("Primary (white text on it)").bounding_box(), error.bounding_box()
    assert 0 < error_at["y"] - box_at["y"] < 120  # just below its box
    check_page(page, "profile-colour-refused")


@pytest.fixture
def scan_server(tmp_path):
    """A store with one scanned copy waiting for a person (two fields), served by 'portfolio serve'."""
    from tests.web.test_scans import scanned
    store = tmp_path / "records.sqlite"
    with open_store(store) as s:
        add_user(s, PROVIDER, "provider", None, PASSWORD)
    scanned(store)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", "--port", str(port), "--workers", "1", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PORTFOLIO_SECRET_KEY": "e2e-" + "s" * 60}, cwd=tmp_path)
    line = process.stdout.readline()
    assert line.startswith(f"Serving on http://127.0.0.1:{port}/"), line
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)


def test_saving_a_transcription_says_what_was_saved_and_the_next_box_has_the_focus(watched, scan_server):
    page = watched
    sign_in(page, scan_server, PROVIDER)
    page.get_by_role("link", name="Scans to review").click()
    page.get_by_role("heading", name="Scanned copies to review").wait_for()
    check_page(page, "scans")
    page.get_by_label("Text as written").fill("Met the team weekly.")
    page.get_by_role("button", name="Save").first.click()
    status = page.get_by_role("status")
    status.wait_for()
    assert status.inner_text() == ("Saved Notes (paper.notes) of Zoë Łukasiewicz's copy scan.pdf (submission 1): "
                                   "“Met the team weekly.”. Next waiting: Seen of Zoë Łukasiewicz's copy "
                                   "(submission 1), first in the list below.")
    assert page.evaluate("document.activeElement.id") == page.get_by_label("One of: yes, no").get_attribute("id")
    check_page(page, "scans-saved")
    page.keyboard.type("no")  # straight into the focused box
    page.keyboard.press("Enter")
    page.get_by_text("Nothing left to review.").wait_for()
    assert page.get_by_role("status").inner_text().endswith("(submission 1): no. Nothing left to review.")
    assert page.locator("input[name=value]").count() == 0


#: Words of the cells a selector names split across lines although a line of the page could hold them whole.
SPLIT_WORDS = """(cells) => {
  const split = [];
  const main = document.querySelector('main'), style = getComputedStyle(main);
  const line = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
  for (const td of document.querySelectorAll(cells)) {
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size < 2) continue;
        const whole = document.createElement('span');
        whole.style.whiteSpace = 'nowrap';
        whole.textContent = m[0];
        td.appendChild(whole);
        const width = whole.getBoundingClientRect().width;
        whole.remove();
        if (width <= line) split.push(m[0]);
      }
    }
  }
  return split;
}"""


def test_on_a_phone_each_learner_is_a_block_of_whole_words_and_the_charts_keep_their_text_size(watched, server):
    """At 390 px the learners' table was twice the phone's width and broke words ('Riversid|e Surgery'), and
    the charts, drawn as one picture scaled to the width, shrank their labels to 7 px."""
    page = watched
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, server, PROVIDER)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    row = row_of(page, "Dafydd ap Gruffudd")  # (what he returned depends on the tests before: the module shares a server)
    # a line each (the headings, drawn before each line by the style sheet, are not the cells' text)
    lines = row.inner_text().split("\n")
    assert lines[0].startswith("Dafydd ap Gruffudd") and lines[1:3] == ["hilltop-pcn", "Hilltop Practice"]
    labels = row.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
    assert labels[0] == '"PCN and practice: "' and labels[-2:] == ['"Feedback forms: "', '"Last returned: "']
    assert set(labels[1:-2]) <= {'"Returned: "', '"Competency areas: "', '"Sign-offs: "', '"Values: "',
                                 '"Case studies: "', '"Initial: "', '"Final review: "'}
    lefts = row.locator("td").evaluate_all("cells => cells.map(c => Math.round(c.getBoundingClientRect().left))")
    assert len(set(lefts)) == 1  # one under another, not side by side
    assert page.evaluate(SPLIT_WORDS, "table.learners tbody td, table.learners tbody th") == []
    sort = page.get_by_role("link", name="Feedback forms")  # the headings are still there to sort by
    assert sort.is_visible()
    sizes = page.evaluate("[...document.querySelectorAll('.chart dt, .chart .figure')]"
                          ".map(e => parseFloat(getComputedStyle(e).fontSize))")
    assert len(sizes) == 12 and min(sizes) >= 13, sizes  # six bars: a label and a figure each, at 0.85rem
    for bar in page.locator(".chart svg").all():
        box = bar.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    check_page(page, "phone-learners")
    sort.click()
    page.wait_for_load_state()
    assert "sort=feedback" in page.url


def test_on_a_phone_the_audit_log_wraps_at_spaces_and_breaks_only_a_token_longer_than_a_line(watched, server):
    """At 390 px the log broke words mid-word ('rejec|ted', 'provider@trainin|g.example')."""
    page = watched
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, server, PROVIDER)
    long_name = "portfolio_dafydd_ap_gruffudd_2026-11-20_final_version_from_the_email_attachment.pdf"
    page.goto(server + "/returned")
    page.get_by_label("Returned copies").set_input_files(
        [{"name": long_name, "mimeType": "application/pdf", "buffer": b"just some text"}])
    page.get_by_role("button", name="Upload").click()
    page.locator("#results table").wait_for(timeout=120_000)
    page.goto(server + "/audit")
    entry = page.locator("table.audit tbody tr", has_text=long_name).first
    assert "upload rejected" in entry.inner_text() and "check that it is the filled copy" in entry.inner_text()
    assert page.evaluate(SPLIT_WORDS, "table.audit td") == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the long name is broken, not cut off
    box = entry.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    check_page(page, "phone-audit")
