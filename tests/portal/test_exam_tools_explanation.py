"""The optional ``explanation`` of a task: schema, model, lint (rendered like
the statement, but never taken for a leak), and the bank's own explanations."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from grader import markdown
from grader.lint import EXPLANATION_MAX_WORDS, lint_task
from grader.task import SCHEMA_PATH, find_tasks, load_task

REPO = Path(__file__).resolve().parents[2]
GOOD = REPO / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture"
# The solution's command as a candidate would read it, with the namespace filled in.
SOLUTION_LINE = ("kubectl -n {{ namespace }} patch service web --type=merge "
                 "-p '{\"spec\":{\"selector\":{\"app\":\"web\"}}}'")


@pytest.fixture
def task_dir(tmp_path) -> Path:
    dst = tmp_path / "bank" / "svc-endpoints-fixture"
    shutil.copytree(GOOD, dst)
    return dst


def explain(folder: Path, text: str) -> None:
    """Give the task an explanation (a YAML block) before its docs."""
    body = "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())
    f = folder / "task.yaml"
    f.write_text(f.read_text().replace("docs:\n", "explanation: |\n" + body + "docs:\n", 1))


def problems(folder: Path) -> list[str]:
    return [str(p) for p in lint_task(folder).problems]


def test_schema_describes_an_optional_markdown_explanation():
    prop = json.loads(SCHEMA_PATH.read_text())["properties"]["explanation"]
    assert prop["type"] == "string" and "markdown" in prop["description"]
    assert "explanation" not in json.loads(SCHEMA_PATH.read_text())["required"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(42, prop)


def test_explanation_is_rendered_with_the_params(task_dir):
    assert load_task(task_dir).explanation_text({"namespace": "x", "port": 1}) == ""
    explain(task_dir, "The selector of `web` in `{{ namespace }}` must match the Pods' labels.\n"
                      "See [Service](https://kubernetes.io/docs/concepts/services-networking/service/).")
    task = load_task(task_dir)
    assert problems(task_dir) == []
    text = task.explanation_text({"namespace": "shop-abcde", "port": 8080})
    assert "`shop-abcde`" in text
    assert "explanation" not in task.render({"namespace": "shop-abcde", "port": 8080})
    assert "explanation" not in task.to_dict()


def test_explanation_may_quote_the_solution(task_dir):
    explain(task_dir, f"Patch the selector:\n\n```\n{SOLUTION_LINE}\n```")
    assert problems(task_dir) == []
    # the same text in a hint is a leak
    f = task_dir / "task.yaml"
    f.write_text(f.read_text().replace(
        "  - \"Compare the Service's selector with the labels of the Deployment's pods.\"",
        f"  - {json.dumps(SOLUTION_LINE)}"))
    assert any("hints[0] gives away the solution" in p for p in problems(task_dir))


def test_lint_renders_the_explanation_like_the_statement(task_dir):
    explain(task_dir, "Why: the Service selects:\n- app=web\n- tier=frontend\n\n"
                      "Uses {{ nope }} too.")
    found = problems(task_dir)
    assert any("explanation uses {{ nope }} but the task has no such param" in p for p in found), found
    explain_dir = task_dir.parent.parent / "second" / task_dir.name
    shutil.copytree(GOOD, explain_dir)
    explain(explain_dir, "Why: the Service selects:\n- app=web\n- tier=frontend")
    found = problems(explain_dir)
    assert len(found) == 1 and "explanation: this list runs into the paragraph above it" in found[0]
    line = int(re.search(r"task\.yaml:(\d+):", found[0]).group(1))
    assert (explain_dir / "task.yaml").read_text().splitlines()[line - 1] == "  - app=web"


def test_too_short_an_explanation_is_a_schema_problem(task_dir):
    explain(task_dir, "Because.")
    assert any("explanation" in p and "too short" in p for p in problems(task_dir))


# The documentation a candidate may open during the CKA and CKAD exams: an
# explanation links at least one page there, so the reading it points to is
# reading the candidate can do under exam conditions.
EXAM_DOCS = re.compile(r'href="https://(kubernetes\.io/docs/|helm\.sh/docs/'
                       r'|gateway-api\.sigs\.k8s\.io/)[^"]*"')


def test_the_bank_explains_at_least_eight_tasks_each_with_its_docs_page():
    explained = []
    for folder in find_tasks(REPO / "tasks"):
        task = load_task(folder)
        if not task.explanation:
            continue
        explained.append(task.id)
        html = markdown.render(task.explanation_text(task.draw_params(0)))
        assert EXAM_DOCS.search(html), f"{task.id}: link a page of the exam's documentation"
        assert markdown.problems(task.explanation_text(task.draw_params(1))) == [], task.id
        assert len(task.explanation.split()) <= EXPLANATION_MAX_WORDS, f"{task.id}: keep it short"
    assert len(explained) >= 8, explained
