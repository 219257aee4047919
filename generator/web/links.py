"""Where learners' return links point: the web app's public address.

In: ``PUBLIC_URL`` of the app's settings (``portfolio serve --public-url`` or
$PORTFOLIO_PUBLIC_URL), else the address the browser reached the app at (behind a
reverse proxy with ``--behind-proxy``, the host the proxy passes on). Out: the base
of every return link (``https://portfolio.example.org``), and whether that base is
this computer's own address, which no learner's phone or computer can reach.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import current_app, request

#: Environment variable naming the web app's public address (as ``serve --public-url`` does).
PUBLIC_URL_ENV = "PORTFOLIO_PUBLIC_URL"


def return_base() -> str:
    """The base of return links made in this request: the public address if one was set, else the
    address this request came to."""
    return (current_app.config.get("PUBLIC_URL") or request.url_root).rstrip("/")


def is_local(url: str) -> bool:
    """Whether ``url`` names this computer only (localhost, 127.0.0.0/8, ::1): a link no one else can open."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_public_url(url: str) -> str:
    """``serve --public-url``'s value as the base of return links, or OptionError naming the fix."""
    from generator.errors import OptionError
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise OptionError("public_url", f"{url!r} is not the web app's address: give it as "
                                        "https://portfolio.example.org (http or https, no query)")
    return url.strip().rstrip("/")
