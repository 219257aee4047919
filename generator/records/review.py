"""Identifier review: flagged values withheld from what leaves the store, and a reviewer's clearance.

In: stored records (``StoredRecord``: a submission, its values, warnings and
identifier flags) and the store's audit log. Out: the same records with every
flagged value replaced by a marker such as ``[withheld: possible NHS number]``
(``withhold``), unless the submission's flags were cleared by a reviewer; and
``clear``, which records a clearance.

A clearance is an appended audit-log entry (action ``review_cleared``, the
submission id, who, when and the reviewer's reason); nothing in the store is
ever changed. A later version of the same copy is a new submission with flags
of its own, so a clearance never covers answers the reviewer has not seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.errors import ReviewError
from generator.reading.identifiers import scan_value
from generator.records.store import SUBMISSION_IDS, AuditEntry, FieldValue, Store

#: The audit-log action recording a reviewer's clearance of a submission's flags.
CLEARED = "review_cleared"
#: How each kind of identifier is named in a marker.
KIND_NAMES = {"nhs_number": "NHS number", "postcode": "postcode", "date_of_birth": "date of birth",
              "phone_number": "phone number"}


def marker(kinds: list[str]) -> str:
    """What stands in for a withheld value: ``[withheld: possible NHS number]``."""
    names = ", ".join(dict.fromkeys(KIND_NAMES.get(k, k.replace("_", " ")) for k in kinds))
    return f"[withheld: possible {names}]"


def clearances(store: Store) -> dict[int, AuditEntry]:
    """Submission id -> the audit entry that cleared its flags (the first, if cleared twice)."""
    out: dict[int, AuditEntry] = {}
    for entry in store.audit():
        if entry.action == CLEARED and entry.submission_id is not None:
            out.setdefault(entry.submission_id, entry)
    return out


@dataclass
class Withheld:
    """What ``withhold`` did: the records to export, and how many values it withheld or let through."""

    records: list[Any]  # generator.records.export.StoredRecord
    withheld: int = 0  # values replaced by a marker
    included: int = 0  # flagged values left in (include_flagged)
    cleared: int = 0  # flagged submissions a reviewer cleared (their values export normally)
    fields: dict[int, list[str]] = field(default_factory=dict)  # submission id -> field ids withheld


def _redact(message: str) -> str:
    from generator.records.ingest import redact
    return redact(message)


def withhold(records: list[Any], cleared: set[int] | dict[int, AuditEntry],
             include_flagged: bool = False) -> Withheld:
    """The records (``generator.records.export.StoredRecord``) with each flagged value of an uncleared
    submission replaced by its marker.

    The field id, its state and the flag (field and kind) are kept; warnings of such a
    submission have their quoted text blanked, as ingest prints them. With
    ``include_flagged`` the values are left in and only counted.
    """
    out = Withheld([])
    for record in records:
        sid = record.submission.id
        if not record.flags:
            out.records.append(record)
            continue
        if sid in cleared:
            out.cleared += 1
            out.records.append(record)
            continue
        kinds: dict[str, list[str]] = {}
        for fid, kind in record.flags:
            kinds.setdefault(fid, []).append(kind)
        flagged = [v for v in record.values if v.field_id in kinds and v.value is not None]
        if include_flagged:
            out.included += len(flagged)
            out.records.append(record)
            continue
        values = [FieldValue(v.field_id, v.state, marker(kinds[v.field_id]), v.position)
                  if v.field_id in kinds and v.value is not None else v for v in record.values]
        out.withheld += len(flagged)
        out.fields[sid] = [v.field_id for v in flagged]
        out.records.append(replace(record, values=values, warnings=[_redact(w) for w in record.warnings],
                                   withheld=[v.field_id for v in flagged]))
    return out


# ---------------------------------------------------------------- clearing

@dataclass(frozen=True)
class Clearance:
    submission_id: int
    filename: str
    flags: list[tuple[str, str]]
    reason: str
    already: AuditEntry | None = None  # set when the copy had been cleared before (nothing new written)


def find_submission(store: Store, target: str | Path) -> int:
    """The submission meant by ``target``: a returned file (found by its SHA-256), a submission id,
    or the name a stored copy was ingested under (when only one has it)."""
    path = Path(target)
    if path.is_file():
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ReviewError(f"{path}: cannot be read ({exc.strerror})") from None
        sid = store.known_hashes().get(sha)
        if sid is None:
            raise ReviewError(f"{path}: this file is not in the records store {store.path} "
                              f"(ingest it first, or give its submission id: {SUBMISSION_IDS})")
        return sid
    text = str(target).strip()
    if text.isdigit():
        sid = int(text)
        if sid not in {s.id for s in store.submissions(current_only=False)}:
            raise ReviewError(f"submission {sid}: not in the records store {store.path} ({SUBMISSION_IDS})")
        return sid
    named = [s for s in store.submissions(current_only=False) if s.filename == path.name]
    if len(named) == 1:
        return named[0].id
    if named:
        raise ReviewError(f"{target}: {len(named)} stored copies have this name (submissions "
                          f"{', '.join(str(s.id) for s in named)}); give the submission id")
    raise ReviewError(f"{target}: no such file, and not a submission id (give the returned file or its "
                      f"submission id: {SUBMISSION_IDS})")


def clear(store: Store, target: str | Path, reason: str) -> Clearance:
    """Record that a reviewer checked ``target``'s flagged answers and found no patient identifier.

    Appends one ``review_cleared`` audit entry; clearing a cleared copy again writes
    nothing and returns the earlier clearance in ``already``.
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise ReviewError("give the reason with --reason (e.g. --reason 'the number is a course code')")
    sid = find_submission(store, target)
    sub = next(s for s in store.submissions(current_only=False) if s.id == sid)
    flags = store.flags([sid]).get(sid, [])
    if not flags:
        raise ReviewError(f"{sub.filename} (submission {sid}): has no identifier flags; nothing to clear")
    earlier = clearances(store).get(sid)
    if earlier is not None:
        return Clearance(sid, sub.filename, flags, reason, already=earlier)
    with store.transaction():
        store.add_audit(CLEARED, filename=sub.filename, sha256=sub.sha256, instance_id=sub.instance_id,
                        submission_id=sid,
                        detail=f"flags cleared ({', '.join(f'{f}:{k}' for f, k in flags)}); reason: {reason}")
    return Clearance(sid, sub.filename, flags, reason)


