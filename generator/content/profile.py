"""PCN profiles: a PCN's names, branding, schedule and form choices.

In: ``content/pcns/<slug>/profile.yaml`` (and the logo beside it). Out: a
``Profile`` holding the ``Layout`` (what changes in the form model) and the
``Theme`` (how it looks), each falling back to the provider's defaults for
anything the profile leaves out. Every problem is reported at once, with the
file and the path in it; the logo is checked and re-encoded, colours must pass
WCAG AA contrast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.content.colours import check_theme_colours
from generator.content.layout import Layout
from generator.content.loader import (
    DEFAULT_CONTENT_DIR,
    Checker,
    Content,
    read_yaml,
)
from generator.content.logo import clean_logo
from generator.content.theme import HEX_RE, Theme, load_theme
from generator.dates import month_index
from generator.errors import ContentError, LogoError, Problem

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PROFILE_KEYS: dict[str, Any] = {
    "name": str, "short_name": str, "practices": list, "logo": str, "colours": dict,
    "contact": str, "footer": str, "schedule": dict, "optional_forms": list, "log_rows": dict,
}


@dataclass(frozen=True)
class Profile:
    slug: str
    name: str
    layout: Layout
    theme: Theme
    practices: tuple[str, ...] = ()


def profiles_dir(content_dir: Path | None = None) -> Path:
    return (content_dir or DEFAULT_CONTENT_DIR) / "pcns"


def list_profiles(content_dir: Path | None = None) -> list[str]:
    folder = profiles_dir(content_dir)
    return sorted(p.parent.name for p in folder.glob("*/profile.yaml")) if folder.is_dir() else []


def profile_names(content_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Slug -> the PCN's full and short name, as its profile.yaml gives them (none for a profile that
    cannot be read: ``load_profile`` reports why)."""
    out: dict[str, tuple[str, ...]] = {}
    for slug in list_profiles(content_dir):
        data = read_yaml(profiles_dir(content_dir) / slug / "profile.yaml", [], f"pcns/{slug}/profile.yaml")
        names = [data.get(k) for k in ("name", "short_name")] if isinstance(data, dict) else []
        out[slug] = tuple(n for n in names if isinstance(n, str) and n.strip())
    return out


def _log_blocks(content: Content) -> dict[str, int]:
    return {f"{sid}.{b['id']}": b["rows"] for sid, s in content.sections.items()
            for b in s["blocks"] if b["type"] == "log"}


