"""The pages: Learners (dashboard), a learner, Returned copies, Exports, Audit log.

Each view checks the role and the PCN scope (``auth``), calls the library
(progress, ingest, export, report) and renders a template. Uploaded files are
sniffed, written under names the server makes (never the uploader's), and read
by ``ingest`` with its limits and child-process isolation.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, make_response, render_template, request, url_for
from markupsafe import Markup

from generator.errors import (CHANGED_LEARNER_FIX, DISK_FULL_FIX, SERVER_DISK_FULL_FIX, SUPERSEDE_BLANK_FIX,
                              SUPERSEDE_FIX)
from generator.records.progress import CohortProgress, LearnerProgress
from generator.reading.read import EMPTY, NOT_A_COPY_OR_SCAN, too_large
from generator.web.auth import in_scope, provider_only, require_scope, upload_file_name, uploaded_name
from generator.web.charts import feedback_chart, progress_chart

bp = Blueprint("views", __name__)

#: How an upload's first bytes are told apart: PDF, or a zip (a Word .docx).
#: What an uploaded file is, by its first bytes (never by its name): a returned copy (PDF, Word) or a scan
#: of a printed one (a scanner's PDF, PNG, JPEG or TIFF, read by the scan reader).
SNIFF = ((b"%PDF-", "pdf"), (b"PK\x03\x04", "docx"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"),
         (b"II*\x00", "tif"), (b"MM\x00*", "tif"))
#: Largest single returned copy accepted through the page (the reader's own limit).
MAX_FILE_BYTES = 25_000_000
#: A held copy's name: made by the server, checked on the way back.
HELD = re.compile(r"^[0-9a-f]{32}\.(pdf|docx|png|jpg|tif)$")
#: Columns the dashboard sorts by.
SORTS = {
    "name": lambda lp: (lp.name.casefold(), lp.pcn),
    "pcn": lambda lp: (lp.pcn.casefold(), lp.name.casefold()),
    "competencies": lambda lp: (lp.competencies[0], lp.name.casefold()),
    "signoffs": lambda lp: (lp.signoffs[0], lp.name.casefold()),
    "feedback": lambda lp: (lp.feedback.forms, lp.name.casefold()),
    "returned": lambda lp: (lp.last_ingested, lp.name.casefold()),
}


def learner_id(key: str) -> str:
    """A learner's id in URLs: a hash of the learner key, so no name ever appears in a URL or a log line."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _scoped(learners: list[LearnerProgress]) -> list[LearnerProgress]:
    return [lp for lp in learners if in_scope(lp.pcn)]


#: The last cohort progress this worker computed, by store and what the store held then.
_PROGRESS: dict[str, tuple[tuple[int, int, int, int], list[LearnerProgress]]] = {}
#: Each store's submissions' figures, worked out once per worker (``CohortProgress``).
_FIGURES: dict[str, CohortProgress] = {}


def progress() -> list[LearnerProgress]:
    """Every learner's progress, as ``cohort_progress`` gives it, worked out again only when the store changed,
    and then only for the submissions added since (``CohortProgress``).

    Records are never updated or deleted, so the number of stored files, the highest
    submission id, the number of issued packs and the length of the audit log (where
    flags are cleared) tell whether anything was added.
    """
    return progress_of(g.store)


def progress_of(store: Any) -> list[LearnerProgress]:
    """``progress()`` of an open store (kept per store between requests)."""
    from generator import api
    hashes = store.known_hashes()
    state = (len(hashes), max(hashes.values(), default=0), len(store.issued()), store.counts()["audit_log"])
    cached = _PROGRESS.get(store.path)
    if cached is None or cached[0] != state:
        cached = (state, api.records(store, kept=_FIGURES.setdefault(store.path, CohortProgress())))
        _PROGRESS[store.path] = cached
    return cached[1]


def warm_up(app: Flask) -> None:
    """Work out the cohort's progress before requests come (``portfolio serve`` calls it in its master
    process before forking the workers, which inherit it, and in each worker, which then works out only
    what was stored since), so that no one waits for it; a store that cannot be read is left for the
    requests to report."""
    from generator.errors import PortfolioError
    from generator.records.connect import open_store
    try:
        with open_store(app.config["STORE"], create=False) as store:
            progress_of(store)
    except PortfolioError:
        pass


# ---------------------------------------------------------------- Learners

