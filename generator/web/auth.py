"""Who is asking: the store per request, sign in and out, role and PCN scope checks.

Every page but sign-in (and static files) needs a signed-in, enabled account;
``provider_only`` pages answer 403 to PCN managers, and ``in_scope`` turns
another PCN's learner or copy into a 404, so a PCN manager cannot even tell
that it exists.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from flask import Flask, abort, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from generator import api
from generator.records.connect import open_store
from generator.records.store import User

#: Endpoints reachable without signing in.
PUBLIC = {"static", "auth.signin", "returns.return_copy"}

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")


def current_user() -> User | None:
    return g.get("user")


def provider_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """The page is for training providers; PCN managers get 403."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.user.role != "provider":
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def in_scope(pcn: str | None) -> bool:
    """Whether the signed-in user may see a learner or copy of PCN ``pcn``."""
    user = g.user
    return user.role == "provider" or (pcn is not None and pcn == user.pcn)


def require_scope(pcn: str | None) -> None:
    if not in_scope(pcn):
        abort(404)


def _open() -> None:
    if request.endpoint == "static":
        return
    g.store = open_store(g_store_url())
    g.user = None
    email = session.get("user")
    if email:
        user = api.signed_in_user(email, g.store)
        if user is None:
            session.clear()
        else:
            g.user = user
            g.store.actor = f"web:{user.email}"
    if g.user is None:
        g.store.actor = "web"
        if request.endpoint not in PUBLIC:
            if request.headers.get("HX-Request"):
                return ("", 401, {"HX-Redirect": url_for("auth.signin")})
            return redirect(url_for("auth.signin", next=request.full_path if request.method == "GET" else None))
    return None


def g_store_url() -> str:
    from flask import current_app
    return current_app.config["STORE"]


def _close(_exc: BaseException | None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) is followed after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("views.learners")


def signin():
    error = ""
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")[:320]  # typed again into the box after a failure; never the password
        result = api.sign_in(email, request.form.get("password", ""), g.store)
        if result.user is not None:
            session.clear()
            session["user"] = result.user.email
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = result.reason
    return render_template("signin.html", error=error, email=email), (401 if error else 200)


def signout():
    if g.user is not None:
        api.sign_out(g.user.email, g.store)
    session.clear()
    return redirect(url_for("auth.signin"))


def _error(code: int, title: str, message: str):
    return render_template("error.html", title=title, message=message, code=code), code


#: What a page says when the server's disk is full (the command line says ``errors.DISK_FULL_FIX``).
#: It claims nothing of what was kept: a full disk can stop a cohort's issue or a profile's save part way.
DISK_FULL_PAGE = ("The server's disk is full, so this could not be finished. Ask the administrator to free some "
                  "space on it, then try again.")


def _disk_full(exc: Exception):
    """The page for a full disk met while writing a file or the store; any other such error goes on as a 500."""
    import errno
    from generator.errors import StoreError, WriteError
    if (isinstance(exc, WriteError) and exc.disk_full
            or isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
            or isinstance(exc, StoreError) and ("disk is full" in str(exc))):
        return _error(507, "Disk full", DISK_FULL_PAGE)
    raise exc


def init(app: Flask) -> None:
    from flask import Blueprint
    bp = Blueprint("auth", __name__)
    bp.add_url_rule("/signin", "signin", signin, methods=["GET", "POST"])
    bp.add_url_rule("/signout", "signout", signout, methods=["POST"])
    app.register_blueprint(bp)
    app.before_request(_open)
    app.teardown_request(_close)
    app.after_request(_headers)
    app.context_processor(lambda: {"user": g.get("user")})
    app.register_error_handler(CSRFError, lambda e: _error(
        400, "Form expired", "The form was out of date or not sent by this site. Go back, reload the page and "
                             "try again."))
    app.register_error_handler(403, lambda e: _error(403, "Not allowed", "This page is for training providers."))
    app.register_error_handler(404, lambda e: _error(404, "Not found", "There is nothing here, or it is not "
                                                                      "in your PCN."))
    from generator.errors import StoreError, WriteError
    for kind in (OSError, WriteError, StoreError):
        app.register_error_handler(kind, _disk_full)
    app.register_error_handler(413, lambda e: _error(
        413, "Too large", "The upload is larger than the limit (200 MB in one go, 25 MB a file). "
                          "Upload fewer files at a time."))


def uploaded_name(name: str) -> str:
    """An uploader's file name as text for the audit log and the page (no folders, bounded); it is
    never used as a path as it is (see ``upload_file_name``)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:200] or "(no name)"


def upload_file_name(name: str, suffix: str) -> str:
    """The name an upload is written under, inside a folder the server makes for it, so that ingest
    stores the learner's own file name: letters, digits, spaces and ``-_.()`` of the uploaded name
    (anything else becomes ``_``), no leading dot, at most 100 characters, ending in ``suffix``
    (the kind of file its bytes are, e.g. ``.pdf``)."""
    base = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable())
    if base.lower().endswith(suffix.lower()):
        base = base[: -len(suffix)]
    stem = "".join(c if c.isalnum() or c in " -_.()" else "_" for c in base).strip().lstrip(".").strip()
    return (stem[:100] or "copy") + suffix
