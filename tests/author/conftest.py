"""Fixtures for the authoring pages, in the Flask tutorial's style (as
tests/portal/conftest.py): a fresh portal per test with its own instance, a task
directory holding a copy of a real task, an exams directory, and users of
every role. Sandboxes are the web tests' fakes; tasks, lint and exams are real."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from tests.portal.fakes import FakeServices
from tests.portal.helpers import PASSWORD, AuthActions, fresh_database
from web import create_app
from web.db import get_db
from web.models import User

REPO = Path(__file__).resolve().parents[2]
PASSWORD_HASH = generate_password_hash(PASSWORD)
FIXTURE_TASK = REPO / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture"


class BankServices(FakeServices):
    """Real tasks from TASKS_DIR (grader.task), fake sandboxes and grading."""

    def load_tasks(self):
        from web.services import RealServices
        return RealServices(self.config).load_tasks()

    def run_setup(self, task, sandbox, params):
        return True, f"setup of {task.id} done"


@pytest.fixture
def database_url():
    """SQLite in the instance, or a fresh PostgreSQL database per test when
    ``PROCTOR_TEST_DATABASE_URL`` points at a server (as tests/portal does)."""
    with fresh_database("proctor_author") as url:
        yield url


@pytest.fixture
def app(tmp_path, database_url):
    tasks = tmp_path / "tasks" / "ckad"
    tasks.mkdir(parents=True)
    shutil.copytree(FIXTURE_TASK, tasks / "svc-endpoints-fixture")
    exams = tmp_path / "exams"
    exams.mkdir()
    (exams / "svc.yaml").write_text(textwrap.dedent("""
        title: Services
        track: ckad
        duration: 30
        pass_mark: 60
        tasks:
          - {id: svc-endpoints-fixture, weight: 4}
    """))
    app = create_app({
        "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True, "QUEUE_IMMEDIATE": True,
        "SERVICES": BankServices, "FAKE_ROOT": str(tmp_path), "TASKS_DIR": str(tmp_path / "tasks"),
        "EXAMS_DIR": str(exams), "POOL_SIZE": 0, "LOGIN_LIMIT": "100 per minute",
        **({"DATABASE_URL": database_url} if database_url else {}),
    })
    with app.app_context():
        with get_db().session() as s:
            for name, role in (("alice", "candidate"), ("ines", "instructor"), ("ada", "admin")):
                s.add(User(username=name, role=role, password_hash=PASSWORD_HASH))
    yield app
    app.extensions["proctor.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthorActions(AuthActions):
    """As the web tests' AuthActions, logged in as the instructor by default,
    keeping the session's CSRF token for form and JSON posts."""

    default_user = "ines"

    def login(self, username: str | None = None, password: str = PASSWORD):
        resp = super().login(username, password)
        self.token = self.csrf("/account")
        return resp

    def post(self, path: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self._client.post(path, data=data, **kwargs)

    def post_json(self, path: str, body: dict):
        return self._client.post(path, json=body, headers={"X-CSRFToken": self.token})


@pytest.fixture
def auth(client):
    return AuthorActions(client)
