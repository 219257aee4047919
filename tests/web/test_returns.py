"""Learners' return links: made by a provider, tied to one issued copy, expiring, showing nothing of any record."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from generator.records.connect import open_store
from generator.records.register import learner_key
from generator.records.store import IssuedPack
from generator.records.users import new_return_token
from generator.web.serve import redact_path
from tests.web.conftest import PROVIDER, RIVERSIDE, ZOE, csrf, iid, post

ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"
SECRET = "Distinctive answer 4F"


@pytest.fixture
def issued(store_file):
    with open_store(store_file) as store, store.transaction():
        store.add_issued([IssuedPack(iid(21), "pack", ZOE["name"], ZOE["practice"], "riverside-pcn", "", "", "",
                                     "", "zoe.pdf", "care-coordination-portfolio", "1.0.0", "2026-09-01T10:00:00",
                                     learner_key("riverside-pcn", ZOE["practice"], ZOE["name"]))], "issued.csv")
    return store_file


def learner_page(client) -> str:
    page = client.get("/").get_data(True)
    return page.split('">Zoë Łukasiewicz</a>')[0].rsplit('href="', 1)[1]


def make_link(client, expires: str):
    page = learner_page(client)
    return post(client, f"{page}/return-link", {"instance": iid(21), "expires": expires}, page=page)


def test_a_provider_makes_a_link_and_the_learner_returns_their_copy(as_user, issued, app, make_copy):
    provider = as_user(PROVIDER)
    # the issued copy is offered by its file's name
    assert f'<option value="{iid(21)}">zoe.pdf (00000000…)</option>' in provider.get(learner_page(provider)).get_data(True)
    future = (datetime.now(timezone.utc) + timedelta(days=30)).date().isoformat()
    body = make_link(provider, future).get_data(True)
    link = body.split("send it to the learner): <code>")[1].split("</code>")[0]
    assert link.startswith("http://localhost/return/")
    learner = app.test_client()  # not signed in
    page = learner.get(link)
    assert page.status_code == 200 and ('<label for="copy">Your filled copy (PDF or Word), or a scan of the printed copy filled in by '
                                       'hand</label>') in page.get_data(True)
    other = post(learner, link, {"copy": (io.BytesIO(make_copy(iid(22), {ACHIEVED: True})), "mine.docx")},
                 page=link, content_type="multipart/form-data").get_data(True)
    assert "This is not the copy this link is for" in other
    notes = post(learner, link, {"copy": (io.BytesIO(b"my notes"), "mine.pdf")}, page=link,
                 content_type="multipart/form-data").get_data(True)
    assert ("This is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: upload the copy you were sent "
            "with this link, filled in and saved as it was (.pdf or .docx), or a scan of it printed and filled in "
            "by hand.") in notes
    with open_store(issued) as store:
        assert store.submissions() == []
    right = post(learner, link, {"copy": (io.BytesIO(make_copy(iid(21), {"case_studies.studies.case_1.outcomes": SECRET})),
                                          "mine.docx")}, page=link, content_type="multipart/form-data").get_data(True)
    assert "Received: thank you." in right
    assert "Zoë" not in right and SECRET not in right and "Riverside" not in right
    with open_store(issued) as store:
        assert [s.instance_id for s in store.submissions()] == [iid(21)]
        actions = [e.action for e in store.audit()]
    assert "return link made" in actions and "return refused" in actions and "returned by link" in actions
    assert learner.get("/").status_code == 302


def test_an_expired_or_unknown_link_is_not_found(issued, app):
    with open_store(issued) as store:
        token = new_return_token(store, iid(21), datetime.now(timezone.utc) - timedelta(minutes=1))
    client = app.test_client()
    expired, unknown = client.get(f"/return/{token}"), client.get("/return/not-a-token")
    assert expired.status_code == unknown.status_code == 404
    assert expired.get_data(True) == unknown.get_data(True)  # an expired link cannot be told from a made-up one
    page = expired.get_data(True)
    assert ("This link does not work: it has expired, or it is not a link from a portfolio cover. Ask your "
            "training provider for a new link, or send them your filled copy.") in page
    assert "Back to Learners" not in page and "PCN" not in page  # nothing of the signed-in app


def test_only_providers_make_links_for_issued_copies_with_a_future_expiry(as_user, issued):
    provider = as_user(PROVIDER)
    assert "The expiry day is in the past." in make_link(provider, "2020-01-01").get_data(True)
    page = learner_page(provider)
    assert post(provider, f"{page}/return-link", {"instance": iid(99), "expires": "2099-01-01"},
                page=page).status_code == 404
    manager = as_user(RIVERSIDE)
    page = learner_page(manager)
    assert "Make a return link" not in manager.get(page).get_data(True)
    assert post(manager, f"{page}/return-link", {"instance": iid(21), "expires": "2099-01-01"},
                page=page).status_code == 403


def test_return_link_tokens_are_never_logged():
    assert redact_path("/return/AbC-123_x") == "/return/(token)"
    assert redact_path("/learners/0123") == "/learners/0123"


def test_a_copy_sent_to_a_link_is_stored_only_when_it_is_the_links_own(issued, make_copy):
    from generator import api
    with open_store(issued) as store:
        token = new_return_token(store, iid(21), datetime.now(timezone.utc) + timedelta(days=2))
        assert api.return_link_valid(token, store).instance_id == iid(21)
        assert api.return_link_valid("not-a-token", store) is None
        assert api.return_by_link("not-a-token", make_copy(iid(21)), "docx", store, jobs=1) is None
        assert api.return_by_link(token, b"PK\x03\x04 not a portfolio", "docx", store, jobs=1).status == "unreadable"
        other = api.return_by_link(token, make_copy(iid(22)), "docx", store, jobs=1)
        assert other.status == "other copy" and store.submissions() == []
        mine = api.return_by_link(token, make_copy(iid(21), {ACHIEVED: True}), "docx", store, jobs=1)
        assert mine.status == "new" and [s.instance_id for s in store.submissions()] == [iid(21)]
        again = api.return_by_link(token, make_copy(iid(21), {ACHIEVED: True}), "docx", store, jobs=1)
        assert again.status == "unchanged" and len(store.submissions()) == 1  # the same copy again
        entries = [(e.action, e.instance_id, e.detail) for e in store.audit() if "return" in e.action]
    assert entries[1:] == [("return refused", iid(21), "a copy of another instance was sent to this return link"),
                           ("returned by link", iid(21), "new"), ("returned by link", iid(21), again.status)]


def test_a_link_made_on_the_learner_page_starts_with_the_public_address(as_user, issued, app):
    app.config["PUBLIC_URL"] = "https://portfolio.example.org"
    future = (datetime.now(timezone.utc) + timedelta(days=30)).date().isoformat()
    body = make_link(as_user(PROVIDER), future).get_data(True)
    link = body.split("send it to the learner): <code>")[1].split("</code>")[0]
    assert link.startswith("https://portfolio.example.org/return/") and len(link) > len("https://portfolio.example.org/return/") + 20