def load_profile(slug: str, content: Content, base_theme: Theme | None = None) -> Profile:
    """Load and check one PCN's profile; ContentError lists every problem."""
    base_theme = base_theme or load_theme()
    if not SLUG_RE.match(slug):
        raise ContentError([Problem(slug, "", "a PCN slug is lower-case letters, digits and '-'")])
    folder = profiles_dir(content.directory) / slug
    name = f"pcns/{slug}/profile.yaml"
    problems: list[Problem] = []
    if not (folder / "profile.yaml").is_file():
        known = ", ".join(list_profiles(content.directory)) or "none yet"
        raise ContentError([Problem(name, "", f"no such profile (known: {known}); "
                                              f"create one with 'portfolio profile new {slug}'")])
    data = read_yaml(folder / "profile.yaml", problems, name)
    if data is None:  # unreadable; a key given twice is reported with the rest below
        raise ContentError(problems)
    c = Checker(name, problems)
    if not c.mapping(data, "", {"name": str}, {k: v for k, v in PROFILE_KEYS.items() if k != "name"}):
        raise ContentError(problems)

    _check_text_values(c, data, {"organisation": base_theme.organisation, "pcn": data["name"]})
    practices = tuple(data.get("practices") or ())
    for i, practice in enumerate(practices):
        if not isinstance(practice, str) or not practice.strip():
            c.add(f"practices[{i}]", "expected a practice name")

    colours = data.get("colours") or {}
    c.mapping(colours, "colours", {}, {"primary": str, "accent": str})
    for key in ("primary", "accent"):
        if key in colours and not HEX_RE.match(str(colours[key])):
            c.add(f"colours.{key}", f"'{colours[key]}' is not a colour like '#005EB8'")
    primary = colours.get("primary", base_theme.primary)
    accent = colours.get("accent", base_theme.accent)
    if not any(p.path.startswith("colours.") for p in problems):
        for which, message in check_theme_colours(primary, accent):
            c.add(f"colours.{which}", message)

    logo = base_theme.logo
    if data.get("logo"):
        logo_path = (folder / data["logo"]).resolve()
        if folder.resolve() not in logo_path.parents:
            c.add("logo", "the logo must be a file in the profile's own folder")
        elif not logo_path.is_file():
            c.add("logo", f"file '{data['logo']}' not found beside profile.yaml")
        else:
            try:
                logo = clean_logo(logo_path.read_bytes())
            except LogoError as exc:
                c.add("logo", f"'{data['logo']}' {exc}")

    optional = data.get("optional_forms") or []
    known_optional = set(content.pack.get("optional_sections") or [])
    for i, form in enumerate(optional):
        if form not in known_optional:
            c.add(f"optional_forms[{i}]", f"unknown optional form '{form}' (choose from: "
                                          f"{', '.join(sorted(known_optional)) or 'none'})")

    log_rows = data.get("log_rows") or {}
    known_logs = _log_blocks(content)
    for key, count in log_rows.items():
        if key not in known_logs:
            c.add(f"log_rows.{key}", f"unknown log '{key}' (logs are: {', '.join(sorted(known_logs))})")
        elif not isinstance(count, int) or not 1 <= count <= 100:
            c.add(f"log_rows.{key}", "expected a number of rows from 1 to 100")

    schedule = data.get("schedule") or {}
    rows = dates = None
    if c.mapping(schedule, "schedule", {}, {"start_month": str, "months": int, "workshops": list}):
        if "start_month" in schedule and month_index(schedule["start_month"]) is None:
            c.add("schedule.start_month", f"unknown month '{schedule['start_month']}' (e.g. September)")
        if "months" in schedule and not 1 <= schedule["months"] <= 24:
            c.add("schedule.months", "months must be between 1 and 24")
        if "workshops" in schedule:
            rows, dates = [], {}
            for i, ws in enumerate(schedule["workshops"]):
                path = f"schedule.workshops[{i}]"
                if c.mapping(ws, path, {"id": str, "label": str}, {"date": str}) and c.ident(ws["id"], f"{path}.id"):
                    rows.append((ws["id"], ws["label"]))
                    if ws.get("date"):
                        dates[ws["id"]] = ws["date"]
            c.unique(schedule["workshops"], "schedule.workshops")
            if not schedule["workshops"]:
                c.add("schedule.workshops", "list at least one workshop, or leave 'workshops' out")
    if problems:
        raise ContentError(problems)

    layout = Layout(
        organisation=base_theme.organisation, pcn=data.get("short_name") or data["name"], practices=practices,
        optional_sections=frozenset(optional),
        schedule_rows=tuple(rows) if rows is not None else None,
        schedule_months=schedule.get("months"), schedule_start_month=schedule.get("start_month"),
        schedule_dates=dates or {}, log_rows=dict(log_rows),
    )
    theme = base_theme.with_overrides(primary=primary, accent=accent, logo=logo,
                                      footer=data.get("footer"), contact=data.get("contact"))
    return Profile(slug, data["name"], layout, theme, practices)


