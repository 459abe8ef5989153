"""A real portal and worker (`proctor run`) on a free port, with its own
instance folder and sandbox state, for a real browser to drive."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal")
    port = free_port()
    env = dict(os.environ, PROCTOR_INSTANCE_PATH=str(root / "instance"),
               PROCTOR_STATE_DIR=str(root / "state"), PYTHONUNBUFFERED="1")
    log = (root / "portal.log").open("w")
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "proctor"), "run", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"the portal did not start:\n{(root / 'portal.log').read_text()[-3000:]}")
            time.sleep(0.3)
    logins = (root / "instance" / "demo-logins.txt").read_text().split("\n")
    passwords = {line.split()[0]: line.split()[2] for line in logins if line.strip()}
    yield {"base": base, "passwords": passwords, "root": root}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    # whatever the worker left (a warm pool, a sandbox being reaped) goes too
    sys.path.insert(0, str(REPO))
    from sandbox.kwok import KwokProvider
    prov = KwokProvider(root=root / "state")
    for sb in prov.list(include_creating=True):
        prov.destroy(sb.name)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "portal.log", ARTIFACTS / "portal.log")


@pytest.fixture
def browser_page():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        yield page
        browser.close()
