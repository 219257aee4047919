"""Generated field values for round-trip tests: every kind, awkward text, every option."""

from __future__ import annotations

import random
from typing import Any

NAMES = ["Zoë Łukasiewicz", "Siobhán Ní Bhriain", "Ngozi Okonkwo-Smith", "Åsa Øberg", "Dafydd ap Gruffudd"]
LONG = ("First paragraph about coordinating care across the practice team.\n\n"
        "Second paragraph: agreed actions, follow-up in two weeks — and a note “in quotes”.\n"
        "A last line with symbols: £20, 50%, <tag> & (brackets).")


def sample_values(form, seed: int = 0, empty_every: int = 7) -> dict[str, Any]:
    """A typed value for every field (some left empty), cycling through every option."""
    rng = random.Random(seed)
    values: dict[str, Any] = {}
    option_turn = 0
    for i, fld in enumerate(form.fields):
        if empty_every and i % empty_every == 3:
            values[fld.id] = None if fld.kind not in ("checkbox",) else False
            continue
        if fld.kind in ("text", "signature"):
            values[fld.id] = NAMES[i % len(NAMES)]
        elif fld.kind == "longtext":
            values[fld.id] = LONG if i % 2 else f"Short note {i}"
        elif fld.kind == "date":
            values[fld.id] = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif fld.kind == "checkbox":
            values[fld.id] = bool(i % 2)
        elif fld.kind == "yesno":
            values[fld.id] = bool(i % 2)
        else:
            values[fld.id] = fld.options[option_turn % len(fld.options)].value
            option_turn += 1
    return values


def expected_record(form, values: dict[str, Any]) -> dict[str, Any]:
    """What reading back should give: every field, unset ones empty."""
    out = {}
    for fld in form.fields:
        value = values.get(fld.id)
        out[fld.id] = (False if value is None else value) if fld.kind == "checkbox" else value
    return out
