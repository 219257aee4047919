"""The register of issued packs (issued.csv): its columns, reading it, importing it into a store."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from generator.errors import ContentError, IngestError, Problem
from generator.files import csv_value
from generator.records.store import IssuedPack, Store

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


def import_register(store: Store, path: Path) -> tuple[int, int]:
    """Record the packs of an issue register: (rows in it, rows new to the store)."""
    rows = read_register(path)
    with store.transaction():
        added = store.add_issued(rows, source=path.name)
        store.add_audit("register", filename=path.name, detail=f"{len(rows)} rows, {added} new")
    return len(rows), added


def _norm(text: Any) -> str:
    return " ".join(str(text or "").split()).casefold()


def learner_key(pcn: str, practice: str, name: str) -> str:
    """The key a learner's submissions and issued packs are grouped by."""
    return json.dumps([_norm(pcn), _norm(practice), _norm(name)], ensure_ascii=False)



def issue_store(named: str | Path | None, out_dir: str | Path, cwd: Path | None = None) -> Path | None:
    """The records store an issue run records its register in, or None for none.

    A store named by ``--store`` or $PORTFOLIO_STORE (``named``) is used when it
    exists. Without one, ./records.sqlite is used only when it exists and the
    cohort is written inside the working directory: packs issued into a folder
    elsewhere are not recorded into whatever store happens to be in the current
    folder.
    """
    from generator.records.store import DEFAULT_STORE, STORE_ENV, store_path
    import os
    if named or os.environ.get(STORE_ENV):
        path = store_path(named)
        return path if path.exists() else None
    here = (cwd or Path.cwd()).resolve()
    default = here / DEFAULT_STORE
    if default.exists() and Path(out_dir).resolve().is_relative_to(here):
        return default
    return None
