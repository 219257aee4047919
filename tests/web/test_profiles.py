"""The PCN profile editor: scope, Save through the profile checks, problems beside fields, logo, preview."""

from __future__ import annotations

import io
import re
import shutil

import pytest
import yaml
from PIL import Image

from generator.content.loader import load_content
from generator.content.profile import load_profile
from generator.records.connect import open_store
from tests.conftest import ROOT
from tests.web.conftest import HILLTOP, PROVIDER, RIVERSIDE, csrf

URL = "/pcns/riverside-pcn"


@pytest.fixture
def content_dir(tmp_path, app):
    folder = tmp_path / "content"
    shutil.copytree(ROOT / "content", folder)
    app.config["CONTENT_DIR"] = folder
    return folder


def form_of(client, url: str = URL) -> dict:
    """The editor's fields as the browser would send them unchanged."""
    import re
    page = client.get(url).get_data(True)
    data: dict = {"csrf_token": csrf(client.get(url))}
    for name, value in re.findall(r'<input (?:id="[^"]*" )?name="([^"]+)"(?: type="(?:color|date)")? value="([^"]*)"', page):
        data[name] = value.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"')
    data["practices"] = page.split('name="practices" rows="4">')[1].split("</textarea>")[0].replace("&amp;", "&")
    data["schedule.start_month"] = "September"
    data["workshop_rows"] = page.split('name="workshop_rows" value="')[1].split('"')[0]
    data["optional_forms"] = ["mdt_review"]
    return data


