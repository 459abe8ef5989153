"""Fixtures in the Flask tutorial's style: a fresh portal per test (its own
instance folder, database and fake sandboxes under tmp_path), a client, and
``auth`` to log in as one of the seeded users."""

from __future__ import annotations

import textwrap

import pytest
from werkzeug.security import generate_password_hash

from tests.portal.fakes import FakeServices
from tests.portal.helpers import PASSWORD, AuthActions, fresh_database
from web import create_app
from web.db import get_db
from web.models import User

PASSWORD_HASH = generate_password_hash(PASSWORD)  # once: scrypt is slow on purpose

EXAMS = {
    "fake-ckad.yaml": """
        title: Fake CKAD
        track: ckad
        duration: 120
        pass_mark: 66
        nodes: 1
        description: A fixed paper of three tasks.
        tasks:
          - {id: ckad/svc-selector-fix, weight: 4}
          - {id: pod-security, weight: 4}
          - {id: deploy-rollout, weight: 2}
    """,
    "fake-draw.yaml": """
        title: Fake drawn CKAD
        track: ckad
        duration: 60
        pass_mark: 50
        draw: {count: 4, domains: curriculum}
    """,
}


@pytest.fixture
def database_url():
    """SQLite in the instance (default), or a fresh PostgreSQL database per test
    when ``PROCTOR_TEST_DATABASE_URL`` points at a server (``scripts/postgres``)."""
    with fresh_database("proctor_test") as url:
        yield url


@pytest.fixture
def app(tmp_path, database_url):
    exams = tmp_path / "exams"
    exams.mkdir()
    for name, text in EXAMS.items():
        (exams / name).write_text(textwrap.dedent(text))
    app = create_app({
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "TESTING": True,
        "QUEUE_IMMEDIATE": True,
        "SERVICES": FakeServices,
        "FAKE_ROOT": str(tmp_path),
        "EXAMS_DIR": str(exams),
        "POOL_SIZE": 0,
        "LOGIN_LIMIT": "5 per minute",
        **({"DATABASE_URL": database_url} if database_url else {}),
    })
    with app.app_context():
        with get_db().session() as s:
            for name, role in (("alice", "candidate"), ("bob", "candidate"),
                               ("ines", "instructor"), ("ada", "admin")):
                u = User(username=name, role=role, password_hash=PASSWORD_HASH)
                s.add(u)
    yield app
    app.extensions["proctor.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)
