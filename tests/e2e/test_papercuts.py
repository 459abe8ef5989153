"""What a first-time candidate and instructor hit in minutes, in a real
browser against a real portal (`proctor run`) on a real kwok cluster:

- a table in a statement was clipped with no way to scroll (the shared-volume
  task's mount-path column, at 1280×720);
- at a narrow split the flag button read "Flag for revie";
- the task shares in the side list added up to 99 %;
- the exam builder's "Suggest a fixed paper" wrote weights such as 8.33 into
  inputs with a step of 0.5, so the browser refused to save, and the id's
  pattern was invalid, so ids were not checked in the browser.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from .e2e_portal import CHROMIUM, CHROMIUM_ARGS, log_in, run_portal, start_practice

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PAPER = """
    title: Three small tasks
    track: ckad
    duration: 60
    pass_mark: 66
    modes: [practice]
    tasks:
      - {id: ckad/multi-container-shared-volume, weight: 1}
      - {id: ckad/labels-annotations, weight: 1}
      - {id: ckad/svc-selector-fix, weight: 1}
"""


@pytest.fixture(scope="module")
def papercut_portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("papercuts")
    exams = root / "exams"
    exams.mkdir()
    (exams / "three-small.yaml").write_text(textwrap.dedent(PAPER))
    with run_portal(root, "papercuts-portal.log", PROCTOR_POOL_SIZE="0",
                    PROCTOR_EXAMS_DIR=str(exams)) as p:
        yield p


@pytest.fixture
def small_page():
    """Chromium at 1280×720, the size at which the table was hidden."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 720})
        browser.close()


def test_the_exam_page_at_1280_by_720(papercut_portal, small_page):
    page = small_page
    log_in(page, papercut_portal, "candidate")
    start_practice(page, papercut_portal, "three-small", timeout=240_000)

    shares = page.eval_on_selector_all(".tasklist .weight", "els => els.map(e => e.textContent)")
    assert sum(int(s.rstrip("%")) for s in shares) == 100, shares

    page.get_by_role("link", name=re.compile("sharing a volume")).first.click()
    page.wait_for_selector(".statement table")
    # The table's last column can be brought into view: it scrolls sideways
    # inside the statement, which itself never widens.
    reach = page.evaluate("""() => {
      const table = document.querySelector('.statement table');
      const pane = document.querySelector('.statement').getBoundingClientRect();
      table.scrollLeft = 1e6;
      const cells = table.querySelectorAll('tr:first-child > *');
      const last = cells[cells.length - 1].getBoundingClientRect();
      return {overflows: table.scrollWidth > table.clientWidth, scrolled: table.scrollLeft,
              lastRight: last.right, paneRight: pane.right, lastLeft: last.left};
    }""")
    if reach["overflows"]:
        assert reach["scrolled"] > 0, f"the table overflows but cannot be scrolled: {reach}"
    assert reach["lastLeft"] < reach["paneRight"] and reach["lastRight"] <= reach["paneRight"] + 1, \
        f"the table's last column cannot be brought into view: {reach}"

    # Narrow the statement as far as the splitter goes: the flag button wraps, never clips.
    page.focus(".splitter")
    for _ in range(40):
        page.keyboard.press("Shift+ArrowLeft")
    clip = page.evaluate("""() => {
      const b = document.querySelector('.flag-btn');
      const pane = document.querySelector('.statement').getBoundingClientRect();
      const r = b.getBoundingClientRect();
      return {text: b.innerText, scroll: b.scrollWidth, client: b.clientWidth,
              right: r.right, paneRight: pane.right};
    }""")
    assert clip["scroll"] <= clip["client"] and clip["right"] <= clip["paneRight"] + 1, \
        f"the flag button is cut off: {clip}"


def test_the_builders_suggestion_can_be_saved(papercut_portal, small_page):
    page = small_page
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, papercut_portal, "instructor")
    page.goto(papercut_portal["base"] + "/author/exams/new")
    ident = page.locator("input[name=id]")
    ident.fill("Week 3!")
    assert page.evaluate("() => document.querySelector('input[name=id]').validity.patternMismatch"), \
        "the id's pattern is not applied by the browser"
    ident.fill("ckad-week-3")
    page.fill("input[name=title]", "CKAD week 3")
    page.fill("input[name=count]", "12")
    page.get_by_role("button", name="Suggest a fixed paper").click()
    page.wait_for_function("() => /Suggested/.test(document.getElementById('save-result').textContent)")
    weights = page.eval_on_selector_all(".weight-input:not([disabled])", "els => els.map(e => e.value)")
    assert weights and any("." in w for w in weights), weights  # fractional weights, e.g. 8.33
    invalid = page.evaluate("() => [...document.querySelectorAll('#exam-form input')]"
                            ".filter(i => !i.checkValidity()).map(i => i.name || i.className)")
    assert invalid == [], f"the browser refuses to save: {invalid}"
    page.get_by_role("button", name="Save exam").click()
    page.wait_for_function("() => /Saved|Not saved/.test(document.getElementById('save-result').textContent)")
    assert "Saved" in page.inner_text("#save-result"), page.inner_text("#save-result")
