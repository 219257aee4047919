"""One learner's records as a person reads them: every current copy's answers, warnings and history.

In: an open ``Store`` and a learner key (``generator.records.register.learner_key``).
Out: ``LearnerRecord``: the learner's current copies (``LearnerCopy``), each with
its answers labelled from its own field definitions, the kind of identifier a
flagged answer may hold (a flag a reviewer cleared is not shown as flagged), its
warnings, every version of the same copy (supersedes) and the names the files
were uploaded under; and the instance ids issued to the learner.

``flagged_value`` is the one way to a flagged answer's value: it is audited
("flag shown", with who asked) before the value is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.records.review import clearances
from generator.records.store import Store, SubmissionRow

#: Answers left out of a copy's list: nothing was written there.
_EMPTY = (None, "", False, [])


@dataclass
class Answer:
    field_id: str
    label: str
    value: Any
    state: str  # read, missing or unmapped (``FieldValue.state``)
    flagged: str = ""  # the kind of identifier it may hold ("nhs number"); "" when not flagged
    option: str = ""  # a choice's option label as the form shows it ("Very happy" for very_happy)


@dataclass
class LearnerCopy:
    row: SubmissionRow  # the current version
    answers: list[Answer] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    history: list[SubmissionRow] = field(default_factory=list)  # every version of this copy, oldest first
    names: dict[int, str] = field(default_factory=dict)  # submission id -> file name as uploaded


@dataclass
class LearnerRecord:
    key: str
    copies: list[LearnerCopy] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # instance ids issued to the learner, sorted
    files: dict[str, list[str]] = field(default_factory=dict)  # instance id -> the files issued with it


def learner_record(store: Store, key: str) -> LearnerRecord:
    """Every current copy of learner ``key`` with its answers, warnings and history (see the module)."""
    every = [s for s in store.submissions(current_only=False) if s.learner_key == key]
    current = [s for s in every if s.current]
    ids = [s.id for s in current]
    values, warnings, flags = store.values(ids), store.warnings(ids), store.flags(ids)
    cleared = clearances(store) if flags else {}
    definitions = store.definitions()
    uploaded = {e.sha256: e.filename for e in store.audit() if e.action == "uploaded" and e.sha256}
    copies = []
    for sub in current:
        fields = definitions[sub.definition_id].fields
        labels = {d["id"]: d.get("label") or d["id"] for d in fields}
        options = {d["id"]: {o["value"]: o.get("label") or o["value"] for o in d.get("options", ())} for d in fields}
        flagged = {} if sub.id in cleared else {fid: kind for fid, kind in flags.get(sub.id, [])}
        answers = [Answer(v.field_id, labels.get(v.field_id, v.field_id), v.value, v.state,
                          flagged.get(v.field_id, "").replace("_", " "),
                          options.get(v.field_id, {}).get(v.value, "") if isinstance(v.value, str) else "")
                   for v in values.get(sub.id, []) if v.state != "read" or v.value not in _EMPTY]
        history = sorted((s for s in every if s.instance_id == sub.instance_id), key=lambda s: s.version)
        copies.append(LearnerCopy(sub, answers, warnings.get(sub.id, []), history,
                                  {s.id: uploaded.get(s.sha256, s.filename) for s in history}))
    files: dict[str, list[str]] = {}
    for pack in store.issued():
        if pack.learner_key == key:
            files.setdefault(pack.instance_id, []).append(pack.file.rpartition("/")[2])
    return LearnerRecord(key, copies, sorted(files), {i: sorted(set(names)) for i, names in files.items()})


@dataclass(frozen=True)
class Shown:
    """A flagged answer's value, shown to someone (the audit log says who)."""

    submission: SubmissionRow
    field_id: str
    value: Any


def flagged_value(store: Store, submission_id: int, field_id: str) -> Shown | None:
    """The value of answer ``field_id`` of submission ``submission_id`` when it is flagged as a likely
    patient identifier, after auditing that it was shown ("flag shown", by ``store.actor``);
    None (and nothing audited) when there is no such flagged answer."""
    if field_id not in {f for f, _ in store.flags([submission_id]).get(submission_id, [])}:
        return None
    sub = next((s for s in store.submissions(current_only=False) if s.id == submission_id), None)
    if sub is None:
        return None
    value = next((v.value for v in store.values([submission_id]).get(submission_id, []) if v.field_id == field_id),
                 None)
    with store.transaction():
        store.add_audit("flag shown", instance_id=sub.instance_id, submission_id=submission_id,
                        detail=f"field {field_id}")
    return Shown(sub, field_id, value)
