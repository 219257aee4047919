"""Learners' return links: a personal link, tied to one issued copy, where a learner
uploads their filled copy without email.

In: a token from the link (only its SHA-256 is stored, with the instance id it
accepts and when it expires) and the learner's file. Out: the file ingested as
``ingest`` does, when it is a copy of that one instance; otherwise refused
(``api.return_by_link``, which audits either). The
page shows nothing of any record: only whether the copy was received.
A provider makes a link on the learner's page, choosing when it expires.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import NoReturn

from flask import Blueprint, abort, current_app, g, make_response, render_template, request

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


#: What someone following a return link that does not work is told (nothing of any record, and nothing
#: that tells an expired link from one that never was).
LINK_GONE = ("This link does not work: it has expired, or it is not a link from a portfolio cover. Ask your "
             "training provider for a new link, or send them your filled copy.")


def _gone() -> NoReturn:
    abort(make_response(render_template("error.html", title="Return link not valid", message=LINK_GONE), 404))


def _valid(token: str):
    from generator import api
    row = api.return_link_valid(token, g.store)
    if row is None:
        _gone()
    return row


#: What a learner is told when their file was not stored for what it is.
NOT_READ = {
    "unreadable": "This file cannot be read as a portfolio copy; send it to your training provider.",
    "other copy": "This is not the copy this link is for: upload the copy you were sent with this link.",
}


@bp.route("/return/<token>", methods=["GET", "POST"])
def return_copy(token: str):
    from generator import api
    from generator.web.views import MAX_FILE_BYTES, sniff
    row = _valid(token)
    message, ok = "", False
    if request.method == "POST":
        upload = request.files.get("copy")
        data = upload.read(MAX_FILE_BYTES + 1) if upload else b""
        kind = sniff(data)
        if not data:
            message = "Choose your filled copy (PDF or Word, or a scan of it) first."
        elif len(data) > MAX_FILE_BYTES:
            message = (f"This file is over the limit of {MAX_FILE_BYTES // 1_000_000} MB. A filled copy is under "
                       "2 MB: upload the copy you were sent with this link, filled in and saved.")
        elif kind is None:
            message = ("This is not a PDF, Word (.docx) or scanned (PNG, JPEG, TIFF) file: upload the copy you were "
                       "sent with this link, filled in and saved as it was (.pdf or .docx), or a scan of it printed "
                       "and filled in by hand.")
        else:
            returned = api.return_by_link(token, data, kind, g.store, jobs=current_app.config["INGEST_JOBS"])
            if returned is None:  # expired while the file was on its way
                _gone()
            message = NOT_READ.get(returned.status) or SAID.get(
                returned.status, "This copy could not be stored; send it to your training provider.")
            ok = returned.status in ("new", "unchanged", "superseded")
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
        from generator.web.links import return_base
        link = api.return_links(g.store, return_base(), day.isoformat())(instance)
    return render_template("learner.html", lp=lp, lid=lid, copies=record.copies, shown={}, link=link,
                           link_error=error, issued=record.issued, files=record.files), (422 if error else 200)
