"""``proctor serve | worker | run | users``: the portal's commands.

Registered through the ``proctor.commands`` entry-point group, so the
grader's CLI never imports ``web``.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import click

DEMO_USERS = (("candidate", "candidate"), ("instructor", "instructor"), ("admin", "admin"))


def _app(**overrides):
    from web import create_app
    return create_app(overrides or None)


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _serve(app, host: str, port: int) -> None:
    """Serve until Ctrl-C or SIGTERM; both end it the same way, so the exit
    cleanups run (the terminals' shells stop and their cgroups go)."""
    from werkzeug.serving import run_simple

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in the background
    # Every keystroke crosses three threads of this process (websocket, pty,
    # screen) that wait for the interpreter behind threads serving pages and
    # polls; CPython hands it over every 5 ms by default. 1 ms: with 30
    # candidates starting at once on 2 cores, a keystroke's echo p95 went
    # from 68-72 ms to 46-59 ms (bench/load.py: Locust's and its probe's).
    sys.setswitchinterval(0.001)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def _check_toolchain() -> None:
    """Refuse to serve before every tool a candidate's terminal runs is built:
    a portal that starts first shows candidates a terminal that never
    connects (helm was still building on a first `make run`)."""
    from sandbox.toolchain import Toolchain
    missing = Toolchain().incomplete()
    if missing:
        raise click.ClickException(
            f"the toolchain is not complete ({', '.join(missing)} not built); `make run` builds "
            "it before it serves, or run `proctor toolchain build` (a cold build takes 10-30 "
            "minutes)")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (PROCTOR_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (PROCTOR_PORT, default 8000).")
def serve(host, port):
    """Serve the portal (pages and JSON API); run `proctor worker` beside it."""
    _logging()
    _check_toolchain()
    app = _app()
    host, port = host or app.config["HOST"], port or app.config["PORT"]
    click.secho(f"Proctor portal on http://{host}:{port}/ (instance {app.instance_path})", fg="green", err=True)
    _serve(app, host, port)


@click.command("worker")
@click.option("--workers", type=int, default=None, help="Worker threads (PROCTOR_WORKERS, default 4).")
def worker(workers):
    """Run the job worker: sandboxes, setup, grading, deadlines, reaping, warm pool."""
    _logging()
    app = _app()
    run_worker(app, workers or app.config["WORKERS"])


def run_worker(app, workers: int) -> None:
    from web.queue import Ticker
    queue = app.extensions["proctor.queue"]
    lifecycle = app.extensions["proctor.lifecycle"]
    ticker = Ticker(lifecycle, float(app.config["TICK_SECONDS"]))
    ticker.start()
    click.secho(f"Proctor worker: {workers} threads, deadline tick {app.config['TICK_SECONDS']}s, "
                f"warm pool {app.config['POOL_SIZE']} per exam", fg="green", err=True)
    consumer = queue.consumer(workers)
    try:
        consumer.run()  # blocks; huey handles SIGTERM/SIGINT
    finally:
        ticker.stop()


@click.group("users")
def users():
    """Manage portal accounts."""


def _password(given: str | None, generate: bool, prompt: str) -> str:
    """The password of --password, a generated one (--generate), or one typed
    twice at ``prompt``; at least 10 characters, as the sign-up form asks."""
    if generate:
        return secrets.token_urlsafe(12)
    password = given if given is not None else click.prompt(
        prompt, hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.ClickException("the password must have at least 10 characters")
    return password


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["candidate", "instructor", "admin"]), default="candidate")
@click.option("--password", default=None, help="Default: prompt (or generate with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it.")
def users_create(username, role, password, generate):
    """Create an account."""
    from sqlalchemy import select
    from web.db import get_db
    from web.models import User
    password = _password(password, generate, "Password")
    app = _app()
    with app.app_context(), get_db().session() as s:
        if s.scalar(select(User).where(User.username == username)):
            raise click.ClickException(f"user {username!r} exists already")
        u = User(username=username, role=role)
        u.set_password(password)
        s.add(u)
    click.echo(f"created {role} {username}" + (f" with password {password}" if generate else ""))


@users.command("password")
@click.argument("username")
@click.option("--password", default=None, help="Default: prompt (or generate with --generate).")
@click.option("--generate", is_flag=True, help="Generate a password and print it.")
def users_password(username, password, generate):
    """Set USERNAME's password; every session of theirs ends (API tokens stay)."""
    from sqlalchemy import select
    from web.db import get_db
    from web.models import User
    from web.sessions import end_all_sessions
    password = _password(password, generate, "New password")
    app = _app()
    with app.app_context(), get_db().session() as s:
        u = s.scalar(select(User).where(User.username == username))
        if u is None:
            raise click.ClickException(f"no user {username!r}")
        u.set_password(password)
        end_all_sessions(s, u)
    click.echo(f"new password for {username}" + (f": {password}" if generate else "")
               + "; their sessions have ended")


@users.command("list")
def users_list():
    """List accounts."""
    from sqlalchemy import select
    from web.db import get_db
    from web.models import User
    app = _app()
    with app.app_context(), get_db().session() as s:
        for u in s.scalars(select(User).order_by(User.username)):
            click.echo(f"{u.username:<20} {u.role}")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
def users_token(username, name):
    """Create an API token for USERNAME and print it (once)."""
    from sqlalchemy import select
    from web.db import get_db
    from web.models import User
    from web.security import new_token
    app = _app()
    with app.app_context(), get_db().session() as s:
        u = s.scalar(select(User).where(User.username == username))
        if u is None:
            raise click.ClickException(f"no user {username!r}")
        click.echo(new_token(s, u, name))


def demo_accounts(app) -> list[tuple[str, str, str]]:
    """On first run (no users yet) create one account per role with a random
    password; keep them in ``<instance>/demo-logins.txt`` (0600) to print again."""
    from sqlalchemy import func, select
    from web.db import get_db
    from web.models import User
    path = Path(app.instance_path) / "demo-logins.txt"
    with get_db().session() as s:
        if s.scalar(select(func.count()).select_from(User)) == 0:
            rows = []
            for username, role in DEMO_USERS:
                password = secrets.token_urlsafe(9)
                u = User(username=username, role=role)
                u.set_password(password)
                s.add(u)
                rows.append((username, role, password))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.writelines(f"{u} {r} {p}\n" for u, r, p in rows)
            return rows
    if path.exists():
        return [tuple(line.split()) for line in path.read_text().splitlines() if line.strip()]
    return []


def _check_port(host: str, port: int) -> None:
    """Fail before starting anything when the port is taken."""
    import socket
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}; "
                                       "pick another with --port or PROCTOR_PORT") from None


