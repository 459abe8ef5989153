"""The practice review window from the pages a candidate uses: the finish
form's checkbox, and the results page's button and link."""

from __future__ import annotations

from tests.portal.helpers import attempt, start


def test_finishing_with_keep_for_review_keeps_the_cluster(app, client, auth):
    auth.login()
    aid = start(auth, mode="practice")
    page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert 'name="keep_for_review"' in page
    auth.post(f"/attempts/{aid}/submit", {"keep_for_review": "1"})
    a = attempt(app, aid)
    assert a.state == "graded" and a.keep_until and a.sandbox_state == "ready", \
        (a.state, a.keep_until, a.sandbox_state)
    results = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Your cluster is still there" in results and f"/attempts/{aid}/review" in results


def test_finishing_without_it_removes_the_cluster(app, client, auth):
    auth.login()
    aid = start(auth, mode="practice")
    auth.post(f"/attempts/{aid}/submit")
    a = attempt(app, aid)
    assert a.state == "graded" and a.keep_until is None and a.sandbox_state == "destroyed"
    assert "Your cluster is still there" not in client.get(f"/attempts/{aid}/results").get_data(as_text=True)


def test_an_exam_has_no_review_window(app, client, auth):
    auth.login()
    aid = start(auth, mode="exam")
    assert 'name="keep_for_review"' not in client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    auth.post(f"/attempts/{aid}/submit", {"keep_for_review": "1"})
    assert attempt(app, aid).keep_until is None
