"""The PCN profile editor: name, practices, logo, colours, schedule, optional forms; a live
preview of the cover and the schedule page; Save through the checks of ``portfolio check``.

In: the form a provider (any PCN) or a PCN manager (their own) sends. Out: the
profile's ``profile.yaml`` (and ``logo.png``) in the content folder, written
only when ``load_profile`` finds no problem; otherwise every problem is shown
beside its field. The candidate profile is checked in a scratch copy of the
folder, so nothing half-checked is ever written.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from generator.dates import MONTHS
from generator.web.auth import require_scope

bp = Blueprint("profiles", __name__)

#: Blank workshop rows offered below the profile's own.
SPARE_ROWS = 3
MAX_LOGO_BYTES = 2_000_000
#: Preview width (pixels) of the cover and schedule images (an A4 page at about 50 dots per inch).
PREVIEW_WIDTH = 420
#: The pages the preview shows: the cover and the schedule.
PREVIEW_SECTIONS = ("cover", "schedule")


def _content():
    from generator.content.loader import load_content
    return load_content(current_app.config.get("CONTENT_DIR"))


def _folder(content, slug: str) -> Path:
    from generator.content.profile import list_profiles, profiles_dir
    if slug not in list_profiles(content.directory):
        abort(404)
    require_scope(slug)
    return profiles_dir(content.directory) / slug


def _read(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "profile.yaml").read_text(encoding="utf-8")) or {}


def _from_form(form, existing: dict[str, Any]) -> dict[str, Any]:
    """The profile as the editor's fields give it (keys the editor does not show are kept)."""
    data = dict(existing)
    for key in ("name", "short_name", "contact", "footer"):
        value = form.get(key, "").strip()
        if value:
            data[key] = value
        else:
            data.pop(key, None)
    data["practices"] = [line.strip() for line in form.get("practices", "").splitlines() if line.strip()]
    before = existing.get("colours") or {}
    colours = {k: hex_colour(form.get(f"colours.{k}", ""))[0] for k in ("primary", "accent")}
    # a colour picker answers in lower case: the same colour keeps the profile's own spelling
    data["colours"] = {k: before[k] if str(before.get(k, "")).lower() == v.lower() else v for k, v in colours.items()}
    schedule: dict[str, Any] = {}
    if form.get("schedule.start_month"):
        schedule["start_month"] = form["schedule.start_month"]
    months = form.get("schedule.months", "").strip()
    if months:
        schedule["months"] = int(months) if months.isdigit() else months
    workshops = []
    for n in range(int(form.get("workshop_rows", "0") or 0)):
        row = {k: form.get(f"workshop-{n}-{k}", "").strip() for k in ("id", "label", "date")}
        if any(row.values()):
            workshops.append({k: v for k, v in row.items() if v or k != "date"})
    if workshops:
        schedule["workshops"] = workshops
    if schedule:
        data["schedule"] = schedule
    else:
        data.pop("schedule", None)
    data["optional_forms"] = form.getlist("optional_forms")
    return data


#: The colour boxes: the form's field, and how a problem names it.
COLOUR_FIELDS = {"primary": "Primary colour", "accent": "Accent colour"}
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def hex_colour(typed: str) -> tuple[str, bool]:
    """A colour as typed in its box: ``#005EB8`` or ``005eb8`` (the ``#`` may be left out) is the colour
    ``#005EB8``/``#005eb8`` (spelled as typed); anything else is returned as typed, with False."""
    typed = typed.strip()
    match = _HEX.fullmatch(typed)
    return ("#" + match.group(1), True) if match else (typed, False)


def colour_problems(form) -> dict[str, list[str]]:
    """A one-line problem for each colour box that does not hold a colour written #RRGGBB."""
    out: dict[str, list[str]] = {}
    for key, name in COLOUR_FIELDS.items():
        typed = form.get(f"colours.{key}", "")
        if not hex_colour(typed)[1]:
            what = f"'{typed.strip()[:40]}' is not a colour" if typed.strip() else "no colour given"
            out[f"colours.{key}"] = [f"{name}: {what}; write it as #RRGGBB, six hexadecimal digits "
                                     "(e.g. #005EB8)"]
    return out


