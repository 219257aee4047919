"""The register of issued packs (issued.csv): its columns, reading it, importing it into a store."""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

from generator.errors import ContentError, IngestError, Problem
from generator.files import csv_value
from generator.records.store import Definition, IssuedPack, Store

REGISTER_COLUMNS = ["instance_id", "document", "learner", "practice", "pcn", "supervisor", "facilitator",
                    "start_date", "email", "file", "content_id", "content_version", "issued_at"]


def read_register(path: Path) -> list[IssuedPack]:
    """The rows of an issue register (``issued.csv``); every bad row is reported together."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"{path}: cannot be read as a UTF-8 CSV register ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    columns = reader.fieldnames or []
    lacking = [c for c in ("instance_id", "learner", "practice", "pcn") if c not in columns]
    if lacking:
        raise IngestError(f"{path.name}: not an issue register: missing column(s) {', '.join(lacking)} "
                          f"(expected the issued.csv that 'portfolio issue' writes)")
    rows: list[IssuedPack] = []
    problems: list[Problem] = []
    for line, row in enumerate(reader, start=2):
        get = {c: csv_value(row.get(c) or "").strip() for c in REGISTER_COLUMNS}
        if not get["instance_id"] or not get["learner"]:
            problems.append(Problem(path.name, f"line {line}", "instance_id and learner are required"))
            continue
        rows.append(IssuedPack(
            instance_id=get["instance_id"], document=get["document"] or "pack", learner=get["learner"],
            practice=get["practice"], pcn=get["pcn"], supervisor=get["supervisor"],
            facilitator=get["facilitator"], start_date=get["start_date"], email=get["email"], file=get["file"],
            content_id=get["content_id"], content_version=get["content_version"], issued_at=get["issued_at"],
            learner_key=learner_key(get["pcn"], get["practice"], get["learner"])))
    if problems:
        raise ContentError(problems)
    return rows


#: The ids of the last field definitions worked out, by the definitions' pickle (``definitions_id``),
#: and the largest pickle kept: a reader meets the same definitions in copy after copy of one pack.
_DEFINITION_IDS: dict[bytes, str] = {}
DEFINITION_IDS_KEPT = 4
DEFINITION_KEY_MAX = 1_000_000


def definitions_id(fields: list[dict[str, Any]]) -> str:
    """The id of a list of field definitions: the SHA-256 of their canonical JSON (keys sorted, no
    spaces, UTF-8 kept). Every copy of a pack carries the same definitions, so the id is remembered
    by their pickle, which takes a fifth of the time of the canonical JSON (0.25 against 1.2 ms for
    the default pack's): equal pickles unpickle to the same values of the same types (``1``,
    ``1.0`` and ``true`` differ in a pickle), so they have the same canonical JSON; equal values
    pickled differently (strings shared or not) only miss."""
    key = pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)
    known = _DEFINITION_IDS.get(key)
    if known is not None:
        return known
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    found = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    if len(key) <= DEFINITION_KEY_MAX:
        if len(_DEFINITION_IDS) >= DEFINITION_IDS_KEPT:
            del _DEFINITION_IDS[next(iter(_DEFINITION_IDS))]  # the oldest
        _DEFINITION_IDS[key] = found
    return found


def definition_of_fields(manifest: dict[str, Any], fields: list[dict[str, Any]]) -> Definition:
    """The stored form of a manifest's field definitions (id: ``definitions_id``)."""
    content = manifest.get("content") or {}
    part = manifest.get("part")
    return Definition(id=definitions_id(fields),
                      pack_id=str(manifest.get("pack_id") or ""), part=part if part and part != "pack" else None,
                      content_id=str(content.get("id") or ""), content_version=str(content.get("version") or ""),
                      content_hash=str(content.get("hash") or ""), fields=fields)


def issued_layouts(path: Path, rows: list[IssuedPack]) -> tuple[list[tuple[str, Definition, list[Any]]], list[str]]:
    """For every issued PDF beside the register: (instance id, its field definitions with their widget
    rectangles, its pages), so a printed and scanned copy can be read; and a note per file that could
    not be read (a scan of it will be stored as unidentified)."""
    from generator.errors import ReadError
    from generator.formats.pdf.geometry import pdf_layout
    out: list[tuple[str, Definition, list[Any]]] = []
    notes: list[str] = []
    read: dict[str, tuple[Any, Any, Any]] = {}
    for row in rows:
        if not row.file.lower().endswith(".pdf"):
            continue
        pdf = path.parent / row.file
        try:
            if row.file not in read:  # a print-ready PDF of several copies is read once
                read[row.file] = pdf_layout(pdf.read_bytes(), pdf.name)
            manifest, fields, pages = read[row.file]
        except (OSError, ReadError, ValueError) as exc:
            notes.append(f"{row.file}: its layout could not be recorded ({getattr(exc, 'reason', exc)})")
            continue
        except Exception as exc:  # a damaged or foreign file: noted, the register is still imported
            notes.append(f"{row.file}: its layout could not be recorded ({type(exc).__name__})")
            continue
        # the register's own instance: a print-ready PDF holds several copies, one row each
        out.append((row.instance_id, definition_of_fields(manifest, fields), pages))
    return out, notes


def import_register(store: Store, path: Path) -> tuple[int, int]:
    """Record the packs of an issue register: (rows in it, rows new to the store). The field
    definitions of every issued PDF beside it (with their widget rectangles) are recorded too."""
    rows = read_register(path)
    known = store.issued_definitions()
    layouts, notes = issued_layouts(path, [r for r in rows if r.instance_id not in known])
    with store.transaction():
        # the register's folder names the cohort ('issue' writes <cohort>/issued.csv): kept as where it came from
        source = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
        added = store.add_issued(rows, source=source)
        for instance, definition, pages in layouts:
            store.add_issued_definition(instance, definition, pages)
        detail = f"{len(rows)} rows, {added} new, {len(layouts)} layouts recorded"
        if notes:
            detail += "; " + "; ".join(notes[:3]) + (f" and {len(notes) - 3} more" if len(notes) > 3 else "")
        store.add_audit("register", filename=path.name, detail=detail)
    return len(rows), added


def _norm(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def learner_key(pcn: str, practice: str, name: str) -> str:
    """The key a learner's submissions and issued packs are grouped by."""
    return json.dumps([_norm(pcn), _norm(practice), _norm(name)], ensure_ascii=False)



def issue_store(named: str | Path | None, out_dir: str | Path, cwd: Path | None = None) -> Path | str | None:
    """The records store an issue run records its register in, or None for none.

    A store named by ``--store`` or $PORTFOLIO_STORE (``named``) is used when it
    exists. Without one, ./records.sqlite is used only when it exists and the
    cohort is written inside the working directory: packs issued into a folder
    elsewhere are not recorded into whatever store happens to be in the current
    folder.
    """
    from generator.records.connect import store_exists, store_location
    from generator.records.store import DEFAULT_STORE, STORE_ENV
    import os
    if named or os.environ.get(STORE_ENV):
        location = store_location(named)  # a PostgreSQL URL stays a URL (a Path would fold its '//')
        if not store_exists(location):
            return None
        return location if "://" in location else Path(location)
    here = (cwd or Path.cwd()).resolve()
    default = here / DEFAULT_STORE
    if default.exists() and Path(out_dir).resolve().is_relative_to(here):
        return default
    return None
