"""Learners' return links: a personal link, tied to one issued copy, where a learner
uploads their filled copy without email.

In: a token from the link (only its SHA-256 is stored, with the instance id it
accepts and when it expires) and the learner's file. Out: the file ingested as
``ingest`` does, when it is a copy of that one instance; otherwise refused. The
page shows nothing of any record: only whether the copy was received.
A provider makes a link on the learner's page, choosing when it expires.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, current_app, g, render_template, request

from generator.web.auth import provider_only

bp = Blueprint("returns", __name__)

#: What a learner is told for each outcome (never a value, a name or another copy's facts).
SAID = {
    "new": "Received: thank you. Your training provider can see it now.",
    "unchanged": "This copy was received before; nothing more to do.",
    "superseded": "Received: thank you.",
    "conflict": "A different version of this copy was received before. Nothing was stored: ask your training "
                "provider to take this one instead.",
}


def _valid(token: str):
    from generator.records.users import check_return_token
    row = check_return_token(g.store, token)
    if row is None:
        abort(404)
    return row


@bp.route("/return/<token>", methods=["GET", "POST"])
def return_copy(token: str):
    from generator import api
    from generator.reading.sandbox import call_isolated
    from generator.records.ingest import read_copy
    from generator.web.views import MAX_FILE_BYTES, sniff
    row = _valid(token)
    message, ok = "", False
    if request.method == "POST":
        upload = request.files.get("copy")
        data = upload.read(MAX_FILE_BYTES + 1) if upload else b""
        kind = sniff(data)
        if not data:
            message = "Choose your filled copy (PDF or Word) first."
        elif len(data) > MAX_FILE_BYTES or kind is None:
            message = "This is not a PDF or Word (.docx) file of up to 25 MB."
        else:
            read = call_isolated(read_copy, (data, f"returned.{kind}"))
            record = read.value.record if read.status == "ok" and read.value.record is not None else None
            if record is None:
                message = "This file cannot be read as a portfolio copy; send it to your training provider."
            elif str(record.pack.get("instance_id") or "") != row.instance_id:
                message = "This is not the copy this link is for: upload the copy you were sent with this link."
                with g.store.transaction():
                    g.store.add_audit("return refused", instance_id=row.instance_id,
                                      detail="a copy of another instance was sent to this return link")
            else:
                with tempfile.TemporaryDirectory(prefix="return-") as tmp:
                    path = Path(tmp) / f"returned.{kind}"
                    path.write_bytes(data)
                    outcome = api.ingest([path], store=g.store, jobs=current_app.config["INGEST_JOBS"]).files[0]
                with g.store.transaction():
                    g.store.add_audit("returned by link", sha256=outcome.sha256, instance_id=row.instance_id,
                                      submission_id=outcome.submission_id, detail=outcome.status)
                message = SAID.get(outcome.status, "This copy could not be stored; send it to your training "
                                                   "provider.")
                ok = outcome.status in ("new", "unchanged", "superseded")
    return render_template("return.html", message=message, ok=ok, expires=row.expires[:10])


@bp.route("/learners/<lid>/return-link", methods=["POST"])
@provider_only
def make_link(lid: str):
    """A new return link for one of the learner's issued copies, expiring at the end of the chosen day (UTC)."""
    from generator import api
    from generator.web.views import find_learner
    lp = find_learner(lid)
    instance = request.form.get("instance", "")
    record = api.learner(lp.key, g.store)
    if instance not in record.issued:
        abort(404)
    try:
        day = datetime.strptime(request.form.get("expires", ""), "%Y-%m-%d").date()
    except ValueError:
        day = None
    error = ""
    if day is None:
        error = "Choose the day the link stops working."
    elif day < datetime.now(timezone.utc).date():
        error = "The expiry day is in the past."
    link = ""
    if not error:  # valid to the end of that day (UTC)
        link = api.return_links(g.store, request.url_root.rstrip("/"), day.isoformat())(instance)
    return render_template("learner.html", lp=lp, lid=lid, copies=record.copies, shown={}, link=link,
                           link_error=error, issued=record.issued), (422 if error else 200)
