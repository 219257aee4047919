"""Pack roles: what the fields and parts of a pack are for, as ``roles`` in pack.yaml says.

In: the ``roles`` mapping of pack.yaml (checked here) and, to check it against
the pack, the field ids and section ids of the built form. Out: a ``Roles``:
the cover fields by role (filled in from the roster when a cohort is issued and
read back to tell learners apart), the part issued on its own (the patient
feedback form), and the progress rules: field id patterns saying which fields
are competency areas, sign-offs, worksheet entries, case studies, signatures
and feedback ratings. ``Roles.progress_of(field id)`` names the rule a field
falls under; the manifest writes it beside the field's definition, so the
records store knows the pack's structure from the copies alone.

A pattern is a field id with ``{group}`` (one id segment, or the start of one:
``competencies.{group}_signoff.achieved``) and optionally ``{item}`` (the rest
of the id: one or more segments). Nothing else is special, so a pattern never
costs more than a linear match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from generator.errors import Problem

#: The cover roles issuing fills in from a roster row, in roster column order.
COVER_ROLES = ("name", "practice", "pcn", "supervisor", "facilitator", "start_date")

#: The progress rules, first match wins, with what each means (shown by ``portfolio check``).
PROGRESS_RULES: dict[str, str] = {
    "signoff": "the fields of a domain's assessor signature ({group}: the domain); signed when all are filled",
    "signoff_agreed": "the assessor's yes/no 'achieved' for a domain ({group}: the domain)",
    "competency_area": "a checkbox per competency area ({group}: the domain, {item}: the area); ticked = achieved",
    "values_entry": "the fields of a values worksheet entry ({group}); complete when every one is filled",
    "case_study": "the fields of a case study ({group}); complete when every one is filled",
    "initial_signature": "the initial discussion's signatures ({group}: who signs); signed when all are filled, "
                         "except a signatory whose label says 'if applicable'",
    "final_signature": "the final review's signatures ({group}: who signs), as initial_signature",
    "feedback_rating": "a five-point rating per question ({group}: the question) of the patient feedback form",
}

_PLACEHOLDER = re.compile(r"\{(group|item)\}")
_LITERAL = re.compile(r"^[a-z0-9_.]*$")


@dataclass(frozen=True)
class Rule:
    """One progress rule: its name, the pattern as written, and the compiled id pattern."""

    name: str
    pattern: str
    regex: re.Pattern[str]

    def match(self, field_id: str) -> tuple[str, str] | None:
        m = self.regex.fullmatch(field_id)
        return (m["group"], m.groupdict().get("item") or "") if m else None


@dataclass(frozen=True)
class Roles:
    """The roles of one pack. Empty (no cover, no separate part, no rules) when pack.yaml declares none."""

    cover: dict[str, str] = field(default_factory=dict)  # role -> field id
    separate_part: str | None = None  # the section issued on its own (e.g. the patient feedback form)
    rules: tuple[Rule, ...] = ()

    @property
    def cover_ids(self) -> list[str]:
        """The cover field ids, in ``COVER_ROLES`` order."""
        return [self.cover[role] for role in COVER_ROLES if role in self.cover]

    def cover_values(self, by_role: dict[str, str]) -> dict[str, str]:
        """Field id -> value for the cover roles in ``by_role`` that this pack has."""
        return {self.cover[role]: value for role, value in by_role.items() if role in self.cover}

    def cover_role_of(self, field_id: str) -> str | None:
        return next((role for role, fid in self.cover.items() if fid == field_id), None)

    def progress_of(self, field_id: str) -> dict[str, str] | None:
        """``{"rule", "group", "item"}`` of the first rule matching ``field_id``, or None."""
        for rule in self.rules:
            found = rule.match(field_id)
            if found:
                return {"rule": rule.name, "group": found[0], "item": found[1]}
        return None


def compile_pattern(pattern: str) -> re.Pattern[str] | str:
    """The regex for a pattern, or the reason it is not one."""
    parts = _PLACEHOLDER.split(pattern)
    literals, names = parts[0::2], parts[1::2]
    if names.count("group") != 1 or names.count("item") > 1:
        return "needs exactly one {group} and at most one {item}"
    bad = next((lit for lit in literals if not _LITERAL.match(lit)), None)
    if bad is not None:
        return (f"'{bad}' is not part of a field id (use lower-case letters, digits, _ and ., "
                "with {group} and {item} as placeholders)")
    out = ""
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out += re.escape(part)
        else:
            out += "(?P<group>[^.]+?)" if part == "group" else "(?P<item>.+)"
    return re.compile(out)


def parse_roles(data: Any, file: str = "pack.yaml") -> tuple[Roles, list[Problem]]:
    """The ``roles`` mapping of pack.yaml as ``Roles``, and every problem in it (code E-CONTENT-ROLE)."""
    problems: list[Problem] = []

    def add(path: str, message: str, code: str = "E-CONTENT-ROLE") -> None:
        problems.append(Problem(file, path, message, code))

    if data is None:
        return Roles(), problems
    if not isinstance(data, dict):
        add("roles", "expected a mapping with cover, separate_part and progress", "E-CONTENT-TYPE")
        return Roles(), problems
    for key in data:
        if key not in ("cover", "separate_part", "progress"):
            add(f"roles.{key}", f"unknown key '{key}' (allowed here: cover, progress, separate_part)",
                "E-CONTENT-KEY")
    cover: dict[str, str] = {}
    raw_cover = data.get("cover") or {}
    if not isinstance(raw_cover, dict):
        add("roles.cover", "expected a mapping of role -> field id", "E-CONTENT-TYPE")
        raw_cover = {}
    for role, fid in raw_cover.items():
        if role not in COVER_ROLES:
            add(f"roles.cover.{role}", f"unknown cover role '{role}' (allowed: {', '.join(COVER_ROLES)})",
                "E-CONTENT-KEY")
        elif not isinstance(fid, str) or not fid:
            add(f"roles.cover.{role}", "expected a field id (see 'portfolio fields' for the ids)", "E-CONTENT-TYPE")
        else:
            cover[role] = fid
    part = data.get("separate_part")
    if part is not None and not isinstance(part, str):
        add("roles.separate_part", "expected a section id (e.g. patient_feedback)", "E-CONTENT-TYPE")
        part = None
    rules: list[Rule] = []
    raw_rules = data.get("progress") or {}
    if not isinstance(raw_rules, dict):
        add("roles.progress", "expected a mapping of rule -> field id pattern", "E-CONTENT-TYPE")
        raw_rules = {}
    for name in raw_rules:
        if name not in PROGRESS_RULES:
            add(f"roles.progress.{name}", f"unknown progress rule '{name}' (allowed: "
                                          f"{', '.join(PROGRESS_RULES)})", "E-CONTENT-KEY")
    for name in PROGRESS_RULES:  # first match wins, in this order
        pattern = raw_rules.get(name)
        if pattern is None:
            continue
        if not isinstance(pattern, str):
            add(f"roles.progress.{name}", "expected a field id pattern (e.g. competencies.{group}.{item}.achieved)",
                "E-CONTENT-TYPE")
            continue
        regex = compile_pattern(pattern)
        if isinstance(regex, str):
            add(f"roles.progress.{name}", f"pattern '{pattern}' {regex}")
            continue
        rules.append(Rule(name, pattern, regex))
    return Roles(cover, part, tuple(rules)), problems


def check_roles(roles: Roles, field_ids: Iterable[str], section_ids: Iterable[str],
                file: str = "pack.yaml") -> list[Problem]:
    """Problems where a role names no field (or section) of the pack: ``field_ids`` of the full pack."""
    ids = list(field_ids)
    known = set(ids)
    problems = []
    for role, fid in roles.cover.items():
        if fid not in known:
            problems.append(Problem(file, f"roles.cover.{role}", f"'{fid}' is not a field of the pack (see "
                                    "'portfolio fields' for the ids)", "E-CONTENT-ROLE"))
    sections = list(section_ids)
    if roles.separate_part is not None and roles.separate_part not in sections:
        problems.append(Problem(file, "roles.separate_part", f"'{roles.separate_part}' is not a section of the pack "
                                f"(sections: {', '.join(sections)})", "E-CONTENT-ROLE"))
    matched = {found["rule"] for found in map(roles.progress_of, ids) if found}
    for rule in roles.rules:
        if rule.name not in matched:
            problems.append(Problem(file, f"roles.progress.{rule.name}", f"pattern '{rule.pattern}' matches no "
                                    "field of the pack (see 'portfolio fields' for the ids)", "E-CONTENT-ROLE"))
    return problems


def roles_of(pack: dict[str, Any]) -> Roles:
    """The roles of a checked pack.yaml (problems were reported when it was loaded)."""
    return parse_roles(pack.get("roles"))[0]