def stored_warnings(store: Store, target: str | Path) -> tuple[int, str, list[str]]:
    """(submission id, file name, every warning stored for it) for a file or submission id, quoted text
    blanked as ingest prints it."""
    sid = find_submission(store, target)
    sub = next(s for s in store.submissions(current_only=False) if s.id == sid)
    return sid, sub.filename, [_redact(w) for w in store.warnings([sid]).get(sid, [])]


# ---------------------------------------------------------------- scanned paper copies

#: The audit-log action recording what a person typed or decided for a scanned field.
SCAN_REVIEWED = "scan reviewed"
#: What a person may type for a tick box.
_TICKED = {"ticked": True, "yes": True, "true": True, "x": True, "1": True,
           "empty": False, "no": False, "false": False, "0": False, "": False}


@dataclass(frozen=True)
class PendingField:
    """A field of a scanned copy a person must look at: handwriting to transcribe, or a mark the
    reader could not decide (with every bubble's ink ratio)."""

    submission_id: int
    filename: str
    learner: str
    field_id: str
    label: str
    kind: str
    status: str  # 'needs transcription' or 'needs review'
    page: int
    marks: list[tuple[str, float, str]]  # (option, ink ratio, decision)
    options: list[str]
    has_crop: bool


def pending_page(store: Store, limit: int | None = None, offset: int = 0) -> tuple[list[PendingField], int]:
    """``limit`` scanned fields of current submissions still waiting for a person, from ``offset`` on
    (in submission and page order), and how many are waiting in all. Only those fields are read from
    the store (``Store.scan_waiting``), with their own submissions."""
    rows, total = store.scan_waiting(limit, offset)
    grouped: dict[tuple[int, str], list[Any]] = {}
    for row in rows:
        grouped.setdefault((row.submission_id, row.field_id), []).append(row)
    subs = {sid: store.submission(sid) for sid in {sid for sid, _ in grouped}}
    definitions = store.definitions() if grouped else {}
    out = []
    for (sid, fid), rows in grouped.items():
        sub = subs[sid]
        assert sub is not None
        definition = next((d for d in definitions[sub.definition_id].fields if d["id"] == fid), {})
        order = [o["value"] for o in definition.get("options", ())]
        rows.sort(key=lambda r: order.index(r.option) if r.option in order else -1)
        out.append(PendingField(sid, sub.filename, sub.learner_name, fid, str(definition.get("label", fid)),
                                str(definition.get("kind", "text")), rows[0].status, min(r.page for r in rows),
                                [(r.option, r.ink, r.decision) for r in rows],
                                [o["value"] for o in definition.get("options", ())],
                                any(r.has_crop for r in rows)))
    return out, total


