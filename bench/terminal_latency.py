#!/usr/bin/env python3
"""Keystroke-to-echo round trip through the portal's terminal, and time to a prompt.

Runs the real portal (the same threaded server `proctor serve` uses) on a free
port with its own instance folder, one real kwok sandbox, and N running
attempts, each with its own jailed shell (bubblewrap, pty, websocket). Every
terminal types one character at a time and waits for its echo; the figure is
the time from ws.send to the echo's arrival.

Prints JSON:
  prompt_s        first open: websocket connect -> prompt visible (new jail + shell)
  reattach_s      reconnect to the running shell -> prompt visible
  rtt_ms[N]       median / p95 / max of keystroke->echo with N terminals at once

Usage: .venv/bin/python bench/terminal_latency.py [--terminals 1,20] [--keys 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.serving import make_server  # noqa: E402

from sandbox.kwok import KwokProvider  # noqa: E402
from tests.portal_client import PortalClient, Terminal  # noqa: E402
from web import create_app  # noqa: E402
from web.db import get_db  # noqa: E402
from web.models import Attempt, User  # noqa: E402

PASSWORD = "bench-password-123"


def echo_rtts(term: Terminal, keys: int) -> list[float]:
    """Type `keys` characters at the prompt, one at a time; then erase them."""
    rtts = []
    for i in range(keys):
        ch = "abcdefghij"[i % 10]
        t = time.perf_counter()
        term.type(ch)
        term.read_until(ch, timeout=10)
        rtts.append((time.perf_counter() - t) * 1000)
        time.sleep(0.02)  # a fast typist: 50 keys per second per terminal
    term.type("\x15")  # Ctrl-U: clear the line
    return rtts


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--terminals", default="1,20")
    ap.add_argument("--keys", type=int, default=200)
    args = ap.parse_args()
    counts = [int(x) for x in args.terminals.split(",")]
    most = max(counts)

    root = Path(tempfile.mkdtemp(prefix="proctor-bench-term-"))
    prov = KwokProvider(root=root / "state")
    sb = prov.create("bench-term", nodes=2)
    app = create_app({"INSTANCE_PATH": str(root / "instance"), "POOL_SIZE": 0,
                      "LOGIN_LIMIT": "1000 per minute"})
    ids = []
    with app.app_context():
        with get_db().session() as s:
            from werkzeug.security import generate_password_hash
            hashed = generate_password_hash(PASSWORD)
            for i in range(most):
                u = User(username=f"bench{i}", role="candidate", password_hash=hashed)
                s.add(u)
                s.flush()
                ws_dir = root / "workspaces" / str(i)
                ws_dir.mkdir(parents=True)
                rec = dict(sb.to_dict(), workspace=str(ws_dir))
                a = Attempt(user_id=u.id, exam_id="bench", exam_title="bench", mode="practice",
                            state="running", seed=i, nodes=2, duration_s=3600, pass_mark=50,
                            ready_at=time.time(), sandbox_name=sb.name,
                            sandbox_json=json.dumps(rec), sandbox_state="ready")
                s.add(a)
                s.flush()
                ids.append(a.id)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    out: dict = {"keys_per_terminal": args.keys}
    try:
        sessions = [PortalClient(base).login(f"bench{i}", PASSWORD) for i in range(most)]
        # time to a usable prompt: first open (new jail), then a reattach
        for key in ("prompt_s", "reattach_s"):
            t = time.perf_counter()
            term = sessions[0].terminal(ids[0])
            term.read_until("candidate@exam")
            out[key] = round(time.perf_counter() - t, 3)
            term.close()

        sockets = []
        for i in range(most):
            term = sessions[i].terminal(ids[i])
            term.read_until("candidate@exam")
            sockets.append(term)
        for n in counts:
            results: list[list[float]] = [[] for _ in range(n)]

            def run(k: int) -> None:
                results[k] = echo_rtts(sockets[k], args.keys)

            threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            allr = [x for r in results for x in r]
            out[f"rtt_ms[{n}]"] = {"median": round(statistics.median(allr), 2),
                                   "p95": round(pct(allr, 95), 2), "max": round(max(allr), 2),
                                   "samples": len(allr)}
            print(f"{n} terminals: {out[f'rtt_ms[{n}]']}", file=sys.stderr)
        for w in sockets:
            w.close()
    finally:
        shells = app.extensions.get("proctor.shells")
        if shells:
            shells.stop_all()
        server.shutdown()
        prov.destroy("bench-term")
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
