"""The JSON API: start, status, submit, results; token and session auth."""

import re
import time

from tests.portal.fakes import SECRET_CHECK, SECRET_SOLUTION
from tests.portal.helpers import set_values, solve


def token_for(client, auth, user="alice"):
    auth.login(user)
    html = auth.post("/account", {"name": "script"}).get_data(as_text=True)
    auth.logout()
    return re.search(r"(pct_[A-Za-z0-9_\-]+)", html).group(1)


def test_api_needs_auth(client):
    for path in ("/api/v1/exams", "/api/v1/attempts", "/api/v1/attempts/1"):
        r = client.get(path)
        assert r.status_code == 401 and r.json["error"] == "Unauthorized"
    assert client.post("/api/v1/attempts", json={"exam": "fake-ckad"}).status_code == 401


def test_whole_attempt_by_token(app, client, auth):
    h = {"Authorization": f"Bearer {token_for(client, auth)}"}
    exams = client.get("/api/v1/exams", headers=h).json["exams"]
    assert {e["id"] for e in exams} == {"fake-ckad", "fake-draw"}
    r = client.post("/api/v1/attempts", json={"exam": "fake-ckad", "mode": "exam"}, headers=h)
    assert r.status_code == 201, r.json
    aid = r.json["id"]
    st = client.get(f"/api/v1/attempts/{aid}", headers=h).json
    assert st["state"] == "running" and 7190 < st["remaining_seconds"] <= 7200
    assert [t["title"] for t in st["tasks"]][0] == "Fix the Service selector"
    assert "checks" not in str(st) and SECRET_SOLUTION not in str(st)
    t1 = client.get(f"/api/v1/attempts/{aid}/tasks/1", headers=h).json
    assert "svc-selector-fix" in t1["statement"] and t1["hints"] == []
    assert client.get(f"/api/v1/attempts/{aid}/results", headers=h).status_code == 409
    solve(app, aid, "svc-selector-fix")
    r = client.post(f"/api/v1/attempts/{aid}/submit", headers=h)
    assert r.status_code == 202
    res = client.get(f"/api/v1/attempts/{aid}/results", headers=h).json
    assert res["state"] == "graded" and res["score"] == 40.0 and res["passed"] is False
    assert res["tasks"][0]["checks"][0]["outcome"] == "passed"
    assert res["tasks"][1]["checks"][0]["message"] == "expected selector app=web, found app=frontend"
    assert SECRET_SOLUTION in res["tasks"][0]["solution"]
    assert {d["domain"] for d in res["domains"]} >= {"Services and Networking"}
    assert client.post(f"/api/v1/attempts/{aid}/submit", headers=h).status_code == 409


def test_start_errors(client, auth):
    h = {"Authorization": f"Bearer {token_for(client, auth)}"}
    assert client.post("/api/v1/attempts", json={"exam": "nope"}, headers=h).status_code == 404
    assert client.post("/api/v1/attempts", json={"exam": "fake-ckad", "mode": "x"}, headers=h).status_code == 409
    assert client.post("/api/v1/attempts", json={"exam": "fake-ckad"}, headers=h).status_code == 201
    r = client.post("/api/v1/attempts", json={"exam": "fake-ckad"}, headers=h)
    assert r.status_code == 409 and "in progress" in r.json["message"]


def test_session_auth_needs_csrf_header_to_change_things(client, auth):
    auth.login()
    assert client.get("/api/v1/exams").status_code == 200
    r = client.post("/api/v1/attempts", json={"exam": "fake-ckad"})
    assert r.status_code == 400 and "CSRF" in r.json["message"]
    r = client.post("/api/v1/attempts", json={"exam": "fake-ckad"},
                    headers={"X-CSRFToken": auth.csrf("/account")})
    assert r.status_code == 201


def test_submit_after_deadline_refused(app, client, auth):
    h = {"Authorization": f"Bearer {token_for(client, auth)}"}
    aid = client.post("/api/v1/attempts", json={"exam": "fake-ckad"}, headers=h).json["id"]
    set_values(app, aid, deadline_at=time.time() - 0.5)
    r = client.post(f"/api/v1/attempts/{aid}/submit", headers=h)
    assert r.status_code == 409 and "time is up" in r.json["message"]
    st = client.get(f"/api/v1/attempts/{aid}", headers=h).json
    assert st["auto_submitted"] is True and st["state"] == "graded"


def test_other_candidates_attempts_are_invisible(app, client, auth):
    alice = {"Authorization": f"Bearer {token_for(client, auth, 'alice')}"}
    bob = {"Authorization": f"Bearer {token_for(client, auth, 'bob')}"}
    aid = client.post("/api/v1/attempts", json={"exam": "fake-ckad"}, headers=alice).json["id"]
    for path in (f"/api/v1/attempts/{aid}", f"/api/v1/attempts/{aid}/results",
                 f"/api/v1/attempts/{aid}/tasks/1"):
        assert client.get(path, headers=bob).status_code == 404, path
    assert client.post(f"/api/v1/attempts/{aid}/submit", headers=bob).status_code == 404
    assert client.get("/api/v1/attempts", headers=bob).json["attempts"] == []
    client.post(f"/api/v1/attempts/{aid}/submit", headers=alice)
    assert client.get(f"/api/v1/attempts/{aid}/results", headers=bob).status_code == 404
    body = client.get(f"/api/v1/attempts/{aid}/results", headers=alice).get_data(as_text=True)
    assert SECRET_CHECK in body
