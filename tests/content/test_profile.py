"""PCN profiles: fall-back to defaults, schedule customisation, logo and colour checks."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from pypdf import PdfReader

from generator.cli.common import main
from generator.content.colours import contrast
from generator.content.loader import DEFAULT_CONTENT_DIR, load_content
from generator.content.logo import LogoError, clean_logo
from generator.content.profile import load_profile, scaffold_profile
from generator.content.theme import load_theme
from generator.errors import ContentError
from generator.model.form import build_form
from generator.model.manifest import make_manifest


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, target)
    return target


def write_profile(content_dir: Path, slug: str, data: dict, logo: bytes | None = None, logo_name="logo.png") -> None:
    folder = content_dir / "pcns" / slug
    folder.mkdir(parents=True, exist_ok=True)
    if logo is not None:
        (folder / logo_name).write_bytes(logo)
        data = {**data, "logo": logo_name}
    (folder / "profile.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def png(width=300, height=100, colour="#00614E", noise=False) -> bytes:
    out = io.BytesIO()
    image = Image.effect_noise((width, height), 64).convert("RGB") if noise else Image.new("RGB", (width, height), colour)
    image.save(out, format="PNG")
    return out.getvalue()


def problems(content_dir: Path, slug: str) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_profile(slug, load_content(content_dir))
    return [str(p) for p in info.value.problems]


def test_minimal_profile_falls_back_to_the_providers_defaults(content_dir):
    write_profile(content_dir, "lakeside-pcn", {"name": "Lakeside PCN"})
    profile = load_profile("lakeside-pcn", load_content(content_dir))
    default = load_theme()
    assert profile.theme.primary == default.primary and profile.theme.accent == default.accent
    assert profile.theme.footer == default.footer and profile.theme.logo is None
    assert profile.layout.pcn == "Lakeside PCN"
    assert profile.layout.schedule_rows is None and profile.layout.optional_sections == frozenset()
    default_ids = [f.id for f in build_form(load_content(content_dir)).fields]
    assert [f.id for f in build_form(load_content(content_dir), profile.layout).fields] == default_ids


def test_shipped_example_profile_is_valid(content):
    profile = load_profile("riverside-pcn", content)
    assert profile.name == "Riverside Primary Care Network"
    assert profile.theme.logo.startswith(b"\x89PNG")
    assert "mdt_review" in profile.layout.optional_sections


def test_schedule_customisation_shows_in_both_formats(content_dir, theme):
    write_profile(content_dir, "lakeside-pcn", {"name": "Lakeside PCN", "schedule": {
        "start_month": "April", "months": 3,
        "workshops": [{"id": "intro", "label": "Welcome session", "date": "2027-04-07"},
                      {"id": "wrap", "label": "Closing review"}]}})
    content = load_content(content_dir)
    profile = load_profile("lakeside-pcn", content)
    form = build_form(content, profile.layout)
    schedule_ids = [f.id for f in form.fields if f.id.startswith("schedule.")]
    assert schedule_ids == [f"schedule.plan.{r}.m{i}" for r in ("intro", "wrap") for i in (1, 2, 3)]

    from generator.formats.docx.write import write_docx
    from generator.formats.pdf.write import write_pdf
    manifest = make_manifest(form)
    reader = PdfReader(io.BytesIO(write_pdf(form, profile.theme, manifest, pcn=profile.layout.pcn)))
    page_text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Welcome session" in page_text and "07/04/2027" in page_text
    assert "Apr May Jun" in page_text and "WS 1: Overview" not in page_text
    assert set(reader.get_fields()) >= set(schedule_ids)

    import zipfile
    docx = write_docx(form, profile.theme, manifest, pcn=profile.layout.pcn)
    xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode()
    assert "Welcome session" in xml and "07/04/2027" in xml and "WS 1: Overview" not in xml
    assert all(f'w:val="{fid}"' in xml for fid in schedule_ids)


def test_optional_forms_and_log_rows(content_dir):
    write_profile(content_dir, "lakeside-pcn", {"name": "Lakeside PCN", "optional_forms": ["pcsp"],
                                                "log_rows": {"action_plan.tasks": 3}})
    content = load_content(content_dir)
    form = build_form(content, load_profile("lakeside-pcn", content).layout)
    assert [s.id for s in form.sections][-2:] == ["pcsp", "acknowledgements"]
    assert len([f for f in form.fields if f.id.startswith("action_plan.tasks.")]) == 3 * 4


def test_every_profile_problem_is_reported_with_its_path(content_dir):
    write_profile(content_dir, "bad-pcn", {"name": "Bad PCN", "colour": "red",
                                           "optional_forms": ["newsletter"],
                                           "log_rows": {"action_plan.notes": 5},
                                           "schedule": {"start_month": "Smarch"}})
    found = problems(content_dir, "bad-pcn")
    assert "pcns/bad-pcn/profile.yaml: colour: unknown key 'colour' (allowed here: " in found[0]
    assert len(found) == 4  # an unknown key does not hide the other problems (one run shows them all)
    write_profile(content_dir, "bad-pcn", {"name": "Bad PCN", "optional_forms": ["newsletter"],
                                           "log_rows": {"action_plan.notes": 5},
                                           "schedule": {"start_month": "Smarch"}})
    found = problems(content_dir, "bad-pcn")
    assert found == [
        "pcns/bad-pcn/profile.yaml: optional_forms[0]: unknown optional form 'newsletter' (choose from: mdt_review, pcsp)",
        "pcns/bad-pcn/profile.yaml: log_rows.action_plan.notes: unknown log 'action_plan.notes' (logs are: "
        "action_plan.tasks, feedback_key_people.entries, feedback_staff.entries, interprofessional.entries, "
        "interprofessional.more_entries)",
        "pcns/bad-pcn/profile.yaml: schedule.start_month: unknown month 'Smarch' (e.g. September)",
    ]


def test_unknown_profile_names_the_known_ones(content):
    with pytest.raises(ContentError, match=r"no such profile \(known: riverside-pcn\); create one with "
                                           r"'portfolio profile new hillside-pcn'"):
        load_profile("hillside-pcn", content)


# ---------------------------------------------------------------- colours

def test_colour_pair_failing_contrast_names_both_colours_and_ratio(content_dir):
    write_profile(content_dir, "pale-pcn", {"name": "Pale PCN", "colours": {"primary": "#88CCEE", "accent": "#003087"}})
    found = problems(content_dir, "pale-pcn")
    assert found == [
        "pcns/pale-pcn/profile.yaml: colours.primary: primary colour #88CCEE with white text (#FFFFFF) has contrast "
        "1.76:1, below the WCAG AA minimum of 4.5:1 (choose a darker colour)",
        "pcns/pale-pcn/profile.yaml: colours.accent: accent colour #003087 with body text (#212B32) has contrast "
        "1.22:1, below the WCAG AA minimum of 4.5:1 (choose a lighter colour)",
    ]


def test_contrast_matches_wcag_reference_values():
    assert round(contrast("#FFFFFF", "#000000"), 2) == 21.0
    assert round(contrast("#005EB8", "#FFFFFF"), 2) == 6.38  # NHS Blue on white
    assert round(contrast("#767676", "#FFFFFF"), 2) == 4.54  # the lightest grey that passes AA


def test_a_malformed_colour_is_reported(content_dir):
    write_profile(content_dir, "odd-pcn", {"name": "Odd PCN", "colours": {"primary": "blue"}})
    assert problems(content_dir, "odd-pcn") == [
        "pcns/odd-pcn/profile.yaml: colours.primary: 'blue' is not a colour like '#005EB8'"]


# ---------------------------------------------------------------- logos

def test_logo_is_reencoded_without_metadata_and_scaled():
    source = io.BytesIO()
    image = Image.new("RGB", (3000, 1000), "#00614E")
    exif = Image.Exif()
    exif[0x010E] = "Taken at 12 Example Road"  # ImageDescription
    image.save(source, format="JPEG", exif=exif.tobytes())
    cleaned = clean_logo(source.getvalue())
    with Image.open(io.BytesIO(cleaned)) as result:
        assert result.format == "PNG"
        assert result.size == (1200, 400)
        assert not result.getexif() and "exif" not in result.info
    assert b"Example Road" not in cleaned


def test_svg_logo_is_refused(content_dir):
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    write_profile(content_dir, "svg-pcn", {"name": "SVG PCN"}, logo=svg, logo_name="logo.svg")
    assert problems(content_dir, "svg-pcn") == [
        "pcns/svg-pcn/profile.yaml: logo: 'logo.svg' is an SVG; use a PNG or JPEG file"]


def test_truncated_png_is_refused(content_dir):
    data = png(600, 400, noise=True)
    write_profile(content_dir, "cut-pcn", {"name": "Cut PCN"}, logo=data[: len(data) // 2])
    [message] = problems(content_dir, "cut-pcn")
    assert message == "pcns/cut-pcn/profile.yaml: logo: 'logo.png' cannot be read as PNG (the file is damaged or truncated)"


def _huge_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height pixels, with a tiny (bogus) body: a pixel bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_pixel_bomb_png_is_refused_before_decoding(content_dir):
    write_profile(content_dir, "big-pcn", {"name": "Big PCN"}, logo=_huge_png(20_000, 20_000))
    assert problems(content_dir, "big-pcn") == [
        "pcns/big-pcn/profile.yaml: logo: 'logo.png' is 20000 x 20000 pixels; the limit is 25 megapixels "
        "(scale it down)"]


def test_logo_file_name_that_lies_about_its_type():
    with pytest.raises(LogoError, match="is not a PNG or JPEG image; use a PNG or JPEG file"):
        clean_logo(b"GIF89a" + b"\x00" * 100)


def test_logo_outside_the_profile_folder_is_refused(content_dir):
    write_profile(content_dir, "escape-pcn", {"name": "Escape PCN", "logo": "../riverside-pcn/logo.png"})
    assert problems(content_dir, "escape-pcn") == [
        "pcns/escape-pcn/profile.yaml: logo: the logo must be a file in the profile's own folder"]


# ---------------------------------------------------------------- commands

def test_profile_new_scaffolds_a_valid_commented_profile(content_dir):
    result = CliRunner().invoke(main, ["profile", "new", "hillside-pcn", "--content", str(content_dir)])
    assert result.exit_code == 0, result.output
    text = (content_dir / "pcns" / "hillside-pcn" / "profile.yaml").read_text()
    assert text.startswith("# PCN profile for Hillside PCN.")
    for key in ("name:", "practices:", "logo:", "colours:", "schedule:", "optional_forms:", "log_rows:"):
        assert key in text
    assert load_profile("hillside-pcn", load_content(content_dir)).name == "Hillside PCN"
    again = CliRunner().invoke(main, ["profile", "new", "hillside-pcn", "--content", str(content_dir)])
    assert again.exit_code == 1 and "already exists; edit it instead" in again.output


def test_check_validates_profiles_too(content_dir):
    scaffold_profile("hillside-pcn", content_dir=content_dir)
    ok = CliRunner().invoke(main, ["check", "--content", str(content_dir)])
    assert ok.exit_code == 0 and "profiles OK: 2 (hillside-pcn, riverside-pcn)" in ok.output
    path = content_dir / "pcns" / "hillside-pcn" / "profile.yaml"
    path.write_text(path.read_text().replace('"#005EB8"', '"#FFFF00"'))
    bad = CliRunner().invoke(main, ["check", "--content", str(content_dir)])
    assert bad.exit_code == 1
    assert "pcns/hillside-pcn/profile.yaml: colours.primary: primary colour #FFFF00" in bad.output


def test_build_with_profile_writes_a_branded_pack(tmp_path):
    result = CliRunner().invoke(main, ["build", "--profile", "riverside-pcn", "--format", "pdf",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    # the profile switches the MDT review on, and the file name says so
    pdf = tmp_path / "riverside-pcn" / "care-coordination-portfolio+mdt_review.pdf"
    text = PdfReader(pdf).pages[0].extract_text()
    assert "Riverside PCN" in text and "Issued by Person Centred Academy" in text
