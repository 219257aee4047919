"""The web app for training providers and PCN practice managers (Flask).

In: a records store (the same one the CLI uses) and a secret key. Out: a Flask
app with sign-in, the learners dashboard, learner pages, returned-copy uploads
and exports, over the same library as the CLI. Pages are Jinja2 templates in
``templates/web/``; htmx (pinned, in ``static/``) does the partial updates.

Every request opens the store for itself (and closes it), so the app runs in
several gunicorn workers at once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from generator.errors import WebError
from generator.records.store import store_path

#: Environment variable holding the secret key that signs session cookies.
SECRET_ENV = "PORTFOLIO_SECRET_KEY"
#: Largest request body (a batch of returned copies).
MAX_UPLOAD_BYTES = 200_000_000
#: The pinned htmx file served from static/.
HTMX_FILE = "htmx-2.0.11.min.js"


def work_dir(store: str | Path) -> Path:
    """The web app's folder beside the store: secret key, copies held for a decision, jobs."""
    path = store_path(store)
    return path.with_name(path.name + ".web")


def secret_key(store: str | Path) -> str:
    """$PORTFOLIO_SECRET_KEY, else the key kept beside the store (made once, readable by its owner only)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    folder = work_dir(store)
    key_file = folder / "secret_key"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = key_file.read_text(encoding="ascii").strip()
            if len(key) < 32:
                raise WebError(f"{key_file}: the secret key is too short; delete the file to make a new one")
            return key
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key + "\n")
        return key
    except OSError as exc:
        raise WebError(f"{key_file}: cannot keep the secret key there ({exc.strerror}); "
                       f"set ${SECRET_ENV} or choose another --store") from None


def create_app(store: str | Path | None = None, *, key: str | None = None, config: dict[str, Any] | None = None):
    """The Flask app over the records store ``store`` (see ``store_path``).

    ``key`` signs the session cookies (None: ``secret_key(store)``); ``config``
    overrides Flask settings (tests use it).
    """
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect
    from jinja2 import StrictUndefined

    from generator.content.theme import TEMPLATES_DIR, css_string
    from generator.web import auth, cohorts, profiles, returns, scans, views
    from generator.web.sessions import SessionInterface

    store = str(store_path(store))
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR / "web"), static_folder="static")
    app.config.update(
        STORE=store,
        WORK_DIR=str(work_dir(store)),
        SECRET_KEY=key or secret_key(store),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        MAX_FORM_MEMORY_SIZE=1_000_000,
        SESSION_COOKIE_NAME="portfolio_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,  # Secure is set on requests that came over HTTPS (SessionInterface)
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        INGEST_JOBS=None,
        CONTENT_DIR=None,  # the content whose PCN profiles the editor changes (None: the shipped content)
        PUBLIC_URL=None,  # the start of learners' return links (None: the address each page was opened at)
        HTMX_FILE=HTMX_FILE,
    )
    if config:
        app.config.update(config)
    Path(app.config["WORK_DIR"]).mkdir(mode=0o700, exist_ok=True)
    app.session_interface = SessionInterface()
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.filters["css_string"] = css_string
    CSRFProtect(app)
    auth.init(app)
    views.init(app)
    for blueprint in (cohorts.bp, profiles.bp, returns.bp, scans.bp):
        app.register_blueprint(blueprint)
    return app
