"""The web app through Flask's test client: every route for every role, scope, CSRF, cookies, uploads."""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest

from generator.records.connect import open_store
from tests.web.conftest import (
    DAFYDD,
    HILLTOP,
    HILLTOP_PCN,
    PASSWORD,
    PROVIDER,
    RIVERSIDE,
    csrf,
    iid,
    post,
    sign_in,
)

NHS = "NHS 943 476 5919"  # a test-range number that passes the Modulus 11 check
FLAGGED = "case_studies.studies.case_1.overview"
ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"

PAGES = ["/", "/returned", "/exports", "/exports/csv", "/exports/report.html", "/audit"]
PROVIDER_ONLY = ["/exports", "/exports/csv", "/exports/csv-long", "/exports/json", "/exports/fhir",
                 "/exports/report.html", "/audit"]


def upload(client, *files: tuple[str, bytes], url: str = "/returned", headers: dict | None = None):
    payload = {"copies": [(io.BytesIO(blob), name) for name, blob in files]}
    return post(client, url, payload, page="/returned", content_type="multipart/form-data", headers=headers)


@pytest.fixture
def stored(store_file, make_copy):
    """Zoë (Riverside, with a flagged answer) and Dafydd (Hilltop), ingested."""
    from generator.records.ingest import ingest
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(1), {ACHIEVED: True, FLAGGED: f"Met the patient ({NHS})"}))
    (folder / "dafydd.docx").write_bytes(make_copy(iid(2), {}, DAFYDD, HILLTOP_PCN))
    with open_store(store_file) as store:
        result = ingest([folder], store, jobs=1)
    assert [f.status for f in result.files] == ["new", "new"]
    return store_file


def learner_link(client, name: str) -> str:
    page = client.get("/").get_data(as_text=True)
    before = page.split(f">{name}</a>")[0]
    return before[before.rindex('href="') + 6:].split('"')[0]


# ---------------------------------------------------------------- signing in

