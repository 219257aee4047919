"""The cover-page preview a profile editor shows: a PNG of the first page with the PCN's branding."""

from __future__ import annotations

import io

from PIL import Image

from generator import api
from generator.content.profile import load_profile
from generator.issuing.preview import cover_png


def test_preview_is_a_png_of_the_requested_width_in_the_profiles_colour(content, theme):
    profile = load_profile("riverside-pcn", content, theme)
    png = cover_png(content, profile.layout, profile.theme, width=300)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert png.startswith(b"\x89PNG") and image.width == 300
    assert 420 <= image.height <= 426  # A4: 300 * 297 / 210 = 424
    primary = tuple(int(profile.theme.primary[i:i + 2], 16) for i in (1, 3, 5))
    colours = image.getcolors(maxcolors=1 << 16)
    count = {c: n for n, c in colours}
    assert count.get(primary, 0) > 300 * 424 // 20  # the cover band is drawn in the PCN's primary colour


def test_api_preview_of_the_default_pack_and_of_a_profile_differ():
    default = api.profile_preview(None, width=200)
    riverside = api.profile_preview("riverside-pcn", width=200)
    assert default.startswith(b"\x89PNG") and riverside.startswith(b"\x89PNG") and default != riverside
