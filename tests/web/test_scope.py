"""PCN scope on every route that takes an upload or an id: a PCN manager stores, sees and changes
only their own PCN's learners; everything else is refused (uploads) or not found (ids), audited,
and the answer says nothing of the other PCN's record."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
import io
import shutil

import pytest

from generator.records.connect import open_store
from generator.records.ingest import ingest
from generator.records.register import learner_key
from generator.records.store import IssuedPack
from generator.records.users import new_return_token
from tests.conftest import ROOT
from tests.web.conftest import (
    DAFYDD,
    HILLTOP,
    HILLTOP_PCN,
    PROVIDER,
    RIVERSIDE,
    RIVERSIDE_PCN,
    ZOE,
    csrf,
    iid,
    post,
)

ACHIEVED = "competencies.personalised_care.focus_on_what_matters.achieved"
#: What a Riverside manager is told of any copy that is not Riverside's (and nothing else).
REFUSED = "is not a copy of a learner of your PCN (riverside-pcn); nothing was stored"


def upload(client, *files: tuple[str, bytes]):
    payload = {"copies": [(io.BytesIO(blob), name) for name, blob in files]}
    return post(client, "/returned", payload, page="/returned", content_type="multipart/form-data")


def submissions(store_file) -> list[tuple[str, str, int]]:
    with open_store(store_file) as store:
        return [(s.instance_id, s.pcn, s.version) for s in store.submissions(current_only=False)]


def refusals(store_file) -> list[tuple[str, str]]:
    with open_store(store_file) as store:
        return [(e.actor, e.detail) for e in store.audit() if e.action == "refused"]


def result_row(body: str, name: str) -> str:
    row = body[body.rindex("<tr ", 0, body.index(f'<th scope="row">{name}')):]
    return row[:row.index("</tr>")]


def test_a_managers_upload_of_another_pcns_new_copy_is_refused_and_audited(as_user, make_copy, store_file):
    body = upload(as_user(RIVERSIDE), ("d.docx", make_copy(iid(31), {ACHIEVED: True}, DAFYDD, HILLTOP_PCN)),
                  ("mine.docx", make_copy(iid(32), {ACHIEVED: True}))).get_data(True)
    row = result_row(body, "d.docx")
    assert "status-rejected" in body and REFUSED in row
    assert "Dafydd" not in body and "hilltop" not in body.lower() and "learner's page" not in row
    assert "status-new" in result_row(body, "mine.docx")
    assert submissions(store_file) == [(iid(32), "riverside-pcn", 1)]  # only the manager's own copy
    assert refusals(store_file) == [(f"web:{RIVERSIDE}", "a copy of another PCN's learner (hilltop-pcn) uploaded "
                                                         "for riverside-pcn; nothing stored")]


def test_the_provider_stores_the_same_copy(as_user, make_copy, store_file):
    body = upload(as_user(PROVIDER), ("d.docx", make_copy(iid(31), {}, DAFYDD, HILLTOP_PCN))).get_data(True)
    assert "status-new" in body
    assert submissions(store_file) == [(iid(31), "hilltop-pcn", 1)]


def test_a_copy_of_another_pcns_stored_instance_is_refused_as_if_unknown(as_user, make_copy, store_file):
    """Whether the other PCN's copy is stored, changed or the very same file, the manager is told the same."""
    theirs = make_copy(iid(33), {ACHIEVED: True}, DAFYDD, HILLTOP_PCN)
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "d.docx").write_bytes(theirs)
    with open_store(store_file) as store:
        assert [f.status for f in ingest([folder], store, jobs=1).files] == ["new"]
    manager = as_user(RIVERSIDE)
    same = upload(manager, ("same.docx", theirs)).get_data(True)  # known by its SHA-256: not even read
    changed = upload(manager, ("changed.docx", make_copy(iid(33), {}, DAFYDD, HILLTOP_PCN))).get_data(True)
    # a copy relabelled as Riverside's, carrying the Hilltop learner's instance id
    relabelled = upload(manager, ("relabelled.docx", make_copy(iid(33), {}, ZOE, RIVERSIDE_PCN))).get_data(True)
    for name, body in (("same.docx", same), ("changed.docx", changed), ("relabelled.docx", relabelled)):
        row = result_row(body, name)
        assert "status-rejected" in row and REFUSED in row, name
        for leak in ("already ingested", "submission", "conflict", "Dafydd", "hilltop", "Store as new version"):
            assert leak not in body, (name, leak)
    assert submissions(store_file) == [(iid(33), "hilltop-pcn", 1)]
    assert len(refusals(store_file)) == 3


