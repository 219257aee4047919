"""The scan review page: each handwritten field's image beside an input; entries name who made them."""

from __future__ import annotations

import io

from PIL import Image

from generator.records.connect import open_store
from generator.records.store import Definition, FieldValue, NewSubmission, ScanField
from tests.web.conftest import PROVIDER, RIVERSIDE, post

FIELDS = [{"id": "paper.notes", "kind": "longtext", "label": "Notes", "options": []},
          {"id": "paper.seen", "kind": "yesno", "label": "Seen", "options": [{"value": "yes", "label": "Yes"},
                                                                           {"value": "no", "label": "No"}]}]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (80, 20), 200).save(out, format="PNG")
    return out.getvalue()


def scanned(store_file) -> int:
    definition = Definition("d" * 64, "demo-pack", None, "demo", "1.0.0", "h", FIELDS)
    new = NewSubmission("e" * 64, "scan.pdf", 10, "scan", "paper", "00000000-0000-4000-8000-000000000009",
                        "demo-pack", None, "demo", "1.0.0", "h", "", definition, '["riverside-pcn","a","zoë"]',
                        "Zoë Łukasiewicz", "Riverside Surgery", "riverside-pcn", "riverside-pcn",
                        {"name": "Zoë Łukasiewicz"}, {"slug": "riverside-pcn"},
                        [FieldValue("paper.notes", "read", None), FieldValue("paper.seen", "read", None)])
    with open_store(store_file) as store:
        with store.transaction():
            sid = store.add_submission(new, 1, None)
            store.add_scan_fields([
                ScanField(sid, "paper.notes", "", 2, 0.03, "written", "needs transcription", png()),
                ScanField(sid, "paper.seen", "yes", 2, 0.21, "ticked", "needs review"),
                ScanField(sid, "paper.seen", "no", 2, 0.25, "ticked", "needs review")])
    return sid


def test_a_provider_sees_each_crop_beside_an_input_and_saves_what_it_says(app, store_file, as_user):
    sid = scanned(store_file)
    client = as_user(PROVIDER)
    page = client.get("/scans")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2 field(s) waiting; 0 unidentified scanned page(s)" in html
    assert f'src="/scans/{sid}/paper.notes/crop.png"' in html
    assert "yes: 21% ink (ticked); no: 25% ink (ticked)" in html
    image = client.get(f"/scans/{sid}/paper.notes/crop.png")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == png()
    assert client.get(f"/scans/{sid}/paper.seen/crop.png").status_code == 404
    saved = post(client, f"/scans/{sid}/paper.notes", {"value": "Met the team weekly."}, page="/scans")
    assert saved.status_code == 302
    wrong = post(client, f"/scans/{sid}/paper.seen", {"value": "perhaps"}, page="/scans", follow_redirects=True)
    assert "paper.seen" in wrong.get_data(as_text=True) and 'role="alert"' in wrong.get_data(as_text=True)
    assert post(client, f"/scans/{sid}/paper.seen", {"value": "no"}, page="/scans").status_code == 302
    assert "0 field(s) waiting" in client.get("/scans").get_data(as_text=True)
    with open_store(store_file) as store:
        values = {v.field_id: v.value for v in store.values([sid])[sid]}
        assert values == {"paper.notes": "Met the team weekly.", "paper.seen": False}
        assert {r.actor for r in store.scan_reviews()} == {f"web:{PROVIDER}"}


def test_a_pcn_manager_cannot_open_the_scan_review(app, store_file, as_user):
    sid = scanned(store_file)
    client = as_user(RIVERSIDE)
    assert client.get("/scans").status_code in (302, 403)
    assert client.get(f"/scans/{sid}/paper.notes/crop.png").status_code in (302, 403)


def test_the_list_comes_a_page_of_fifty_fields_at_a_time(app, store_file, as_user):
    from tests.records.test_scan_queue import submission
    with open_store(store_file) as store:
        with store.transaction():
            ids = []
            for n in range(1, 62):  # 61 copies, one handwritten field each
                sid = store.add_submission(submission(n), 1, None)
                ids.append(sid)
                store.add_scan_fields([ScanField(sid, "paper.notes", "", 2, 0.03, "written", "needs transcription",
                                                 png())])
    client = as_user(PROVIDER)
    first = client.get("/scans").get_data(as_text=True)
    assert "61 field(s) waiting (showing 1-50)" in first
    assert first.count('name="value"') == 50 and "Page 1 of 2" in first
    assert 'href="/scans?page=2" rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/scans?page=2").get_data(as_text=True)
    assert "61 field(s) waiting (showing 51-61)" in second and second.count('name="value"') == 11
    assert f"submission {ids[50]}, page 2" in second and f"submission {ids[49]}, page 2" not in second
    assert 'href="/scans?page=1" rel="prev"' in second and 'rel="next"' not in second
    assert client.get("/scans?page=9").headers["Location"].endswith("/scans?page=2")
    saved = post(client, f"/scans/{ids[55]}/paper.notes?page=2", {"value": "Seen."}, page="/scans?page=2")
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"/scans?page=2&saved={ids[55]}&field=paper.notes")
    assert "60 field(s) waiting (showing 51-60)" in client.get("/scans?page=2").get_data(as_text=True)


def test_saving_says_what_was_saved_and_which_field_waits_next(app, store_file, as_user):
    sid = scanned(store_file)
    client = as_user(PROVIDER)
    first = post(client, f"/scans/{sid}/paper.notes", {"value": "Met the team weekly."}, page="/scans",
                 follow_redirects=True)
    html = first.get_data(as_text=True)
    assert ('<p class="saved" role="status">Saved Notes (<code>paper.notes</code>) of Zoë Łukasiewicz\'s copy '
            f'scan.pdf (submission {sid}): &ldquo;Met the team weekly.&rdquo;. Next waiting: Seen of '
            f"Zoë Łukasiewicz's copy (submission {sid}), first in the list below.</p>") in html
    assert "1 field(s) waiting" in html
    assert f'id="v-{sid}-1" name="value" autofocus>' in html  # the next field's box has the focus
    last = post(client, f"/scans/{sid}/paper.seen", {"value": "no"}, page="/scans", follow_redirects=True)
    html = last.get_data(as_text=True)
    assert ('<p class="saved" role="status">Saved Seen (<code>paper.seen</code>) of Zoë Łukasiewicz\'s copy '
            f"scan.pdf (submission {sid}): no. Nothing left to review.</p>") in html
    assert "<table" not in html and 'name="value"' not in html
    # without a save, an empty queue says so too; a made-up or missing entry confirms nothing
    assert "<p>Nothing left to review.</p>" in client.get("/scans").get_data(as_text=True)
    for query in (f"saved={sid}&field=paper.nothing", "saved=999&field=paper.notes", "saved=x&field=paper.notes"):
        html = client.get(f"/scans?{query}").get_data(as_text=True)
        assert client.get(f"/scans?{query}").status_code == 200 and 'class="saved"' not in html


def test_a_blank_entry_is_confirmed_as_left_blank(app, store_file, as_user):
    sid = scanned(store_file)
    client = as_user(PROVIDER)
    html = post(client, f"/scans/{sid}/paper.notes", {"value": "  "}, page="/scans",
                follow_redirects=True).get_data(as_text=True)
    assert f"scan.pdf (submission {sid}): left blank. Next waiting: Seen" in html
