"""Fixtures for the attack tests: real portals to attack.

- ``make_portal(**config)``: a fresh portal in this process (its own instance
  folder and database, fake sandboxes, the users of ``USERS``), for attacks
  through Flask's test client.
- ``live_portal``: ``proctor serve`` in a subprocess on a free port, for
  attacks over real HTTP and websockets and for measuring the server process
  (``start_live_portal(**env)`` for one with other settings).

Both use SQLite in the instance, or a fresh PostgreSQL database per test when
``PROCTOR_TEST_DATABASE_URL`` is set (``scripts/postgres``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.portal.fakes import FakeServices
from tests.portal.helpers import PASSWORD, fresh_database

REPO = Path(__file__).resolve().parents[2]

USERS = (("alice", "candidate"), ("bob", "candidate"), ("ines", "instructor"), ("ada", "admin"))
# The fake sandboxes have no kubeconfig; a jailed shell needs one for its tunnels.
FAKE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: admin, user: {token: fake}}]
contexts: [{name: fake, context: {cluster: fake, user: admin}}]
current-context: fake
"""
EXAM = """
    title: Fake CKAD
    track: ckad
    duration: 120
    pass_mark: 66
    nodes: 1
    tasks:
      - {id: ckad/svc-selector-fix, weight: 4}
      - {id: pod-security, weight: 4}
"""


@pytest.fixture
def database_url():
    with fresh_database("proctor_sec") as url:
        yield url


def _config(root: Path, database_url: str) -> dict:
    exams = root / "exams"
    exams.mkdir(parents=True, exist_ok=True)
    (exams / "fake-ckad.yaml").write_text(textwrap.dedent(EXAM))
    return {"INSTANCE_PATH": str(root / "instance"), "SERVICES": FakeServices,
            "FAKE_ROOT": str(root), "EXAMS_DIR": str(exams), "POOL_SIZE": 0,
            "QUEUE_IMMEDIATE": True, **({"DATABASE_URL": database_url} if database_url else {})}


def _seed(app) -> None:
    from werkzeug.security import generate_password_hash

    from web.db import get_db
    from web.models import User
    password_hash = generate_password_hash(PASSWORD)
    with app.app_context(), get_db().session() as s:
        for name, role in USERS:
            s.add(User(username=name, role=role, password_hash=password_hash))


@pytest.fixture
def make_portal(tmp_path, database_url):
    """``make_portal(**config)`` -> a fresh Flask app with the seeded users."""
    from web import create_app
    apps = []

    def make(**config):
        app = create_app({**_config(tmp_path, database_url), "TESTING": True, **config})
        if not apps:
            _seed(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["proctor.db"].dispose()


@dataclass
class LivePortal:
    url: str
    pid: int
    root: Path          # FAKE_ROOT: fake-sandboxes/, exams/, instance/
    database_url: str
    log: Path

    def login(self, username: str = "alice", password: str = PASSWORD):
        """A ``requests`` session logged in through the form, as a browser does."""
        import requests
        http = requests.Session()
        html = http.get(self.url + "/login").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        resp = http.post(self.url + "/login", allow_redirects=False,
                         data={"username": username, "password": password, "csrf_token": token})
        assert resp.status_code == 302, f"log in as {username}: {resp.status_code}"
        http.csrf = self.csrf(http)
        return http

    def csrf(self, http) -> str:
        html = http.get(self.url + "/account").text
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def give_sandboxes_a_kubeconfig(self) -> None:
        """So a real jailed shell can start for an attempt on a fake sandbox."""
        for sandbox in (self.root / "fake-sandboxes").glob("*"):
            (sandbox / "kubeconfig").write_text(FAKE_KUBECONFIG)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_live_portal(tmp_path, database_url):
    """``start_live_portal(**env)`` -> ``proctor serve`` on a free port (fake
    sandboxes, jobs run inline), with ``PROCTOR_*`` overrides in ``env``;
    stopped at the end of the test."""
    procs: list[subprocess.Popen] = []

    def start(**env_extra: str) -> LivePortal:
        from web import create_app
        config = _config(tmp_path, database_url)
        app = create_app(config)  # migrate and seed before the server starts
        _seed(app)
        database = app.config["DATABASE_URL"]
        app.extensions["proctor.db"].dispose()
        port = _free_port()
        env = dict(os.environ, PROCTOR_INSTANCE_PATH=config["INSTANCE_PATH"],
                   PROCTOR_SERVICES="tests.portal.fakes:FakeServices", FAKE_ROOT=str(tmp_path),
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                   PROCTOR_EXAMS_DIR=config["EXAMS_DIR"], PROCTOR_POOL_SIZE="0",
                   PROCTOR_QUEUE_IMMEDIATE="1", PROCTOR_DATABASE_URL=database,
                   PROCTOR_LOGIN_LIMIT="1000 per minute", PYTHONUNBUFFERED="1", **env_extra)
        log = tmp_path / "portal.log"
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()",
                                     "serve", "--port", str(port)], env=env, cwd=REPO,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        # A cap, not a timing: the server is up when it answers, however busy
        # the machine is; only a server that never comes up fails here.
        deadline = time.monotonic() + 300
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the portal did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
        return LivePortal(f"http://127.0.0.1:{port}", proc.pid, tmp_path, database, log)

    yield start
    for proc in procs:
        if proc.poll() is not None:  # it never started, or stopped already
            continue
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def live_portal(start_live_portal):
    """``proctor serve`` on a free port: fake sandboxes, jobs run inline."""
    return start_live_portal()