@bp.route("/")
def learners():
    everyone = _scoped(progress())
    pcns = sorted({lp.pcn for lp in everyone})
    cohorts = sorted({c for lp in everyone for c in lp.cohorts})
    pcn = request.args.get("pcn", "")
    cohort = request.args.get("cohort", "")
    shown = [lp for lp in everyone if (not pcn or lp.pcn == pcn) and (not cohort or cohort in lp.cohorts)]
    status = request.args.get("status", "")
    if status == "returned":
        shown = [lp for lp in shown if lp.returned]
    elif status == "waiting":
        shown = [lp for lp in shown if not lp.returned]
    elif status == "review":
        shown = [lp for lp in shown if lp.review]
    sort = request.args.get("sort", "name")
    if sort not in SORTS:
        sort = "name"
    descending = request.args.get("order") == "desc"
    shown = sorted(shown, key=SORTS[sort], reverse=descending)
    args = {"pcn": pcn, "cohort": cohort, "status": status}
    learner_url = url_for("views.learners") + "learners/"
    rows = [_row(lp, learner_url) for lp in shown]
    charts = _charts(shown, (pcn, cohort, status, g.user.role, g.user.pcn))
    return render_template("learners.html", learners=shown, rows=rows, cohorts=cohorts, cohort=cohort,
                           pcns=pcns, pcn=pcn, status=status, sort=sort, descending=descending, args=args,
                           charts=charts)


#: A learner's row of the dashboard as HTML, by what it shows (rendered once, whatever progress object it came from).
_ROWS: dict[tuple, Any] = {}


_CHARTS: dict[tuple, tuple[list[LearnerProgress], list]] = {}


def _charts(shown: list[LearnerProgress], key: tuple):
    """The two charts of the learners shown, worked out again only when the progress was."""
    cached = _CHARTS.get(key)
    if cached is None or len(cached[0]) != len(shown) or any(a is not b for a, b in zip(cached[0], shown)):
        if len(_CHARTS) > 100:
            _CHARTS.clear()
        cached = (list(shown), [progress_chart(shown), feedback_chart(shown)])
        _CHARTS[key] = cached
    return cached[1]


def _row(lp: LearnerProgress, learner_url: str):
    """The learner's table row as HTML (``_learner_row.html``), rendered once for what it shows."""
    pack = lp.pack_submission is not None
    row = {"id": learner_id(lp.key), "name": lp.name, "pcn": lp.pcn, "practice": lp.practice, "pack": pack,
           "review": bool(lp.review), "returned": lp.returned, "issued": lp.issued,
           "competencies": "%d/%d" % lp.competencies if pack else "", "signoffs": "%d/%d" % lp.signoffs if pack else "",
           "values": f"{lp.values.done}/{lp.values.total}", "cases": f"{lp.case_studies.done}/{lp.case_studies.total}",
           "initial": "signed" if lp.initial.signed else "not signed",
           "final": "signed" if lp.final.signed else "not signed",
           "forms": lp.feedback.forms, "last": lp.last_ingested[:10], "cohorts": ", ".join(lp.cohorts)}
    key = (learner_url, *row.values())
    cached = _ROWS.get(key)
    if cached is None:
        if len(_ROWS) > 50_000:
            _ROWS.clear()
        cached = _ROWS[key] = Markup(render_template("_learner_row.html", r=row, learner_url=learner_url))
    return cached


def find_learner(lid: str) -> LearnerProgress:
    if not re.fullmatch(r"[0-9a-f]{20}", lid):
        abort(404)
    for lp in progress():
        if learner_id(lp.key) == lid:
            require_scope(lp.pcn)
            return lp
    abort(404)


@bp.route("/learners/<lid>")
def learner(lid: str):
    from generator import api
    lp = find_learner(lid)
    record = api.learner(lp.key, g.store)
    return render_template("learner.html", lp=lp, lid=lid, copies=record.copies, shown={}, link="", link_error="",
                           issued=record.issued, files=record.files)


@bp.route("/learners/<lid>/show", methods=["POST"])
@provider_only
def show_flagged(lid: str):
    """Show one flagged value to a provider (``api.show_flagged`` writes who saw it to the audit log)."""
    from generator import api
    lp = find_learner(lid)
    try:
        sid = int(request.form.get("submission", ""))
    except ValueError:
        abort(404)
    if sid not in lp.submissions:  # a copy of this learner's, in the user's scope (find_learner)
        abort(404)
    shown = api.show_flagged(sid, request.form.get("field", ""), g.store)
    if shown is None:
        abort(404)
    if request.headers.get("HX-Request"):
        return render_template("_shown.html", value=shown.value)
    return render_template("learner.html", lp=lp, lid=lid, copies=api.learner(lp.key, g.store).copies,
                           shown={(sid, shown.field_id): shown.value}, link="", link_error="", issued=[])


