"""A candidate's whole journey in a real browser: log in, start the CKAD mock
in practice mode, fix the Service selector by typing kubectl into the
terminal, check the work, submit, and read the results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_portal import log_in

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

SCREEN = """() => {
  const b = window.proctorTerminal.term.buffer.active; const out = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
  return out.join('\\n');
}"""


def wait_screen(page, text: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"({SCREEN})().includes({text!r})", timeout=timeout)


def test_candidate_fixes_a_service_in_the_browser_terminal(portal, browser_page):
    page = browser_page
    base = portal["base"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    log_in(page, portal, "candidate")

    page.goto(base + "/exams/ckad-mock")
    page.get_by_role("button", name="Practice").click()
    page.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"), timeout=180_000)
    attempt_url = re.match(r"(.*/attempts/\d+)", page.url).group(1)

    # The "fix the Service selector" task, by its title in the task list.
    page.get_by_role("link", name=re.compile("Fix a Service that has no endpoints")).first.click()
    page.wait_for_function(
        "window.proctorTerminal && window.proctorTerminal.status() === 'connected'",
        timeout=60_000)
    wait_screen(page, "candidate@exam")
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

    page.get_by_role("button", name="Check my work").click()
    page.wait_for_function("document.querySelectorAll('#check-result li').length > 0",
                           timeout=90_000)
    outcomes = page.eval_on_selector_all("#check-result li", "els => els.map(e => e.className)")
    assert len(outcomes) >= 2 and set(outcomes) == {"check-passed"}, \
        page.inner_text("#check-result")
    page.screenshot(path=str(ARTIFACTS / "check-my-work.png"))

    page.once("dialog", lambda d: d.accept())  # "Submit and end this practice?"
    page.get_by_role("button", name="Finish practice").click()
    page.wait_for_url(re.compile(re.escape(attempt_url) + r"/results"), timeout=180_000)
    results = page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "results-page.png"), full_page=True)
    task_block = results[results.index("Fix a Service that has no endpoints"):][:800]
    m = re.search(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", task_block)
    assert m and float(m.group(1)) == float(m.group(2)) > 0, task_block
