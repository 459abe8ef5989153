"""The exam tools in a real browser, on the fixed CKAD paper (tests/e2e/papers)
in exam mode, against a real portal and worker (`proctor run`) on a real
kwok cluster:

- text selected in the statement, then typed: no shortcut fires;
- the notepad keeps its text across a reload (kept by the server);
- the split and the terminal font size survive a reload, and the terminal refits;
- a click on a name in the statement copies it (read back from the clipboard);
- the 5-minute warning appears once the server's deadline is near;
- time on task does not grow while the window has lost focus (another tab in
  front, with Chromium's focus emulation off, so the page gets a real blur);
- the results page shows each domain's share of the paper and an explanation
  beside the reference solution.

The deadline is moved and the server's clock read in the portal's own database,
as an operator could; nothing in the browser is faked."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest

from .e2e_portal import (ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, log_in, run_portal, terminal_ready,
                         wait_screen)

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


@pytest.fixture(scope="module")
def tools_portal(tmp_path_factory):
    # No warm pool: the machine is shared, and this test starts one cold exam.
    with run_portal(tmp_path_factory.mktemp("tools-portal"), "exam-tools-portal.log",
                    PROCTOR_POOL_SIZE="0") as p:
        yield p


@pytest.fixture
def tab_page(tools_portal):
    """A Chromium page like the conftest's ``browser_page``, but in a context of
    its own, which can open a second tab (the time-on-task step needs one), with
    the clipboard allowed for the portal."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tools_portal["base"])
        yield context.new_page()
        browser.close()


