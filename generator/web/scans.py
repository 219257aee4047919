"""The scan review page: what scanned paper copies left to a person, each crop beside an input.

In: the store's scanned fields still waiting (``api.scan_pending_page``: one
page of ``PAGE_SIZE`` fields at a time, only those read from the store)
and what a provider types or decides. Out: the page listing them (handwriting shown as
its image, undecided marks with each bubble's ink), the crop images, and each entry
recorded with who made it (``enter_value``; the audit log names the signed-in user).
Providers only.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from generator.errors import ReviewError
from generator.web.auth import provider_only

bp = Blueprint("scans", __name__)


#: Fields shown on one page of the list (only those are read from the store).
PAGE_SIZE = 50


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


@bp.route("/scans")
@provider_only
def scans():
    from generator import api
    page = _page_number()
    pending, total = api.scan_pending_page(PAGE_SIZE, (page - 1) * PAGE_SIZE, g.store)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:
        kept = {k: request.args[k] for k in ("saved", "field") if k in request.args}
        return redirect(url_for("scans.scans", page=pages, **kept))
    lost = api.scan_unidentified(g.store)
    return render_template("scans.html", pending=pending, total=total, page=page, pages=pages,
                           first=(page - 1) * PAGE_SIZE + 1, lost=len(lost), error=request.args.get("error", ""),
                           saved=_saved())


def _saved():
    """The entry just saved (``?saved=SID&field=ID`` after "Save"), read back from the store, or None."""
    from generator import api
    sid, field_id = request.args.get("saved", ""), request.args.get("field", "")
    if not sid.isdigit() or not field_id or len(sid) > 12 or len(field_id) > 200:
        return None
    return api.scan_saved(int(sid), field_id, g.store)


@bp.route("/scans/<int:sid>/<field_id>/crop.png")
@provider_only
def crop(sid: int, field_id: str):
    from generator import api
    try:
        data = api.scan_crop(sid, field_id, g.store)
    except ReviewError:
        abort(404)
    return Response(data, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})


@bp.route("/scans/<int:sid>/<field_id>", methods=["POST"])
@provider_only
def enter(sid: int, field_id: str):
    from generator import api
    page = _page_number()
    try:
        api.scan_enter(sid, field_id, request.form.get("value", ""), g.store)
    except ReviewError as exc:
        return redirect(url_for("scans.scans", error=str(exc), page=page))
    return redirect(url_for("scans.scans", page=page, saved=sid, field=field_id))
