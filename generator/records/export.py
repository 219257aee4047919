"""Export stored records as CSV, JSON or FHIR R4.

In: ``StoredRecord``s (a stored submission with its values and warnings, as
``load_records`` reads them from the store) and their field ``Definition``s.
Out: text, from the writer named in ``EXPORTERS``:

- ``csv``: one row per submission, a column per field id (in document order,
  the union over every stored definition), then ``unmapped:<id>`` columns;
- ``csv-long``: one row per (submission, field), for pivoting tools;
- ``json``: records shaped as ``portfolio read`` prints them, plus the
  submission's facts and its missing field ids;
- ``fhir``: a FHIR R4 ``Bundle`` (type collection) with the pack's definition as
  a ``Questionnaire`` (``linkId`` = field id, a group per section) and every
  submission as a ``QuestionnaireResponse`` referring to it by canonical
  ``url|version``.

A value flagged as a likely patient identifier leaves the store only as a
marker (``[withheld: possible NHS number]``) unless its copy was cleared by a
reviewer or ``include_flagged`` is given (see ``generator.records.review``).

Every CSV cell, header cells included, goes through ``generator.files.csv_cell``:
a cell that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return, after Unicode NFKC and leading white
space) is prefixed with ``'``.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from generator.files import csv_text
from generator.kinds import KINDS
from generator.records.store import Definition, FieldValue, Store, SubmissionRow

RECORDS_FORMAT = "portfolio-records/1"
#: Default base of the Questionnaires' canonical URLs (a URN; an https base works too).
DEFAULT_FHIR_BASE = "urn:portfolio:questionnaire"
#: A likely patient identifier found in an answer: the item's linkId and the kind, never the value.
EXT_REVIEW = "urn:portfolio:fhir:identifier-review"

SUBMISSION_COLUMNS = ["submission_id", "instance_id", "version", "supersedes", "current", "learner", "practice",
                      "pcn", "part", "pack_id", "content_version", "format", "editor", "filename", "sha256",
                      "ingested_at", "missing_fields", "warnings", "review_flags", "withheld_fields"]
LONG_COLUMNS = ["submission_id", "instance_id", "learner", "pcn", "part", "field_id", "kind", "state", "value",
                "position"]


@dataclass
class StoredRecord:
    submission: SubmissionRow
    values: list[FieldValue]
    warnings: list[str] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)  # likely patient identifiers: (field id, kind)
    withheld: list[str] = field(default_factory=list)  # field ids whose values were replaced by a marker


def load_records(store: Store, all_versions: bool = False) -> tuple[list[StoredRecord], dict[str, Definition]]:
    """Current submissions (or every version) with their values, and the definitions they use.

    The values are as stored, flagged ones included: pass the records through
    ``generator.records.review.withhold`` before they leave the store.
    """
    with store.snapshot():  # one state of the store, whatever an ingest commits meanwhile
        subs = store.submissions(current_only=not all_versions)
        ids = [s.id for s in subs]
        values, warnings, flags = store.values(ids), store.warnings(ids), store.flags(ids)
        definitions = store.definitions()
    records = [StoredRecord(s, values.get(s.id, []), warnings.get(s.id, []), flags.get(s.id, [])) for s in subs]
    return records, definitions


def merge_order(lists: Iterable[list[str]]) -> list[str]:
    """The union of id lists, keeping each list's order: a new id goes right after the id it
    follows in its list (or, at a list's start, before the first id already placed)."""
    out: list[str] = []
    placed: set[str] = set()
    for ids in lists:
        anchor: int | None = None  # position of the last id of this list seen in ``out``
        for n, fid in enumerate(ids):
            if fid in placed:
                anchor = out.index(fid)
                continue
            if anchor is None:
                ahead = next((i for i in ids[n + 1:] if i in placed), None)
                at = out.index(ahead) if ahead is not None else len(out)
            else:
                at = anchor + 1
            out.insert(at, fid)
            placed.add(fid)
            anchor = at
    return out


def _definitions_in_use(records: list[StoredRecord], definitions: dict[str, Definition]) -> list[Definition]:
    used = {r.submission.definition_id for r in records}
    return [d for did, d in definitions.items() if did in used]


# ---------------------------------------------------------------- CSV

def _part(sub: SubmissionRow) -> str:
    """The part a submission is of, named as ``portfolio read`` names it ("pack" for the whole pack)."""
    return sub.part or "pack"


def _facts(sub: SubmissionRow, values: list[FieldValue], warnings: list[str],
           flags: list[tuple[str, str]] = (), withheld: list[str] = ()) -> dict[str, Any]:
    return {"submission_id": sub.id, "instance_id": sub.instance_id, "version": sub.version,
            "supersedes": sub.supersedes, "current": sub.current, "learner": sub.learner_name,
            "practice": sub.practice, "pcn": sub.pcn, "part": _part(sub), "pack_id": sub.pack_id,
            "content_version": sub.content_version, "format": sub.format, "editor": sub.editor,
            "filename": sub.filename, "sha256": sub.sha256, "ingested_at": sub.ingested_at,
            "missing_fields": " ".join(v.field_id for v in values if v.state == "missing"),
            "warnings": len(warnings),
            "review_flags": " ".join(f"{fid}:{kind}" for fid, kind in flags),
            "withheld_fields": " ".join(withheld)}


def to_csv(records: list[StoredRecord], definitions: dict[str, Definition], **_: Any) -> str:
    """Wide CSV: a row per submission, a column per field id."""
    used = _definitions_in_use(records, definitions)
    columns = merge_order([d["id"] for d in definition.fields] for definition in used)
    unmapped = merge_order([v.field_id for v in r.values if v.state == "unmapped"] for r in records)
    rows: list[list[Any]] = [SUBMISSION_COLUMNS + columns + [f"unmapped:{u}" for u in unmapped]]
    for record in records:
        facts = _facts(record.submission, record.values, record.warnings, record.flags, record.withheld)
        by_id = {v.field_id: v for v in record.values}
        row = [facts[c] for c in SUBMISSION_COLUMNS]
        row += [by_id[c].value if c in by_id and by_id[c].state == "read" else None for c in columns]
        row += [by_id[u].value if u in by_id and by_id[u].state == "unmapped" else None for u in unmapped]
        rows.append(row)
    return csv_text(rows)


def to_csv_long(records: list[StoredRecord], definitions: dict[str, Definition], **_: Any) -> str:
    """Long CSV: a row per submission and field (missing and unmapped included, with their state)."""
    rows: list[list[Any]] = [LONG_COLUMNS]
    for record in records:
        sub = record.submission
        kinds = {d["id"]: d["kind"] for d in definitions[sub.definition_id].fields}
        for v in record.values:
            rows.append([sub.id, sub.instance_id, sub.learner_name, sub.pcn, _part(sub), v.field_id,
                         kinds.get(v.field_id, ""), v.state, v.value, v.position])
    return csv_text(rows)


# ---------------------------------------------------------------- JSON

def record_json(record: StoredRecord) -> dict[str, Any]:
    """One record, shaped as ``portfolio read`` prints it, plus the submission's facts."""
    sub = record.submission
    facts = _facts(sub, record.values, record.warnings)
    del facts["missing_fields"], facts["warnings"], facts["review_flags"], facts["withheld_fields"]
    return {
        "submission": facts,
        "pack": {"pack_id": sub.pack_id, "part": _part(sub), "instance_id": sub.instance_id,
                 "content_id": sub.content_id, "content_version": sub.content_version,
                 "content_hash": sub.content_hash, "generator_version": sub.generator_version,
                 "learner": sub.learner, "pcn": sub.pcn_facts, "format": sub.format, "editor": sub.editor},
        "fields": {v.field_id: v.value for v in record.values if v.state == "read"},
        "positions": {v.field_id: v.position for v in record.values if v.position is not None},
        "missing": [v.field_id for v in record.values if v.state == "missing"],
        "unmapped": {v.field_id: v.value for v in record.values if v.state == "unmapped"},
        "flags": [{"field": fid, "kind": kind} for fid, kind in record.flags],
        "withheld": list(record.withheld),
        "warnings": record.warnings,
    }


def to_json(records: list[StoredRecord], definitions: dict[str, Definition], **_: Any) -> str:
    data = {"format": RECORDS_FORMAT, "exported_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "records": [record_json(r) for r in records]}
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


# ---------------------------------------------------------------- FHIR R4

#: Field kind -> Questionnaire item type.
FHIR_ITEM_TYPES = {name: kind.fhir_type for name, kind in KINDS.items()}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _coding(value: Any, definition: dict[str, Any]) -> dict[str, Any] | None:
    labels = {o["value"]: o["label"] for o in definition.get("options", ())}
    return {"valueCoding": {"code": str(value), "display": labels[value]}} if value in labels else None


#: Questionnaire item type -> the answer for a stored value (None: not expressible as that type).
FHIR_ANSWERS: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any] | None]] = {
    "string": lambda v, d: {"valueString": str(v)},
    "text": lambda v, d: {"valueString": str(v)},
    "date": lambda v, d: {"valueDate": v} if isinstance(v, str) and _ISO_DATE.match(v) else None,
    "boolean": lambda v, d: {"valueBoolean": v} if isinstance(v, bool) else None,
    "choice": _coding,
}
EXT_AS_WRITTEN = "urn:portfolio:fhir:answer-as-written"
EXT_UNMAPPED = "urn:portfolio:fhir:unmapped-value"
#: Where ``authored`` comes from: the sign-off date field's id, or "ingested" (no sign-off dated).
EXT_AUTHORED_FROM = "urn:portfolio:fhir:authored-from"


