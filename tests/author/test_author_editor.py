"""The task editor: list and filters, new from the template, live lint with
lines, the statement tab, saves with conflict detection, Validate now, Try it."""

import html
import os
import re
from pathlib import Path


from web.author import files as author_files
from web.db import get_db
from web.models import Attempt

TASK = "/author/tasks/bank/ckad/svc-endpoints-fixture"


def folder(app):
    return Path(app.config["TASKS_DIR"]) / "ckad" / "svc-endpoints-fixture"


def editor_state(client):
    html = client.get(TASK).get_data(as_text=True)
    import json
    return json.loads(re.search(r'<script id="author-page" type="application/json">(.*?)</script>',
                                html, re.S).group(1))


def test_list_shows_tasks_with_filters(client, auth):
    auth.login()
    html = client.get("/author/tasks").get_data(as_text=True)
    assert "svc-endpoints-fixture" in html and "never" in html
    assert "svc-endpoints-fixture" not in client.get("/author/tasks?track=cka&difficulty=hard").get_data(as_text=True)
    assert "svc-endpoints-fixture" in client.get("/author/tasks?status=never&domain=Services+and+Networking").get_data(as_text=True)
    assert "svc-endpoints-fixture" not in client.get("/author/tasks?status=passed").get_data(as_text=True)


