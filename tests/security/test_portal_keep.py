"""'Keep my cluster' does not hoard clusters.

The attack (issue 17): each practice attempt could be kept for review, a
graded attempt did not block the next start, and asking again reset the
30-minute window; one candidate held two kept clusters plus a running one,
with no limit. Now a candidate holds at most one cluster (their active
attempt's, or one kept for review): a new start ends the open window and
reaps its cluster, a window cannot open beside another cluster of theirs, and
it opens once. Each step goes through the real portal's pages (fake
sandboxes, jobs inline), as a browser sends them.
"""

from __future__ import annotations

import time

from tests.portal.helpers import AuthActions, attempt, set_values, start


def finish_and_keep(auth, attempt_id: int):
    return auth.post(f"/attempts/{attempt_id}/submit", {"keep_for_review": "1"})


def clusters_held(app, ids) -> list[int]:
    """Which of the attempts still hold a cluster: active, or kept for review."""
    now = time.time()
    held = []
    for i in ids:
        a = attempt(app, i)
        if a.sandbox_state == "ready" and (a.state in ("running", "provisioning", "setting_up")
                                           or (a.keep_until and a.keep_until > now)):
            held.append(i)
    return held


def test_keeping_every_practice_attempt_holds_one_cluster_at_a_time(make_portal):
    app = make_portal()
    auth = AuthActions(app.test_client())
    auth.login("alice")
    first = start(auth, mode="practice")
    finish_and_keep(auth, first)
    assert attempt(app, first).keep_until is not None
    assert clusters_held(app, [first]) == [first]
    page = auth._client.get("/exams/fake-ckad").get_data(as_text=True)
    assert f"attempt #{first}" in page and "starting here ends that review" in page

    second = start(auth, mode="practice")
    a = attempt(app, first)
    assert a.keep_until <= time.time() and a.sandbox_state == "destroyed", \
        "starting another attempt must end the first one's review and reap its cluster"
    finish_and_keep(auth, second)
    third = start(auth, mode="practice")
    assert clusters_held(app, [first, second, third]) == [third]

    # the old windows cannot be opened again beside the running attempt
    for old in (first, second):
        resp = auth.post(f"/attempts/{old}/review")
        assert resp.status_code == 302
        assert attempt(app, old).keep_until <= time.time()
    assert clusters_held(app, [first, second, third]) == [third]


def test_a_window_cannot_open_beside_another_cluster(make_portal):
    """A graded attempt whose cluster is still there (its reap not run yet)
    cannot be kept while another attempt runs."""
    app = make_portal()
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("alice")
    graded = start(auth, mode="practice")
    auth.post(f"/attempts/{graded}/submit")
    set_values(app, graded, sandbox_state="ready")  # as if the reap had not run yet
    running = start(auth, mode="practice")
    resp = auth.post(f"/attempts/{graded}/review", follow_redirects=True)
    assert "one cluster at a time" in resp.get_data(as_text=True)
    assert attempt(app, graded).keep_until is None
    assert attempt(app, running).state == "running"


def test_the_window_opens_once(make_portal):
    app = make_portal(PRACTICE_REVIEW_MINUTES=30)
    auth = AuthActions(app.test_client())
    auth.login("alice")
    aid = start(auth, mode="practice")
    finish_and_keep(auth, aid)
    until = attempt(app, aid).keep_until
    set_values(app, aid, keep_until=until - 25 * 60)  # 25 minutes later
    auth.post(f"/attempts/{aid}/review")
    assert attempt(app, aid).keep_until == until - 25 * 60, "asking again extended the window"
    set_values(app, aid, keep_until=time.time() - 1)  # it closed
    resp = auth.post(f"/attempts/{aid}/review", follow_redirects=True)
    assert "a window opens once" in resp.get_data(as_text=True)
    assert attempt(app, aid).keep_until < time.time()