def signoff_dates(definition: list[dict[str, Any]]) -> list[str]:
    """Ids of the sign-off dates: a date field ``….date`` beside a signature field ``….name``."""
    kinds = {d["id"]: d["kind"] for d in definition}
    return [fid for fid, kind in kinds.items()
            if kind == "date" and fid.endswith(".date") and kinds.get(fid[:-len("date")] + "name") == "signature"]


def authored(record: StoredRecord, definition: list[dict[str, Any]]) -> tuple[str, str]:
    """(when, from where): the latest date among the copy's sign-offs, else the time it was ingested."""
    by_id = {v.field_id: v for v in record.values if v.state == "read"}
    dated = [(by_id[fid].value, fid) for fid in signoff_dates(definition)
             if fid in by_id and isinstance(by_id[fid].value, str) and _ISO_DATE.match(by_id[fid].value)]
    if dated:
        return max(dated)
    return record.submission.ingested_at, "ingested"


def questionnaire_id(pack_id: str, part: str | None) -> str:
    """A FHIR id ([A-Za-z0-9-.]{1,64}) for a pack or a separately issued part of it."""
    raw = f"{pack_id}-{part}" if part else pack_id
    return re.sub(r"[^A-Za-z0-9.-]+", "-", raw).strip("-")[:64] or "portfolio"