def test_new_task_from_template_lints_clean(client, auth, app):
    auth.login()
    resp = auth.post("/author/tasks/new", {"id": "cm-prod", "title": "Make it production", "track": "ckad",
                                           "domain": "Application Environment, Configuration and Security",
                                           "difficulty": "easy", "minutes": "4"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/author/tasks/bank/ckad/cm-prod")
    made = Path(app.config["TASKS_DIR"]) / "ckad" / "cm-prod"
    assert sorted(p.name for p in made.iterdir()) == ["checks.py", "setup", "solution", "task.yaml"]
    assert os.access(made / "setup", os.X_OK) and os.access(made / "solution", os.X_OK)
    from grader.lint import lint_task
    # clean but for what the author writes next: other ways and near misses
    assert {(Path(p.file).name, p.blocking) for p in lint_task(made).problems} == \
        {("alternatives", False), ("near-misses", False)}
    # the bank reloads: the new task is there for exams and Try it
    with app.app_context():
        assert app.extensions["proctor.bank"]().task("cm-prod") is not None
    # the same id again is refused
    again = auth.post("/author/tasks/new", {"id": "cm-prod", "title": "x", "track": "ckad",
                                            "domain": "Application Environment, Configuration and Security",
                                            "difficulty": "easy", "minutes": "4"})
    assert again.status_code == 200 and "already a task" in again.get_data(as_text=True)


def test_new_task_rejects_a_domain_of_another_track(client, auth, app):
    auth.login()
    resp = auth.post("/author/tasks/new", {"id": "x-y", "title": "X", "track": "cka",
                                           "domain": "Application Deployment", "difficulty": "easy",
                                           "minutes": "4"})
    assert "not a CKA domain" in resp.get_data(as_text=True)
    assert not (Path(app.config["TASKS_DIR"]) / "cka" / "x-y").exists()


def test_new_task_says_what_is_wrong_with_its_minutes(client, auth, app):
    auth.login()
    for minutes in ("0", "61", "five", ""):
        resp = auth.post("/author/tasks/new", {"id": "x-y", "title": "X", "track": "ckad",
                                               "domain": "Application Deployment",
                                               "difficulty": "easy", "minutes": minutes})
        assert resp.status_code == 200
        assert f"minutes: a whole number from 1 to 60; found {minutes!r}" \
            in html.unescape(resp.get_data(as_text=True)), minutes
    assert not (Path(app.config["TASKS_DIR"]) / "ckad" / "x-y").exists()


def test_lint_points_at_the_line(client, auth, app):
    auth.login()
    files = author_files.read_files(folder(app))
    files["task.yaml"] = files["task.yaml"].replace("difficulty: easy", "difficulty: trivial")
    resp = auth.post_json(TASK + "/lint", {"files": files, "changed": "task.yaml"})
    assert resp.status_code == 200
    problems = resp.get_json()["problems"]
    line = files["task.yaml"].splitlines().index("difficulty: trivial") + 1
    assert any(p["file"] == "task.yaml" and p["line"] == line and "trivial" in p["message"] for p in problems), problems
    # a broken check is reported against checks.py, and nothing was written
    files = author_files.read_files(folder(app))
    files["checks.py"] += "\ndef test_no_doc(k8s):\n    assert True\n"
    problems = auth.post_json(TASK + "/lint", {"files": files}).get_json()["problems"]
    assert any(p["file"] == "checks.py" and "docstring" in p["message"] for p in problems), problems
    assert "test_no_doc" not in (folder(app) / "checks.py").read_text()


def test_lint_splices_the_statement_and_previews_it(client, auth, app):
    auth.login()
    files = author_files.read_files(folder(app))
    resp = auth.post_json(TASK + "/lint", {"files": files, "changed": "statement",
                                           "statement": "Fix **web** in `{{ namespace }}`.\n\n<script>x()</script>\n"})
    data = resp.get_json()
    assert "Fix **web** in `{{ namespace }}`." in data["task_yaml"]
    assert "hints:" in data["task_yaml"] and "# A small, valid task" in data["task_yaml"]
    assert "<strong>web</strong>" in data["preview"]["html"] and "shop-" in data["preview"]["html"]
    assert "<script>" not in data["preview"]["html"]
    # from task.yaml to the statement tab
    data = auth.post_json(TASK + "/lint", {"files": files, "changed": "task.yaml"}).get_json()
    assert data["statement"].startswith("The Service `web` in namespace")


def test_save_writes_the_files_and_keeps_scripts_executable(client, auth, app):
    auth.login()
    page = editor_state(client)
    files = dict(page["files"])
    files["solution"] = files["solution"].replace("\n", "\r\n") + "# checked\r\n"
    resp = auth.post_json(TASK + "/save", {"files": files, "version": page["version"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    text = (folder(app) / "solution").read_text()
    assert text.endswith("# checked\n") and "\r" not in text
    assert os.access(folder(app) / "solution", os.X_OK) and os.access(folder(app) / "setup", os.X_OK)
    assert resp.get_json()["version"] == author_files.version(folder(app)) != page["version"]


def test_concurrent_edit_is_refused_with_a_diff(client, auth, app):
    auth.login()
    page = editor_state(client)
    # someone else saves first (another browser, or git pull on the folder)
    other = dict(page["files"])
    other["setup"] += "echo theirs\n"
    ok = auth.post_json(TASK + "/save", {"files": other, "version": page["version"]})
    assert ok.status_code == 200
    mine = dict(page["files"])
    mine["setup"] += "echo mine\n"
    resp = auth.post_json(TASK + "/save", {"files": mine, "version": page["version"]})
    assert resp.status_code == 409
    data = resp.get_json()
    assert data["conflict"] and "someone saved this task" in data["message"]
    assert "+echo mine" in data["diff"]["setup"] and "-echo theirs" in data["diff"]["setup"]
    assert data["current"]["setup"].endswith("echo theirs\n")
    assert (folder(app) / "setup").read_text().endswith("echo theirs\n")  # not overwritten
    # saving over theirs is an explicit second step with their version
    resp = auth.post_json(TASK + "/save", {"files": mine, "version": data["version"]})
    assert resp.status_code == 200
    assert (folder(app) / "setup").read_text().endswith("echo mine\n")


def test_a_save_needs_a_version(client, auth):
    auth.login()
    assert auth.post_json(TASK + "/save", {"files": {"setup": "#!/bin/sh\n"}}).status_code == 400


def test_validate_now_queues_a_job_and_streams_its_result(client, auth, app, monkeypatch):
    from web.author import jobs

    def fake_validate(path, provider, say):
        say(f"validating {path.name}")
        say("PASS")
        return {"ok": True, "checks": [{"id": "checks.py::test_a", "description": "A", "points": 1,
                                        "seeds": {"1": {"setup": "failed", "solution": "passed", "ok": True}}}],
                "seeds": [{"seed": 1}], "lint": [], "violations": [], "skipped": ""}

    monkeypatch.setattr(jobs, "validate_task", fake_validate)
    monkeypatch.setattr(jobs, "provider_for", lambda config, services=None: None)
    auth.login()
    resp = auth.post_json(TASK + "/validate", {})
    assert resp.status_code == 202
    vid = resp.get_json()["id"]
    data = client.get(resp.get_json()["url"]).get_json()
    assert data["state"] == "passed" and data["done"] and "validating svc-endpoints-fixture" in data["log"]
    assert data["result"]["checks"][0]["seeds"]["1"]["ok"] is True
    # the log can be followed from an offset
    assert client.get(f"/author/validations/{vid}?offset={data['offset']}").get_json()["log"] == ""
    assert "passed" in client.get("/author/tasks?status=passed").get_data(as_text=True)
    # an edit makes the validation stale
    page = editor_state(client)
    files = dict(page["files"])
    files["setup"] += "# edited\n"
    auth.post_json(TASK + "/save", {"files": files, "version": page["version"]})
    assert "svc-endpoints-fixture" in client.get("/author/tasks?status=stale").get_data(as_text=True)


def test_validation_error_is_stored(client, auth, app, monkeypatch):
    from web.author import jobs
    monkeypatch.setattr(jobs, "provider_for",
                        lambda config, services=None: (_ for _ in ()).throw(RuntimeError("no kwok here")))
    auth.login()
    url = auth.post_json(TASK + "/validate", {}).get_json()["url"]
    data = client.get(url).get_json()
    assert data["state"] == "error" and "no kwok here" in data["log"]


def test_try_it_starts_a_practice_attempt_of_just_that_task(client, auth, app):
    auth.login()
    resp = auth.post(TASK + "/try")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    m = re.search(r"/attempts/(\d+)", resp.headers["Location"])
    with app.app_context(), get_db().session() as s:
        a = s.get(Attempt, int(m.group(1)))
        assert a.mode == "practice" and a.exam_id == "try-svc-endpoints-fixture"
        assert [t.task_id for t in a.tasks] == ["svc-endpoints-fixture"]
        assert a.state == "running"  # fake sandbox, jobs inline
    page = client.get(f"/attempts/{a.id}/tasks/1").get_data(as_text=True)
    assert "has no endpoints" in page and "terminal" in page
