"""A candidate's whole journey in a real browser: log in, start the fixed CKAD
paper (tests/e2e/papers) in practice mode, fix the Service selector by
typing kubectl into the terminal, check the work, submit, and read the
results."""

from __future__ import annotations

import re

import pytest
from .e2e_portal import (ARTIFACTS, check_my_work, finish_practice, log_in, open_task,
                         start_practice, wait_screen)

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def test_candidate_fixes_a_service_in_the_browser_terminal(portal, browser_page):
    page = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    log_in(page, portal, "candidate")

    attempt_url = start_practice(page, portal, "ckad-fixed", timeout=180_000)
    # The "fix the Service selector" task, by its title in the task list.
    open_task(page, "Fix a Service that has no endpoints")
    statement = page.inner_text("main")
    namespace = re.search(r"In namespace (\S+) the Deployment", statement).group(1)

    page.click("#terminal")
    page.keyboard.type(f"k -n {namespace} get pods --show-labels\n")
    wait_screen(page, "tier=frontend")
    page.keyboard.type(f"k -n {namespace} get svc web -o jsonpath='{{.spec.selector}}'; echo\n")
    page.keyboard.type(
        f"""k -n {namespace} patch svc web -p '{{"spec":{{"selector":{{"app":"web","tier":"frontend"}}}}}}'\n""")
    wait_screen(page, "service/web patched")
    page.screenshot(path=str(ARTIFACTS / "exam-page.png"))

    outcomes = check_my_work(page, timeout=90_000)
    assert len(outcomes) >= 2 and set(outcomes) == {"check-passed"}, \
        page.inner_text("#check-result")
    page.screenshot(path=str(ARTIFACTS / "check-my-work.png"))

    finish_practice(page, attempt_url, timeout=180_000)
    results = page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "results-page.png"), full_page=True)
    task_block = results[results.index("Fix a Service that has no endpoints"):][:800]
    m = re.search(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", task_block)
    assert m and float(m.group(1)) == float(m.group(2)) > 0, task_block