def canonical_url(base: str, qid: str) -> str:
    """``urn:…:<id>`` under a URN base, ``<base>/Questionnaire/<id>`` under an http(s) base."""
    return f"{base}:{qid}" if base.startswith("urn:") else f"{base.rstrip('/')}/Questionnaire/{qid}"


def _words(text: str) -> str:
    return text.replace("_", " ").replace("-", " ").strip().capitalize()


def _section_text(section: str, definitions: list[dict[str, Any]]) -> str:
    heads = {d["label"].split(": ", 1)[0] for d in definitions}
    return heads.pop() if len(heads) == 1 else _words(section)


def questionnaire(key: tuple[str, str | None, str], fields: list[dict[str, Any]], base: str) -> dict[str, Any]:
    """The Questionnaire for (pack id, part, content version) with these field definitions."""
    pack_id, part, version = key
    qid = questionnaire_id(pack_id, part)
    sections: dict[str, list[dict[str, Any]]] = {}
    for definition in fields:
        sections.setdefault(definition["id"].split(".", 1)[0], []).append(definition)
    items = []
    for section, definitions in sections.items():
        questions = []
        for d in definitions:
            item: dict[str, Any] = {"linkId": d["id"], "text": d["label"], "type": FHIR_ITEM_TYPES[d["kind"]]}
            if d["kind"] == "choice":
                item["answerOption"] = [{"valueCoding": {"code": o["value"], "display": o["label"]}}
                                        for o in d.get("options", ())]
            questions.append(item)
        items.append({"linkId": section, "text": _section_text(section, definitions), "type": "group",
                      "item": questions})
    title = _words(pack_id) + (f": {_words(part)}" if part else "")
    return {
        "resourceType": "Questionnaire",
        "id": qid,
        "url": canonical_url(base, qid),
        "version": version,
        "name": "".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", qid) if w) or "Portfolio",
        "title": title,
        "status": "active",
        "item": items,
    }