@click.command("run")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
def run(host, port):
    """Portal and worker together, ready to use: database, bank, demo accounts."""
    _logging()
    say = lambda m: click.secho(f"==> {m}", fg="cyan", err=True)  # noqa: E731
    _check_toolchain()
    say("preparing the database (migrations)")
    app = _app()
    host, port = host or app.config["HOST"], port or app.config["PORT"]
    say(f"loading the task bank from {app.config['TASKS_DIR']} and exams from {app.config['EXAMS_DIR']}")
    bank = app.extensions["proctor.bank"]()
    click.echo(f"    {len(bank.tasks)} tasks, {len(bank.exams)} exams: {', '.join(sorted(bank.exams))}", err=True)
    for p in bank.problems:
        click.secho(f"    warning: {p}", fg="yellow", err=True)
    with app.app_context():
        logins = demo_accounts(app)
    _check_port(host, port)
    say(f"starting the worker ({app.config['WORKERS']} threads, warm pool of {app.config['POOL_SIZE']})")
    env = dict(os.environ, PROCTOR_INSTANCE_PATH=app.instance_path)
    worker_proc = subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", "worker"],
                                   env=env)
    url = f"http://{host}:{port}/"
    click.echo("", err=True)
    click.secho(f"Proctor is running at {url}", fg="green", bold=True, err=True)
    if logins:
        click.echo("Demo logins (also in " + str(Path(app.instance_path) / "demo-logins.txt") + "):", err=True)
        for username, role, password in logins:
            click.echo(f"    {role:<11} {username:<11} password: {password}", err=True)
    click.echo("Stop with Ctrl-C.\n", err=True)
    try:
        _serve(app, host, port)
    finally:
        worker_proc.send_signal(signal.SIGINT)  # huey: finish running jobs, then exit
        try:
            worker_proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker_proc.kill()
