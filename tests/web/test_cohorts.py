"""Issue a cohort through the web app: roster checks, the background job, the zip and each file."""

from __future__ import annotations

import io
from datetime import datetime
import time
import zipfile

import pytest

from generator.records.connect import open_store
from tests.web.conftest import PROVIDER, RIVERSIDE, csrf, post

ROSTER = ("name,practice,pcn,supervisor,facilitator,start_date,email\n"
          "Zoë Łukasiewicz,Riverside Surgery,riverside-pcn,Dr Ada Jones,Sam Patel,01/09/2026,\n"
          "Åsa Øberg,Riverside Surgery,riverside-pcn,Dr Ada Jones,Sam Patel,01/09/2026,asa@example.org\n")


def check(client, roster: bytes, cohort: str = "2026 autumn", name: str = "roster.csv"):
    return post(client, "/cohorts", {"cohort": cohort, "roster": (io.BytesIO(roster), name)}, page="/cohorts",
                content_type="multipart/form-data")


def test_roster_problems_are_listed_and_nothing_is_issued(as_user, store_file):
    client = as_user(PROVIDER)
    bad = ROSTER.replace("01/09/2026,\n", "31/02/2026,\n", 1).replace("riverside-pcn,Dr Ada Jones,Sam Patel,01/09",
                                                                       "nowhere-pcn,Dr Ada Jones,Sam Patel,01/09")
    page = check(client, bad.encode()).get_data(True)
    assert "2 problem(s) in the roster; nothing was issued" in page
    assert "roster.csv: line 2: start date &#39;31/02/2026&#39; is not a date (use DD/MM/YYYY or YYYY-MM-DD)" in page
    assert "line 3: unknown PCN &#39;nowhere-pcn&#39;" in page
    assert ">Issue</button>" not in page
    broken = check(client, b"PK\x03\x04rest", name="roster.xlsx").get_data(True)
    assert "roster.xlsx: is not an Excel .xlsx workbook (save it as .xlsx or CSV UTF-8)" in broken and ">Issue</button>" not in broken


def xlsx(rows: list[list]) -> bytes:
    """A real Excel workbook (openpyxl) with ``rows`` on its first sheet."""
    import openpyxl
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems_listed(page: str) -> list[str]:
    import html
    block = page.split('class="problems"', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(item.split("</li>", 1)[0]) for item in block.split("<li>")[1:]]


