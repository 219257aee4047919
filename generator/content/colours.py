"""Colour contrast checks (WCAG 2.1 AA) for theme colours.

In: hex colours. Out: contrast ratios, and problems for pairs below 4.5:1. The
primary colour carries white text (table headers, the cover band) and is used
for headings on white; the accent sits behind body text in notes.
"""

from __future__ import annotations

WHITE = "#FFFFFF"
BODY_TEXT = "#212B32"
AA_TEXT = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def check_theme_colours(primary: str, accent: str) -> list[tuple[str, str]]:
    """(which colour, message) for each failing pair (empty when all pass)."""
    problems = []
    for name, colour, other, other_name in (("primary", primary, WHITE, "white text"),
                                             ("accent", accent, BODY_TEXT, "body text")):
        ratio = contrast(colour, other)
        if ratio < AA_TEXT:
            problems.append((name, f"{name} colour {colour} with {other_name} ({other}) has contrast "
                                   f"{ratio:.2f}:1, below the WCAG AA minimum of {AA_TEXT}:1 "
                                   f"(choose a {'darker' if name == 'primary' else 'lighter'} colour)"))
    return problems
