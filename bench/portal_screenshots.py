"""Screenshots of the portal's pages in headless Chromium (a laptop-sized window).

    proctor run &                      # or any running portal
    .venv/bin/python bench/portal_screenshots.py --url http://127.0.0.1:8000 \\
        --logins instance/demo-logins.txt --out artifacts/screenshots

Walks a candidate through the CKAD mock (exam mode: catalog, exam page,
flag, submit, results, history), a practice attempt (hints, check my work,
solution), and the admin list of attempts. Needs the worker running.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def logins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            user, role, password = line.split()
            out[role] = (user, password)
    return out


def login(page, url, user, password):
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{url}/")


def wait_running(page, timeout=240):
    page.wait_for_url("**/tasks/**", timeout=timeout * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--logins", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("artifacts/screenshots"))
    ap.add_argument("--exam", default="ckad-mock")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    creds = logins(args.logins)
    url = args.url.rstrip("/")
    shot = lambda page, name, full=False: page.screenshot(path=str(args.out / f"{name}.png"), full_page=full)  # noqa: E731

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1366, "height": 768})
        page = ctx.new_page()
        page.on("dialog", lambda d: d.accept())
        page.goto(f"{url}/login")
        shot(page, "01-login")
        login(page, url, *creds["candidate"])
        if page.locator(".banner a:has-text('Resume')").count():  # finish a leftover attempt first
            page.click(".banner a:has-text('Resume')")
            wait_running(page)
            page.click("#submit-form button")
            page.wait_for_url("**/results", timeout=180_000)
            page.goto(f"{url}/")
        shot(page, "02-catalog")
        page.goto(f"{url}/exams/{args.exam}")
        shot(page, "03-exam-detail")
        page.click("button:has-text('Start exam')")
        time.sleep(0.5)
        if "/tasks/" not in page.url:
            shot(page, "04-preparing")
        wait_running(page)
        page.wait_for_load_state("networkidle")
        page.click("#task-title")  # the terminal takes the keyboard; shortcuts work outside it
        page.keyboard.press("n")
        page.wait_for_url("**/tasks/2")
        page.click("#task-title")
        page.keyboard.press("f")
        time.sleep(0.5)
        page.keyboard.press("1")
        page.wait_for_url("**/tasks/1")
        time.sleep(1.5)
        shot(page, "05-exam-page")
        page.click("#task-title")
        page.keyboard.press("?")
        shot(page, "06-keyboard-help")
        page.keyboard.press("Escape")
        page.click("#submit-form button")
        page.wait_for_url("**/results", timeout=180_000)
        shot(page, "07-results")
        shot(page, "08-results-full", full=True)
        page.click("text=Reference solution >> nth=0")
        page.locator("#task-1").screenshot(path=str(args.out / "09-results-task.png"))

        page.goto(f"{url}/exams/{args.exam}")
        page.click("button:has-text('Practice')")
        wait_running(page, 300)
        page.click("summary:has-text('Hints')")
        page.click("button:has-text('Check my work')")
        page.wait_for_selector(".check-result", timeout=120_000)
        page.click("button:has-text('Reveal the solution')")
        page.wait_for_selector("#solution")
        shot(page, "10-practice", full=True)
        page.click("#submit-form button")
        page.wait_for_url("**/results", timeout=180_000)
        page.goto(f"{url}/history")
        shot(page, "11-history", full=True)

        ctx2 = browser.new_context(viewport={"width": 1366, "height": 768})
        admin = ctx2.new_page()
        login(admin, url, *creds["admin"])
        admin.goto(f"{url}/admin/attempts")
        shot(admin, "12-admin-attempts")
        admin.click("table tbody tr td a >> nth=0")
        shot(admin, "13-admin-attempt", full=True)
        admin.goto(f"{url}/admin/users")
        shot(admin, "14-admin-users")
        browser.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
