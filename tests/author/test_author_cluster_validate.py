"""Edit a task in the browser's editor endpoints and validate it end to end on
real kwok sandboxes (the worker's job, run inline)."""

import re
from pathlib import Path

import pytest

from web.author import files as author_files

pytestmark = pytest.mark.cluster
DOMAIN = "Application Environment, Configuration and Security"


@pytest.fixture
def kwok_app(app, kwok):
    app.config["AUTHOR_PROVIDER"] = kwok
    return app


def validate(client, auth, url):
    resp = auth.post_json(url + "/validate", {})
    assert resp.status_code == 202
    return client.get(resp.get_json()["url"]).get_json()   # inline: already done


def test_edit_then_validate_on_kwok(kwok_app, client, auth):
    app = kwok_app
    before = {sb.name for sb in app.config["AUTHOR_PROVIDER"].list()}  # other tests' sandboxes
    auth.login()
    resp = auth.post("/author/tasks/new", {"id": "cm-prod", "title": "Switch a ConfigMap to production",
                                           "track": "ckad", "domain": DOMAIN, "difficulty": "easy",
                                           "minutes": "4"})
    assert resp.status_code == 302
    url = "/author/tasks/bank/ckad/cm-prod"
    folder = Path(app.config["TASKS_DIR"]) / "ckad" / "cm-prod"

    # the edit: keep log_level=warn instead of info, in setup, the statement and the check
    files = author_files.read_files(folder)
    version = author_files.version(folder)
    files["setup"] = files["setup"].replace("log_level=info", "log_level=warn")
    files["checks.py"] = files["checks.py"].replace('"info"', '"warn"').replace("log_level: info", "log_level: warn") \
        .replace("log_level=info", "log_level=warn")
    stmt = author_files.statement_of(files["task.yaml"]) + "\nThe log level stays `warn`.\n"
    lint = auth.post_json(url + "/lint", {"files": files, "statement": stmt, "changed": "statement"}).get_json()
    assert lint["problems"] == []
    # what the author writes next (other ways, near misses) is a note, not a problem
    assert {n["message"].split(":")[0] for n in lint["notes"]} == {"alternatives", "near-misses"}
    files["task.yaml"] = lint["task_yaml"]
    saved = auth.post_json(url + "/save", {"files": files, "version": version})
    assert saved.status_code == 200 and saved.get_json()["problems"] == []

    data = validate(client, auth, url)
    assert data["state"] == "passed", data["log"]
    res = data["result"]
    assert res["ok"] and [s["seed"] for s in res["seeds"]] == [1, 2]
    assert {c["id"].split("::")[-1] for c in res["checks"]} == \
        {"test_mode_is_production", "test_labelled_backend", "test_other_keys_kept"}
    assert all(cell == {"setup": "failed", "solution": "passed", "ok": True}
               for c in res["checks"] for cell in c["seeds"].values())
    assert "seed 2: running solution" in data["log"] and "PASS" in data["log"]
    assert re.search(r"sandbox val-\w+-1 removed", data["log"])

    # a solution that forgets the label: the page names the check and the rule
    files = author_files.read_files(folder)
    files["solution"] = "\n".join(ln for ln in files["solution"].splitlines() if "label" not in ln) + "\n"
    assert auth.post_json(url + "/save", {"files": files, "version": author_files.version(folder)}).status_code == 200
    data = validate(client, auth, url)
    assert data["state"] == "failed"
    cells = {c["id"].split("::")[-1]: c["seeds"]["1"] for c in data["result"]["checks"]}
    assert cells["test_labelled_backend"] == {"setup": "failed", "solution": "failed", "ok": False}
    assert cells["test_mode_is_production"]["ok"]
    assert any("test_labelled_backend fails after the reference solution" in v
               for v in data["result"]["violations"])
    # every sandbox the validations made is removed
    assert {sb.name for sb in app.config["AUTHOR_PROVIDER"].list()} == before


def test_a_proctor_validate_run_shows_on_the_author_pages(kwok_app, client, auth):
    """`make test` and CI run `proctor validate`, not "Validate now": the
    authoring pages must still show the task as validated (and stale after an edit)."""
    from grader.validate import validate as proctor_validate
    folder = Path(kwok_app.config["TASKS_DIR"]) / "ckad" / "svc-endpoints-fixture"
    auth.login()
    assert "svc-endpoints-fixture" in client.get("/author/tasks?status=never").get_data(as_text=True)
    [report] = proctor_validate([folder], provider=kwok_app.config["AUTHOR_PROVIDER"])
    assert report.ok, [str(v) for v in report.violations]
    page = client.get("/author/tasks?status=passed").get_data(as_text=True)
    assert "svc-endpoints-fixture" in page and "proctor validate" in page
    (folder / "setup").write_text((folder / "setup").read_text() + "# edited\n")
    assert "svc-endpoints-fixture" in client.get("/author/tasks?status=stale").get_data(as_text=True)
