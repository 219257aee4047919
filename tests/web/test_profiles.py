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


def colour_box(page: str, key: str) -> str:
    """The editor's part for one colour: its label, box, picker, contrast and problems."""
    return page.split(f'<label for="colours-{key}">')[1].split("<label")[0].split("</fieldset>")[0]


def test_each_colour_has_a_hex_box_beside_its_picker(as_user, content_dir):
    page = as_user(PROVIDER).get(URL).get_data(True)
    primary = colour_box(page, "primary")
    assert primary.startswith("Primary (white text on it), as #RRGGBB</label>")
    assert '<input id="colours-primary" name="colours.primary" value="#00614E"' in primary  # the profile's spelling
    assert '<input id="colours-primary-picker" type="color" value="#00614e" aria-label="Primary colour picker"' in primary
    assert '<input id="colours-accent-picker" type="color"' in colour_box(page, "accent")


@pytest.mark.parametrize("typed, stored", [("005eb8", "#005eb8"), ("#005EB8", "#005EB8"), ("  005EB8 ", "#005EB8")])
def test_a_typed_hex_colour_is_saved_with_or_without_its_hash(as_user, content_dir, typed, stored):
    client = as_user(PROVIDER)
    data = form_of(client)
    data["colours.primary"] = typed
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 200 and "Saved." in response.get_data(True)
    saved = yaml.safe_load((content_dir / "pcns/riverside-pcn/profile.yaml").read_text(encoding="utf-8"))
    assert saved["colours"]["primary"] == stored
    assert load_profile("riverside-pcn", load_content(content_dir)).theme.primary.lower() == "#005eb8"


@pytest.mark.parametrize("typed, problem", [
    ("blue", "Primary colour: 'blue' is not a colour; write it as #RRGGBB, six hexadecimal digits (e.g. #005EB8)"),
    ("#05EB8", "Primary colour: '#05EB8' is not a colour; write it as #RRGGBB"),
    ("#005EB8FF", "Primary colour: '#005EB8FF' is not a colour; write it as #RRGGBB"),
    ("", "Primary colour: no colour given; write it as #RRGGBB")])
def test_anything_else_in_a_colour_box_is_refused_beside_it(as_user, content_dir, typed, problem):
    before = (content_dir / "pcns/riverside-pcn/profile.yaml").read_bytes()
    client = as_user(PROVIDER)
    data = form_of(client)
    data["colours.primary"] = typed
    response = client.post(URL, data=data, content_type="multipart/form-data")
    page = response.get_data(True)
    assert response.status_code == 422 and "1 problem(s): nothing was saved" in page
    primary = colour_box(page, "primary")
    assert problem.replace("'", "&#39;") in primary and primary.count('class="error"') == 1  # one clear message, not the checker's too
    assert f'name="colours.primary" value="{typed}"' in primary  # what was typed stays to be corrected
    assert 'aria-describedby="colours-primary-error" aria-invalid="true"' in primary
    assert 'class="error"' not in colour_box(page, "accent")
    assert (content_dir / "pcns/riverside-pcn/profile.yaml").read_bytes() == before
    preview = client.post(f"{URL}/preview", data=data, content_type="multipart/form-data").get_data(True)
    assert problem.replace("'", "&#39;") in preview and "<img" not in preview


def test_a_workshops_problem_sits_beside_its_own_box(as_user, content_dir):
    client = as_user(PROVIDER)
    data = form_of(client)
    data["workshop-2-id"] = "Workshop 3!"
    page = client.post(URL, data=data, content_type="multipart/form-data").get_data(True)
    cells = page.split('name="workshop-2-id"')[0].rsplit("<tr>", 1)[1] + page.split('name="workshop-2-id"')[1]
    row = cells.split("</tr>")[0]
    id_cell, label_cell, date_cell = row.split("</td>")[:3]
    assert "invalid id &#39;Workshop 3!&#39;" in id_cell and 'id="workshop-2-id-error"' in id_cell
    assert 'aria-describedby="workshop-2-id-error" aria-invalid="true"' in id_cell
    assert 'class="error"' not in label_cell and 'class="error"' not in date_cell


def test_a_manager_whose_pcn_has_no_profile_yet_is_told_so(as_user, content_dir):
    response = as_user(HILLTOP).get("/pcns")
    page = response.get_data(True)
    assert response.status_code == 200
    assert ("Your PCN, <code>hilltop-pcn</code>, has no profile yet, so there is nothing to edit here. A training "
            "provider\nmakes it with <code>portfolio profile new hilltop-pcn</code>") in page
    assert "riverside-pcn" not in page  # no other PCN's profile is listed
    assert as_user(RIVERSIDE).get("/pcns").headers["Location"] == URL  # one who has a profile goes straight to it
