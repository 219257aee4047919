"""Learner progress, computed from stored values by field id.

In: the current submissions, their values and field definitions, and the
issued packs (plain data from the ``store``). Out: one ``LearnerProgress`` per
learner: competency areas achieved per domain, assessor sign-offs, values
worksheet and case studies complete, patient feedback forms received with the
mean score per question, initial discussion and final review signed.

The structure is read from the stored field definitions, never from counts
or ids written here: each definition a progress rule of the pack covers
(pack.yaml ``roles.progress``) carries ``"progress": {"rule", "group",
"item"}``, so a domain with ten areas is 7/10 because ten definitions say
``competency_area`` with that domain as group. A learner's pack is their
latest current whole-pack submission; every current separately issued form
with feedback ratings counts, and so does the pack's own feedback form when
any rating on it is answered.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from generator.records.store import (
    Definition,
    FieldValue,
    IssuedPack,
    Store,
    SubmissionRow,
)

#: A signatory whose label says this is optional (e.g. "Additional signatory (if applicable)").
OPTIONAL_SIGNATORY = "if applicable"


@dataclass
class Domain:
    id: str
    title: str
    achieved: int
    total: int
    signed_off: bool = False  # the assessor's typed name and date are both there
    assessor_achieved: bool | None = None  # the sign-off's yes/no, None when not answered


@dataclass
class Completion:
    done: int
    total: int
    items: dict[str, bool] = field(default_factory=dict)  # value / case id -> complete


@dataclass
class Signatures:
    signed: bool  # every required signatory signed (name and date)
    by: list[str] = field(default_factory=list)  # who signed
    missing: list[str] = field(default_factory=list)  # required signatories who did not


@dataclass
class Question:
    id: str
    text: str
    answers: int
    mean: float | None  # mean option position, 1 = the first option (e.g. "Very happy")
    counts: list[int] = field(default_factory=list)  # answers per option position


@dataclass
class Feedback:
    forms: int = 0  # feedback forms received (separate forms, plus the pack's own when answered)
    scale: list[str] = field(default_factory=list)  # option labels, position 1 first
    questions: list[Question] = field(default_factory=list)


@dataclass
class LearnerProgress:
    key: str
    name: str
    pcn: str
    practice: str
    issued: int = 0  # copies on the imported issue registers
    cohorts: list[str] = field(default_factory=list)  # the cohorts they were issued in (``IssuedPack.cohort``)
    submissions: list[int] = field(default_factory=list)  # current submission ids
    pack_submission: int | None = None  # the pack the figures come from
    last_ingested: str = ""
    domains: list[Domain] = field(default_factory=list)
    values: Completion = field(default_factory=lambda: Completion(0, 0))
    case_studies: Completion = field(default_factory=lambda: Completion(0, 0))
    feedback: Feedback = field(default_factory=Feedback)
    initial: Signatures = field(default_factory=lambda: Signatures(False))
    final: Signatures = field(default_factory=lambda: Signatures(False))
    missing_fields: int = 0  # fields absent from the learner's copies
    unmapped_fields: int = 0  # values the manifests did not know
    review: list[dict[str, Any]] = field(default_factory=list)  # flagged copies: submission, file, fields

    @property
    def returned(self) -> bool:
        return bool(self.submissions)

    @property
    def signoffs(self) -> tuple[int, int]:
        return sum(d.signed_off for d in self.domains), len(self.domains)

    @property
    def competencies(self) -> tuple[int, int]:
        return sum(d.achieved for d in self.domains), sum(d.total for d in self.domains)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["key"] = key_parts(self.key)
        out["returned"] = self.returned
        out["signoffs"] = dict(zip(("done", "total"), self.signoffs))
        out["competencies"] = dict(zip(("achieved", "total"), self.competencies))
        return out


def key_parts(key: str) -> dict[str, str] | str:
    """A learner key (JSON text, see ``register.learner_key``) as {pcn, practice, name}; other keys as they are."""
    try:
        parts = json.loads(key)
    except ValueError:
        return key
    if isinstance(parts, list) and len(parts) == 3 and all(isinstance(p, str) for p in parts):
        return dict(zip(("pcn", "practice", "name"), parts))
    return key


def filled(value: Any) -> bool:
    """An answer is there: ticked, yes/no given, a choice made, text that is not blank."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip() != ""


