"""The terminal websocket refuses, before any upgrade, everything but the
attempt's owner, from the portal's own origin, while the attempt runs."""

from __future__ import annotations

import time

import pytest

from tests.portal.helpers import attempt, set_values, start

WS_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
OWN = {"Origin": "http://localhost", **WS_HEADERS}


@pytest.fixture
def running(app, auth):
    auth.login("alice")
    attempt_id = start(auth, mode="exam")
    assert attempt(app, attempt_id).state == "running"
    return attempt_id


def test_no_session_is_refused(app, client, running, auth):
    auth.logout()
    resp = client.get(f"/attempts/{running}/terminal", headers=OWN)
    assert resp.status_code == 403


def test_foreign_origin_is_refused(client, running):
    for origin in ("http://evil.example", "http://localhost:9999", "null"):
        resp = client.get(f"/attempts/{running}/terminal",
                          headers={**WS_HEADERS, "Origin": origin})
        assert resp.status_code == 403, origin
        assert b"cross-origin" in resp.data
    resp = client.get(f"/attempts/{running}/terminal", headers=WS_HEADERS)  # no Origin at all
    assert resp.status_code == 403


def test_another_users_attempt_is_refused(client, running, auth):
    auth.logout()
    auth.login("bob")
    resp = client.get(f"/attempts/{running}/terminal", headers=OWN)
    assert resp.status_code == 403 and b"not your attempt" in resp.data
    resp = client.get("/attempts/99999/terminal", headers=OWN)
    assert resp.status_code == 403


def test_after_the_deadline_is_refused(app, client, running):
    set_values(app, running, deadline_at=time.time() - 1)
    resp = client.get(f"/attempts/{running}/terminal", headers=OWN)
    assert resp.status_code == 403 and b"time is up" in resp.data


def test_after_submit_is_refused(app, client, running, auth):
    resp = auth.post(f"/attempts/{running}/submit")
    assert resp.status_code in (200, 302)
    assert attempt(app, running).state != "running"
    resp = client.get(f"/attempts/{running}/terminal", headers=OWN)
    assert resp.status_code == 403


def test_a_tab_out_of_range_is_refused(client, running):
    for tab in ("4", "99", "-1", "x", ""):
        resp = client.get(f"/attempts/{running}/terminal?tab={tab}", headers=OWN)
        assert resp.status_code == 400, tab
