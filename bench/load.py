#!/usr/bin/env python3
"""N candidates at once through the one-machine portal, driven by Locust.

Runs the portal and its worker as `make run` does (`proctor run`: werkzeug,
threaded, and one `proctor worker`) on a throw-away instance and sandbox
state with real kwok sandboxes (tests/e2e/e2e_portal.run_portal), makes N
candidate accounts, and lets Locust (bench/load_candidates.py, in its own
virtual environment .venv-load, pinned by bench/load-requirements.txt) walk
each candidate through one practice attempt of a two-task paper: login,
start, the task pages, the terminal (a command typed key by key), check my
work, submit, results. Then it reads the attempts from the database.

Prints JSON:
  attempts_per_minute   graded attempts / the run's minutes
  lost_attempts         started but not graded (an error, or never finished)
  page_p95_ms           p95 over every page and API request
  keystroke_p95_ms      p95 of a key sent -> its echo on the terminal (Locust's)
  probe_keystroke_ms    the same, timed by one more candidate outside Locust
  steps                 each request and event: n, failures, median/p95/max ms
  errors                what failed, by step

    .venv/bin/python bench/load.py --users 30 [--pool 0] [--workers 4]

Targets (issue 21): 30 candidates, 0 lost attempts, keystroke p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LOAD_VENV = REPO / ".venv-load"
REQUIREMENTS = REPO / "bench" / "load-requirements.txt"
PAPER = """\
title: Load test paper
track: ckad
duration: 60
pass_mark: 66
nodes: 2
description: Two tasks on one kwok cluster, for bench/load.py.
tasks:
  - {id: ckad/svc-selector-fix, weight: 5}
  - {id: ckad/deployment-scale, weight: 5}
"""


def load_python() -> Path:
    """.venv-load's python, made or brought up to bench/load-requirements.txt."""
    stamp = LOAD_VENV / f".installed-{hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]}"
    if not stamp.is_file():
        print(f"==> installing Locust into {LOAD_VENV} (pinned by {REQUIREMENTS.name})",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LOAD_VENV)], check=True)
        subprocess.run([str(LOAD_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        for old in LOAD_VENV.glob(".installed-*"):
            old.unlink()
        stamp.touch()
    return LOAD_VENV / "bin" / "python"


def pct(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return round(values[int(p / 100 * (len(values) - 1))], 1) if values else None


class Probe(threading.Thread):
    """One more candidate, outside Locust: a terminal opened before the others
    start, typing a key every 0.1 s while they work, each echo timed in a
    process of its own (Locust times its keys in one gevent loop that also
    runs every candidate's polls). Its attempt is submitted at the end."""

    def __init__(self, base: str, password: str):
        super().__init__(daemon=True)
        from tests.portal_client import PortalClient
        self.portal = PortalClient(base).login("probe", password)
        url, _ = self.portal.post("/exams/load/start", {"mode": "practice"}, csrf_from="/exams/load")
        self.aid = int(url.split("/attempts/")[1].split("/")[0])
        self.portal.wait_state(self.aid, ("running",), 300)
        self.term = self.portal.terminal(self.aid)
        self.term.read_until("candidate@exam", timeout=60)
        self.ms: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.done.is_set():
            ch = "abcdefghij"[i % 10]
            t = time.perf_counter()
            self.term.type(ch)
            self.term.read_until(ch, timeout=30)
            self.ms.append((time.perf_counter() - t) * 1000)
            i += 1
            if i % 50 == 0:
                self.term.type("\x15")  # Ctrl-U: a fresh line now and then
            self.done.wait(0.1)

    def finish(self) -> list[float]:
        self.done.set()
        self.join(timeout=60)
        self.term.close()
        self.portal.post(f"/attempts/{self.aid}/submit", {}, csrf_from=f"/attempts/{self.aid}/tasks/1")
        self.portal.wait_state(self.aid, ("graded",), 600)
        return self.ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=30)
    ap.add_argument("--spawn-rate", type=float, default=1.0, help="candidates started per second")
    ap.add_argument("--pool", type=int, default=0, help="warm sandboxes of the paper (PROCTOR_POOL_SIZE)")
    ap.add_argument("--workers", type=int, default=4, help="the worker's threads (PROCTOR_WORKERS)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the instance folder (its database and stats)")
    args = ap.parse_args()
    python = load_python()

    from werkzeug.security import generate_password_hash

    from web import create_app
    from web.db import get_db
    from web.models import Attempt, User

    from tests.e2e.e2e_portal import run_portal

    root = Path(tempfile.mkdtemp(prefix="proctor-load-"))
    exams = root / "exams"
    exams.mkdir()
    (exams / "load.yaml").write_text(PAPER)
    settings = dict(PROCTOR_EXAMS_DIR=str(exams), PROCTOR_POOL_SIZE=str(args.pool),
                    PROCTOR_POOL_EXAMS="load", PROCTOR_WORKERS=str(args.workers),
                    PROCTOR_LOGIN_LIMIT="10000 per minute", PROCTOR_CONTAINER_SANDBOXES="0")
    # `proctor run` (portal and worker, as `make run`) on a free port, its
    # instance and sandbox state under root; its log lands in artifacts/e2e/.
    # PYTHONPATH: this checkout's code, not the one .venv was installed from.
    with run_portal(root, log_name="load-portal.log", PYTHONPATH=str(REPO), **settings) as portal:
        base = portal["base"]
        os.environ.update(settings, PROCTOR_INSTANCE_PATH=str(root / "instance"))
        app = create_app()  # the portal's own database: the candidates' accounts, then the count
        password = secrets.token_urlsafe(12)
        hashed = generate_password_hash(password)
        with app.app_context(), get_db().session() as s:
            for i in range(args.users):
                s.add(User(username=f"load{i}", role="candidate", password_hash=hashed))
            s.add(User(username="probe", role="candidate", password_hash=hashed))
        stats = root / "stats.json"
        probe = Probe(base, password)  # its terminal is open before the candidates come
        load0 = os.getloadavg()[0]
        probe.start()
        try:
            subprocess.run([str(python), str(REPO / "bench" / "load_candidates.py"), "--host", base,
                            "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                            "--password", password, "--exam", "load", "--out", str(stats)],
                           check=True, cwd=REPO)
        finally:
            probe_ms = probe.finish()
        out = json.loads(stats.read_text())
        with app.app_context(), get_db().session() as s:
            states: dict[str, int] = {}
            for a in s.query(Attempt).all():
                states[a.state] = states.get(a.state, 0) + 1
    steps = out["steps"]
    graded = states.get("graded", 0)
    out = {
        "users": args.users, "pool": args.pool, "worker_threads": args.workers,
        "cpus": os.cpu_count(), "load_avg_1m_before": round(load0, 1),
        "seconds": out["seconds"],
        "attempts": states,
        "attempts_per_minute": round(graded / (out["seconds"] / 60), 2),
        "lost_attempts": sum(states.values()) - graded,
        "page_p95_ms": out["page_p95_ms"],
        "keystroke_p95_ms": steps.get("event keystroke", {}).get("p95_ms"),
        "probe_keystroke_ms": {"n": len(probe_ms), "p50": pct(probe_ms, 50),
                               "p95": pct(probe_ms, 95), "max": pct(probe_ms, 100)},
        "steps": steps, "errors": out["errors"],
    }
    if args.keep:
        out["instance"] = str(root)
    else:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
