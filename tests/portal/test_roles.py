"""Who may see and do what: candidates, instructors, admins."""

import pytest

from tests.portal.fakes import SECRET_CHECK, SECRET_SOLUTION
from tests.portal.helpers import attempt, start


@pytest.fixture
def alices_attempt(app, client, auth):
    auth.login("alice")
    aid = start(auth)
    auth.logout()
    return aid


def test_candidate_cannot_see_or_touch_another_attempt(app, client, auth, alices_attempt):
    aid = alices_attempt
    auth.login("bob")
    for path in (f"/attempts/{aid}", f"/attempts/{aid}/tasks/1", f"/attempts/{aid}/results",
                 f"/attempts/{aid}/tasks/1/check", "/users/alice/history"):
        assert client.get(path).status_code == 404, path
    for path in (f"/attempts/{aid}/submit", f"/attempts/{aid}/tasks/1/flag",
                 f"/attempts/{aid}/tasks/1/check", f"/attempts/{aid}/tasks/1/reveal",
                 f"/attempts/{aid}/retry", f"/attempts/{aid}/abandon"):
        assert auth.post(path).status_code == 404, path
    assert attempt(app, aid).state == "running"
    assert "alice" not in client.get("/history").get_data(as_text=True)


def test_candidate_cannot_reach_admin(client, auth):
    auth.login("alice")
    for path in ("/admin/", "/admin/attempts", "/admin/attempts/1", "/admin/users"):
        assert client.get(path).status_code == 403, path
    assert auth.post("/admin/users", {"username": "evil", "password": "x" * 12, "role": "admin"}).status_code == 403
    assert auth.post("/admin/users/1/role", {"role": "admin"}).status_code == 403


def test_instructor_sees_attempts_but_cannot_act_or_peek(app, client, auth, alices_attempt):
    aid = alices_attempt
    auth.login("ines")
    html = client.get("/admin/attempts").get_data(as_text=True)
    assert "alice" in html and "Fake CKAD" in html
    detail = client.get(f"/admin/attempts/{aid}").get_data(as_text=True)
    assert "started" in detail and SECRET_CHECK not in detail and SECRET_SOLUTION not in detail
    # viewing the running attempt shows no task page, checks or solutions
    assert client.get(f"/attempts/{aid}/tasks/1").status_code == 404
    body = client.get(f"/attempts/{aid}").get_data(as_text=True)
    assert SECRET_CHECK not in body and SECRET_SOLUTION not in body
    assert auth.post(f"/attempts/{aid}/submit").status_code == 404
    assert client.get("/admin/users").status_code == 403
    assert client.get("/users/alice/history").status_code == 200
    auth.logout()
    auth.login("alice")
    auth.post(f"/attempts/{aid}/submit")
    auth.logout()
    auth.login("ines")
    results = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert SECRET_CHECK in results and "alice" in results


def test_admin_manages_users(app, client, auth):
    auth.login("ada")
    assert client.get("/admin/users").status_code == 200
    r = auth.post("/admin/users", {"username": "carol", "password": "long-password", "role": "instructor"})
    assert r.status_code == 302
    html = client.get("/admin/users").get_data(as_text=True)
    assert "carol" in html
    from sqlalchemy import select
    from web.db import get_db
    from web.models import User
    with app.app_context(), get_db().session() as s:
        carol = s.scalar(select(User).where(User.username == "carol"))
        assert carol.role == "instructor"
        cid = carol.id
    auth.post(f"/admin/users/{cid}/role", {"role": "candidate"})
    with app.app_context(), get_db().session() as s:
        assert s.get(User, cid).role == "candidate"
    # a refused form says why: a field's error, or the token
    r = auth.post(f"/admin/users/{cid}/role", {"role": "root"}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json["message"] == "role: Not a valid choice."
    r = client.post(f"/admin/users/{cid}/role", data={"role": "admin"},
                    headers={"Accept": "application/json"})
    assert r.status_code == 400 and "CSRF token is missing" in r.json["message"]
    auth.logout()
    assert auth.login("carol", "long-password").status_code == 302


def test_every_page_renders(app, client, auth):
    """Every GET route, as the role that may see it, answers 200."""
    auth.login("alice")
    aid = start(auth, mode="practice")
    paths = ["/", "/exams/fake-ckad", "/exams/fake-draw", f"/attempts/{aid}/tasks/1",
             f"/attempts/{aid}/tasks/1/check", "/history", "/account", "/users/alice/history",
             "/api/v1/exams", "/api/v1/attempts", f"/api/v1/attempts/{aid}",
             f"/api/v1/attempts/{aid}/tasks/2"]
    for p in paths:
        assert client.get(p).status_code == 200, p
    auth.post(f"/attempts/{aid}/submit")
    for p in (f"/attempts/{aid}/results", f"/api/v1/attempts/{aid}/results"):
        assert client.get(p).status_code == 200, p
    auth.logout()
    auth.login("ada")
    for p in ("/admin/attempts", "/admin/attempts?state=graded&exam=fake-ckad&user=alice",
              f"/admin/attempts/{aid}", "/admin/users", f"/attempts/{aid}/results"):
        assert client.get(p).status_code == 200, p
    assert client.get("/admin/").status_code == 302
    assert client.get("/static/proctor.css").status_code == 200
    assert client.get("/static/proctor.js").status_code == 200