def test_an_xlsx_roster_is_checked_as_the_cli_checks_it(as_user, store_file, tmp_path):
    from click.testing import CliRunner

    from generator.cli.common import main
    client = as_user(PROVIDER)
    workbook = xlsx([["name", "practice", "pcn", "supervisor", "facilitator", "start_date"],
                     ["Zoë Łukasiewicz", "Riverside Surgery", "Nowhere PCN", "Dr Ada Jones", "Sam Patel", "31/02/2026"],
                     ["Åsa Øberg", "Riverside Surgery", "riverside-pcn", "Dr Ada Jones", "", datetime(2026, 9, 1)]])
    page = check(client, workbook, name="my cohort.xlsx").get_data(True)
    assert "3 problem(s) in the roster; nothing was issued" in page and ">Issue</button>" not in page
    listed = problems_listed(page)
    assert listed == [
        "my cohort.xlsx: row 2: unknown PCN 'Nowhere PCN' (profiles: riverside-pcn; create one with "
        "'portfolio profile new')",
        "my cohort.xlsx: row 2: start date '31/02/2026' is not a date (use DD/MM/YYYY or YYYY-MM-DD)",
        "my cohort.xlsx: row 3: missing facilitator"], listed  # by the name it was uploaded under
    # the command line says the same of the same workbook
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "my cohort.xlsx").write_bytes(workbook)
    result = CliRunner().invoke(main, ["issue", str(tmp_path / "cli" / "my cohort.xlsx"), "--cohort", "2026 autumn",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and all(problem in result.output for problem in listed), result.output
    assert not (tmp_path / "out").exists()


def test_an_xlsx_roster_is_issued_with_the_cli_s_forgiving_headers_names_and_dates(as_user, store_file):
    client = as_user(PROVIDER)
    workbook = xlsx([["Name", "Practice", "PCN", "Workplace supervisor/mentor", "Learning Facilitator (LF)",
                      "Start date"],
                     ["Zoë Łukasiewicz", "Riverside Surgery", "Riverside PCN", "Dr Ada Jones", "Sam Patel",
                      datetime(2026, 9, 1)],
                     [None] * 6,
                     ["Åsa Øberg", "Riverbank Surgery", "Riverside Primary Care Network", "Dr Ada Jones", "Sam Patel",
                      "15/09/2026"]])
    page = check(client, workbook, name="cohort.xlsx").get_data(True)
    assert "2 learner(s) ready to issue" in page, page
    rows = [r.split("</tr>")[0] for r in page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]]
    assert rows == ["<td>2</td><td>Zoë Łukasiewicz</td><td>Riverside Surgery</td><td>riverside-pcn</td>"
                    "<td>2026-09-01</td>",
                    "<td>4</td><td>Åsa Øberg</td><td>Riverbank Surgery</td><td>riverside-pcn</td><td>2026-09-15</td>"]
    assert ("cohort.xlsx: row 4: practice &#39;Riverbank Surgery&#39; is not among riverside-pcn&#39;s practices "
            "(Mill Lane Medical Centre, Northgate Health Centre, Riverside Surgery)") in page


def test_a_cohort_is_issued_in_the_background_and_downloaded(as_user, store_file):
    client = as_user(PROVIDER)
    page = check(client, ROSTER.encode()).get_data(True)
    assert "2 learner(s) ready to issue" in page and "Åsa Øberg" in page
    start = page.split('action="/cohorts/')[1].split('"')[0]
    job = "/cohorts/" + start.rsplit("/issue", 1)[0]
    first = client.post(f"/cohorts/{start}", data={"csrf_token": csrf(client.get("/cohorts"))})
    assert first.status_code == 200 and "<progress" in first.get_data(True)
    deadline = time.monotonic() + 600  # bounds a hang; not a speed check
    while True:
        fragment = client.get(job, headers={"HX-Request": "true"}).get_data(True)
        if "Done:" in fragment or "stopped" in fragment or time.monotonic() > deadline:
            break
        assert 'hx-trigger="every 1s"' in fragment  # the page keeps polling while the job runs
        time.sleep(1)
    assert "Done: 4 files." in fragment and 'hx-trigger' not in fragment, fragment
    with client.get(f"{job}/cohort.zip") as response:
        names = sorted(zipfile.ZipFile(io.BytesIO(response.get_data())).namelist())
    assert names == ["2026-autumn/issued.csv", "2026-autumn/riverside-pcn/asa-oberg.docx",
                     "2026-autumn/riverside-pcn/asa-oberg.pdf", "2026-autumn/riverside-pcn/zoe-lukasiewicz.docx",
                     "2026-autumn/riverside-pcn/zoe-lukasiewicz.pdf"]
    with client.get(f"{job}/files/0") as response:
        assert response.status_code == 200 and response.get_data()[:4] in (b"%PDF", b"PK\x03\x04")
    assert client.get(f"{job}/files/99").status_code == 404
    with open_store(store_file) as store:
        assert len(store.issued()) == 4
        entry = [e for e in store.audit() if e.action == "cohort issued"][0]
    assert entry.actor == f"web:{PROVIDER}" and entry.detail.startswith("2026 autumn: 2 learners, 4 files")
    # the Learners page now lists them as issued
    assert "nothing returned yet (2 issued)" in client.get("/").get_data(True)


@pytest.mark.parametrize("path", ["/cohorts", "/cohorts/" + "0" * 32, "/cohorts/" + "0" * 32 + "/cohort.zip"])
def test_pcn_managers_cannot_issue(as_user, path):
    assert as_user(RIVERSIDE).get(path).status_code == 403


@pytest.mark.parametrize("job", ["0" * 32, "../../records", "x" * 32])
def test_unknown_or_bad_job_ids_are_not_found(as_user, job):
    assert as_user(PROVIDER).get(f"/cohorts/{job}").status_code == 404


def test_with_a_date_each_cover_shows_a_return_link_to_this_app(as_user, store_file, tmp_path):
    import subprocess
    from datetime import date, timedelta

    from PIL import Image

    from generator.records.users import check_return_token
    from tests.conftest import need_tool
    from tests.pagecodes import read_codes
    need_tool("pdftoppm")
    client = as_user(PROVIDER)
    by = date.today() + timedelta(days=20)
    page = post(client, "/cohorts", {"cohort": "linked", "roster": (io.BytesIO(ROSTER.encode()), "roster.csv"),
                                     "return_by": by.isoformat()}, page="/cohorts",
                content_type="multipart/form-data").get_data(True)
    assert "2 learner(s) ready to issue" in page
    start = page.split('action="/cohorts/')[1].split('"')[0]
    job = "/cohorts/" + start.rsplit("/issue", 1)[0]
    client.post(f"/cohorts/{start}", data={"csrf_token": csrf(client.get("/cohorts"))})
    deadline = time.monotonic() + 600  # bounds a hang; not a speed check
    while "Done:" not in (fragment := client.get(job, headers={"HX-Request": "true"}).get_data(True)):
        assert "stopped" not in fragment and time.monotonic() < deadline, fragment
        time.sleep(1)
    with client.get(f"{job}/cohort.zip") as response:
        archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
        (tmp_path / "copy.pdf").write_bytes(archive.read("linked/riverside-pcn/zoe-lukasiewicz.pdf"))
    subprocess.run(["pdftoppm", "-gray", "-png", "-r", "200", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "copy.pdf"), str(tmp_path / "cover")], check=True, timeout=120)
    links = [c.text for c in read_codes(Image.open(tmp_path / "cover.png").convert("L"))
             if c.text.startswith("http")]
    assert len(links) == 1 and links[0].startswith("http://localhost/return/")
    with open_store(store_file) as store:
        row = check_return_token(store, links[0].rsplit("/", 1)[1])
        issued = [p.instance_id for p in store.issued() if p.learner == "Zoë Łukasiewicz"]
    assert row is not None and row.instance_id in issued and row.expires.startswith(by.isoformat())
    # The link opens this app's upload page for that copy.
    assert client.get(links[0].removeprefix("http://localhost")).status_code == 200


