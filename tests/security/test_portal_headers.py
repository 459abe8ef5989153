"""Every response carries the security headers, and no page needs a weaker CSP.

The attacks these headers stop run in a browser (tests/security/
test_portal_browser.py frames the portal and loads every kind of page in
Chromium); here every kind of response is checked for them: pages, JSON,
static files, errors, and the terminal's refusal.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.portal.helpers import AuthActions, start

EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
TASK = "ckad/svc-endpoints-fixture"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(make_portal, tmp_path):
    tasks = tmp_path / "tasks" / "ckad"
    tasks.mkdir(parents=True)
    shutil.copytree(REPO / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture",
                    tasks / "svc-endpoints-fixture")
    app = make_portal(TASKS_DIR=str(tmp_path / "tasks"), TESTING=False,
                      PROPAGATE_EXCEPTIONS=False)

    def boom():
        raise RuntimeError("a bug in a view")
    app.add_url_rule("/boom", "boom", boom)  # an unhandled error: the 500 page
    return app


def csp(resp) -> dict[str, list[str]]:
    header = resp.headers.get("Content-Security-Policy", "")
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


def assert_protected(resp, what: str) -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, f"{what}: {name} is missing or wrong (clickjacking, " \
            f"MIME sniffing, referrer leak): {resp.headers.get(name)!r}"
    policy = csp(resp)
    assert policy.get("frame-ancestors") == ["'none'"], \
        f"{what}: another site may frame this page (no frame-ancestors 'none'): {policy}"
    assert policy.get("script-src") == ["'self'"], \
        f"{what}: the CSP lets inline or foreign script run: {policy.get('script-src')}"
    assert policy.get("object-src") == ["'none'"] and policy.get("base-uri") == ["'none'"]


def test_every_kind_of_response_carries_the_security_headers(app):
    client = app.test_client()
    auth = AuthActions(client)
    anonymous = {
        "login page": client.get("/login"),
        "redirect to the login": client.get("/"),
        "static file": client.get("/static/proctor.js"),
        "vendored script": client.get("/static/vendor/xterm.js"),
        "HTML 404": client.get("/no/such/page"),
        "JSON 401": client.get("/api/v1/attempts"),
        "login without CSRF (400)": client.post("/login", data={"username": "a", "password": "b"}),
    }
    auth.login("alice")
    attempt_id = start(auth)
    candidate = {
        "catalog": client.get("/"),
        "exam page with terminal": client.get(f"/attempts/{attempt_id}/tasks/1"),
        "JSON API": client.get("/api/v1/exams"),
        "JSON 404": client.get("/api/v1/attempts/99999"),
        "403 page": client.get("/author/tasks"),
        "terminal refused before the upgrade": client.get(
            f"/attempts/{attempt_id}/terminal", headers={"Origin": "http://evil.example"}),
        "500 page": client.get("/boom"),
    }
    for what, resp in {**anonymous, **candidate}.items():
        assert_protected(resp, f"{what} ({resp.status_code})")
    assert candidate["500 page"].status_code == 500
    assert candidate["403 page"].status_code == 403


def test_pages_are_not_kept_in_the_browser_cache(app):
    """After logging out on a shared computer, Back must not show an exam page."""
    client = app.test_client()
    AuthActions(client).login("alice")
    for path in ("/", "/account", "/api/v1/attempts"):
        assert "no-store" in client.get(path).headers.get("Cache-Control", ""), \
            f"{path} may be cached: Back after logout shows it"
    assert "no-store" not in client.get("/static/proctor.css").headers.get("Cache-Control", "")


class _Inline(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' for scripts would block."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            kind = (attrs.get("type") or "text/javascript").lower()
            self._in_script = "src" not in attrs and kind in ("text/javascript", "module",
                                                              "application/javascript")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]!r}")


def test_no_page_has_inline_script(app):
    """Every page works under ``script-src 'self'``: no inline script, no
    ``on…=`` handler, no ``javascript:`` link (the browser would block them)."""
    client = app.test_client()
    auth = AuthActions(client)
    pages = ["/login"]
    auth.login("alice")
    attempt_id = start(auth, mode="practice")
    pages += ["/", "/exams/fake-ckad", f"/attempts/{attempt_id}/tasks/1", "/history", "/account"]
    auth.post(f"/attempts/{attempt_id}/submit")
    pages += [f"/attempts/{attempt_id}"]
    seen = {p: client.get(p, follow_redirects=True) for p in pages}
    auth.logout()
    auth.login("ines")
    for p in ("/author/tasks", "/author/tasks/new", f"/author/tasks/bank/{TASK}", "/author/exams",
              "/author/exams/new", "/author/stats", "/author/stats/exams", "/author/import",
              "/admin/attempts", f"/admin/attempts/{attempt_id}"):
        seen[p] = client.get(p)
    auth.logout()
    auth.login("ada")
    seen["/admin/users"] = client.get("/admin/users")
    for path, resp in seen.items():
        assert resp.status_code == 200, f"{path}: {resp.status_code}"
        parser = _Inline()
        parser.feed(resp.get_data(as_text=True))
        assert not parser.found, f"{path} has script the CSP blocks: {parser.found}"
        assert re.search(r"<script[^>]+src=", resp.get_data(as_text=True)), f"{path} loads no script"