def _check_text_values(c: Checker, data: dict[str, Any], variables: dict[str, str]) -> None:
    """Profile text is data: template syntax in it is checked in the sandbox and refused if unsafe."""
    from generator.content.prose import render_variables
    from generator.errors import TemplateError

    def visit(value: Any, path: str) -> None:
        if isinstance(value, str):
            if "{{" in value or "{%" in value:
                try:
                    render_variables(value, variables, "")
                except TemplateError as exc:
                    c.add(path, str(exc).removeprefix(": "))
                else:
                    c.add(path, "template syntax ({{ }} or {% %}) is not allowed in a profile; write plain text")
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                visit(item, f"{path}[{i}]")

    visit(data, "")


def check_all_profiles(content: Content) -> list[Problem]:
    """Problems in every profile under content/pcns/ (for ``portfolio check``)."""
    problems: list[Problem] = []
    base = load_theme()
    for slug in list_profiles(content.directory):
        try:
            load_profile(slug, content, base)
        except ContentError as exc:
            problems.extend(exc.problems)
    return problems


SCAFFOLD = """\
# PCN profile for {name}.
# Everything here is optional except 'name': what you leave out falls back to the
# provider's defaults. Check it with: portfolio check
# Build this PCN's pack with: portfolio build --profile {slug}

# The PCN's name as it appears on the cover and in the header.
name: {quoted}

# A shorter name for the page header (optional).
# short_name: {quoted}

# The practices in this PCN (used in the cover's practice list and in rosters).
practices:
  - Example Surgery
  - Example Medical Centre

# The PCN's logo: a PNG or JPEG file in this folder (at most 2 MB). It is checked,
# stripped of metadata and scaled to fit the header. SVG is not accepted.
# logo: logo.png

# Colours as hex. 'primary' carries white text (headers, cover band) and must reach
# a WCAG AA contrast of 4.5:1 with white; 'accent' sits behind body text.
colours:
  primary: "#005EB8"
  accent: "#41B6E6"

# Contact shown on the cover, e.g. the PCN's training lead (optional).
# contact: "Training lead: training@example.nhs.uk"

# Footer text on every page (optional; default: the pack's footer).
# footer: {footer}

# The learning and development schedule.
schedule:
  start_month: September   # the first month column
  months: 6                # how many month columns
  # Replace the provider's workshops with your own (ids stay stable once issued):
  # workshops:
  #   - {{id: ws1, label: "WS 1: Overview", date: "2026-09-10"}}
  #   - {{id: ws2, label: "WS 2: Domain 1 Personalised Care", date: "2026-10-08"}}

# Optional forms to include: mdt_review (MDT / IPC hub development review),
# pcsp (personalised care and support plan).
optional_forms: []

# Rows in the repeating logs, by log (default: the content's own count).
# log_rows:
#   action_plan.tasks: 12
#   interprofessional.entries: 8
"""


def scaffold_profile(slug: str, name: str | None = None, content_dir: Path | None = None) -> Path:
    """Create content/pcns/<slug>/profile.yaml with every key explained; never overwrites."""
    if not SLUG_RE.match(slug):
        raise ContentError([Problem(slug, "", "a PCN slug is lower-case letters, digits and '-', "
                                              "e.g. riverside-pcn")])
    base = content_dir or DEFAULT_CONTENT_DIR
    if not (base / "pack.yaml").is_file():
        raise ContentError([Problem(str(base), "", "is not a content folder (it has no pack.yaml)")])
    folder = profiles_dir(content_dir) / slug
    path = folder / "profile.yaml"
    if path.exists():
        raise ContentError([Problem(f"pcns/{slug}/profile.yaml", "", "already exists; edit it instead")])
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        name = " ".join(w.upper() if w == "pcn" else w.capitalize() for w in slug.split("-"))
        if not name.endswith("PCN"):
            name += " PCN"
    quote = lambda text: yaml.safe_dump(text, allow_unicode=True, default_style='"').strip()  # noqa: E731
    path.write_text(SCAFFOLD.format(name=name.replace("\n", " "), quoted=quote(name), slug=slug,
                                    footer=quote(f"{name} care coordinator portfolio")), encoding="utf-8")
    return path
