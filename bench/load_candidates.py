"""Candidates for Locust, run by ``bench/load.py`` in its own virtual
environment (``bench/load-requirements.txt``: Locust's gevent patches the
process, so it never shares one with the portal).

Each candidate logs in, then walks one attempt of the paper through the
portal as a browser would:

    start (practice) -> running -> the task pages -> the terminal's first
    prompt -> a command typed key by key (each key's echo timed) ->
    check my work on task 1 -> submit -> graded -> the results page

and stops. Pages and API calls are Locust requests by their route
(``GET /attempts/[id]``); the rest are timed as events of their own:
``ready`` (start -> running), ``prompt``, ``keystroke`` (a key sent -> its
echo on the screen), ``command`` (Enter -> the next prompt), ``check``
(check -> its result) and ``graded`` (submit -> graded). A failed step is
a failure of its name, and ends that candidate's attempt.

    python bench/load_candidates.py --host http://127.0.0.1:8000 --users 10 \
        --password … --exam load --out stats.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import gevent
from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load import pct  # noqa: E402  (bench/load.py, beside this file)
from tests.portal_client import CSRF, PortalClient  # noqa: E402

COMMAND = "kubectl get pods -A"
PROMPT = "candidate@exam"
_numbers = itertools.count()
settings: dict = {}
page_ms: list[float] = []  # every page and API request that succeeded


class Step:
    """Time one named step as a Locust request of type ``kind``."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, typ, exc, tb):
        ms = (time.perf_counter() - self.t) * 1000
        if exc is None and self.kind != "event":
            page_ms.append(ms)
        events.request.fire(request_type=self.kind, name=self.name, response_time=ms,
                            response_length=0, exception=exc, context={})
        return False


class Candidate(User):
    """One candidate, one attempt."""

    def on_start(self):
        number = next(_numbers)
        if number >= settings["users"]:
            # Locust tops the count up while it spawns when a candidate has
            # already finished; there is no account for more
            raise StopUser()
        self.username = f"{settings['prefix']}{number}"
        self.portal = PortalClient(self.host, timeout=120)
        with Step("POST", "/login"):
            self.portal.login(self.username, settings["password"])
        # a browser posts with the token of the page it is on; one for the session
        self.csrf = CSRF.search(self.portal.get("/account")[1]).group(1)

    def post(self, path: str, data: dict, name: str, fetch: bool = False) -> str:
        """A form post of the page the candidate is on (``fetch``: by the
        page's script, as check my work is): the final URL."""
        body = urllib.parse.urlencode(dict(data, csrf_token=self.csrf)).encode()
        headers = {"X-Requested-With": "fetch"} if fetch else {}
        with Step("POST", name):
            with self.portal.opener.open(urllib.request.Request(self.host + path, data=body,
                                                                headers=headers),
                                         timeout=self.portal.timeout) as r:
                r.read()
                return r.geturl()

    def page(self, path: str, name: str) -> str:
        with Step("GET", name):
            return self.portal.get(path)[1]

    def wait(self, what: str, probe, timeout: float, interval: float = 0.7):
        """Poll as the page's script does (every 0.7 s; 1 s for the end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = probe()
            if got:
                return got
            gevent.sleep(interval)
        raise TimeoutError(f"{self.username}: {what} not within {timeout:.0f} s")

    @task
    def one_attempt(self):
        exam = settings["exam"]
        try:
            self.page(f"/exams/{exam}", "/exams/[exam]")
            url = self.post(f"/exams/{exam}/start", {"mode": "practice"}, "/exams/[exam]/start")
            aid = int(url.split("/attempts/")[1].split("/")[0])
            settings["started"].append(aid)

            def state(*wanted):
                def probe():
                    with Step("GET", "/api/v1/attempts/[id]"):
                        st = self.portal.api(f"/attempts/{aid}")
                    if st["state"] == "error":
                        raise RuntimeError(f"attempt {aid} failed: {st['error']}")
                    return st if st["state"] in wanted else None
                return probe

            with Step("event", "ready"):
                self.wait("running", state("running"), 600)
            self.page(f"/attempts/{aid}", "/attempts/[id]")
            for n in (1, 2):
                self.page(f"/attempts/{aid}/tasks/{n}", "/attempts/[id]/tasks/[n]")
            self.terminal(aid)
            self.check(aid)
            self.post(f"/attempts/{aid}/submit", {}, "/attempts/[id]/submit")
            with Step("event", "graded"):
                self.wait("graded", state("graded"), 600, interval=1.0)
            self.page(f"/attempts/{aid}/results", "/attempts/[id]/results")
            settings["graded"].append(aid)
        except Exception:  # noqa: BLE001 - fired as the failed step's failure already
            pass
        raise StopUser()

    def terminal(self, aid: int) -> None:
        with Step("event", "prompt"):
            term = self.portal.terminal(aid)
            term.read_until(PROMPT, timeout=60)
        try:
            for ch in COMMAND:
                with Step("event", "keystroke"):
                    term.type(ch)
                    term.read_until(ch, timeout=10)
                gevent.sleep(settings["key_interval"])
            with Step("event", "command"):
                term.type("\r")
                term.read_until(PROMPT, timeout=60)
        finally:
            term.close()

    def check(self, aid: int) -> None:
        path = f"/attempts/{aid}/tasks/1/check"
        self.post(path, {}, "/attempts/[id]/tasks/[n]/check", fetch=True)

        def done():
            with Step("GET", "/attempts/[id]/tasks/[n]/check"):
                return json.loads(self.portal.get(path)[1])["check_state"] == "done"
        with Step("event", "check"):
            self.wait("the check's result", done, 300)


def figures(env: Environment, seconds: float) -> dict:
    out = {"seconds": round(seconds, 1), "steps": {}}
    for (name, kind), s in sorted(env.stats.entries.items()):
        if not s.num_requests and not s.num_failures:
            continue
        out["steps"][f"{kind} {name}"] = {
            "n": s.num_requests, "failures": s.num_failures,
            "median_ms": round(s.median_response_time or 0), "p95_ms": round(s.get_response_time_percentile(0.95) or 0),
            "max_ms": round(s.max_response_time or 0)}
    out["page_p95_ms"] = pct(page_ms, 95)
    out["errors"] = [{"step": f"{e.method} {e.name}", "error": str(e.error)[:300], "n": e.occurrences}
                     for e in env.stats.errors.values()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--spawn-rate", type=float, default=2.0, help="candidates started per second")
    ap.add_argument("--password", required=True)
    ap.add_argument("--prefix", default="load")
    ap.add_argument("--exam", default="load")
    ap.add_argument("--key-interval", type=float, default=0.1, help="seconds between keys")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    settings.update(password=args.password, prefix=args.prefix, exam=args.exam, users=args.users,
                    key_interval=args.key_interval, started=[], graded=[])

    env = Environment(user_classes=[Candidate], host=args.host, events=events)
    runner = env.create_local_runner()
    t0 = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    gevent.sleep(1)
    while runner.user_count and time.monotonic() - t0 < args.timeout:
        gevent.sleep(1)
    seconds = time.monotonic() - t0
    runner.quit()
    out = figures(env, seconds)
    out.update(users=args.users, started=sorted(settings["started"]),
               graded=sorted(settings["graded"]))
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
