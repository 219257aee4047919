"""Issue a cohort from the browser: roster upload, the same row checks as the CLI, a
background job with a progress bar, a zip of the packs.

In: a roster (CSV or an Excel .xlsx workbook) and a cohort name from a provider.
Out: a job folder under the app's work folder, named by a random id (never by
anything the user typed): ``roster.csv`` or ``roster.xlsx`` (by the file's first
bytes), ``job.json`` (who, when, cohort), ``progress.json`` (done, total,
state), ``out/`` (what ``api.issue`` writes) and ``cohort.zip``. The roster is
checked by ``api.plan_issue``, as ``portfolio issue`` checks it, before and again
when the job starts; the job runs in a process of its own, so a request never
waits for 1,000 learners.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, send_file

from generator.web.auth import provider_only, uploaded_name
from generator.web.links import PUBLIC_URL_ENV, is_local, return_base

bp = Blueprint("cohorts", __name__)

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_ROSTER_BYTES = 2_000_000


def _jobs_dir() -> Path:
    folder = Path(current_app.config["WORK_DIR"]) / "cohorts"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _job(job_id: str) -> Path:
    if not JOB_ID.fullmatch(job_id):
        abort(404)
    folder = _jobs_dir() / job_id
    if not (folder / "job.json").is_file():
        abort(404)
    return folder


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def read_progress(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "starting", "done": 0, "total": 0}


#: What the page issues: both formats of every learner's pack.
FORMATS = ("pdf", "docx")
#: The roster's name in a job folder, by its first bytes (an .xlsx workbook is a zip).
ROSTER_NAMES = {True: "roster.xlsx", False: "roster.csv"}


def _roster(folder: Path) -> Path:
    return next((folder / n for n in ROSTER_NAMES.values() if (folder / n).is_file()), folder / "roster.csv")


def _plan(folder: Path, job: dict[str, Any], content_dir: str | None):
    """(``api.IssuePlan``, []) for the job's roster, or (None, problems): every problem as
    ``portfolio issue`` lists it (each bad row with its line), or the one that stops it."""
    from generator import api
    from generator.errors import ContentError, PortfolioError
    try:
        return api.plan_issue(_roster(folder), job["cohort"], out_dir=folder / "out", content_dir=content_dir,
                              formats=FORMATS, feedback_forms=int(job.get("feedback_forms", 0)),
                              return_url=job.get("return_url", ""), return_by=job.get("return_by", "")), []
    except ContentError as exc:
        return None, [str(p) for p in exc.problems]
    except PortfolioError as exc:
        return None, [str(exc)]


def _as_uploaded(message: str, server_name: str, shown: str) -> str:
    """A roster problem as the user knows the file: by the name they uploaded it under."""
    return shown + message[len(server_name):] if message.startswith(server_name + ":") else message


def run_job(folder: str, store: str, actor: str, content_dir: str | None = None) -> None:
    """The background job (in a process of its own): plan and issue through ``api`` (the copies'
    register imported into the store), zip, and audit."""
    from generator import api
    from generator.errors import PortfolioError
    from generator.records.connect import open_store

    path = Path(folder)
    job = json.loads((path / "job.json").read_text(encoding="utf-8"))
    state = {"state": "running", "done": 0, "total": 0}
    try:
        plan, problems = _plan(path, job, content_dir)
        if plan is None:
            raise PortfolioError("; ".join(problems))
        state["total"] = len(plan.learners)
        _write_json(path / "progress.json", state)

        def progress(done: int, total: int) -> None:
            state.update(done=done, total=total)
            _write_json(path / "progress.json", state)

        result = api.issue(plan, store=store, progress=progress, actor=actor).result
        with zipfile.ZipFile(path / "cohort.zip.tmp", "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(result.cohort_dir.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(result.cohort_dir.parent))
        os.replace(path / "cohort.zip.tmp", path / "cohort.zip")
        with open_store(store) as records:
            records.actor = actor
            with records.transaction():
                records.add_audit("cohort issued", filename=result.register.name,
                                  detail=f"{job['cohort']}: {result.learners} learners, {result.files} files "
                                         "through the web app")
        state.update(state="done", files=result.files, register=str(result.register.relative_to(path)))
    except BaseException as exc:  # the page must learn that the job stopped, and why
        state.update(state="failed", error=str(exc) if isinstance(exc, PortfolioError) else type(exc).__name__)
    _write_json(path / "progress.json", state)


def _start(folder: Path) -> None:
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no request state, no open store
    content_dir = current_app.config.get("CONTENT_DIR")
    process = context.Process(target=run_job, args=(str(folder), current_app.config["STORE"], g.store.actor,
                                                    str(content_dir) if content_dir else None), daemon=False)
    process.start()
    (folder / "pid").write_text(str(process.pid), encoding="ascii")
    multiprocessing.active_children()  # reaps jobs that have finished


@bp.route("/cohorts", methods=["GET", "POST"])
@provider_only
def issue():
    problems: list[str] = []
    warnings: list[str] = []
    learners = None
    job_id = ""
    cohort = request.form.get("cohort", "").strip()[:100]
    return_by = request.form.get("return_by", "").strip()[:40]  # optional: the day return links stop working
    return_url = ""
    if request.method == "POST":
        roster = request.files.get("roster")
        data = roster.read(MAX_ROSTER_BYTES + 1) if roster else b""
        if not data:
            problems = ["choose a roster file (CSV or Excel .xlsx)"]
        elif len(data) > MAX_ROSTER_BYTES:
            problems = [f"the roster is larger than {MAX_ROSTER_BYTES // 1_000_000} MB; split it"]
        elif not cohort:
            problems = ["give the cohort a name (e.g. 2026 autumn)"]
        elif return_by:
            from generator.api import return_link_options
            from generator.errors import OptionError
            try:
                return_url, return_by = return_link_options(return_base(), return_by)
            except OptionError as exc:
                problems = [f"return links: {exc}"]
        if not problems:
            job_id = secrets.token_hex(16)
            folder = _jobs_dir() / job_id
            folder.mkdir(mode=0o700)
            # Named by its first bytes (a workbook is a zip), never by the name it was uploaded under.
            (folder / ROSTER_NAMES[data.startswith(b"PK\x03\x04")]).write_bytes(data)
            job = {"cohort": cohort, "by": g.user.email, "feedback_forms": 0, "return_url": return_url,
                   "return_by": return_by}
            content_dir = current_app.config.get("CONTENT_DIR")
            plan, problems = _plan(folder, job, str(content_dir) if content_dir else None)
            server_name = _roster(folder).name
            shown = uploaded_name(roster.filename or server_name)
            problems = [_as_uploaded(p, server_name, shown) for p in problems]
            if plan is None:  # nothing is kept of a roster that cannot be issued
                shutil.rmtree(folder)
                job_id = ""
            else:
                learners, warnings = plan.learners, [_as_uploaded(w, server_name, shown) for w in plan.warnings]
                _write_json(folder / "job.json", {**job, "learners": len(learners)})
    base = return_base()
    return render_template("cohorts.html", problems=problems, warnings=warnings, learners=learners, job_id=job_id,
                           cohort=cohort, return_by=return_by, link_base=base, link_local=is_local(base),
                           public_set=bool(current_app.config.get("PUBLIC_URL")), public_env=PUBLIC_URL_ENV,
                           kept=_jobs_dir() / job_id / "out" if job_id else _jobs_dir())


@bp.route("/cohorts/<job_id>/issue", methods=["POST"])
@provider_only
def start(job_id: str):
    folder = _job(job_id)
    if not (folder / "progress.json").exists():
        _write_json(folder / "progress.json", {"state": "starting", "done": 0, "total": 0})
        _start(folder)
    return job_page(job_id)


@bp.route("/cohorts/<job_id>")
@provider_only
def job_page(job_id: str):
    folder = _job(job_id)
    job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    template = "_job.html" if request.headers.get("HX-Request") else "job.html"
    progress = read_progress(folder)
    kept = (folder / progress["register"]).parent if progress.get("state") == "done" else folder / "out"
    return render_template(template, job=job, job_id=job_id, progress=progress, files=_files(folder), kept=kept)


def _files(folder: Path) -> list[tuple[int, str, str]]:
    """(index, learner, file) of each issued file, from the job's register."""
    import csv
    progress = read_progress(folder)
    if progress.get("state") != "done":
        return []
    with (folder / progress["register"]).open(encoding="utf-8", newline="") as handle:
        return [(n, row["learner"], row["file"]) for n, row in enumerate(csv.DictReader(handle))]


@bp.route("/cohorts/<job_id>/cohort.zip")
@provider_only
def download(job_id: str):
    folder = _job(job_id)
    if not (folder / "cohort.zip").is_file():
        abort(404)
    return send_file(folder / "cohort.zip", as_attachment=True, download_name="cohort.zip",
                     mimetype="application/zip")


@bp.route("/cohorts/<job_id>/files/<int:index>")
@provider_only
def learner_file(job_id: str, index: int):
    folder = _job(job_id)
    files = _files(folder)
    if not 0 <= index < len(files):
        abort(404)
    progress = read_progress(folder)
    cohort_dir = (folder / progress["register"]).parent
    path = (cohort_dir / files[index][2]).resolve()
    if cohort_dir.resolve() not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name)