def _stage(content, slug: str, folder: Path, data: dict[str, Any], logo: bytes | None, scratch: Path):
    """A scratch content folder holding the candidate profile; returns (content, problems)."""
    from generator.content.profile import load_profile
    from generator.errors import ContentError
    staged = scratch / "pcns" / slug
    staged.mkdir(parents=True)
    if (folder / "logo.png").is_file():
        shutil.copyfile(folder / "logo.png", staged / "logo.png")
    if data.get("logo") and data["logo"] != "logo.png" and re.fullmatch(r"[\w.-]+", data["logo"]) \
            and (folder / data["logo"]).is_file():
        shutil.copyfile(folder / data["logo"], staged / data["logo"])
    if logo is not None:
        (staged / "logo.png").write_bytes(logo)
        data["logo"] = "logo.png"
    original = (folder / "profile.yaml").read_text(encoding="utf-8")
    (staged / "profile.yaml").write_text(profile_text(original, data), encoding="utf-8")
    candidate = dataclasses.replace(content, directory=scratch)
    try:
        return load_profile(slug, candidate), []
    except ContentError as exc:
        return None, list(exc.problems)


def profile_text(original: str, data: dict[str, Any]) -> str:
    """``original`` (a profile.yaml's text) changed to hold ``data``: only the keys whose values
    changed are rewritten, so its comments, key order, quoting and flow style stay (ruamel.yaml's
    round trip); what it says is exactly ``data``."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long label onto two lines
    rt.indent(mapping=2, sequence=4, offset=2)  # lists indented under their key, as the shipped profiles are
    document = rt.load(original)
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    _update(document, data)
    out = io.StringIO()
    rt.dump(document, out)
    return out.getvalue()


def _changed(old: Any, value: Any) -> bool:
    return old != value or isinstance(value, (bool, int, float)) and type(old) is not type(value)


def _update(node: Any, data: dict[str, Any]) -> None:
    """Make the round-trip mapping ``node`` hold ``data``, touching only what differs."""
    for key in [k for k in node if k not in data]:
        del node[key]
    for key, value in data.items():
        old = node.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _update(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            _update_list(old, value)
        elif key not in node or _changed(old, value):
            node[key] = value  # unchanged values (a quoted string among them) keep their own spelling


def _update_list(node: list[Any], data: list[Any]) -> None:
    del node[len(data):]
    for index, value in enumerate(data):
        if index >= len(node):
            node.append(value)
        elif isinstance(node[index], dict) and isinstance(value, dict):
            _update(node[index], value)
        elif _changed(node[index], value):
            node[index] = value


def _logo_upload() -> tuple[bytes | None, str]:
    """The uploaded logo, checked and re-encoded as the CLI does (PNG or JPEG only), or the problem."""
    from generator.content.logo import clean_logo, sniff_image
    from generator.errors import LogoError
    upload = request.files.get("logo")
    if upload is None or not upload.filename:
        return None, ""
    data = upload.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        return None, f"the logo is larger than {MAX_LOGO_BYTES // 1_000_000} MB"
    if sniff_image(data) is None:
        return None, "the logo must be a PNG or JPEG image"
    try:
        return clean_logo(data), ""
    except LogoError as exc:
        return None, f"the logo {exc}"


def _by_field(problems) -> dict[str, list[str]]:
    """Problems keyed by the editor field they belong to (the path in profile.yaml)."""
    out: dict[str, list[str]] = {}
    for p in problems:
        path = p.path or "profile"
        match = re.match(r"schedule\.workshops\[(\d+)\](?:\.(id|label|date))?", path)
        # a workshop's problem sits beside its own box (a row's own problem beside its id)
        key = f"workshop-{match.group(1)}-{match.group(2) or 'id'}" if match else re.sub(r"\[\d+\]$", "", path)
        out.setdefault(key, []).append(p.message)
    return out


def _editor(slug: str, data: dict[str, Any], problems: dict[str, list[str]], saved: bool = False, status: int = 200):
    content = _content()
    schedule = data.get("schedule") or {}
    workshops = list(schedule.get("workshops") or []) + [{}] * SPARE_ROWS
    from generator.content.colours import BODY_TEXT, WHITE, contrast
    colours = data.get("colours") or {}
    ratios = {}
    for key, other in (("primary", WHITE), ("accent", BODY_TEXT)):
        try:
            ratios[key] = f"{contrast(colours.get(key, ''), other):.2f}:1"
        except (ValueError, TypeError, IndexError):
            ratios[key] = "not a colour"
    # each picker shows its box's colour when the box holds one (a picker can hold nothing else)
    picker = {key: (hex_colour(str(colours.get(key, default)))[0].lower() if hex_colour(str(colours.get(key, default)))[1]
                    else default.lower()) for key, default in (("primary", "#005EB8"), ("accent", "#41B6E6"))}
    return render_template("profile.html", slug=slug, data=data, workshops=workshops, months=MONTHS, picker=picker,
                           optional=sorted(content.pack.get("optional_sections") or []), problems=problems,
                           saved=saved, ratios=ratios, white=WHITE, body=BODY_TEXT), status


@bp.route("/pcns")
def profiles():
    from generator.content.profile import list_profiles
    slugs = list_profiles(_content().directory)
    if g.user.role == "pcn":
        if g.user.pcn in slugs:
            return redirect(url_for("profiles.edit", slug=g.user.pcn))
        return render_template("profiles.html", slugs=[], missing=g.user.pcn)  # not a bare "Not found"
    return render_template("profiles.html", slugs=slugs, missing="")


@bp.route("/pcns/<slug>", methods=["GET", "POST"])
def edit(slug: str):
    content = _content()
    folder = _folder(content, slug)
    existing = _read(folder)
    if request.method == "GET":
        return _editor(slug, existing, {})
    data = _from_form(request.form, existing)
    logo, logo_problem = _logo_upload()
    with tempfile.TemporaryDirectory(prefix="profile-") as scratch:
        profile, problems = _stage(content, slug, folder, dict(data), logo, Path(scratch))
        by_field = {**_by_field(problems), **colour_problems(request.form)}  # a colour's own problem is clearer
        if logo_problem:
            by_field.setdefault("logo", []).append(logo_problem)
        if by_field:
            return _editor(slug, data, by_field, status=422)
        staged = (Path(scratch) / "pcns" / slug / "profile.yaml").read_bytes()
    changed = sorted(k for k in set(existing) | set(data) if existing.get(k) != data.get(k))
    if logo is not None:
        changed.append("logo (uploaded)")
    from generator import api
    api.profile_save(folder, staged, g.store, logo=logo, changed=changed)
    return _editor(slug, _read(folder), {}, saved=True)


def preview_images(slug: str, profiles_dir: Path) -> list[str]:
    """The cover and the schedule page of the profile in ``profiles_dir`` (``pcns/SLUG/``) as PNG data URIs,
    drawn by ``api.profile_pages`` (the two sections laid out alone, rasterised in process)."""
    from generator import api
    pages = api.profile_pages(slug, current_app.config.get("CONTENT_DIR"), sections=PREVIEW_SECTIONS,
                              width=PREVIEW_WIDTH, profiles_dir=profiles_dir)
    return ["data:image/png;base64," + base64.b64encode(png).decode("ascii") for png in pages]


@bp.route("/pcns/<slug>/preview", methods=["POST"])
def preview(slug: str):
    """The preview of the profile as the editor has it now (not saved)."""
    content = _content()
    folder = _folder(content, slug)
    data = _from_form(request.form, _read(folder))
    logo, logo_problem = _logo_upload()
    with tempfile.TemporaryDirectory(prefix="profile-") as scratch:
        profile, problems = _stage(content, slug, folder, data, logo, Path(scratch))
        images = preview_images(slug, Path(scratch)) if profile else []
    colours = colour_problems(request.form)
    messages = ([m for ms in colours.values() for m in ms]
                + [str(p) for p in problems if p.path not in colours] + ([logo_problem] if logo_problem else []))
    return render_template("_preview.html", images=images, problems=messages)
