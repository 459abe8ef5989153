"""A KillerCoda scenario (tests/fixtures/killercoda/fix-the-broken-service) becomes a draft task."""

import io
import os
import zipfile
from pathlib import Path

from grader.lint import lint_task

SCENARIO = Path(__file__).resolve().parents[1] / "fixtures" / "killercoda" / "fix-the-broken-service"


def scenario_zip(prefix="fix-svc/") -> bytes:
    """The fixture scenario folder, zipped as a KillerCoda export would be."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(SCENARIO.rglob("*")):
            if f.is_file():
                z.write(f, prefix + f.relative_to(SCENARIO).as_posix())
    return buf.getvalue()


def test_import_makes_a_draft_that_lints_clean(client, auth, app):
    auth.login()
    resp = auth.post("/author/import", {"track": "ckad", "domain": "Services and Networking",
                                        "difficulty": "easy", "id": "",
                                        "scenario": (io.BytesIO(scenario_zip()), "fix-svc.zip")},
                     content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"].endswith("/author/tasks/drafts/ckad/fix-the-broken-service")
    draft = Path(app.instance_path) / "drafts" / "ckad" / "fix-the-broken-service"
    task_yaml = (draft / "task.yaml").read_text()
    assert "The Service `web` in namespace `shop` has no endpoints." in task_yaml
    assert "### 1. Find the selector" in task_yaml and "{{exec}}" not in task_yaml
    assert "patch svc web" not in task_yaml          # the <details> solution left the statement ...
    assert "patch svc web" in (draft / "solution").read_text()   # ... for the draft solution
    assert "kubectl create namespace shop" in (draft / "setup").read_text()
    assert os.access(draft / "setup", os.X_OK) and os.access(draft / "verify" / "step2.sh", os.X_OK)
    checks = (draft / "checks.py").read_text()
    assert 'run_verify("step1.sh", sandbox)' in checks and 'run_verify("step2.sh", sandbox)' in checks
    assert '"""Step 2: Fix the Service"""' in checks
    # nothing wrong but what an author adds next: other ways and near misses
    assert [p for p in lint_task(draft).problems if p.blocking] == []
    assert {Path(p.file).name for p in lint_task(draft).problems} == {"alternatives", "near-misses"}
    # a draft is not in the bank (no exam draws it) until it is published
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Publish to the bank" in page
    assert "fix-the-broken-service" in client.get("/author/tasks?status=draft").get_data(as_text=True)
    with app.app_context():
        assert app.extensions["proctor.bank"]().task("fix-the-broken-service") is None
    pub = auth.post("/author/tasks/drafts/ckad/fix-the-broken-service/publish")
    assert pub.status_code == 302 and pub.headers["Location"].endswith("/author/tasks/bank/ckad/fix-the-broken-service")
    assert (Path(app.config["TASKS_DIR"]) / "ckad" / "fix-the-broken-service" / "verify" / "step1.sh").exists()
    with app.app_context():
        assert app.extensions["proctor.bank"]().task("fix-the-broken-service") is not None


def test_import_refuses_what_is_not_a_scenario(client, auth):
    auth.login()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.md", "hello")
    resp = auth.post("/author/import", {"track": "ckad", "domain": "Services and Networking",
                                        "difficulty": "easy", "scenario": (io.BytesIO(buf.getvalue()), "x.zip")},
                     content_type="multipart/form-data")
    assert resp.status_code == 200 and "no index.json" in resp.get_data(as_text=True)
    resp = auth.post("/author/import", {"track": "ckad", "domain": "Services and Networking",
                                        "difficulty": "easy", "scenario": (io.BytesIO(b"{"), "index.json")},
                     content_type="multipart/form-data")
    assert "not valid JSON" in resp.get_data(as_text=True)


def test_step_titles_stay_text_in_the_generated_checks():
    """A scenario's step titles go into checks.py's docstrings and messages:
    quotes, backslashes and newlines must not end a string and become code."""
    import ast

    from web.author.importer import Scenario, Step, draft_files
    titles = ['end \\', '"""; import os; os.system("id") #', "two\nlines {x} '''"]
    sc = Scenario(title="t", steps=[Step(title=t, text="do it", verify="exit 0") for t in titles])
    checks = draft_files(sc, "t", "ckad", "Services and Networking")["checks.py"]
    tree = ast.parse(checks)
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert len(tests) == 3
    assert all(isinstance(n, (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef))
               for n in tree.body)
    assert not any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"
                   for n in ast.walk(tree))
    assert [ast.get_docstring(t) for t in tests][2] == "Step 3: two lines {x} '''"
