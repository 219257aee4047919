"""Branding: organisation name, logo, colours and footer text.

In: ``templates/theme.yaml`` (the provider's default NHS-style theme), optionally
overridden by a PCN profile. Out: a ``Theme`` both writers use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .content import read_yaml
from .errors import ContentError, Problem

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
HEX_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class Theme:
    organisation: str
    primary: str  # hex colour of headings, header rows and bands (white text on it)
    accent: str  # hex colour of rules and highlights
    footer: str
    logo: Path | None = None  # PNG or JPEG shown in the header and on the cover
    font: str = "Liberation Sans"

    def with_overrides(self, **changes: Any) -> "Theme":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_theme(path: Path | None = None) -> Theme:
    """Load a theme file (default: the shipped NHS-style theme)."""
    path = path or TEMPLATES_DIR / "theme.yaml"
    problems: list[Problem] = []
    data = read_yaml(path, problems, path.name)
    if problems:
        raise ContentError(problems)
    allowed = {"organisation", "primary", "accent", "footer", "logo", "font"}
    if not isinstance(data, dict):
        raise ContentError([Problem(path.name, "", "expected a mapping of theme settings")])
    for key in data:
        if key not in allowed:
            problems.append(Problem(path.name, key, f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"))
    for key in ("primary", "accent"):
        if not HEX_RE.match(str(data.get(key, ""))):
            problems.append(Problem(path.name, key, "expected a colour like '#005EB8'"))
    if problems:
        raise ContentError(problems)
    logo = data.get("logo")
    return Theme(
        organisation=str(data.get("organisation", "")),
        primary=data["primary"], accent=data["accent"],
        footer=str(data.get("footer", "")),
        logo=(path.parent / logo) if logo else None,
        font=str(data.get("font", "Liberation Sans")),
    )