class Db:
    """The portal's SQLite database, as an operator could read and change it."""

    def __init__(self, root):
        self.path = root / "instance" / "proctor.db"

    def query(self, sql: str, *args):
        with sqlite3.connect(self.path, timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    def attempt(self, aid: int) -> dict:
        (pos, since, deadline), = self.query(
            "SELECT current_position, current_since, deadline_at FROM attempts WHERE id = ?", aid)
        spent = dict(self.query("SELECT position, seconds_spent FROM attempt_tasks "
                                "WHERE attempt_id = ?", aid))
        return {"position": pos, "since": since, "deadline": deadline, "spent": spent}


def js(page, body: str, arg=None):
    """Evaluate a function (never an expression string: the CSP forbids eval)."""
    return page.evaluate(body, arg)


def wait_js(page, body: str, arg=None, timeout: float = 30_000, polling="raf"):
    page.wait_for_function(body, arg=arg, timeout=timeout, polling=polling)


def start_exam(page, portal: dict, exam: str) -> tuple[int, str]:
    page.goto(portal["base"] + f"/exams/{exam}")
    page.get_by_role("button", name="Start exam").click()
    page.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"), timeout=300_000)
    m = re.match(r"(.*/attempts/(\d+))", page.url)
    return int(m.group(2)), m.group(1)


def no_navigation_after(page, action) -> list[str]:
    """Run ``action``; then a round trip to the server as a fence. Returns the
    document requests made meanwhile (a shortcut that fired navigates at once)."""
    navigations: list[str] = []

    def on_request(req):
        if req.is_navigation_request():
            navigations.append(req.url)
    page.on("request", on_request)
    js(page, "() => { window.__samePage = true; }")
    action()
    js(page, "() => fetch('/api/v1/exams').then(r => r.status)")
    page.remove_listener("request", on_request)
    if navigations:
        return navigations
    assert js(page, "() => window.__samePage === true"), "the page was replaced"
    return []


def test_exam_tools_in_a_real_browser(tools_portal, tab_page):
    page, db = tab_page, Db(tools_portal["root"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_in(page, tools_portal, "candidate")
    aid, attempt_url = start_exam(page, tools_portal, "ckad-fixed")
    page.goto(f"{attempt_url}/tasks/1")
    terminal_ready(page)

    # -- selected text + typing: no shortcut (the bug: "n" jumped to task 2) ------------------
    first = page.locator("article.markdown p").first
    # select the paragraph, as a candidate does to copy from it (at its start, not on a name)
    first.click(click_count=3, position={"x": 3, "y": 6})
    assert js(page, "() => String(window.getSelection()).trim().length") > 10
    # focus left the terminal for the page (its <main>), where the shortcuts listen
    assert js(page, "() => !document.activeElement.closest('#terminal, textarea, input')")
    navigations = no_navigation_after(page, lambda: page.keyboard.type("k get nodes; p f 2"))
    assert navigations == [], f"typing with text selected navigated to {navigations}"
    assert page.get_attribute("#flag-form button", "aria-pressed") == "false", "f flagged the task"
    # the control: with nothing selected, `n` still goes to the next task, `p` back
    js(page, "() => { window.getSelection().removeAllRanges(); document.activeElement.blur(); }")
    with page.expect_navigation(url=re.compile(r".*/tasks/2$"), wait_until="commit", timeout=60_000):
        page.keyboard.press("n")
    terminal_ready(page)
    page.keyboard.type("p")  # the new page's terminal has the focus: a "p" for the shell
    wait_screen(page, "candidate@exam:~$ p")
    page.keyboard.press("Backspace")
    js(page, "() => document.activeElement.blur()")
    with page.expect_navigation(url=re.compile(r".*/tasks/1$"), wait_until="commit", timeout=60_000):
        page.keyboard.press("p")
    terminal_ready(page)

    # -- click-to-copy -----------------------------------------------------------------------------
    name = page.locator("article.markdown code.copyable").first
    expected = name.inner_text()
    name.click()
    page.wait_for_selector("#copy-toast:not([hidden])")
    assert page.inner_text("#copy-toast") == "Copied"
    assert js(page, "() => navigator.clipboard.readText()") == expected

    # -- the notepad, kept by the server -------------------------------------------------------------
    note = f"q1: Service selector, namespace {expected}\nq7: come back — rollout history"
    page.get_by_role("button", name="Notes", exact=True).click()
    page.fill("#notepad-text", note)
    page.wait_for_selector('#notepad[data-state="saved"]')
    assert db.query("SELECT notes FROM attempts WHERE id = ?", aid) == [(note,)]

    # -- split and font size ---------------------------------------------------------------------------
    cols_before = js(page, "() => window.proctorTerminal.term.cols")
    page.focus("#splitter")
    for _ in range(3):
        page.keyboard.press("ArrowLeft")  # 48% -> 42% statement
    page.get_by_role("button", name="Larger terminal font").click()
    page.get_by_role("button", name="Larger terminal font").click()
    assert page.inner_text("#font-size") == "16 px"
    assert page.url.endswith("/tasks/1"), "arrow keys on the splitter switched tasks"
    # a wider terminal pane and a bigger font: the terminal refits (different columns)
    wait_js(page, "(before) => window.proctorTerminal.term.cols !== before", cols_before)
    # drag the handle with the mouse, a little to the right
    box = page.locator("#splitter").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    split = float(page.get_attribute(".workspace", "data-split"))
    assert 42 < split < 50, split

    page.reload()
    terminal_ready(page)
    assert page.input_value("#notepad-text") == note
    assert page.is_visible("#notepad"), "the notepad closed on reload"
    assert float(page.get_attribute(".workspace", "data-split")) == split
    assert js(page, "() => window.proctorTerminal.term.options.fontSize") == 16
    widths = js(page, """() => [document.getElementById('statement').offsetWidth,
                                document.querySelector('.terminal-pane').offsetWidth]""")
    assert abs(100 * widths[0] / sum(widths) - split) < 2, (widths, split)
    # and on another task
    page.goto(f"{attempt_url}/tasks/3")
    terminal_ready(page)
    assert js(page, "() => window.proctorTerminal.term.options.fontSize") == 16
    assert page.input_value("#notepad-text") == note
    page.goto(f"{attempt_url}/tasks/1")
    terminal_ready(page)

    # -- time on task: nothing counts while another tab is in front -------------------------------
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    wait_js(page, "() => document.querySelector('.workspace').dataset.presenceSent === '1'")
    other = page.context.new_page()
    other.bring_to_front()  # the exam page gets a real window blur
    wait_js(page, "() => document.querySelector('.workspace').dataset.presenceSent === '0'")
    away = db.attempt(aid)
    assert away["position"] == 1 and away["since"] is None, away
    left_at = time.time()
    # let the server's clock move on: wait until its status says 3 s have passed
    # (each poll asks again and judges the last answer: a predicate may not be async)
    wait_js(page, """([url, t]) => {
        fetch(url).then(r => r.json()).then(s => { window.__serverTime = s.server_time; });
        return window.__serverTime > t + 3;
    }""", [f"/api/v1/attempts/{aid}", left_at], polling=500)
    assert db.attempt(aid)["spent"][1] == away["spent"][1], "time on task grew while away"
    page.bring_to_front()
    other.close()
    wait_js(page, "() => document.querySelector('.workspace').dataset.presenceSent === '1'")
    back = db.attempt(aid)
    assert back["position"] == 1 and back["since"] >= left_at + 3, (back, left_at)

    # -- the 30-, 15- and 5-minute warnings, from the server's deadline ----------------------------------
    deadline = db.attempt(aid)["deadline"]
    db.query("UPDATE attempts SET deadline_at = ? WHERE id = ?", time.time() + 1700, aid)
    page.reload()
    terminal_ready(page)
    page.wait_for_selector("#time-warning:not([hidden])")
    assert "Under 30 minutes left" in page.inner_text("#time-warning")
    assert "low" not in page.get_attribute("#countdown", "class")
    db.query("UPDATE attempts SET deadline_at = ? WHERE id = ?", time.time() + 850, aid)
    page.reload()
    terminal_ready(page)
    page.wait_for_selector("#time-warning:not([hidden])")
    assert "Under 15 minutes left" in page.inner_text("#time-warning")
    assert "low" in page.get_attribute("#countdown", "class")
    db.query("UPDATE attempts SET deadline_at = ? WHERE id = ?", time.time() + 290, aid)
    page.reload()
    terminal_ready(page)
    page.wait_for_selector("#time-warning:not([hidden])")
    assert "Under 5 minutes left" in page.inner_text("#time-warning")
    assert "critical" in page.get_attribute("#countdown", "class")
    page.screenshot(path=str(ARTIFACTS / "exam-tools.png"))
    page.reload()  # once: a reload does not warn again, the countdown still says it
    terminal_ready(page)
    wait_js(page, "() => document.getElementById('countdown').classList.contains('critical')")
    assert page.is_hidden("#time-warning")
    db.query("UPDATE attempts SET deadline_at = ? WHERE id = ?", deadline, aid)

    # -- results: domain shares and an explanation beside the solution -------------------------------------
    page.reload()
    terminal_ready(page)
    namespace = page.locator("article.markdown code").first.inner_text()
    page.click("#terminal")  # solve task 1, so the results have a passed task to show
    page.keyboard.type(f"k -n {namespace} patch svc web "
                       """-p '{"spec":{"selector":{"app":"web","tier":"frontend"}}}'\n""")
    wait_screen(page, "service/web patched")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Submit exam").click()
    page.wait_for_url(re.compile(re.escape(attempt_url) + r"/results"), timeout=300_000)
    bars = page.inner_text(".bars")
    # the fixed paper's weights: 15 for configuration and security = 25%,
    # 9 for observability = 15%, 12 each for the other three = 20%
    assert "Application Environment, Configuration and Security (25% of the exam)" in bars, bars
    assert "Application Observability and Maintenance (15% of the exam)" in bars, bars
    assert bars.count("(20% of the exam)") == 3, bars
    card = page.locator("#task-1")
    card.get_by_text("Reference solution and why it works").click()
    why = card.locator(".explanation")
    assert why.is_visible() and "selector" in why.inner_text()
    assert "kubernetes.io/docs" in why.locator("a").first.get_attribute("href")
    assert note.splitlines()[0] in page.inner_text("#notes")
    assert card.locator(".score-chip").inner_text() == "3.0/3.0"
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "results-exam-tools.png"))  # score and domains
    card.screenshot(path=str(ARTIFACTS / "results-explanation.png"))