def questionnaire_response(record: StoredRecord, q: dict[str, Any], definition: list[dict[str, Any]]) -> dict[str, Any]:
    """One submission as a QuestionnaireResponse answering ``q``."""
    sub = record.submission
    by_id = {v.field_id: v for v in record.values}
    kinds = {d["id"]: d for d in definition}
    when, source = authored(record, definition)
    groups = []
    for group in q["item"]:
        answered = []
        for item in group["item"]:
            stored = by_id.get(item["linkId"])
            if stored is None or stored.state != "read" or stored.value is None:
                continue
            answer = FHIR_ANSWERS[item["type"]](stored.value, kinds.get(item["linkId"], {}))
            if answer is not None:
                answered.append({"linkId": item["linkId"], "answer": [answer]})
            else:
                answered.append({"linkId": item["linkId"], "extension": [
                    {"url": EXT_AS_WRITTEN, "valueString": str(stored.value)}]})
        if answered:
            groups.append({"linkId": group["linkId"], "item": answered})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"submission-{sub.id}",
        "identifier": {"system": "urn:portfolio:instance-id", "value": sub.instance_id},
        "questionnaire": f"{q['url']}|{q['version']}",
        "status": "amended" if sub.supersedes is not None else "completed",
        "authored": when,
        "_authored": {"extension": [{"url": EXT_AUTHORED_FROM, "valueString": source}]},
        "author": {"display": sub.learner_name},
        "item": groups,
    }
    unmapped = [v for v in record.values if v.state == "unmapped"]
    extensions = [{"url": EXT_UNMAPPED, "extension": [
        {"url": "id", "valueString": v.field_id}, {"url": "value", "valueString": str(v.value)}]}
        for v in unmapped]
    extensions += [{"url": EXT_REVIEW, "extension": [
        {"url": "linkId", "valueString": fid}, {"url": "kind", "valueCode": kind}]} for fid, kind in record.flags]
    if extensions:
        resource["extension"] = extensions
    return resource


def _full_url(resource: dict[str, Any]) -> str:
    url = resource.get("url")
    if url and url.startswith("http"):
        return url
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resource['resourceType']}/{resource['id']}/"
                                                            f"{resource.get('version', '')}"))


def to_fhir(records: list[StoredRecord], definitions: dict[str, Definition],
            fhir_base: str = DEFAULT_FHIR_BASE, **_: Any) -> str:
    """A FHIR R4 Bundle: one Questionnaire per (pack, part, content version), one response per submission."""
    keys: dict[tuple[str, str | None, str], list[list[str]]] = {}
    fields_by_key: dict[tuple[str, str | None, str], dict[str, dict[str, Any]]] = {}
    for definition in _definitions_in_use(records, definitions):
        key = (definition.pack_id, definition.part, definition.content_version)
        keys.setdefault(key, []).append([d["id"] for d in definition.fields])
        for d in definition.fields:
            fields_by_key.setdefault(key, {}).setdefault(d["id"], d)
    ordered = sorted(keys, key=lambda k: (k[0], k[1] is not None, k[1] or "", k[2]))  # the whole pack first
    questionnaires = {key: questionnaire(key, [fields_by_key[key][fid] for fid in merge_order(keys[key])], fhir_base)
                      for key in ordered}
    entries = [{"fullUrl": _full_url(q), "resource": q} for q in questionnaires.values()]
    for record in records:
        sub = record.submission
        q = questionnaires[(sub.pack_id, sub.part, sub.content_version)]
        response = questionnaire_response(record, q, definitions[sub.definition_id].fields)
        entries.append({"fullUrl": _full_url(response), "resource": response})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(), "entry": entries}
    return json.dumps(bundle, ensure_ascii=False, indent=1) + "\n"


#: Export format -> writer.
EXPORTERS: dict[str, Callable[..., str]] = {
    "csv": to_csv,
    "csv-long": to_csv_long,
    "json": to_json,
    "fhir": to_fhir,
}


@dataclass(frozen=True)
class Exported:
    """An export's text, and what happened to flagged values on the way."""

    text: str
    records: int
    withheld: int  # flagged values replaced by a marker
    included: int  # flagged values written in full (include_flagged)
    cleared: int  # flagged submissions a reviewer cleared, exported in full


def export_records(store: Store, fmt: str, *, all_versions: bool = False, fhir_base: str = DEFAULT_FHIR_BASE,
                   include_flagged: bool = False) -> Exported:
    """The store's records in ``fmt`` (a key of ``EXPORTERS``).

    A value flagged as a possible patient identifier is withheld (replaced by a
    marker naming the kind; the field id and flag are kept) unless a reviewer
    cleared its copy (``portfolio review clear``) or ``include_flagged`` is set.
    """
    from generator.records.review import clearances, withhold
    records, definitions = load_records(store, all_versions)
    result = withhold(records, clearances(store), include_flagged)
    text = EXPORTERS[fmt](result.records, definitions, fhir_base=fhir_base)
    return Exported(text, len(records), result.withheld, result.included, result.cleared)


def export(store: Store, fmt: str, *, all_versions: bool = False, fhir_base: str = DEFAULT_FHIR_BASE,
           include_flagged: bool = False) -> str:
    """The text of ``export_records``."""
    return export_records(store, fmt, all_versions=all_versions, fhir_base=fhir_base,
                          include_flagged=include_flagged).text
