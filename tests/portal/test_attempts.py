"""The attempt's life through the pages, with fake sandboxes and grading."""

import re
import time


from tests.portal.fakes import SECRET_CHECK, SECRET_SOLUTION
from tests.portal.helpers import attempt, events, set_values, solve, start


def test_catalog_and_exam_page(client, auth):
    auth.login()
    html = client.get("/").get_data(as_text=True)
    assert "Fake CKAD" in html and "Fake drawn CKAD" in html
    html = client.get("/exams/fake-ckad").get_data(as_text=True)
    assert "Start exam" in html and "Practice" in html and "120 minutes" in html
    assert "Services and Networking" in html
    assert client.get("/exams/nope").status_code == 404


def test_whole_attempt(app, client, auth):
    auth.login()
    aid = start(auth)
    a = attempt(app, aid)
    assert a.state == "running" and a.sandbox_state == "ready"
    assert [t.task_id for t in a.tasks] == ["svc-selector-fix", "pod-security", "deploy-rollout"]
    assert 7195 < a.deadline_at - time.time() <= 7200
    # a reload resumes on the task page
    resp = client.get(f"/attempts/{aid}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/attempts/{aid}/tasks/1")
    html = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert 'id="terminal"' in html and "Fix <strong>svc-selector-fix</strong>" in html
    assert "<script>alert" not in html  # statement markdown is sanitized
    assert 'data-remaining="' in html
    remaining = float(re.search(r'data-remaining="([\d.]+)"', html).group(1))
    assert 7190 < remaining <= 7200
    assert "hint for" not in html  # no hints in exam mode
    solve(app, aid, "svc-selector-fix")
    resp = auth.post(f"/attempts/{aid}/submit")
    assert resp.status_code == 302
    a = attempt(app, aid)
    assert a.state == "graded" and a.sandbox_state == "destroyed"
    assert a.score == 40.0 and a.passed is False
    results = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "40%" in results and "Not passed" in results
    assert f"{SECRET_CHECK} one of svc-selector-fix" in results
    assert f"{SECRET_SOLUTION}-pod-security" in results
    assert "expected selector app=web, found app=frontend" in results
    assert [k for k, _ in events(app, aid)] == ["started", "sandbox", "running", "submitted",
                                                "grading", "graded", "reaped"]


def test_checks_and_solutions_never_before_the_end(app, client, auth):
    auth.login()
    aid = start(auth)
    pages = [f"/attempts/{aid}", f"/attempts/{aid}/tasks/1", f"/attempts/{aid}/tasks/2",
             f"/attempts/{aid}/results", f"/api/v1/attempts/{aid}",
             f"/api/v1/attempts/{aid}/tasks/1", f"/api/v1/attempts/{aid}/results",
             f"/attempts/{aid}/tasks/1/check", "/history", "/api/v1/attempts"]
    for path in pages:
        body = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert SECRET_CHECK not in body and SECRET_SOLUTION not in body, path
    assert client.get(f"/api/v1/attempts/{aid}/results").status_code == 409
    assert client.get(f"/attempts/{aid}/tasks/1/check").status_code == 403
    assert auth.post(f"/attempts/{aid}/tasks/1/check").status_code == 403
    assert auth.post(f"/attempts/{aid}/tasks/1/reveal").status_code == 403
    body = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert SECRET_SOLUTION not in body and SECRET_CHECK not in body


def test_submit_after_deadline_is_refused(app, client, auth):
    auth.login()
    aid = start(auth)
    set_values(app, aid, deadline_at=time.time() - 1)
    resp = auth.post(f"/attempts/{aid}/submit")
    assert resp.status_code == 409 and "Time is up" in resp.get_data(as_text=True)
    a = attempt(app, aid)
    assert a.auto_submitted and a.state == "graded"
    assert a.submitted_at <= a.deadline_at
    assert auth.post(f"/attempts/{aid}/submit").status_code == 409


def test_flag_for_review(app, client, auth):
    auth.login()
    aid = start(auth)
    assert auth.post(f"/attempts/{aid}/tasks/2/flag").status_code == 302
    assert attempt(app, aid).tasks[1].flagged
    r = auth.post(f"/attempts/{aid}/tasks/2/flag", headers={"X-Requested-With": "fetch"})
    assert r.json == {"position": 2, "flagged": False}
    assert auth.post(f"/attempts/{aid}/tasks/9/flag").status_code == 404
    assert client.post(f"/attempts/{aid}/tasks/2/flag").status_code == 400  # no CSRF token


