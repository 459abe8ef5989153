"""Small helpers shared by the web tests."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from web.db import get_db
from web.models import Attempt, Event

PASSWORD = "correct-horse-battery"  # every seeded test user's password


class AuthActions:
    """Log in and post forms as the browser does, CSRF token included."""

    default_user = "alice"

    def __init__(self, client):
        self._client = client

    def csrf(self, path: str = "/login") -> str:
        html = self._client.get(path).get_data(as_text=True)
        m = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert m, f"no csrf token on {path}"
        return m.group(1)

    def login(self, username: str | None = None, password: str = PASSWORD):
        token = self.csrf("/login")
        return self._client.post("/login", data={"username": username or self.default_user,
                                                 "password": password, "csrf_token": token})

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": self.csrf("/account")})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form POST with the session's CSRF token, as the browser sends it."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf("/account"))
        return self._client.post(path, data=data, **kwargs)


def start(auth, exam="fake-ckad", mode="exam"):
    """Start an attempt through the page; returns its id (jobs run inline)."""
    resp = auth.post(f"/exams/{exam}/start", {"mode": mode})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    m = re.search(r"/attempts/(\d+)", resp.headers["Location"])
    assert m, resp.headers["Location"]
    return int(m.group(1))


def attempt(app, attempt_id) -> Attempt:
    with app.app_context():
        with get_db().session() as s:
            a = s.get(Attempt, attempt_id)
            a.tasks  # load
            s.expunge_all()
            return a


def set_values(app, attempt_id, **values):
    with app.app_context():
        with get_db().session() as s:
            a = s.get(Attempt, attempt_id)
            for k, v in values.items():
                setattr(a, k, v)


def set_task_values(app, attempt_id, position, **values):
    """Set columns of one task row of an attempt, as a worker would."""
    with app.app_context():
        with get_db().session() as s:
            row = next(t for t in s.get(Attempt, attempt_id).tasks if t.position == position)
            for k, v in values.items():
                setattr(row, k, v)


def solve(app, attempt_id, task_id):
    """What a candidate's kubectl would do, in the fake: mark the task solved."""
    a = attempt(app, attempt_id)
    Path(a.sandbox.workspace, "solved", task_id).touch()


def events(app, attempt_id, kind=None):
    from sqlalchemy import select
    with app.app_context():
        with get_db().session() as s:
            q = select(Event).where(Event.attempt_id == attempt_id)
            if kind:
                q = q.where(Event.kind == kind)
            return [(e.kind, e.detail) for e in s.scalars(q.order_by(Event.id))]


@contextlib.contextmanager
def fresh_database(prefix: str):
    """SQLite in the instance (yields ""), or a fresh PostgreSQL database when
    ``PROCTOR_TEST_DATABASE_URL`` points at a server (``scripts/postgres``),
    dropped afterwards."""
    admin_url = os.environ.get("PROCTOR_TEST_DATABASE_URL")
    if not admin_url:
        yield ""
        return
    from sqlalchemy import create_engine, make_url, text
    from web.db import normalise_url
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalise_url(admin_url)).set(database=name).render_as_string(
            hide_password=False)
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin, name: str, attempts: int = 20):
    """DROP ... WITH (FORCE) needs pg_signal_backend to end an autovacuum
    worker on the database (scripts/postgres grants it); a server whose role
    lacks it gets a few retries, as the worker finishes in moments."""
    import time
    from sqlalchemy import exc, text
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except exc.ProgrammingError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