#: A definition list's fields by progress rule: rule -> [(definition, {"group", "item"})], in document order.
Rules = dict[str, list[tuple[dict[str, Any], dict[str, str]]]]


def rules_of(definitions: list[dict[str, Any]]) -> Rules:
    """The definitions under each progress rule, each with its ``{"group", "item"}``, in one pass.

    Definitions come from returned copies: an annotation of the wrong shape is ignored.
    """
    out: Rules = {}
    for definition in definitions:
        progress = definition.get("progress")
        if (isinstance(progress, dict) and isinstance(progress.get("rule"), str)
                and isinstance(progress.get("group"), str) and isinstance(progress.get("item", ""), str)):
            out.setdefault(progress["rule"], []).append(
                (definition, {"group": progress["group"], "item": progress.get("item", "")}))
    return out


def _matches(definitions: list[dict[str, Any]] | Rules, rule: str) -> Iterable[tuple[dict[str, Any], dict[str, str]]]:
    """The definitions under progress rule ``rule`` (from a definition list, or its ``rules_of``)."""
    rules = definitions if isinstance(definitions, dict) else rules_of(definitions)
    return rules.get(rule, ())


def _label_head(label: str) -> str:
    return label.split(": ", 1)[0]


def _label_tail(label: str) -> str:
    return label.rsplit(": ", 1)[-1]


# ---------------------------------------------------------------- one handler per part of the pack

def _domains(definitions: list[dict[str, Any]] | Rules, values: dict[str, Any]) -> list[Domain]:
    domains: dict[str, Domain] = {}
    for definition, m in _matches(definitions, "competency_area"):
        if definition["kind"] != "checkbox":
            continue
        domain = domains.setdefault(m["group"], Domain(m["group"], _label_head(definition["label"]), 0, 0))
        domain.total += 1
        domain.achieved += values.get(definition["id"]) is True
    signoff: dict[str, dict[str, Any]] = {}
    for definition, m in _matches(definitions, "signoff"):
        signoff.setdefault(m["group"], {})[m["item"]] = values.get(definition["id"])
    for did, parts in signoff.items():
        if did in domains:
            domains[did].signed_off = all(filled(value) for value in parts.values())
    for definition, m in _matches(definitions, "signoff_agreed"):
        if m["group"] in domains:
            achieved = values.get(definition["id"])
            domains[m["group"]].assessor_achieved = achieved if isinstance(achieved, bool) else None
    return list(domains.values())


def _completion(definitions: list[dict[str, Any]] | Rules, values: dict[str, Any], rule: str) -> Completion:
    groups: dict[str, bool] = {}
    for definition, m in _matches(definitions, rule):
        groups[m["group"]] = groups.get(m["group"], True) and filled(values.get(definition["id"]))
    return Completion(sum(groups.values()), len(groups), groups)


def _signatures(definitions: list[dict[str, Any]] | Rules, values: dict[str, Any], rule: str) -> Signatures:
    who: dict[str, bool] = {}
    required: dict[str, bool] = {}
    for definition, m in _matches(definitions, rule):
        group = m["group"]
        who[group] = who.get(group, True) and filled(values.get(definition["id"]))
        required[group] = required.get(group, True) and OPTIONAL_SIGNATORY not in definition["label"].lower()
    missing = [g for g, signed in who.items() if required[g] and not signed]
    return Signatures(bool(who) and not missing, [g for g, signed in who.items() if signed], missing)