@pytest.mark.parametrize("path", PAGES + ["/learners/0123456789abcdef0123"])
def test_every_page_needs_signing_in(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")


def test_sign_in_page_has_the_labelled_fields(app):
    page = app.test_client().get("/signin").get_data(as_text=True)
    for text in ('<label for="email">Email</label>', '<label for="password">Password</label>',
                 '<button type="submit">Sign in</button>'):
        assert text in page


def test_a_wrong_password_is_refused_and_five_lock_the_account(app):
    client = app.test_client()
    for _ in range(4):
        response = sign_in(client, PROVIDER, "wrong password here")
        assert response.status_code == 401 and "The email or password is not right." in response.get_data(True)
    assert "locked" in sign_in(client, PROVIDER, "wrong password here").get_data(True)
    response = sign_in(client, PROVIDER)
    assert response.status_code == 401 and "locked" in response.get_data(True)
    assert client.get("/").status_code == 302


def test_a_failed_sign_in_keeps_the_email_typed_but_never_the_password(app):
    client = app.test_client()
    response = sign_in(client, "Manager@Riverside.example", "my wrong password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert 'value="Manager@Riverside.example"' in page
    assert "my wrong password" not in page
    password_box = page.split('id="password"')[1].split(">")[0]
    assert "value=" not in password_box
    # the error sits in the form beside the boxes, and the boxes name it
    form = page.split('<form method="post" class="stack">')[1].split("</form>")[0]
    assert '<p class="error" id="signin-error" role="alert">The email or password is not right.</p>' in form
    assert 'aria-describedby="signin-error"' in form.split('id="email"')[1].split(">")[0]


def test_a_typed_email_is_escaped_when_shown_again(app):
    client = app.test_client()
    page = sign_in(client, '"><script>alert(1)</script>', "x").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_sign_out_ends_the_session(as_user):
    client = as_user(PROVIDER)
    assert client.get("/").status_code == 200
    assert post(client, "/signout").status_code == 302
    assert client.get("/").status_code == 302


def test_a_disabled_account_is_signed_out_at_its_next_request(as_user, store_file):
    from generator.records.users import set_disabled
    client = as_user(RIVERSIDE)
    with open_store(store_file) as store:
        set_disabled(store, RIVERSIDE)
    assert client.get("/").status_code == 302


def test_next_never_leaves_the_site(app):
    client = app.test_client()
    page = client.get("/signin")
    response = client.post("/signin?next=//evil.example/x", data={"email": PROVIDER, "password": PASSWORD,
                                                                  "csrf_token": csrf(page)})
    assert response.headers["Location"] == "/"


# ---------------------------------------------------------------- CSRF, cookies, headers

def test_every_form_needs_its_csrf_token(as_user, app):
    client = as_user(PROVIDER)
    for url in ("/signout", "/returned", "/returned/new-version", "/learners/0123456789abcdef0123/show"):
        response = client.post(url, data={})
        assert response.status_code == 400 and "Form expired" in response.get_data(True), url
    anonymous = app.test_client()
    assert anonymous.post("/signin", data={"email": PROVIDER, "password": PASSWORD}).status_code == 400


def test_session_cookie_is_httponly_lax_and_secure_over_https(app):
    plain = app.test_client()
    cookie = sign_in(plain, PROVIDER).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    page = secure.get("/signin", base_url="https://localhost")
    response = secure.post("/signin", base_url="https://localhost", headers={"Referer": "https://localhost/signin"},
                           data={"email": PROVIDER, "password": PASSWORD, "csrf_token": csrf(page)})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_forbid_framing_and_foreign_scripts(as_user):
    response = as_user(PROVIDER).get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_template_styles_inline_what_the_policy_forbids():
    # "style-src 'self'" makes a browser ignore style="…" (the scans page's crops once filled the
    # window, pushing its Save buttons off screen); styles go in static/app.css
    import re
    from tests.conftest import ROOT
    inline = [f"{p.name}: {m.group(0)}" for p in sorted((ROOT / "templates" / "web").glob("*.html"))
              for m in re.finditer(r"\sstyle\s*=\s*[\"'][^\"']*", p.read_text(encoding="utf-8"))]
    assert inline == []


def test_htmx_is_served_from_the_app_pinned(as_user):
    client = as_user(PROVIDER)
    page = client.get("/").get_data(True)
    assert '<script src="/static/htmx-2.0.11.min.js"' in page and "unpkg" not in page and "cdn" not in page
    with client.get("/static/htmx-2.0.11.min.js") as response:
        assert response.get_data().startswith(b"var htmx=function()")


# ---------------------------------------------------------------- roles and scope

@pytest.mark.parametrize("path", PROVIDER_ONLY)
def test_pcn_managers_cannot_reach_provider_pages(as_user, path):
    assert as_user(RIVERSIDE).get(path).status_code == 403


def test_navigation_names_the_pages(as_user):
    provider = as_user(PROVIDER).get("/").get_data(True)
    manager = as_user(RIVERSIDE).get("/").get_data(True)
    for page in (provider, manager):
        assert ">Learners</a>" in page and ">Returned copies</a>" in page
    assert ">Exports</a>" in provider and ">Exports</a>" not in manager


def test_a_pcn_manager_sees_only_their_pcn(as_user, stored):
    provider, riverside, hilltop = as_user(PROVIDER), as_user(RIVERSIDE), as_user(HILLTOP)
    everyone = provider.get("/").get_data(True)
    assert "Zoë Łukasiewicz" in everyone and "Dafydd ap Gruffudd" in everyone
    mine = riverside.get("/").get_data(True)
    assert "Zoë Łukasiewicz" in mine and "Dafydd ap Gruffudd" not in mine and "hilltop-pcn" not in mine
    dafydd = learner_link(provider, "Dafydd ap Gruffudd")
    assert provider.get(dafydd).status_code == 200 and hilltop.get(dafydd).status_code == 200
    response = riverside.get(dafydd)
    assert response.status_code == 404 and "Dafydd" not in response.get_data(True)
    assert riverside.get("/?pcn=hilltop-pcn").get_data(True).count("/learners/") == 0
    assert riverside.get("/learners/not-a-learner-id").status_code == 404


def test_the_dashboard_shows_progress_as_records_does(as_user, stored):
    page = as_user(PROVIDER).get("/?pcn=riverside-pcn").get_data(True)
    row = page[page.index(">Zoë Łukasiewicz</a>"):]
    row = row[:row.index("</tr>")]
    assert 'data-label="Competency areas">1/31</td>' in row and 'data-label="Sign-offs">0/5</td>' in row
    assert "review" in row
    chart = page[page.index("<dt>Competency areas</dt>"):]
    assert chart[:chart.index("</div>")].split('<span class="figure">')[1].startswith("3% (1/31)</span>")


def test_the_dashboard_filters_and_sorts(as_user, stored):
    client = as_user(PROVIDER)
    by_name = client.get("/?sort=name").get_data(True)
    assert by_name.index("Dafydd ap Gruffudd") < by_name.index("Zoë Łukasiewicz")
    reverse = client.get("/?sort=name&order=desc").get_data(True)
    assert reverse.index("Zoë Łukasiewicz") < reverse.index("Dafydd ap Gruffudd")
    assert 'aria-sort="descending"' in reverse
    review = client.get("/?status=review").get_data(True)
    assert "Zoë Łukasiewicz" in review and "Dafydd ap Gruffudd" not in review
    hilltop = client.get("/?pcn=hilltop-pcn").get_data(True)
    assert "Dafydd ap Gruffudd" in hilltop and ">Zoë Łukasiewicz<" not in hilltop


# ---------------------------------------------------------------- learner page and flagged values

def test_the_learner_page_hides_flagged_values_until_a_provider_shows_one(as_user, stored, store_file):
    provider = as_user(PROVIDER)
    link = learner_link(provider, "Zoë Łukasiewicz")
    page = provider.get(link).get_data(True)
    assert "Met the patient" not in page and "may hold a patient identifier (nhs number): hidden" in page
    assert "History" in page and "Warnings" in page and ACHIEVED in page
    sid = int(page.split('name="submission" value="')[1].split('"')[0])
    shown = post(provider, f"{link}/show", {"submission": sid, "field": FLAGGED}, page=link,
                 headers={"HX-Request": "true"})
    assert shown.status_code == 200 and f"Met the patient ({NHS})" in shown.get_data(True)
    with open_store(store_file) as store:
        entry = store.audit()[-1]
    assert (entry.action, entry.actor, entry.submission_id, entry.detail) == (
        "flag shown", f"web:{PROVIDER}", sid, f"field {FLAGGED}")
    # not a flagged field, or not this learner's submission: nothing is shown
    assert post(provider, f"{link}/show", {"submission": sid, "field": ACHIEVED}, page=link).status_code == 404
    assert post(provider, f"{link}/show", {"submission": sid + 1, "field": FLAGGED}, page=link).status_code == 404


def test_a_pcn_manager_cannot_show_flagged_values(as_user, stored):
    manager = as_user(RIVERSIDE)
    link = learner_link(manager, "Zoë Łukasiewicz")
    page = manager.get(link).get_data(True)
    assert "hidden" in page and ">Show</button>" not in page and "Met the patient" not in page
    response = post(manager, f"{link}/show", {"submission": 1, "field": FLAGGED}, page=link)
    assert response.status_code == 403 and "Met the patient" not in response.get_data(True)


# ---------------------------------------------------------------- returned copies

def test_upload_gives_each_files_result_as_ingest_does(as_user, make_copy, store_file):
    client = as_user(PROVIDER)
    page = client.get("/returned").get_data(True)
    assert '<label for="copies">Returned copies</label>' in page and 'multiple' in page and ">Upload</button>" in page
    first = make_copy(iid(3), {ACHIEVED: True})
    response = upload(client, ("first.docx", first), ("notes.pdf", b"just some text"),
                      headers={"HX-Request": "true"})
    body = response.get_data(True)
    assert body.count('<tr class="status-') == 2 and "<html" not in body  # the partial only
    assert 'status-new' in body and "first.docx" in body and "is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file" in body
    again = upload(client, ("first-again.docx", first)).get_data(True)
    assert "status-unchanged" in again and "already ingested" in again
    changed = make_copy(iid(3), {ACHIEVED: False, "case_studies.studies.case_1.outcomes": "Better"})
    conflict = upload(client, ("changed.docx", changed)).get_data(True)
    assert "status-conflict" in conflict
    assert f"<code>case_studies.studies.case_1.outcomes</code>, <code>{ACHIEVED}</code>" in conflict
    # the command line's advice is not given in the browser, which has its own button
    assert "nothing was stored (a training provider can store it as a new version)" in conflict
    assert "--supersede" not in conflict
    held = conflict.split('name="held" value="')[1].split('"')[0]
    with open_store(store_file) as store:
        assert len(store.submissions(current_only=False)) == 1  # never silently stored
    stored = post(client, "/returned/new-version", {"held": held, "name": "changed.docx"}, page="/returned")
    assert "status-superseded" in stored.get_data(True) and "stored as a new version" in stored.get_data(True)
    with open_store(store_file) as store:
        versions = [(s.version, s.supersedes) for s in store.submissions(current_only=False)]
        actions = [(e.action, e.actor, e.filename) for e in store.audit()]
    assert versions == [(1, None), (2, 1)]
    assert ("uploaded", f"web:{PROVIDER}", "first.docx") in actions
    assert ("upload rejected", f"web:{PROVIDER}", "notes.pdf") in actions
    assert ("superseded", f"web:{PROVIDER}", "changed.docx") in actions  # the learner's file name is kept
    with open_store(store_file) as store:
        assert [s.filename for s in store.submissions(current_only=False)] == ["first.docx", "changed.docx"]
    # the held copy is gone once stored; pressing the button again says so, with the learner's page
    first_link = stored.get_data(True).split("\">learner's page</a>")[0].rsplit('href="', 1)[1]
    again = post(client, "/returned/new-version", {"held": held, "name": "changed.docx"}, page="/returned")
    assert again.status_code == 200
    body = again.get_data(True)
    assert ('<td>unchanged</td>' in body and "<p>already stored as a new version when the button was first pressed; "
            "nothing more was stored</p>" in body)
    assert f'<a href="{first_link}">learner\'s page</a>' in body and first_link.startswith("/learners/")
    with open_store(store_file) as store:
        assert len(store.submissions(current_only=False)) == 2  # nothing more
    assert [p.name for p in (store_file.parent / "records.sqlite.web" / "held").iterdir()] == [f"{held}.stored"]


def test_a_refused_upload_says_what_ingest_says_with_the_fix(as_user, store_file, tmp_path, monkeypatch):
    """The page and 'portfolio ingest' give the same reason, and what to do, for a file that is no copy or too large."""
    from click.testing import CliRunner

    from generator.cli.common import main
    from generator.web import views
    from tests.hostile import big_file
    monkeypatch.setattr(views, "MAX_FILE_BYTES", 400_000)  # the test client spools a larger upload to a file
    not_a_copy = ("is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: check that it is the filled copy "
                  "itself or a scan of it, or ask for the copy again")
    fix = ("a filled copy is under 2 MB, so check that this is the copy itself; a scan of many pages: split it into "
           "smaller files, or scan at 200-300 dpi")
    body = upload(as_user(PROVIDER), ("notes.pdf", b"just some text"), ("big.pdf", b"%PDF-" + b" " * 400_000),
                  headers={"HX-Request": "true"}).get_data(True)
    assert f"<p>{not_a_copy}</p>" in body and f"<p>is over the limit of 0.4 MB: {fix}</p>" in body
    folder = tmp_path / "sent"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(b"just some text")
    big_file(folder / "big.pdf", 30_000_000)
    result = CliRunner().invoke(main, ["ingest", str(folder), "--store", str(tmp_path / "cli.sqlite"), "--jobs", "1"])
    assert result.exit_code == 1
    assert f"rejected   {folder / 'notes.pdf'}: {not_a_copy}\n" in result.output
    assert f"rejected   {folder / 'big.pdf'}: is 30.0 MB; the limit is 25 MB: {fix}\n" in result.output


def test_a_full_disk_on_upload_is_a_page_saying_so_and_nothing_is_stored(as_user, make_copy, store_file, monkeypatch):
    import errno
    from pathlib import Path
    client = as_user(PROVIDER)
    page = client.get("/returned")

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    response = client.post("/returned", data={"csrf_token": csrf(page),
                                              "copies": [(io.BytesIO(make_copy(iid(8), {})), "zoe.docx")]},
                           content_type="multipart/form-data")
    assert response.status_code == 507
    assert ("The server&#39;s disk is full, so this could not be finished. Ask the administrator to free some space "
            "on it, then try again.") in response.get_data(True)
    with open_store(store_file) as store:
        assert store.submissions() == []


def test_a_copy_not_stored_for_a_full_store_disk_tells_the_uploader_whom_to_ask(as_user, make_copy, monkeypatch):
    from generator.errors import StoreError
    from generator.records.sqlite import SQLiteStore

    def full(self, *args, **kwargs):
        raise StoreError("records.sqlite: the disk is full; the transaction was rolled back, nothing of it was kept: "
                         "free some space on that disk (or use another one), then run the command again")

    client = as_user(PROVIDER)
    monkeypatch.setattr(SQLiteStore, "add_submission", full)
    body = upload(client, ("zoe.docx", make_copy(iid(9), {})), headers={"HX-Request": "true"}).get_data(True)
    assert "status-failed" in body and "run the command" not in body
    assert ("the disk is full; the transaction was rolled back, nothing of it was kept: ask the administrator to free "
            "some space on the server&#39;s disk, then upload it again)") in body


def test_a_conflict_with_a_blank_copy_stored_first_gives_the_pages_advice_not_the_commands(as_user, make_copy):
    """Ingest words this conflict 'rerun with --supersede to store this one': the page has its own button."""
    client = as_user(PROVIDER)
    upload(client, ("blank.docx", make_copy(iid(6), {})))
    body = upload(client, ("filled.docx", make_copy(iid(6), {ACHIEVED: True})),
                  headers={"HX-Request": "true"}).get_data(True)
    assert "status-conflict" in body and "--supersede" not in body
    assert ("blank, with nothing filled in beyond its cover; nothing was stored (a training provider can store this "
            "one as a new version)") in body


def test_a_new_version_that_could_not_be_stored_may_be_stored_by_pressing_again(as_user, make_copy, monkeypatch):
    from generator.errors import StoreError
    from generator.records.sqlite import SQLiteStore
    client = as_user(PROVIDER)
    upload(client, ("one.docx", make_copy(iid(7), {ACHIEVED: True})))
    conflict = upload(client, ("two.docx", make_copy(iid(7), {}))).get_data(True)
    held = conflict.split('name="held" value="')[1].split('"')[0]
    real = SQLiteStore.add_submission

    def locked(self, *args, **kwargs):
        raise StoreError("records.sqlite: another program kept the store locked")

    monkeypatch.setattr(SQLiteStore, "add_submission", locked)
    failed = post(client, "/returned/new-version", {"held": held, "name": "two.docx"}, page="/returned")
    assert "status-failed" in failed.get_data(True)
    monkeypatch.setattr(SQLiteStore, "add_submission", real)
    stored = post(client, "/returned/new-version", {"held": held, "name": "two.docx"}, page="/returned")
    assert "status-superseded" in stored.get_data(True)


def test_a_held_copy_and_its_receipt_are_kept_seven_days_then_the_button_says_to_upload_again(as_user, make_copy, app):
    import os
    import time
    from pathlib import Path
    client = as_user(PROVIDER)
    upload(client, ("one.docx", make_copy(iid(9), {ACHIEVED: True})))
    held = [upload(client, (f"{n}.docx", make_copy(iid(9), {"case_studies.studies.case_1.outcomes": n})))
            .get_data(True).split('name="held" value="')[1].split('"')[0] for n in ("two", "three")]
    folder = Path(app.config["WORK_DIR"]) / "held"
    assert sorted(p.name for p in folder.iterdir()) == sorted(held)
    now = time.time()
    os.utime(folder / held[0], (now - 7 * 86_400 - 60, now - 7 * 86_400 - 60))  # held a minute over seven days
    os.utime(folder / held[1], (now - 7 * 86_400 + 60, now - 7 * 86_400 + 60))  # a minute under
    gone = post(client, "/returned/new-version", {"held": held[0], "name": "two.docx"}, page="/returned")
    assert gone.status_code == 410
    assert ("This copy is no longer held on the server (a copy is held for 7 days for &#34;Store as new version&#34;): "
            "upload the file again, then press the button on its result.") in gone.get_data(True)
    assert sorted(p.name for p in folder.iterdir()) == [held[1]]  # the old one removed, the other kept
    stored = post(client, "/returned/new-version", {"held": held[1], "name": "three.docx"}, page="/returned")
    assert "status-superseded" in stored.get_data(True)
    receipt = folder / f"{held[1]}.stored"
    assert [p.name for p in folder.iterdir()] == [receipt.name]
    os.utime(receipt, (now - 8 * 86_400, now - 8 * 86_400))
    upload(client, ("four.docx", make_copy(iid(10), {})))  # any use of the folder clears what is over its time
    assert list(folder.iterdir()) == []


def test_a_held_stack_is_kept_while_any_copy_in_it_could_not_be_stored(as_user, make_copy, store_file, monkeypatch):
    """A scanned stack's held copy gives a result for every copy in it: its first copy being stored already
    ('unchanged') is no reason to drop the held file while the conflicting one failed."""
    from generator.web import views
    client = as_user(PROVIDER)
    upload(client, ("one.docx", make_copy(iid(5), {ACHIEVED: True})))
    held = upload(client, ("two.docx", make_copy(iid(5), {}))).get_data(True).split('name="held" value="')[1]
    held = held.split('"')[0]
    folder = store_file.parent / "records.sqlite.web" / "held"
    stack = [views.UploadResult("stack.pdf", "unchanged", "scanned page 1: already ingested (submission 1)",
                                learner="l-first"),
             views.UploadResult("stack.pdf", "failed", "scanned page 2: could not be stored (locked)")]
    monkeypatch.setattr(views, "_ingest", lambda files, supersede=False: stack)
    failed = post(client, "/returned/new-version", {"held": held, "name": "stack.pdf"}, page="/returned")
    assert "status-failed" in failed.get_data(True)
    assert [p.name for p in folder.iterdir()] == [held]  # kept: the button may be pressed again
    stack[1] = views.UploadResult("stack.pdf", "superseded", "scanned page 2: version 2", learner="l-second")
    post(client, "/returned/new-version", {"held": held, "name": "stack.pdf"}, page="/returned")
    assert [p.name for p in folder.iterdir()] == [f"{held}.stored"]
    assert (folder / f"{held}.stored").read_text(encoding="ascii") == "l-second"  # the copy stored as new version


def test_only_a_provider_stores_a_conflict_as_a_new_version(as_user, make_copy, store_file):
    manager = as_user(RIVERSIDE)
    upload(manager, ("one.docx", make_copy(iid(4), {ACHIEVED: True})))
    body = upload(manager, ("two.docx", make_copy(iid(4), {}))).get_data(True)
    assert "status-conflict" in body and "Store as new version" not in body
    assert "A training provider can store it as a new version." in body
    assert post(manager, "/returned/new-version", {"held": "0" * 32 + ".docx"}, page="/returned").status_code == 403


def test_a_pcn_manager_learns_nothing_of_another_pcns_copy(as_user, make_copy):
    body = upload(as_user(RIVERSIDE), ("d.docx", make_copy(iid(5), {}, DAFYDD, HILLTOP_PCN))).get_data(True)
    assert "is not a copy of a learner of your PCN (riverside-pcn)" in body
    assert "learner's page" not in body and "Dafydd" not in body


@pytest.mark.parametrize("held", ["../records.sqlite", "../../etc/passwd", "x" * 32 + ".pdf", "0" * 32 + ".exe"])
def test_held_copies_are_named_by_the_server_only(as_user, held):
    assert post(as_user(PROVIDER), "/returned/new-version", {"held": held}, page="/returned").status_code == 404


def test_an_uploaded_name_never_becomes_a_path(as_user, make_copy, store_file, tmp_path):
    client = as_user(PROVIDER)
    body = upload(client, ("../../escape.docx", make_copy(iid(6), {}))).get_data(True)
    assert "status-new" in body and "escape.docx" in body and "../" not in body
    link = body.split("\">learner's page</a>")[0].rsplit('href="', 1)[1]
    assert "<td>escape.docx</td>" in client.get(link).get_data(True)  # the name as uploaded, from the audit log
    assert not (tmp_path.parent / "escape.docx").exists() and not (tmp_path / "escape.docx").exists()
    with open_store(store_file) as store:
        assert [s.filename for s in store.submissions()] == ["escape.docx"]  # its own name, in the server's folder


@pytest.mark.parametrize("uploaded, stored", [
    ("Zoë Łukasiewicz portfolio.PDF", "Zoë Łukasiewicz portfolio.pdf"),  # the kind its bytes are, written once
    ("..\\..\\evil.pdf", "evil.pdf"), (".hidden.pdf", "hidden.pdf"), ("a:b*c?.pdf", "a_b_c_.pdf"),
    ("noextension", "noextension.pdf"), ("", "copy.pdf"), ("\x00\x1b.pdf", "copy.pdf"),
    ("x" * 300 + ".pdf", "x" * 100 + ".pdf"),
])
def test_an_upload_is_written_under_a_safe_form_of_its_own_name(uploaded, stored):
    from generator.web.auth import upload_file_name
    assert upload_file_name(uploaded, ".pdf") == stored


def test_too_large_an_upload_is_refused_before_it_is_read(app, as_user, make_copy):
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    response = upload(as_user(PROVIDER), ("big.pdf", b"%PDF-1.7\n" + b"0" * 60_000))
    assert response.status_code == 413 and "Too large" in response.get_data(True)


def test_a_damaged_copy_is_rejected_with_the_readers_reason(as_user):
    body = upload(as_user(PROVIDER), ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog")).get_data(True)
    assert "status-rejected" in body


# ---------------------------------------------------------------- exports and audit log

def test_exports_download_every_format(as_user, stored):
    client = as_user(PROVIDER)
    assert ">CSV, a row per submission</a>" in client.get("/exports").get_data(True)
    wide = list(csv.DictReader(io.StringIO(client.get("/exports/csv").get_data(True))))
    assert sorted(r["learner"] for r in wide) == ["Dafydd ap Gruffudd", "Zoë Łukasiewicz"]
    long_rows = list(csv.DictReader(io.StringIO(client.get("/exports/csv-long").get_data(True))))
    assert {r["field_id"] for r in long_rows} >= {ACHIEVED}
    records = json.loads(client.get("/exports/json").get_data(True))
    assert len(records["records"] if isinstance(records, dict) else records) == 2
    bundle = json.loads(client.get("/exports/fhir").get_data(True))
    assert bundle["resourceType"] == "Bundle"
    html = client.get("/exports/report.html")
    assert html.headers["Content-Disposition"] == 'attachment; filename="cohort-progress.html"'
    assert "Zoë Łukasiewicz" in html.get_data(True)
    assert client.get("/exports/report.pdf").get_data().startswith(b"%PDF-")
    assert client.get("/exports/xml").status_code == 404


def test_the_audit_log_page_lists_who_did_what(as_user, stored):
    client = as_user(PROVIDER)
    client.get("/exports/csv")
    page = client.get("/audit").get_data(True)
    assert ('<td role="cell" data-label="What">exported</td><td role="cell" data-label="Who">'
            'web:provider@training.example</td>') in page
    assert '<td role="cell" data-label="What">user added</td>' in page
    assert '<td role="cell" data-label="What">ingested</td>' in page


def test_identifiers_never_reach_the_logs(as_user, stored, caplog):
    caplog.set_level(logging.DEBUG)
    client = as_user(PROVIDER)
    link = learner_link(client, "Zoë Łukasiewicz")
    client.get(link)
    client.get("/?pcn=riverside-pcn&sort=competencies")
    assert "Zoë" not in link and "Łukasiewicz" not in link
    text = caplog.text
    for secret in ("Zoë", "Łukasiewicz", "Dafydd", "943 476 5919", PASSWORD):
        assert secret not in text


def test_the_learner_page_shows_choices_and_feedback_questions_as_the_form_words_them(as_user, store_file,
                                                                                        make_copy):
    from generator.records.ingest import ingest
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "zoe.docx").write_bytes(make_copy(iid(5), {"patient_feedback.ratings.individual_needs": "very_happy",
                                                         "patient_feedback.ratings.respect": "unhappy"}))
    with open_store(store_file) as store:
        assert [f.status for f in ingest([folder], store, jobs=1).files] == ["new"]
    provider = as_user(PROVIDER)
    page = provider.get(learner_link(provider, "Zoë Łukasiewicz")).get_data(True)
    def answer(field_id):
        return page.split(f"<code>{field_id}</code></th>")[1].split("</tr>")[0]
    assert "Very happy" in answer("patient_feedback.ratings.individual_needs")
    assert "very_happy" not in answer("patient_feedback.ratings.individual_needs")
    assert "Unhappy" in answer("patient_feedback.ratings.respect")
    feedback = page.split('<th scope="row">Patient feedback</th>')[1].split("</tr>")[0]
    assert feedback.startswith("<td>1 form(s); mean answer (1 = Very happy … 5 = Very unhappy):<br>")
    assert "Understood your individual needs? 1.0" in feedback and "individual_needs" not in feedback


def test_an_empty_upload_is_refused_with_the_reason_ingest_gives(as_user):
    body = upload(as_user(PROVIDER), ("empty.pdf", b"")).get_data(True)
    assert "status-rejected" in body
    assert "file is empty (0 bytes): it was not saved or sent whole; ask for the copy again" in body