def test_time_spent_per_task(app, client, auth):
    auth.login()
    aid = start(auth)
    client.get(f"/attempts/{aid}/tasks/1")
    set_values(app, aid, current_since=time.time() - 30)
    client.get(f"/attempts/{aid}/tasks/2")
    set_values(app, aid, current_since=time.time() - 10)
    auth.post(f"/attempts/{aid}/submit")
    spent = [round(t.seconds_spent) for t in attempt(app, aid).tasks]
    assert spent[0] == 30 and spent[1] == 10 and spent[2] == 0


def test_practice_mode(app, client, auth):
    auth.login()
    aid = start(auth, mode="practice")
    a = attempt(app, aid)
    assert a.mode == "practice"
    html = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert "hint for svc-selector-fix" in html and "Check my work" in html and "untimed" in html
    assert SECRET_SOLUTION not in html
    # check my work: grades just this task, now
    r = auth.post(f"/attempts/{aid}/tasks/1/check", headers={"X-Requested-With": "fetch"})
    assert r.json["check_state"] == "done"
    r = client.get(f"/attempts/{aid}/tasks/1/check")
    assert r.json["result"]["checks"][0]["outcome"] == "failed"
    solve(app, aid, "svc-selector-fix")
    auth.post(f"/attempts/{aid}/tasks/1/check")
    r = client.get(f"/attempts/{aid}/tasks/1/check")
    assert {c["outcome"] for c in r.json["result"]["checks"]} == {"passed"}
    assert "✓" in r.json["html"]
    assert attempt(app, aid).state == "running"  # checking does not end practice
    # reveal the solution of one task only
    auth.post(f"/attempts/{aid}/tasks/2/reveal")
    html = client.get(f"/attempts/{aid}/tasks/2").get_data(as_text=True)
    assert f"{SECRET_SOLUTION}-pod-security" in html
    html = client.get(f"/attempts/{aid}/tasks/3").get_data(as_text=True)
    assert SECRET_SOLUTION not in html
    auth.post(f"/attempts/{aid}/submit")
    assert attempt(app, aid).state == "graded"


def test_one_active_attempt_at_a_time(client, auth):
    auth.login()
    aid = start(auth)
    resp = auth.post("/exams/fake-draw/start", data={"mode": "exam"}, follow_redirects=True)
    assert "already have an attempt in progress" in resp.get_data(as_text=True)
    assert f"/attempts/{aid}" in client.get("/").get_data(as_text=True)


def test_drawn_exam(app, client, auth):
    auth.login()
    aid = start(auth, exam="fake-draw")
    a = attempt(app, aid)
    assert len(a.tasks) == 4 and len({t.domain for t in a.tasks}) == 4
    assert abs(sum(t.weight for t in a.tasks) - sum(
        {"Services and Networking": 20, "Application Deployment": 20, "Application Design and Build": 20,
         "Application Environment, Configuration and Security": 25,
         "Application Observability and Maintenance": 15}[t.domain] for t in a.tasks)) < 0.1


def test_sandbox_failure_shows_error_and_retry(app, client, auth, monkeypatch):
    auth.login()
    monkeypatch.setenv("FAKE_FAIL_CREATE", "1")
    aid = start(auth)
    a = attempt(app, aid)
    assert a.state == "error" and "did not become usable" in a.error
    html = client.get(f"/attempts/{aid}").get_data(as_text=True)
    assert "could not be prepared" in html and "Retry" in html and "did not become usable" in html
    monkeypatch.delenv("FAKE_FAIL_CREATE")
    assert auth.post(f"/attempts/{aid}/retry").status_code == 302
    assert attempt(app, aid).state == "running"
    assert auth.post(f"/attempts/{aid}/retry").status_code == 409


def test_setup_failure_names_the_task(app, client, auth, monkeypatch):
    auth.login()
    monkeypatch.setenv("FAKE_FAIL_SETUP", "pod-security")
    aid = start(auth)
    a = attempt(app, aid)
    assert a.state == "error" and "setup of task pod-security failed" in a.error
    assert "exploded" in a.error
    assert auth.post(f"/attempts/{aid}/abandon").status_code == 302
    a = attempt(app, aid)
    assert a.state == "abandoned" and a.sandbox_state == "destroyed"


def test_history(app, client, auth):
    auth.login()
    for solved in (["svc-selector-fix"], ["svc-selector-fix", "pod-security"]):
        aid = start(auth)
        for t in solved:
            solve(app, aid, t)
        auth.post(f"/attempts/{aid}/submit")
    html = client.get("/history").get_data(as_text=True)
    assert "Score trend" in html and "<polyline" in html and "Weakest domains" in html
    assert html.index("Application Deployment") < html.index("Services and Networking")
    assert "40.0%" in html and "80.0%" in html
