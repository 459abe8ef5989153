"""The exam terminal's own behaviour in a real browser (Chromium), against a
real portal (``proctor serve``) running a real jailed bash for each attempt
(its sandbox is a fake one: nothing here needs a cluster):

- Ctrl+Shift+V pastes once, and a block of lines arrives as one bracketed
  paste, which bash holds until Enter (issue 17: ``api`` arrived as
  ``apiapi``, and pasted lines ran one by one);
- a larger font, a reload, a smaller font: the long lines printed before are
  whole (issue 17: the server's screen cut them at the narrow width for good);
- a shell that cannot start says why in the terminal, and the portal logs it
  as one line, not a traceback (issue 17: the candidate saw "Connecting…"
  for ever when helm was not built yet).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.portal.helpers import PASSWORD
from tests.security.conftest import database_url, start_live_portal  # noqa: F401 - fixtures
from tests.security.test_portal_websocket import distinct_attempt_ids

from .e2e_portal import CHROMIUM, CHROMIUM_ARGS, SCREEN, terminal_ready, wait_screen

pytestmark = pytest.mark.e2e
PROMPT = "candidate@exam:~$ "
# the browser terminal's lines, a line wrapped over rows joined again
LINES = """() => {
  const b = window.proctorTerminal.term.buffer.active; const out = [];
  for (let i = 0; i < b.length; i++) {
    const line = b.getLine(i), text = line.translateToString(true);
    if (line.isWrapped && out.length) out[out.length - 1] += text; else out.push(text);
  }
  return out; }"""


@pytest.fixture
def portals(request):
    """``portals(**env)`` -> a live ``proctor serve`` (tests/security/conftest.py)."""
    return request.getfixturevalue("start_live_portal")


@pytest.fixture
def chromium():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def exam_page(browser, portal, shell: bool = True):
    """alice's running exam, open on its first task in a browser page that may
    use the clipboard; ``shell``: give the fake sandbox what a shell needs."""
    distinct_attempt_ids(portal)
    http = portal.login("alice")
    resp = http.post(portal.url + "/exams/fake-ckad/start", allow_redirects=False,
                     data={"mode": "exam", "csrf_token": http.csrf})
    assert resp.status_code == 302 and "/attempts/" in resp.headers["Location"], resp.text[:300]
    if shell:
        portal.give_sandboxes_a_kubeconfig()
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal.url)
    page = context.new_page()
    page.goto(portal.url + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(portal.url + "/")
    page.goto(portal.url + resp.headers["Location"])
    page.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"))
    return page


def connected(page) -> None:
    terminal_ready(page, PROMPT.strip(), timeout=120_000)


def run(page, command: str, marker: str) -> None:
    page.evaluate("() => window.proctorTerminal.term.focus()")
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    wait_screen(page, marker, timeout=60_000)


def paste(page, text: str) -> None:
    """Put ``text`` on the clipboard and paste it into the terminal with Ctrl+Shift+V."""
    page.evaluate("(text) => navigator.clipboard.writeText(text)", text)
    page.evaluate("() => window.proctorTerminal.term.focus()")
    page.keyboard.press("Control+Shift+V")


def test_ctrl_shift_v_pastes_once_and_lines_as_one_bracketed_paste(portals, chromium):
    page = exam_page(chromium, portals())
    connected(page)
    paste(page, "echo X$((6*7))Y")
    wait_screen(page, PROMPT + "echo X$((6*7))Y")
    page.keyboard.press("Enter")
    run(page, "echo FENCE-$((1+1))", "\nFENCE-2\n")  # a second paste would be here by now
    screen = page.evaluate(SCREEN)
    assert screen.count("X$((6*7))Y") == 1 and "\nX42Y\n" in screen, \
        f"the paste arrived more than once:\n{screen}"

    paste(page, "echo ONE-$((0+1))\necho TWO-$((0+2))")
    wait_screen(page, "echo TWO-$((0+2))")
    lines = page.evaluate(LINES)
    assert "ONE-1" not in lines, f"the first pasted line ran before Enter:\n{lines}"
    page.keyboard.press("Enter")
    wait_screen(page, "\nTWO-2\n")
    lines = page.evaluate(LINES)
    assert lines.index("ONE-1") + 1 == lines.index("TWO-2"), lines


def test_long_lines_stay_whole_through_font_sizes_and_a_reload(portals, chromium):
    page = exam_page(chromium, portals())
    connected(page)
    long = [f"LONG{i}-{'0' * 150}-END" for i in (1, 2, 3)]
    run(page, "for i in 1 2 3; do printf 'LONG%s-%0150d-END\\n' $i 0; done", "LONG3-")
    wide = page.evaluate("() => window.proctorTerminal.term.cols")
    for _ in range(5):
        page.get_by_role("button", name="Larger terminal font").click()
    page.wait_for_function(f"() => window.proctorTerminal.term.cols < {wide}")
    page.reload()  # the page now paints the server's screen, at the narrow width
    connected(page)
    for _ in range(10):
        page.get_by_role("button", name="Smaller terminal font").click()
    page.wait_for_function(f"() => window.proctorTerminal.term.cols > {wide}")
    run(page, "echo FENCE-$((1+1))", "\nFENCE-2\n")
    lines = page.evaluate(LINES)
    for line in long:
        assert line in lines, f"{line[:12]}… is not whole on the screen:\n" + "\n".join(lines)


def test_a_shell_that_cannot_start_says_why(portals, chromium, tmp_path):
    """A jail that cannot start (here: a process limit of one, set in the
    instance's proctor.cfg, so its first process cannot fork): the candidate
    is told so, in the terminal."""
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "proctor.cfg").write_text("TERMINAL_MAX_PIDS = 1\n")
    portal = portals()
    page = exam_page(chromium, portal)
    page.wait_for_function(f"() => ({LINES})().some(line => line.includes("
                           "'The terminal could not start: the jail of attempt'))",
                           timeout=120_000)
    page.wait_for_function("() => window.proctorTerminal.status() === 'failed'")
    log = portal.log.read_text()
    assert "cannot start: the jail of attempt" in log, "the portal did not log why"
    assert "Traceback" not in log, f"a traceback for a known error:\n{log[-3000:]}"
