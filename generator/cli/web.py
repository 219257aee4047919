"""Command line for the web app: ``serve`` and the ``user`` accounts it signs in.

Accounts live in the records store, so every command here takes ``--store``
(or $PORTFOLIO_STORE) like ingest and records do. Passwords are read from
standard input, never from the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.cli.common import CONTENT_OPTION, fail, main
from generator.errors import OptionError, PortfolioError, StoreError
from generator.records.store import DEFAULT_STORE, STORE_ENV

STORE_OPTION = click.option(
    "--store", "store_file", type=click.Path(dir_okay=False, path_type=Path), envvar=STORE_ENV,
    default=DEFAULT_STORE, show_default=True, show_envvar=True,
    help="The records store (an SQLite file); it holds the accounts too.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes (each serves one request at a time).")
@click.option("--behind-proxy", is_flag=True,
              help="Trust X-Forwarded-Proto/-For/-Host from a reverse proxy on this machine (HTTPS in front).")
@click.option("--public-url", envvar="PORTFOLIO_PUBLIC_URL", show_envvar=True, metavar="URL",
              help="The address learners reach the app at (e.g. https://portfolio.example.org): the start of "
                   "their return links. Default: the address each page was opened at.")
@STORE_OPTION
@CONTENT_OPTION
def serve(host: str, port: int, workers: int, behind_proxy: bool, public_url: str | None, store_file: Path,
          content_dir: Path | None) -> None:
    """Run the web app (under gunicorn) until Ctrl-C.

    The session key is $PORTFOLIO_SECRET_KEY, or one made once and kept beside
    the store (STORE.web/secret_key). Sign in with an account made by
    'portfolio user add'.

    Example: portfolio serve --port 8000 --store records.sqlite
    """
    from generator.records.connect import describe_store, open_store, store_exists
    from generator.web import create_app
    from generator.web.serve import serve as run
    try:
        if not store_exists(store_file):  # a mistyped --store would serve a new, empty store
            where = describe_store(store_file)
            fail(StoreError(f"{where}: no records store here; make it with its first account: portfolio user add "
                            f"EMAIL --role provider --password-stdin --store {where} (or name the store with "
                            "--store or $PORTFOLIO_STORE)"))
        with open_store(store_file) as store:
            accounts = len(store.users())
        from generator.web.links import checked_public_url
        public = checked_public_url(public_url) if public_url else None
        app = create_app(store_file, config={"CONTENT_DIR": content_dir, "PUBLIC_URL": public})
    except PortfolioError as exc:
        fail(exc)
    address = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if not accounts:
        click.echo("warning: no accounts yet; add one with 'portfolio user add EMAIL --role provider "
                   "--password-stdin'", err=True)

    def ready() -> None:
        click.echo(f"Serving on {address} ({workers} worker(s), store {store_file}); Ctrl-C stops", err=False)
        sys.stdout.flush()

    try:
        run(app, host, port, workers, behind_proxy=behind_proxy, on_ready=ready)
    except SystemExit as exc:  # gunicorn's arbiter leaves by sys.exit, 0 after Ctrl-C or SIGTERM
        if exc.code not in (0, None):
            raise click.ClickException(f"the server stopped with exit code {exc.code}") from None
    click.echo("stopped")


@main.group()
def user() -> None:
    """Add, list and disable the web app's accounts (kept in the records store)."""


@user.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["provider", "pcn"]), required=True,
              help="provider: every PCN; pcn: a PCN practice manager (needs --pcn).")
@click.option("--pcn", metavar="SLUG", help="The PCN profile a PCN manager manages.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (at least 12 characters).")
@STORE_OPTION
@CONTENT_OPTION
def user_add(email: str, role: str, pcn: str | None, password_stdin: bool, store_file: Path,
             content_dir: Path | None) -> None:
    """Add an account that can sign in to the web app.

    A PCN manager's --pcn must be one of the content's PCN profiles.

    Example: portfolio user add lead@riverside.example --role pcn --pcn riverside-pcn --password-stdin < pw.txt
    """
    from generator.content.profile import list_profiles
    from generator.issuing.roster import closest
    from generator.records.connect import open_store
    from generator.records.users import add_user
    password = sys.stdin.readline().rstrip("\r\n")
    slugs = list_profiles(content_dir)
    if pcn and pcn not in slugs:  # an account scoped to no PCN would sign in to an empty, unfixable app
        near = closest(pcn, slugs)
        fail(OptionError("pcn", f"there is no PCN profile '{pcn}'"
                                + (f" — did you mean {near}?" if near else "")
                                + f" (profiles: {', '.join(slugs) or 'none'}; create one with "
                                  f"'portfolio profile new {pcn}')"))
    try:
        with open_store(store_file) as store:
            added = add_user(store, email, role, pcn, password)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"added {added.email} ({added.role}{' of ' + added.pcn if added.pcn else ''})")


@user.command("list")
@STORE_OPTION
def user_list(store_file: Path) -> None:
    """List the accounts: email, role, PCN, and whether disabled or locked.

    Example: portfolio user list --store records.sqlite
    """
    from generator.records.connect import open_store
    try:
        with open_store(store_file, create=False) as store:
            users = store.users()
    except PortfolioError as exc:
        fail(exc)
    for u in users:
        state = "disabled" if u.disabled else (f"locked until {u.locked_until}" if u.locked_until else "active")
        click.echo(f"{u.email}\t{u.role}\t{u.pcn or '-'}\t{state}")
    click.echo(f"{len(users)} account(s)", err=True)


@user.command("disable")
@click.argument("email")
@STORE_OPTION
def user_disable(email: str, store_file: Path) -> None:
    """Stop an account from signing in (it is kept, and so is its history).

    Example: portfolio user disable lead@riverside.example
    """
    from generator.records.connect import open_store
    from generator.records.users import set_disabled
    try:
        with open_store(store_file, create=False) as store:
            set_disabled(store, email)
    except PortfolioError as exc:
        fail(exc)
    click.echo(f"disabled {email.strip().lower()}")
