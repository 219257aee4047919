"""Branding: organisation name, logo, colours and footer text.

In: ``templates/theme.yaml`` (the provider's default NHS-style theme), optionally
overridden by a PCN profile. Out: a ``Theme`` both writers use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from generator.content.loader import read_yaml
from generator.content.logo import clean_logo
from generator.errors import ContentError, LogoError, Problem

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Theme:
    organisation: str
    primary: str  # hex colour of headings, header rows and bands (white text on it)
    accent: str  # hex colour of rules and highlights
    footer: str
    logo: bytes | None = None  # a checked, re-encoded PNG shown in the header and on the cover
    font: str = "Liberation Sans"
    contact: str = ""  # shown on the cover, e.g. the PCN's training lead

    def with_overrides(self, **changes: Any) -> "Theme":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def css_string(value: str) -> str:
    """Quote-safe text for a CSS string; '<' is escaped so it cannot close <style>."""
    return (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            .replace("<", "\\3C "))


def template_env(folder: str) -> "jinja2.Environment":
    """A Jinja2 environment for the HTML templates in ``templates/<folder>/``: autoescaped,
    strict about undefined variables, with the ``css_string`` filter."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / folder),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["css_string"] = css_string
    return env


def load_theme(path: Path | None = None) -> Theme:
    """Load a theme file (default: the shipped NHS-style theme)."""
    path = path or TEMPLATES_DIR / "theme.yaml"
    problems: list[Problem] = []
    data = read_yaml(path, problems, path.name)
    if problems:
        raise ContentError(problems)
    allowed = {"organisation", "primary", "accent", "footer", "logo", "font", "contact"}
    if not isinstance(data, dict):
        raise ContentError([Problem(path.name, "", "expected a mapping of theme settings")])
    for key in data:
        if key not in allowed:
            problems.append(Problem(path.name, key, f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"))
    for key in ("primary", "accent"):
        if not HEX_RE.match(str(data.get(key, ""))):
            problems.append(Problem(path.name, key, "expected a colour like '#005EB8'"))
    logo = None
    if data.get("logo"):
        try:
            logo = clean_logo((path.parent / data["logo"]).read_bytes())
        except OSError as exc:
            problems.append(Problem(path.name, "logo", f"cannot read '{data['logo']}' ({exc.strerror})"))
        except LogoError as exc:
            problems.append(Problem(path.name, "logo", f"'{data['logo']}' {exc}"))
    if problems:
        raise ContentError(problems)
    return Theme(
        organisation=str(data.get("organisation", "")),
        primary=data["primary"], accent=data["accent"],
        footer=str(data.get("footer", "")),
        logo=logo,
        font=str(data.get("font", "Liberation Sans")),
        contact=str(data.get("contact", "")),
    )
