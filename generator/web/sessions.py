"""Session cookies: signed, HttpOnly, SameSite=Lax, and Secure on requests that came over HTTPS."""

from __future__ import annotations

from flask import request
from flask.sessions import SecureCookieSessionInterface


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure flag following the request's scheme.

    Behind a reverse proxy that terminates HTTPS, ``portfolio serve --behind-proxy``
    trusts its X-Forwarded-Proto header, so ``request.is_secure`` is true there too.
    """

    def get_cookie_secure(self, app) -> bool:  # noqa: ANN001 (Flask's signature)
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