def _feedback(forms: list[tuple[list[dict[str, Any]] | Rules, dict[str, FieldValue]]]) -> Feedback:
    """Means per question over every form's answered ratings; a form with no rating answered is not counted."""
    out = Feedback(forms=0)
    questions: dict[str, Question] = {}
    positions: dict[str, list[int]] = {}
    for definitions, values in forms:
        answered = False
        for definition, m in _matches(definitions, "feedback_rating"):
            if definition["kind"] != "choice":
                continue
            options = [o["value"] for o in definition.get("options", ())]
            if not out.scale:
                out.scale = [o["label"] for o in definition.get("options", ())]
            question = questions.setdefault(
                m["group"], Question(m["group"], _label_tail(definition["label"]), 0, None, [0] * len(options)))
            stored = values.get(definition["id"])
            if stored is None or stored.value is None:
                continue
            position = stored.position or (options.index(stored.value) + 1 if stored.value in options else None)
            if position is None:
                continue
            positions.setdefault(m["group"], []).append(position)
            answered = True
            if position <= len(question.counts):
                question.counts[position - 1] += 1
        out.forms += answered
    for qid, question in questions.items():
        answers = positions.get(qid, [])
        question.answers = len(answers)
        question.mean = round(sum(answers) / len(answers), 2) if answers else None
    out.questions = list(questions.values())
    return out


#: What the pack submission contributes: attribute of LearnerProgress -> handler.
PACK_PARTS: dict[str, Callable[[list[dict[str, Any]] | Rules, dict[str, Any]], Any]] = {
    "domains": _domains,
    "values": lambda d, v: _completion(d, v, "values_entry"),
    "case_studies": lambda d, v: _completion(d, v, "case_study"),
    "initial": lambda d, v: _signatures(d, v, "initial_signature"),
    "final": lambda d, v: _signatures(d, v, "final_signature"),
}


# ---------------------------------------------------------------- one submission, once

@dataclass(frozen=True)
class Figures:
    """What one stored submission contributes to its learner's progress.

    A stored submission never changes (values are never updated), so its figures are
    worked out once and kept (``CohortProgress``); only which submissions are current,
    and which of them is a learner's pack, is decided again for the whole cohort.
    """

    missing: int  # its fields absent from the copy
    unmapped: int  # its values the manifest did not know
    pack: dict[str, Any] | None = None  # a whole pack's figures: PACK_PARTS attribute -> value
    form: tuple[Rules, dict[str, FieldValue]] | None = None  # its feedback ratings, when it counts as a form


def submission_figures(sub: SubmissionRow, stored: list[FieldValue], definition: Definition,
                       rules: Rules | None = None) -> Figures:
    """``sub``'s figures from its stored values and its definition (``rules``: ``rules_of(definition.fields)``)."""
    rules = rules_of(definition.fields) if rules is None else rules
    missing = sum(v.state == "missing" for v in stored)
    unmapped = sum(v.state == "unmapped" for v in stored)
    ratings = rules.get("feedback_rating", [])
    if sub.part is not None:  # a form issued on its own: counted when it has feedback ratings
        if not ratings:
            return Figures(missing, unmapped)
        wanted = {d["id"] for d, _ in ratings}
        return Figures(missing, unmapped, form=({"feedback_rating": ratings},
                                                {v.field_id: v for v in stored if v.field_id in wanted}))
    by_id = {v.field_id: v for v in stored}
    plain = {fid: v.value for fid, v in by_id.items() if v.state == "read"}
    pack = {attribute: handler(rules, plain) for attribute, handler in PACK_PARTS.items()}
    form = None
    if any(filled(plain.get(d["id"])) for d, _ in ratings):
        form = ({"feedback_rating": ratings}, {d["id"]: by_id[d["id"]] for d, _ in ratings if d["id"] in by_id})
    return Figures(missing, unmapped, pack, form)


# ---------------------------------------------------------------- whole cohort

