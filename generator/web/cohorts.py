"""Issue a cohort from the browser: roster upload, the same row checks as the CLI, a
background job with a progress bar, a zip of the packs.

In: a roster CSV and a cohort name from a provider. Out: a job folder under the
app's work folder, named by a random id (never by anything the user typed):
``roster.csv``, ``job.json`` (who, when, cohort), ``progress.json`` (done, total,
state), ``out/`` (what ``issue_cohort`` writes) and ``cohort.zip``. The job runs
in a process of its own, so a request never waits for 1,000 learners.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, render_template, request, send_file, url_for

from generator.web.auth import provider_only

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


def _check(roster: Path, content_dir: str | None):
    """The roster's learners, or (None, problems) with every problem as the CLI lists them."""
    from generator.content.loader import load_content
    from generator.content.profile import list_profiles
    from generator.errors import ContentError
    from generator.issuing.roster import read_roster
    content = load_content(content_dir)
    try:
        return read_roster(roster, set(list_profiles(content.directory))), []
    except ContentError as exc:
        return None, [str(p) for p in exc.problems]


def run_job(folder: str, store: str, actor: str, content_dir: str | None = None) -> None:
    """The background job (in a process of its own): issue, zip, record in the store."""
    from contextlib import ExitStack

    from generator.content.loader import load_content
    from generator.dates import format_date
    from generator.errors import PortfolioError
    from generator.issuing.issue import issue_cohort
    from generator.records.connect import open_store
    from generator.records.register import import_register

    path = Path(folder)
    job = json.loads((path / "job.json").read_text(encoding="utf-8"))
    state = {"state": "running", "done": 0, "total": 0}
    try:
        learners, problems = _check(path / "roster.csv", content_dir)
        if learners is None:
            raise PortfolioError("; ".join(problems))
        state["total"] = len(learners)
        _write_json(path / "progress.json", state)

        def progress(n: int) -> None:
            state["done"] += n
            _write_json(path / "progress.json", state)

        with ExitStack() as stack:
            link = None
            if job.get("return_by"):  # each PDF cover shows its learner's return link to this app
                from generator.api import return_links
                tokens = stack.enter_context(open_store(store))
                tokens.actor = actor
                link = return_links(tokens, job["return_url"], job["return_by"])
            result = issue_cohort(learners, job["cohort"], path / "out", load_content(content_dir),
                                  ("pdf", "docx"), int(job.get("feedback_forms", 0)), None, progress,
                                  return_link=link, return_by=format_date(job["return_by"]) if link else "")
        with zipfile.ZipFile(path / "cohort.zip.tmp", "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(result.cohort_dir.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(result.cohort_dir.parent))
        os.replace(path / "cohort.zip.tmp", path / "cohort.zip")
        with open_store(store) as records:
            records.actor = actor
            import_register(records, result.register)
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
    learners = None
    job_id = ""
    cohort = request.form.get("cohort", "").strip()[:100]
    return_by = request.form.get("return_by", "").strip()[:40]  # optional: the day return links stop working
    return_url = ""
    if request.method == "POST":
        roster = request.files.get("roster")
        data = roster.read(MAX_ROSTER_BYTES + 1) if roster else b""
        if not data:
            problems = ["choose a roster file (CSV)"]
        elif len(data) > MAX_ROSTER_BYTES:
            problems = [f"the roster is larger than {MAX_ROSTER_BYTES // 1_000_000} MB; split it"]
        elif data.startswith(b"PK\x03\x04"):
            problems = ["the roster is a spreadsheet file: save it as 'CSV UTF-8' and upload that"]
        elif not cohort:
            problems = ["give the cohort a name (e.g. 2026 autumn)"]
        elif return_by:
            from generator.api import return_link_options
            from generator.errors import OptionError
            try:
                return_url, return_by = return_link_options(request.host_url, return_by)
            except OptionError as exc:
                problems = [f"return links: {exc}"]
        if not problems:
            job_id = secrets.token_hex(16)
            folder = _jobs_dir() / job_id
            folder.mkdir(mode=0o700)
            (folder / "roster.csv").write_bytes(data)
            learners, problems = _check(folder / "roster.csv", current_app.config.get("CONTENT_DIR"))
            if learners is None:
                job_id = ""
            else:
                _write_json(folder / "job.json", {"cohort": cohort, "by": g.user.email, "learners": len(learners),
                                                  "feedback_forms": 0, "return_url": return_url,
                                                  "return_by": return_by})
    return render_template("cohorts.html", problems=problems, learners=learners, job_id=job_id, cohort=cohort,
                           return_by=return_by)


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
    return render_template(template, job=job, job_id=job_id, progress=read_progress(folder),
                           files=_files(folder))


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