# ---------------------------------------------------------------- Returned copies

@dataclass
class UploadResult:
    name: str  # as the uploader named it (shown, never used as a path)
    status: str
    reason: str = ""
    differing: list[str] = field(default_factory=list)
    held: str = ""  # a conflicting copy kept for "Store as new version"
    missing: int = 0
    unmapped: int = 0
    warnings: list[str] = field(default_factory=list)
    learner: str = ""  # learner id, when the copy is in the user's scope


def sniff(data: bytes) -> str | None:
    for magic, kind in SNIFF:
        if data.startswith(magic):
            return kind
    return None


#: How long a conflicting copy is held on the server for "Store as new version" (and a receipt kept after): a
#: returned copy holds a learner's answers, so it is not kept beyond the review it is held for.
HELD_DAYS = 7
#: What the button says once the held copy is gone (or was never there: the page cannot tell which).
HELD_GONE = (f"This copy is no longer held on the server (a copy is held for {HELD_DAYS} days for \"Store as new "
             "version\"): upload the file again, then press the button on its result.")


def _held_dir() -> Path:
    """The folder of held copies, rid first of those held longer than ``HELD_DAYS`` (and their receipts)."""
    folder = Path(current_app.config["WORK_DIR"]) / "held"
    folder.mkdir(mode=0o700, exist_ok=True)
    oldest = time.time() - HELD_DAYS * 86_400
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < oldest:
                os.unlink(entry.path)
        except FileNotFoundError:  # another worker removed it first
            pass
    return folder


def _ingest(files: list[tuple[str, bytes]], supersede: bool = False) -> list[UploadResult]:
    """Sniff each file, refuse what is no copy, store the rest (``api.upload``), and describe each file's
    outcome; a conflict the user may see is held for "Store as new version"."""
    from generator import api

    held_dir = _held_dir()  # which also clears the copies held too long, at every upload
    results: list[list[UploadResult]] = [[] for _ in files]  # a scanned stack: a result per copy found
    sent: list[tuple[str, str, bytes]] = []
    where: list[int] = []  # each file sent: its index in ``files``
    for index, (name, data) in enumerate(files):
        kind = sniff(data)
        if len(data) > MAX_FILE_BYTES:  # read up to one byte over the limit: its size is not known
            results[index] = [UploadResult(name, "rejected", too_large(MAX_FILE_BYTES))]
        elif not data:
            results[index] = [UploadResult(name, "rejected", EMPTY)]
        elif kind is None:
            results[index] = [UploadResult(name, "rejected", NOT_A_COPY_OR_SCAN)]
        else:
            sent.append((uploaded_name(name), upload_file_name(name, f".{kind}"), data))
            where.append(index)
    refused = [(uploaded_name(files[i][0]), r[0].reason) for i, r in enumerate(results) if r]
    # A PCN manager's upload stores only their own PCN's copies (ingest refuses the rest, audited).
    only_pcn = g.user.pcn if g.user.role != "provider" else None
    uploaded = api.upload(sent, g.store, refused=refused, supersede=supersede,
                          jobs=current_app.config["INGEST_JOBS"], only_pcn=only_pcn)
    for done in uploaded:
        o = done.outcome
        index, (_, file_name, data) = where[done.file], sent[done.file]
        name = files[index][0]
        result = UploadResult(name, o.status, _for_the_browser(o.reason), missing=len(o.missing),
                              unmapped=len(o.unmapped), warnings=o.warnings)
        if done.pcn is not None and not in_scope(done.pcn):
            result = UploadResult(name, o.status, "this copy belongs to another PCN's learner")
        elif done.learner_key is not None:
            result.learner = learner_id(done.learner_key)
        if o.status == "conflict" and o.previous_id is not None and in_scope(done.pcn):
            result.differing = done.differing
            held = f"{secrets.token_hex(16)}{Path(file_name).suffix}"
            (held_dir / held).write_bytes(data)
            result.held = held
        results[index].append(result)
    return [r for rs in results for r in rs]


