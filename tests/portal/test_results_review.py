"""A grade whose checks could not read the cluster: scored as zero, held for review.

The real attack (a broken apps/v1 on a real cluster) is in
tests/security/test_grader.py; here the portal's side of it, with the
grader's results made up by the fake services."""

from __future__ import annotations

from tests.portal.helpers import attempt, solve, start


def test_errored_checks_score_zero_and_hold_the_grade(app, client, auth, monkeypatch):
    auth.login()
    aid = start(auth)
    solve(app, aid, "pod-security")            # weight 4 of 10
    monkeypatch.setenv("FAKE_API_BROKEN", "1")   # the other tasks' checks error
    assert auth.post(f"/attempts/{aid}/submit").status_code in (200, 302)
    a = attempt(app, aid)
    assert a.state == "graded"
    assert a.score == 40.0, f"errored checks changed the score to {a.score}% (honest: 40%)"
    assert not a.passed
    assert "apps/v1 was unavailable at grading time" in a.review
    errored = [t for t in a.tasks if t.task_id != "pod-security"]
    assert all(t.score == 0 and t.max_score == 3 for t in errored), \
        [(t.task_id, t.score, t.max_score) for t in errored]

    page = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "held for an instructor&#39;s review" in page or "held for an instructor's review" in page
    assert "The API group apps/v1 was unavailable at grading time" in page
    assert "not counted against you" not in page

    auth.logout()
    auth.login("ines")
    listing = client.get("/admin/attempts?review=1").get_data(as_text=True)
    assert f">{aid}</a>" in listing and "held for review" in listing
