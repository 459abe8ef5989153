"""How long a candidate waits: start -> exam page ready (warm pool and cold),
and submit -> results, for the CKAD mock, on real kwok sandboxes.

    .venv/bin/python bench/portal_start.py [--exam ckad-mock] [--runs 1]

Runs its own portal (HTTP, in this process) and `proctor worker` processes
on a throw-away instance, drives them like a browser (login form, start
button, the exam page), and prints JSON. Phase 1 has no warm pool (cold
starts); phase 2 restarts the worker with one warm sandbox for the exam
and waits for it before starting. Targets (issue 4): warm <= 2 s, cold <= 15 s,
results <= 10 s.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class Browser:
    """Cookies, CSRF tokens and redirects, like the real thing."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str):
        with self.opener.open(self.base + path, timeout=60) as r:
            return r.geturl(), r.read().decode()

    def post(self, path: str, data: dict, csrf_from: str):
        _, html = self.get(csrf_from)
        data = dict(data, csrf_token=re.search(r'name="csrf-token" content="([^"]+)"', html).group(1))
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data).encode())
        with self.opener.open(req, timeout=120) as r:
            return r.geturl(), r.read().decode()

    def status(self, attempt_id: int) -> dict:
        return json.loads(self.get(f"/api/v1/attempts/{attempt_id}")[1])


def start_and_wait(b: Browser, exam: str, timeout: float = 300) -> tuple[int, float, dict]:
    """Press "Start exam"; return when the exam page (task 1) has loaded."""
    t0 = time.monotonic()
    url, html = b.post(f"/exams/{exam}/start", {"mode": "exam"}, csrf_from=f"/exams/{exam}")
    m = re.search(r"/attempts/(\d+)", url)
    if not m:
        raise SystemExit(f"start failed: {url}\n{html[:2000]}")
    aid = int(m.group(1))
    while "/tasks/" not in url:
        st = b.status(aid)
        if st["state"] == "error":
            raise SystemExit(f"attempt {aid} failed: {st['error']}")
        if st["state"] == "running":
            url, html = b.get(f"/attempts/{aid}")
            break
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"attempt {aid} not running after {timeout}s: {st}")
        time.sleep(0.2)
    assert 'id="terminal"' in html and "countdown" in html
    return aid, time.monotonic() - t0, b.status(aid)


def submit_and_wait(b: Browser, aid: int, timeout: float = 300) -> float:
    t0 = time.monotonic()
    b.post(f"/attempts/{aid}/submit", {}, csrf_from=f"/attempts/{aid}/tasks/1")
    while b.status(aid)["state"] != "graded":
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"attempt {aid} not graded after {timeout}s")
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    b.get(f"/attempts/{aid}/results")
    return elapsed


def load() -> float:
    return round(os.getloadavg()[0], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exam", default="ckad-mock")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()

    from werkzeug.security import generate_password_hash
    from werkzeug.serving import make_server

    from web import create_app
    from web.db import get_db
    from web.models import PoolSandbox, User

    tmp = Path(tempfile.mkdtemp(prefix="proctor-bench-"))
    instance = tmp / "instance"
    cfg = {"INSTANCE_PATH": str(instance), "POOL_SIZE": 0, "POOL_EXAMS": args.exam}
    app = create_app(cfg)
    password = secrets.token_urlsafe(12)
    users = [f"bench{i}" for i in range(2 * args.runs)]
    with app.app_context(), get_db().session() as s:
        for u in users:
            s.add(User(username=u, role="candidate", password_hash=generate_password_hash(password)))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def worker(pool: int) -> subprocess.Popen:
        env = dict(os.environ, PROCTOR_INSTANCE_PATH=str(instance), PROCTOR_POOL_SIZE=str(pool),
                   PROCTOR_POOL_EXAMS=args.exam)
        return subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", "worker"],
                                env=env, stdout=open(tmp / f"worker-{pool}.log", "w"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    def stop(proc):
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    def login(user) -> Browser:
        b = Browser(base)
        b.post("/login", {"username": user, "password": password}, csrf_from="/login")
        return b

    out = {"exam": args.exam, "cold": [], "warm": [], "results": [], "load_avg_1m": []}
    w = worker(pool=0)
    try:
        for i in range(args.runs):  # phase 1: no pool
            b = login(users[i])
            out["load_avg_1m"].append(load())
            aid, secs, st = start_and_wait(b, args.exam)
            out["cold"].append(round(secs, 2))
            out["results"].append(round(submit_and_wait(b, aid), 2))
        stop(w)
        w = worker(pool=1)  # phase 2: one warm sandbox for the exam
        for i in range(args.runs):
            t0 = time.monotonic()
            while True:
                with app.app_context(), get_db().session() as s:
                    ready = s.query(PoolSandbox).filter_by(state="ready", exam_id=args.exam).count()
                if ready:
                    break
                if time.monotonic() - t0 > 600:
                    raise SystemExit("the warm pool did not fill in 10 minutes")
                time.sleep(0.5)
            out.setdefault("pool_fill_seconds", []).append(round(time.monotonic() - t0, 1))
            b = login(users[args.runs + i])
            out["load_avg_1m"].append(load())
            aid, secs, st = start_and_wait(b, args.exam)
            out["warm"].append(round(secs, 2))
            out["results"].append(round(submit_and_wait(b, aid), 2))
        stop(w)
        w = None
        # let a worker reap what is left (the refilled warm sandbox, the attempts' clusters)
        with app.app_context(), get_db().session() as s:
            s.query(PoolSandbox).delete()
        lc = app.extensions["proctor.lifecycle"]
        for name, _ in lc.services.list_sandboxes():
            if name.startswith(lc.prefix):
                lc.services.destroy_sandbox(name)
    finally:
        if w is not None:
            stop(w)
        server.shutdown()
    out["targets"] = {"warm": 2.0, "cold": 15.0, "results": 10.0}
    out["cpus"] = os.cpu_count()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
