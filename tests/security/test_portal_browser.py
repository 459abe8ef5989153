"""The portal's headers at work in a real browser (Chromium).

- Framing: a page of another origin frames the portal (to trick a candidate
  into clicking Submit, or an instructor into Publish); Chromium must refuse.
- Injected script: a script element, an ``onerror`` handler or an ``eval``
  added to a portal page (what an XSS would do) must not run under the
  Content-Security-Policy.
- And the policy breaks nothing: every kind of page (the exam page with the
  xterm.js terminal and its websocket, the CodeMirror task editor, the forms
  whose scripts moved out of the page) loads without one CSP violation.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest


pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run"]
TASK = "ckad/svc-endpoints-fixture"
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
                    (e.sample ? ' (' + e.sample + ')' : '') + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def portal(start_live_portal, tmp_path):
    tasks = tmp_path / "tasks" / "ckad"
    tasks.mkdir(parents=True)
    shutil.copytree(REPO / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture",
                    tasks / "svc-endpoints-fixture")
    return start_live_portal(PROCTOR_TASKS_DIR=str(tmp_path / "tasks"))


def new_page(browser, portal, user: str):
    """A browser context logged in as ``user`` through the login form."""
    from tests.portal.helpers import PASSWORD
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.add_init_script(WATCH_CSP)
    page.console_messages = []
    page.on("console", lambda m: page.console_messages.append(m.text))
    page.goto(portal.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(portal.url + "/")
    return page


def violations(page) -> list[str]:
    found = page.evaluate("window.__csp || []")
    found += [m for m in page.console_messages if "Content Security Policy" in m]
    page.console_messages.clear()
    return found


def test_another_site_cannot_frame_the_portal(browser, portal):
    page = browser.new_page()
    page.set_content(f'<iframe id="control" srcdoc="<p>framed</p>"></iframe>'
                     f'<iframe id="portal" src="{portal.url}/login"></iframe>')
    page.wait_for_load_state("load")
    frames = {f.name or f.url: f for f in page.frames[1:]}
    control = next(f for f in page.frames[1:] if f.url == "about:srcdoc")
    assert control.inner_text("p") == "framed", "the control frame did not render (test broken)"
    framed = next(f for f in page.frames[1:] if f is not control)
    assert framed.query_selector("input[name=password]") is None, \
        f"a page of another origin framed the portal's login form ({frames})"


def test_an_injected_script_does_not_run(browser, portal):
    page = new_page(browser, portal, "alice")
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.pwned = true';
        document.body.appendChild(s);
        const img = document.createElement('img');
        img.setAttribute('onerror', 'window.pwned = true');
        img.src = 'data:,broken';
        document.body.appendChild(img);
    }""")
    # Predicates as functions: Playwright evaluates a string one with eval,
    # which the portal's CSP forbids (no 'unsafe-eval').
    page.wait_for_function("() => window.pwned || window.__csp.length >= 2")
    assert page.evaluate("window.pwned") is None, "an injected inline script ran in a portal page"
    assert any("script-src" in v for v in violations(page))
    # eval from the page's own code (a timer, not Playwright's direct call,
    # which the browser exempts from the page's policy)
    page.evaluate("""() => setTimeout(() => {
        try { eval('window.pwned = true'); window.evalResult = 'ran'; }
        catch (e) { window.evalResult = e.name; } }, 0)""")
    page.wait_for_function("() => window.evalResult")
    assert page.evaluate("window.evalResult") == "EvalError", \
        "a string was evaluated as script in a portal page (eval)"


def test_every_kind_of_page_works_under_the_csp(browser, portal):
    staff = new_page(browser, portal, "ines")
    for path in ("/", "/exams/fake-ckad", "/account", "/author/tasks", "/author/exams/new",
                 "/author/stats", "/admin/attempts"):
        staff.goto(portal.url + path)
        staff.wait_for_load_state("load")
        assert not violations(staff), f"{path}: {violations(staff)}"

    # the task editor: CodeMirror mounts and styles itself, the live lint answers
    staff.goto(portal.url + f"/author/tasks/bank/{TASK}")
    staff.wait_for_selector('.editor-host[data-file="task.yaml"] .cm-content')
    staff.wait_for_function("() => document.getElementById('problem-count').textContent === '0'")
    assert not violations(staff), f"the task editor: {violations(staff)}"

    # the forms whose script moved out of the page: the domain list follows the track
    for path in ("/author/tasks/new", "/author/import"):
        staff.goto(portal.url + path)
        staff.select_option("#new-track", "cka")
        domain = staff.eval_on_selector("#new-domain", "s => s.options[s.selectedIndex].dataset.track")
        assert domain == "cka", f"{path}: the track/domain script did not run"
        assert not violations(staff), f"{path}: {violations(staff)}"

    # the exam page: countdown, xterm.js, and the terminal's websocket
    candidate = new_page(browser, portal, "alice")
    candidate.goto(portal.url + "/exams/fake-ckad")
    candidate.get_by_role("button", name="Practice").click()
    candidate.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"))
    portal.give_sandboxes_a_kubeconfig()
    candidate.wait_for_selector("#terminal .xterm")
    # Anything on the screen came over the websocket: the shell's prompt, or
    # the portal saying why the shell could not start. Either way CSP let it in.
    candidate.wait_for_function("""() => {
        const b = window.proctorTerminal.term.buffer.active;
        for (let i = 0; i < b.length; i++) if (b.getLine(i).translateToString(true).trim()) return true;
        return false; }""", timeout=60_000)
    assert not violations(candidate), f"the exam page: {violations(candidate)}"