def pending_fields(store: Store) -> list[PendingField]:
    """Every scanned field of a current submission still waiting for a person, in submission and page order."""
    return pending_page(store)[0]


def field_crop(store: Store, submission_id: int, field_id: str) -> bytes:
    """The PNG crop of a scanned text field; ReviewError when there is none."""
    for row in store.scan_fields([submission_id]):
        if row.field_id == field_id and row.crop:
            return row.crop
    raise ReviewError(f"submission {submission_id}: no scanned image of field {field_id} "
                      "(only written text fields of scanned copies have one)")


def enter_value(store: Store, submission_id: int, field_id: str, text: str) -> Any:
    """Record what a person read on the scan for a field (typed text, or the decided mark: 'ticked',
    'empty', an option's value or its position 1..n); returns the stored value. Who did it and when is
    kept with the value and in the audit log; nothing stored before is changed. Text that looks like
    a patient identifier (``generator.reading.identifiers``) is not stored: its marker
    (``[withheld: possible NHS number]``) is, and the audit entry names the kind, never the value."""
    from generator.model.values import coerce
    sub = store.submission(submission_id)
    if sub is None:
        raise ReviewError(f"no submission {submission_id} in this store (see 'portfolio review scans')")
    subs = {submission_id: sub}
    rows = [r for r in store.scan_fields([submission_id]) if r.field_id == field_id]
    if not rows:
        raise ReviewError(f"submission {submission_id} has no scanned field {field_id} "
                          "(see 'portfolio review scans' for the fields waiting for a person)")
    definition = next(d for d in store.definitions()[subs[submission_id].definition_id].fields if d["id"] == field_id)
    kind, options = definition["kind"], [o["value"] for o in definition.get("options", ())]
    raw: Any = text.strip()
    if kind == "checkbox":
        if raw.lower() not in _TICKED:
            raise ReviewError(f"{field_id}: a tick box is 'ticked' or 'empty', not {raw!r}")
        value: Any = _TICKED[raw.lower()]
    elif raw == "":
        value = None
    else:
        if kind == "choice" and raw.isdigit() and 1 <= int(raw) <= len(options):
            raw = options[int(raw) - 1]
        value, warning = coerce(definition, raw)
        if warning:
            raise ReviewError(f"{field_id}: {warning}")
    detail = f"{field_id}: {rows[0].status} entered by hand"
    # What a person types from a scan is checked for patient identifiers like any value read from a
    # copy; a flagged entry is not kept: its marker is stored in its place, as exports withhold it.
    kinds = [f.kind for f in scan_value(field_id, [text, value])]
    if kinds:
        value = marker(kinds)
        detail += f"; possible {', '.join(KIND_NAMES.get(k, k) for k in kinds)}: not stored (value not shown)"
    with store.transaction():
        store.add_scan_review(submission_id, field_id, value)
        store.add_audit(SCAN_REVIEWED, filename=subs[submission_id].filename, sha256=subs[submission_id].sha256,
                        instance_id=subs[submission_id].instance_id, submission_id=submission_id,
                        detail=detail)
    return value


@dataclass(frozen=True)
class SavedEntry:
    """What a person last entered for a scanned field, as the review page confirms it."""

    submission_id: int
    filename: str
    learner: str
    field_id: str
    label: str
    value: str  # as shown: the text, the option, 'yes' or 'no', 'ticked' or 'empty', or 'left blank'
    quoted: bool  # the value is text a person typed (shown in quotes), not a mark's decision
    actor: str
    at: str


def shown_value(kind: str, value: Any) -> str:
    """A stored review value as a person reads it back."""
    if value is None:
        return "left blank"
    if kind == "checkbox":
        return "ticked" if value else "empty"
    if isinstance(value, bool):  # a yes/no question
        return "yes" if value else "no"
    return str(value)


def saved_entry(store: Store, submission_id: int, field_id: str) -> SavedEntry | None:
    """The latest entry a person made for scanned field ``field_id`` of submission ``submission_id``
    (None when there is none): the field's label, the copy and the value as stored."""
    sub = store.submission(submission_id)
    if sub is None:
        return None
    latest = None
    for review in store.scan_reviews():
        if review.submission_id == submission_id and review.field_id == field_id:
            latest = review
    if latest is None:
        return None
    definition = next((d for d in store.definitions()[sub.definition_id].fields if d["id"] == field_id), {})
    return SavedEntry(submission_id, sub.filename, sub.learner_name, field_id, str(definition.get("label", field_id)),
                      shown_value(str(definition.get("kind", "text")), latest.value),
                      latest.value is not None and not isinstance(latest.value, bool), latest.actor, latest.at)

