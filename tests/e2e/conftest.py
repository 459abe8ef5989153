"""Fixtures for the browser tests: a real portal (`proctor run`) and a real
Chromium page."""

from __future__ import annotations

from pathlib import Path

import pytest

from .e2e_portal import CHROMIUM, CHROMIUM_ARGS, run_portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """`proctor run` as `make run` serves it, its warm pool kept to the exam
    the journey starts (a warm sandbox per exam of the catalogue, a gVisor
    box among them, would load this machine for the rest of the session)."""
    with run_portal(tmp_path_factory.mktemp("portal"), PROCTOR_POOL_EXAMS="ckad-fixed") as p:
        yield p


@pytest.fixture
def browser_page():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        yield page
        browser.close()