def test_a_return_date_in_the_past_is_a_problem_and_nothing_is_issued(as_user, store_file):
    client = as_user(PROVIDER)
    page = post(client, "/cohorts", {"cohort": "late", "roster": (io.BytesIO(ROSTER.encode()), "roster.csv"),
                                     "return_by": "2020-01-01"}, page="/cohorts",
                content_type="multipart/form-data").get_data(True)
    assert "return links: 2020-01-01 is not in the future" in page and ">Issue</button>" not in page


def test_a_local_address_is_warned_of_before_issuing_and_the_files_place_is_named(as_user, store_file):
    from datetime import date, timedelta
    client = as_user(PROVIDER)  # the test client asks for http://localhost/, as a browser on the server would
    form = client.get("/cohorts").get_data(True)
    warning = form.split('<div class="notice" id="link-warning" role="note">')[1].split("</div>")[0]
    assert "Warning: these return links would only work on this computer." in warning
    assert "<code>http://localhost/return/…</code>, which is this computer's own address" in warning
    assert "<code>portfolio serve --public-url https://portfolio.example.org</code>" in warning
    assert "<code>$PORTFOLIO_PUBLIC_URL</code>" in warning and "--behind-proxy" in warning
    assert 'aria-describedby="return_by_hint link-warning"' in form
    by = (date.today() + timedelta(days=20)).isoformat()
    page = post(client, "/cohorts", {"cohort": "linked", "roster": (io.BytesIO(ROSTER.encode()), "roster.csv"),
                                     "return_by": by}, page="/cohorts", content_type="multipart/form-data").get_data(True)
    ready = page.split("2 learner(s) ready to issue")[1]
    before_issuing = ready.split(">Issue</button>")[0]
    assert (f"Each cover will show the learner's own return link, <code>http://localhost/return/…</code>, working "
            f"until {by}.") in before_issuing
    assert before_issuing.count('id="link-warning"') == 1 and page.count('id="link-warning"') == 1
    job = page.split('action="/cohorts/')[1].split("/issue")[0]
    kept = store_file.parent / "records.sqlite.web" / "cohorts" / job / "out"
    assert (f"The packs will be kept on this server in <code>{kept}</code>, with the issue register "
            "<code>issued.csv</code>") in before_issuing
    # without a date no link is printed, and nothing warns of one
    plain = check(client, ROSTER.encode()).get_data(True).split("2 learner(s) ready to issue")[1]
    assert "No return links: no date was given." in plain and "link-warning" not in plain


def test_with_a_public_address_set_links_use_it_and_nothing_warns(as_user, app, store_file):
    app.config["PUBLIC_URL"] = "https://portfolio.example.org"
    client = as_user(PROVIDER)
    form = client.get("/cohorts").get_data(True)
    assert "link-warning" not in form and "<code>https://portfolio.example.org/return/…</code>" in form
    from datetime import date, timedelta
    by = (date.today() + timedelta(days=20)).isoformat()
    page = post(client, "/cohorts", {"cohort": "linked", "roster": (io.BytesIO(ROSTER.encode()), "roster.csv"),
                                     "return_by": by}, page="/cohorts", content_type="multipart/form-data").get_data(True)
    assert "<code>https://portfolio.example.org/return/…</code>, working until" in page and "link-warning" not in page
    job = page.split('action="/cohorts/')[1].split("/issue")[0]
    import json
    saved = json.loads((store_file.parent / "records.sqlite.web" / "cohorts" / job / "job.json").read_text())
    assert saved["return_url"] == "https://portfolio.example.org"  # what the covers' links are made from


def test_a_public_address_that_is_this_computer_is_still_warned_of(as_user, app):
    app.config["PUBLIC_URL"] = "http://127.0.0.1:8000"
    form = as_user(PROVIDER).get("/cohorts").get_data(True)
    assert "<code>http://127.0.0.1:8000/return/…</code>, which is this computer's own address" in form
    assert "The public address set for the app is this computer's own" in form


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:8000/", True), ("http://localhost:8000", True), ("http://LOCALHOST./", True),
    ("http://[::1]:8000/", True), ("http://127.4.5.6/", True), ("http://app.localhost/", True),
    ("https://portfolio.example.org", False), ("http://192.0.2.10:8000/", False),
    ("http://localhost.example.org/", False), ("http://[2001:db8::1]/", False)])
def test_which_addresses_only_this_computer_can_open(url, local):
    from generator.web.links import is_local
    assert is_local(url) is local
