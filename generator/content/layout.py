"""What a PCN profile may change in the pack (everything else is content)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Layout:
    """What a PCN profile may change in the model (everything else is content).

    ``None`` for a setting means: use the content's own value.
    """

    organisation: str = "Person Centred Academy"
    pcn: str = ""
    practices: tuple[str, ...] = ()
    optional_sections: frozenset[str] = frozenset()
    schedule_rows: tuple[tuple[str, str], ...] | None = None  # (id, label)
    schedule_months: int | None = None
    schedule_start_month: str | None = None
    schedule_dates: dict[str, str] = field(default_factory=dict)  # row id -> date text
    log_rows: dict[str, int] = field(default_factory=dict)  # "<section>.<block>" -> rows
    only_sections: tuple[str, ...] | None = None  # a part of the pack issued on its own

