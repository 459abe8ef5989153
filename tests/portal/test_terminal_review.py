"""The practice review window (web/terminal/review.py, Lifecycle.reap): opted
into at the finish, the sandbox outlives the results until ``keep_until``,
the terminal's guard admits its owner until then and refuses after, and the
worker reaps it once the window has closed. Jobs run inline (fake services)."""

from __future__ import annotations

import time

import pytest

from tests.portal.helpers import attempt, set_values, start
from tests.portal.test_terminal_guard import OWN


def finish(auth, attempt_id: int) -> None:
    resp = auth.post(f"/attempts/{attempt_id}/submit")
    assert resp.status_code in (200, 302)


def test_kept_for_review_then_reaped_when_the_window_closes(app, client, auth):
    app.config["PRACTICE_REVIEW_MINUTES"] = 30
    auth.login("alice")
    aid = start(auth, mode="practice")
    resp = auth.post(f"/attempts/{aid}/review")       # "keep my cluster for review"
    assert resp.status_code == 204
    until = attempt(app, aid).keep_until
    assert until and 29 * 60 < until - time.time() <= 30 * 60
    finish(auth, aid)                                   # grading, then the reap job, inline
    a = attempt(app, aid)
    assert a.state == "graded" and a.sandbox_state == "ready", "reaped despite the review window"
    services = app.extensions["proctor.services"]
    assert services.sandbox_healthy(a.sandbox_name)
    with pytest.raises(RuntimeError, match="socket"):  # past the guard: the test client
        client.get(f"/attempts/{aid}/terminal", headers=OWN)  # has no socket to upgrade
    page = client.get(f"/attempts/{aid}/review")
    assert page.status_code == 200 and b"nothing you do here changes it" in page.data
    assert b'data-live="1"' in page.data

    lc = app.extensions["proctor.lifecycle"]
    assert lc.reap(aid) == "kept" and aid not in lc.maintain()["reaped"]
    set_values(app, aid, keep_until=time.time() - 1)    # the window closes
    resp = client.get(f"/attempts/{aid}/terminal", headers=OWN)
    assert resp.status_code == 403
    assert aid in lc.maintain()["reaped"]
    assert attempt(app, aid).sandbox_state == "destroyed"
    assert client.get(f"/attempts/{aid}/review").status_code == 302


def test_without_the_option_or_in_an_exam_there_is_no_window(app, client, auth):
    auth.login("alice")
    plain = start(auth, mode="practice")
    finish(auth, plain)
    assert attempt(app, plain).sandbox_state == "destroyed"
    assert client.get(f"/attempts/{plain}/terminal", headers=OWN).status_code == 403
    assert auth.post(f"/attempts/{plain}/review").status_code == 302  # too late: it is gone

    exam = start(auth, mode="exam")
    assert auth.post(f"/attempts/{exam}/review").status_code == 302
    assert attempt(app, exam).keep_until is None


def test_only_the_owner_may_keep_or_enter(app, client, auth):
    auth.login("alice")
    aid = start(auth, mode="practice")
    auth.logout()
    auth.login("bob")
    assert auth.post(f"/attempts/{aid}/review").status_code == 404
    assert attempt(app, aid).keep_until is None