def test_a_copy_issued_to_another_pcn_is_refused_even_when_it_names_the_managers_pcn(as_user, make_copy,
                                                                                       store_file):
    with open_store(store_file) as store, store.transaction():
        store.add_issued([IssuedPack(iid(34), "pack", DAFYDD["name"], DAFYDD["practice"], "hilltop-pcn", "", "",
                                     "", "", "d.pdf", "care-coordination-portfolio", "1.0.0", "2026-09-01T10:00:00",
                                     learner_key("hilltop-pcn", DAFYDD["practice"], DAFYDD["name"]))], "issued.csv")
    body = upload(as_user(RIVERSIDE), ("forged.docx", make_copy(iid(34), {}, ZOE, RIVERSIDE_PCN))).get_data(True)
    assert REFUSED in result_row(body, "forged.docx")
    assert submissions(store_file) == []
    # the Hilltop manager, whose learner it was issued to, may upload that learner's copy
    assert "status-new" in upload(as_user(HILLTOP), ("d.docx", make_copy(iid(34), {}, DAFYDD, HILLTOP_PCN))
                                  ).get_data(True)


def test_a_managers_conflict_within_their_own_pcn_still_names_the_fields(as_user, make_copy, store_file):
    manager = as_user(RIVERSIDE)
    upload(manager, ("one.docx", make_copy(iid(35), {ACHIEVED: True})))
    body = upload(manager, ("two.docx", make_copy(iid(35), {}))).get_data(True)
    assert "status-conflict" in body and f"<code>{ACHIEVED}</code>" in body


def test_only_providers_store_held_copies_as_new_versions(as_user):
    assert post(as_user(RIVERSIDE), "/returned/new-version", {"held": "0" * 32 + ".docx"},
                page="/returned").status_code == 403


def test_a_return_link_takes_only_its_own_instance(as_user, make_copy, store_file, app):
    with open_store(store_file) as store:
        token = new_return_token(store, iid(36), datetime.now(timezone.utc) + timedelta(days=3))
    client = app.test_client()
    page = client.get(f"/return/{token}")
    other = make_copy(iid(37), {}, DAFYDD, HILLTOP_PCN)
    response = client.post(f"/return/{token}", data={"copy": (io.BytesIO(other), "d.docx"), "csrf_token": csrf(page)},
                           content_type="multipart/form-data")
    assert "not the copy this link is for" in response.get_data(True) and "Dafydd" not in response.get_data(True)
    assert submissions(store_file) == []


@pytest.fixture
def content_dir(tmp_path, app):
    folder = tmp_path / "content"
    shutil.copytree(ROOT / "content", folder)
    app.config["CONTENT_DIR"] = folder
    return folder


def test_a_manager_cannot_change_another_pcns_profile_logo_or_preview(as_user, content_dir):
    profile = content_dir / "pcns" / "riverside-pcn" / "profile.yaml"
    before = profile.read_bytes()
    manager = as_user(HILLTOP)
    for url in ("/pcns/riverside-pcn", "/pcns/riverside-pcn/preview"):
        logo = {"logo": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "logo.png"), "name": "Taken over"}
        response = post(manager, url, logo, page="/returned", content_type="multipart/form-data")
        assert response.status_code == 404 and "Riverside" not in response.get_data(True), url
    assert profile.read_bytes() == before


@pytest.mark.parametrize("url", ["/cohorts"])
def test_a_manager_cannot_upload_a_roster(as_user, url):
    roster = {"roster": (io.BytesIO(b"name,practice,pcn\n"), "roster.csv"), "cohort": "x"}
    assert post(as_user(RIVERSIDE), url, roster, page="/returned",
                content_type="multipart/form-data").status_code == 403


def test_ids_of_another_pcn_are_not_found(as_user, make_copy, store_file):
    """The learner page, Show, return links: another PCN's learner id answers 404 to a manager."""
    folder = store_file.parent / "in"
    folder.mkdir()
    (folder / "d.docx").write_bytes(make_copy(iid(38), {}, DAFYDD, HILLTOP_PCN))
    with open_store(store_file) as store:
        ingest([folder], store, jobs=1)
    page = as_user(PROVIDER).get("/").get_data(True)
    link = page.split(">Dafydd ap Gruffudd</a>")[0].rsplit('href="', 1)[1]
    manager = as_user(RIVERSIDE)
    assert manager.get(link).status_code == 404
    for action, data in (("show", {"submission": "1", "field": ACHIEVED}),
                         ("return-link", {"instance": iid(38), "expires": "2099-01-01"})):
        response = post(manager, f"{link}/{action}", data, page="/returned")
        assert response.status_code in (403, 404) and "Dafydd" not in response.get_data(True), action
