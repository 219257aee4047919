"""Run the web app under gunicorn (``portfolio serve``).

In: host, port, number of workers, the store, whether a reverse proxy sits in
front. Out: a running server until Ctrl-C (SIGINT) or SIGTERM stops it.

The access log names the method, the path without its query, the status,
the size and the time: learner pages are addressed by hashes, so no name or
other identifier reaches the log.
"""

from __future__ import annotations

import re
import signal
from typing import Any

#: What gunicorn logs per request: no query strings, no referrers, no user agents.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def redact_path(path: str) -> str:
    """A request path as logged: a learner's return-link token is a credential, so it is never written."""
    return re.sub(r"^/return/[^/?]+", "/return/(token)", path)


def serve(app: Any, host: str, port: int, workers: int, *, behind_proxy: bool = False,
          on_ready: Any = None) -> None:
    """Serve ``app`` with ``workers`` gunicorn sync workers until interrupted."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from generator.web.views import warm_up

    class RedactingLogger(Logger):
        def atoms(self, resp, req, environ, request_time):  # noqa: ANN001 (gunicorn's signature)
            atoms = super().atoms(resp, req, environ, request_time)
            atoms["U"] = redact_path(atoms.get("U", ""))
            return atoms

    if behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    def when_ready(arbiter: Any) -> None:
        # Ctrl-C stops gracefully, as SIGTERM does: each worker finishes the request it is answering (and its
        # access-log line) before it exits, instead of gunicorn's quick exit in the middle of a request.
        arbiter.handle_int = arbiter.handle_term
        # The cohort's progress is worked out once, here in the master before any worker is forked: every
        # worker (and every one started later in place of another) inherits it instead of working it out
        # again, and works out only what was stored since.
        warm_up(app)
        if on_ready:
            on_ready()

    def quiet_worker(worker: Any) -> None:
        # A terminal's Ctrl-C reaches every process of the group; the workers leave it to the master,
        # which stops them gracefully (above).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        warm_up(app)  # brought up to date before the worker's first request (the master's is inherited)

    class Server(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers,
                "worker_class": "sync",
                "timeout": 300,  # a batch of 100 returned copies is read within one request
                "graceful_timeout": 10,
                "accesslog": "-",
                "errorlog": "-",
                "loglevel": "warning",
                "access_log_format": ACCESS_LOG_FORMAT,
                "forwarded_allow_ips": "127.0.0.1,::1" if behind_proxy else "",
                "when_ready": when_ready,
                "post_worker_init": quiet_worker,
                "proc_name": "portfolio-web",
                "logger_class": RedactingLogger,
            }
            for key, value in settings.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    Server().run()