def summarise(submissions: list[SubmissionRow], values: dict[int, list[FieldValue]],
              definitions: dict[str, Definition], issued: list[IssuedPack] = (),
              flags: dict[int, list[tuple[str, str]]] | None = None,
              figures: dict[tuple[int, str], Figures] | None = None) -> list[LearnerProgress]:
    """Progress of every learner with a current submission or an issued pack, by PCN and name.

    ``figures`` keeps each submission's ``Figures`` by (id, SHA-256): those found there
    are not worked out again (their ``values`` are not needed), and those worked out are
    added to it.
    """
    figures = {} if figures is None else figures
    rules: dict[str, Rules] = {}
    learners: dict[str, LearnerProgress] = {}
    for pack in issued:
        lp = learners.setdefault(pack.learner_key, LearnerProgress(pack.learner_key, pack.learner, pack.pcn,
                                                                   pack.practice))
        lp.issued += 1
        if pack.cohort and pack.cohort not in lp.cohorts:
            lp.cohorts.append(pack.cohort)
    by_learner: dict[str, list[SubmissionRow]] = {}
    for sub in submissions:
        if sub.current:
            by_learner.setdefault(sub.learner_key, []).append(sub)
    for key, subs in by_learner.items():
        first = subs[-1]
        lp = learners.setdefault(key, LearnerProgress(key, first.learner_name, first.pcn, first.practice))
        lp.name, lp.pcn, lp.practice = first.learner_name, first.pcn, first.practice
        lp.submissions = [s.id for s in subs]
        lp.review = [{"submission": s.id, "file": s.filename,
                      "flags": [{"field": fid, "kind": kind} for fid, kind in (flags or {})[s.id]]}
                     for s in subs if (flags or {}).get(s.id)]
        lp.last_ingested = max(s.ingested_at for s in subs)
        forms: list[tuple[Rules, dict[str, FieldValue]]] = []
        packs = [s for s in subs if s.part is None]
        pack = max(packs, key=lambda s: (s.ingested_at, s.id)) if packs else None
        for sub in subs:
            found = figures.get((sub.id, sub.sha256))
            if found is None:
                definition = definitions[sub.definition_id]
                if definition.id not in rules:
                    rules[definition.id] = rules_of(definition.fields)
                found = submission_figures(sub, values.get(sub.id, []), definition, rules[definition.id])
                figures[(sub.id, sub.sha256)] = found
            lp.missing_fields += found.missing
            lp.unmapped_fields += found.unmapped
            if sub.part is not None and found.form is not None:
                forms.append(found.form)
        if pack is not None:
            found = figures[(pack.id, pack.sha256)]
            lp.pack_submission = pack.id
            for attribute, value in (found.pack or {}).items():
                setattr(lp, attribute, value)
            if found.form is not None:
                forms.insert(0, found.form)
        lp.feedback = _feedback(forms)
    return sorted(learners.values(), key=lambda lp: (lp.pcn.casefold(), lp.name.casefold(), lp.key))


def _current_flags(store: Store, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    from generator.records.review import clearances
    cleared = clearances(store)
    return {sid: found for sid, found in store.flags(ids).items() if sid not in cleared}


def cohort_progress(store: Store) -> list[LearnerProgress]:
    """``summarise`` over everything current in ``store``; copies a reviewer cleared are not marked for review."""
    submissions = store.submissions(current_only=True)
    ids = [s.id for s in submissions]
    return summarise(submissions, store.values(ids), store.definitions(), store.issued(), _current_flags(store, ids))


class CohortProgress:
    """``cohort_progress`` for a long-running process (the web app): each submission's figures are
    worked out once, so after a change to the store only the new submissions' values are read.

    What is current, every learner's pack, the issued packs, the flags and their clearances
    are read again on every call; the result equals ``cohort_progress(store)``.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.figures: dict[tuple[int, str], Figures] = {}
        self.limit = limit  # submissions kept; past it the memo starts again

    def __call__(self, store: Store) -> list[LearnerProgress]:
        submissions = store.submissions(current_only=True)
        ids = [s.id for s in submissions]
        if len(self.figures) > self.limit:
            self.figures.clear()
        fresh = [s.id for s in submissions if (s.id, s.sha256) not in self.figures]
        values = store.values(fresh) if fresh else {}
        return summarise(submissions, values, store.definitions(), store.issued(), _current_flags(store, ids),
                         self.figures)
