"""An instructor authors a task in a real browser: create it from the template,
type a lint error into the editor and see it pointed at, fix it, save,
validate on a real kwok sandbox (the worker of `proctor run`), see it pass.

The portal here is `proctor run` like the `portal` fixture's, but over a copy
of the task bank, so the task made by the test never lands in the repository."""

from __future__ import annotations

import re
import shutil

import pytest

from .e2e_portal import ARTIFACTS, REPO, log_in, run_portal

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]
DOMAIN = "Application Environment, Configuration and Security"


@pytest.fixture(scope="module")
def author_portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("author-portal")
    shutil.copytree(REPO / "tasks", root / "tasks")
    shutil.copytree(REPO / "exams", root / "exams")
    with run_portal(root, "author-portal.log", PROCTOR_TASKS_DIR=str(root / "tasks"),
                    PROCTOR_EXAMS_DIR=str(root / "exams"), PROCTOR_POOL_SIZE="0") as p:
        yield p


def test_instructor_creates_fixes_and_validates_a_task(author_portal, browser_page):
    page, base = browser_page, author_portal["base"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_in(page, author_portal, "instructor")

    page.get_by_role("link", name="Author").click()
    page.get_by_role("link", name="New task").click()
    page.fill("input[name=id]", "cm-production")
    page.fill("input[name=title]", "Switch a ConfigMap to production")
    page.select_option("#new-track", "ckad")
    page.select_option("#new-domain", DOMAIN)
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(r".*/author/tasks/bank/ckad/cm-production$"))
    assert (author_portal["root"] / "tasks" / "ckad" / "cm-production" / "checks.py").exists()
    page.wait_for_selector('.editor-host[data-file="task.yaml"] .cm-content')
    page.wait_for_function("() => document.getElementById('problem-count').textContent === '0'")

    # a lint error, typed: difficulty becomes something the schema does not know
    line = page.locator('.editor-host[data-file="task.yaml"] .cm-line', has_text="difficulty:")
    line.click()
    page.keyboard.press("End")
    for _ in range(len("easy")):
        page.keyboard.press("Backspace")
    page.keyboard.type("trivial")
    page.wait_for_function("() => document.getElementById('problem-count').textContent !== '0'", timeout=30_000)
    problems = page.inner_text("#problems")
    assert "task.yaml:" in problems and "trivial" in problems
    assert page.locator('.editor-host[data-file="task.yaml"] .cm-lint-marker-error').count() >= 1
    assert page.inner_text('.editor-tab[data-file="task.yaml"] .count') != "0"
    page.screenshot(path=str(ARTIFACTS / "author-lint-error.png"))

    # the fix
    for _ in range(len("trivial")):
        page.keyboard.press("Backspace")
    page.keyboard.type("easy")
    page.wait_for_function("() => document.getElementById('problem-count').textContent === '0'", timeout=30_000)
    assert "No problems" in page.inner_text("#problems")
    page.get_by_role("button", name="Save").click()
    page.wait_for_function("() => document.getElementById('save-state').textContent.startsWith('Saved at')")
    saved = (author_portal["root"] / "tasks" / "ckad" / "cm-production" / "task.yaml").read_text()
    assert "difficulty: easy" in saved

    page.get_by_role("button", name="Validate now").click()
    page.wait_for_function(
        "() => ['passed', 'failed', 'error'].includes(document.getElementById('validation-state').textContent)",
        timeout=480_000)
    log = page.inner_text("#validation-log")
    assert page.inner_text("#validation-state") == "passed", log[-3000:]
    assert "Validation passed" in page.inner_text("#validation-table")
    assert page.locator(".vtable tbody tr").count() == 3
    assert "seed 2: running solution" in log
    page.screenshot(path=str(ARTIFACTS / "author-validated.png"), full_page=True)

    page.goto(base + "/author/tasks?status=passed")
    assert "cm-production" in page.inner_text("main")