def png(colour: str, size=(120, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_the_editor_is_scoped_to_the_managers_own_pcn(as_user, content_dir):
    assert as_user(PROVIDER).get(URL).status_code == 200
    page = as_user(RIVERSIDE).get(URL).get_data(True)
    for label in ("Name", "Practices (one a line)", "Logo (PNG or JPEG, up to 2 MB)", "Primary (white text on it)",
                  "First month", "Workshops (leave a row empty to drop it)", "Optional forms"):
        assert label in page
    assert 'value="Riverside Primary Care Network"' in page and "WS 1: Overview and induction" in page
    assert "contrast with white 7.45:1" in page
    assert as_user(HILLTOP).get(URL).status_code == 404
    assert as_user(HILLTOP).get("/pcns/no-such-pcn").status_code == 404
    assert as_user(RIVERSIDE).get("/pcns").headers["Location"] == URL
    assert ">riverside-pcn</a>" in as_user(PROVIDER).get("/pcns").get_data(True)


def test_save_writes_the_profile_after_the_checks(as_user, content_dir, store_file):
    client = as_user(RIVERSIDE)
    data = form_of(client)
    data["name"] = "Riverside and Weir PCN"
    data["practices"] = "Riverside Surgery\nWeir Health Centre\n"
    data["workshop-8-id"], data["workshop-8-label"], data["workshop-8-date"] = "ws9", "WS 9: Celebration", "2027-03-04"
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 200 and "Saved." in response.get_data(True)
    saved = yaml.safe_load((content_dir / "pcns/riverside-pcn/profile.yaml").read_text())
    assert saved["name"] == "Riverside and Weir PCN"
    assert saved["practices"] == ["Riverside Surgery", "Weir Health Centre"]
    assert saved["schedule"]["workshops"][-1] == {"id": "ws9", "label": "WS 9: Celebration", "date": "2027-03-04"}
    assert saved["log_rows"] == {"action_plan.tasks": 8}  # keys the editor does not show are kept
    profile = load_profile("riverside-pcn", load_content(content_dir))
    assert profile.practices == ("Riverside Surgery", "Weir Health Centre")
    with open_store(store_file) as store:
        entry = store.audit()[-1]
    assert (entry.action, entry.actor) == ("profile saved", f"web:{RIVERSIDE}")
    assert entry.detail == "riverside-pcn: name, practices, schedule"


def test_save_keeps_the_profiles_comments_and_spelling(as_user, content_dir):
    path = content_dir / "pcns/riverside-pcn/profile.yaml"
    text = path.read_text(encoding="utf-8").replace("colours:\n", "colours:   # agreed with the comms team\n")
    text = text.replace("schedule:\n", "# Dates from the 2026 training plan\nschedule:\n")
    path.write_text(text, encoding="utf-8")
    client = as_user(RIVERSIDE)
    data = form_of(client)
    data["name"] = "Riverside and Weir PCN"
    data["workshop-1-date"] = "2026-09-25"
    data["schedule.months"] = "6"  # as the page's select sends it
    assert "Saved." in client.post(URL, data=data, content_type="multipart/form-data").get_data(True)
    saved = path.read_text(encoding="utf-8")
    assert "colours:   # agreed with the comms team\n" in saved and "# Dates from the 2026 training plan\n" in saved
    assert saved.startswith("# Example PCN profile (a fictional PCN).")
    assert "name: Riverside and Weir PCN\n" in saved and '  primary: "#00614E"\n' in saved  # unchanged: as written
    assert '    - {id: ws2, label: "WS 2: Domain 1 Personalised Care", date: "2026-09-25"}\n' in saved
    assert yaml.safe_load(saved)["schedule"]["workshops"][1]["date"] == "2026-09-25"
    # only the two changed lines differ
    changed = [(a, b) for a, b in zip(text.splitlines(), saved.splitlines()) if a != b]
    assert len(changed) == 2 and len(text.splitlines()) == len(saved.splitlines())


def test_problems_are_shown_beside_their_fields_and_nothing_is_saved(as_user, content_dir):
    before = (content_dir / "pcns/riverside-pcn/profile.yaml").read_bytes()
    client = as_user(PROVIDER)
    data = form_of(client)
    data["colours.primary"] = "#ffee00"  # white text on yellow
    data["workshop-1-id"] = "ws1"  # a duplicate id
    data["schedule.months"] = "30"
    response = client.post(URL, data=data, content_type="multipart/form-data")
    page = response.get_data(True)
    assert response.status_code == 422 and "nothing was saved" in page
    primary = page.split('id="colours-primary"')[1].split("</fieldset>")[0]
    assert "primary colour #ffee00 with white text (#FFFFFF) has contrast 1.20:1" in primary
    assert 'aria-invalid="true"' in page.split('id="colours-primary"')[1].split(">")[0]
    months = page.split('id="schedule-months"')[1].split("<table")[0]
    assert "months must be between 1 and 24" in months
    assert "duplicate" in page.split('name="workshop-1-id"')[1].split("</tr>")[0]
    assert (content_dir / "pcns/riverside-pcn/profile.yaml").read_bytes() == before


def test_a_logo_is_checked_and_re_encoded(as_user, content_dir):
    client = as_user(PROVIDER)
    data = form_of(client)
    data["logo"] = (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "logo.svg")
    page = client.post(URL, data=data, content_type="multipart/form-data").get_data(True)
    assert "the logo must be a PNG or JPEG image" in page.split('id="logo"')[1].split("<fieldset>")[0]
    upload = png("#c0ffee")
    data = form_of(client)
    data["logo"] = (io.BytesIO(upload), "../../../etc/logo.png")
    assert "Saved." in client.post(URL, data=data, content_type="multipart/form-data").get_data(True)
    stored = (content_dir / "pcns/riverside-pcn/logo.png").read_bytes()
    assert stored.startswith(b"\x89PNG") and stored != upload
    assert Image.open(io.BytesIO(stored)).getpixel((5, 5))[:3] == (0xc0, 0xff, 0xee)


def test_the_preview_shows_the_cover_and_schedule_as_they_would_be(as_user, content_dir):
    client = as_user(PROVIDER)
    data = form_of(client)
    data["logo"] = (io.BytesIO(png("#ff0000")), "red.png")
    page = client.post(f"{URL}/preview", data=data, content_type="multipart/form-data").get_data(True)
    assert page.count('<img src="data:image/png;base64,') == 2
    assert 'alt="Preview of the cover"' in page and 'alt="Preview of the schedule page"' in page
    data = form_of(client)
    data["colours.primary"] = "#ffee00"
    page = client.post(f"{URL}/preview", data=data, content_type="multipart/form-data").get_data(True)
    assert "The preview waits until these are fixed" in page and "<img" not in page


def test_the_editor_needs_csrf(as_user, content_dir):
    client = as_user(PROVIDER)
    data = form_of(client)
    del data["csrf_token"]
    assert client.post(URL, data=data, content_type="multipart/form-data").status_code == 400