#: ingest's advice to rerun the command, as it reads on the page (which has its own button for a new version)
_COMMAND_ADVICE = {
    ": " + SUPERSEDE_FIX: " (a training provider can store it as a new version)",
    ": " + SUPERSEDE_BLANK_FIX: " (a training provider can store this one as a new version)",
    CHANGED_LEARNER_FIX: "if the learner really changed, a training provider can store it with "
        "'portfolio ingest --accept-changed-learner'",
    DISK_FULL_FIX: "ask the administrator to free some space on the server's disk, then upload it again",
    SERVER_DISK_FULL_FIX: "ask the administrator to free some space on the database server, then upload it again",
}


def _for_the_browser(reason: str) -> str:
    for command, page in _COMMAND_ADVICE.items():
        reason = reason.replace(command, page)
    return reason


@bp.route("/returned", methods=["GET", "POST"])
def returned():
    results: list[UploadResult] = []
    uploads: list[tuple[str, bytes]] = []
    if request.method == "POST":
        uploads = [(uploaded_name(f.filename or ""), f.read(MAX_FILE_BYTES + 1)) for f in request.files.getlist("copies")
                   if f.filename]
        if uploads:
            results = _ingest(uploads)
    template = "_results.html" if request.headers.get("HX-Request") else "returned.html"
    return render_template(template, results=results, files=len(uploads), posted=request.method == "POST")


#: What a second press of "Store as new version" is told (the first one stored the copy).
ALREADY_STORED = "already stored as a new version when the button was first pressed; nothing more was stored"


@bp.route("/returned/new-version", methods=["POST"])
@provider_only
def store_new_version():
    """Store a held conflicting copy as the next version of its form (the old one is kept). Once stored,
    the held copy gives way to a small receipt, so pressing the button again says so rather than 404."""
    held = request.form.get("held", "")
    if not HELD.fullmatch(held):
        abort(404)
    path = _held_dir() / held
    receipt = path.with_name(held + ".stored")
    name = uploaded_name(request.form.get("name", held))
    if not path.is_file():
        if not receipt.is_file():
            abort(make_response(render_template("error.html", title="Copy no longer held", message=HELD_GONE), 410))
        results = [UploadResult(name, "unchanged", ALREADY_STORED, learner=receipt.read_text(encoding="ascii"))]
    else:
        results = _ingest([(name, path.read_bytes())], supersede=True)  # a scanned stack: a result per copy
        if not any(r.status in ("conflict", "rejected", "failed") for r in results):  # else it may be pressed again
            stored = next((r for r in results if r.status == "superseded"), results[0])
            receipt.write_text(stored.learner, encoding="ascii")
            path.unlink(missing_ok=True)
    template = "_results.html" if request.headers.get("HX-Request") else "returned.html"
    return render_template(template, results=results, files=1, posted=True)


# ---------------------------------------------------------------- Exports and audit log

EXPORTS = {
    "csv": ("records.csv", "text/csv", "CSV, a row per submission"),
    "csv-long": ("records-long.csv", "text/csv", "CSV long, a row per submission and field"),
    "json": ("records.json", "application/json", "JSON records"),
    "fhir": ("records.fhir.json", "application/fhir+json", "FHIR R4 Bundle"),
}


@bp.route("/exports")
@provider_only
def exports():
    return render_template("exports.html", exports=EXPORTS)


@bp.route("/exports/<fmt>")
@provider_only
def export_file(fmt: str):
    from generator import api
    if fmt not in EXPORTS:
        abort(404)
    filename, mimetype, _ = EXPORTS[fmt]
    text = api.export(g.store, fmt, audit=f"{fmt} through the web app").text
    return Response(text, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/exports/report.<fmt>")
@provider_only
def export_report(fmt: str):
    from generator import api
    if fmt not in ("html", "pdf"):
        abort(404)
    document = api.report_document(g.store, fmt, title=request.args.get("title", "Cohort progress")[:120],
                                   source="web app", audit=f"report {fmt} through the web app")
    mimetype = "text/html" if fmt == "html" else "application/pdf"
    return Response(document, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="cohort-progress.{fmt}"'})


@bp.route("/audit")
@provider_only
def audit():
    from generator import api
    log = api.audit_log(g.store)
    return render_template("audit.html", entries=log.entries, total=log.total)


def init(app: Flask) -> None:
    app.register_blueprint(bp)
