"""A candidate's browser without the browser, for the tests and benches that
drive a real portal over HTTP: cookies, the CSRF token of every form,
redirects, the JSON API, and the terminal's websocket opened as xterm.js
opens it (its size first; keystrokes as ``{"i": ...}``)."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request

from simple_websocket import Client

from tests.waiting import wait_for

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


class PortalClient:
    def __init__(self, base: str, timeout: float = 120):
        self.base = base
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[str, str]:
        """GET ``path``, following redirects: (final URL, body)."""
        with self.opener.open(self.base + path, timeout=self.timeout) as r:
            return r.geturl(), r.read().decode()

    def post(self, path: str, data: dict | None = None, csrf_from: str = "/account") -> tuple[str, str]:
        """Submit a form to ``path`` with the CSRF token of the page ``csrf_from``."""
        _, html = self.get(csrf_from)
        data = dict(data or {}, csrf_token=CSRF.search(html).group(1))
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data).encode())
        with self.opener.open(req, timeout=self.timeout) as r:
            return r.geturl(), r.read().decode()

    def login(self, username: str, password: str) -> "PortalClient":
        url, _ = self.post("/login", {"username": username, "password": password}, csrf_from="/login")
        if "/login" in url:
            raise AssertionError(f"could not log in as {username!r}")
        return self

    def api(self, path: str) -> dict:
        return json.loads(self.get("/api/v1" + path)[1])

    def wait_state(self, attempt_id: int, states: tuple[str, ...], timeout: float) -> dict:
        """The attempt's status once its state is one of ``states`` (or ``error``)."""
        def status():
            st = self.api(f"/attempts/{attempt_id}")
            return st if st["state"] in (*states, "error") else None
        return wait_for(f"attempt {attempt_id} {' or '.join(states)}", status, timeout, interval=0.2)

    def terminal(self, attempt_id: int, rows: int = 24, cols: int = 80) -> "Terminal":
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.jar)
        url = self.base.replace("http://", "ws://") + f"/attempts/{attempt_id}/terminal"
        # simple-websocket's client sends "Host: 127.0.0.1" without the port
        # (a browser sends the port); the Origin must match what the server sees.
        origin = "http://" + urllib.parse.urlsplit(self.base).hostname
        ws = Client.connect(url, headers={"Cookie": cookie, "Origin": origin})
        ws.send(json.dumps({"r": [rows, cols]}))  # the server paints once it knows the size
        return Terminal(ws)


class Terminal:
    """The terminal's websocket: what was typed in, what came out."""

    def __init__(self, ws: Client):
        self.ws = ws
        self.seen = ""

    def type(self, text: str) -> None:
        self.ws.send(json.dumps({"i": text}))

    def read_until(self, needle: str, timeout: float = 30.0) -> str:
        """Everything received up to and including the first ``needle`` not
        read before; raises TimeoutError with the screen's tail."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {needle!r} on the terminal; it ends with {self.seen[-600:]!r}")
            data = self.ws.receive(timeout=left)
            if data is not None:
                self.seen += data.decode(errors="replace") if isinstance(data, bytes) else data
        cut = self.seen.index(needle) + len(needle)
        out, self.seen = self.seen[:cut], self.seen[cut:]
        return out

    def close(self) -> None:
        self.ws.close()
