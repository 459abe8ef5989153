"""A real portal and worker (`proctor run`) on a free port, with its own
instance folder and sandbox state, for a real browser to drive."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
PAPERS = Path(__file__).resolve().parent / "papers"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def run_portal(root: Path, log_name: str = "portal.log", keep_sandboxes: bool = False,
               **env_extra: str):
    """`proctor run` on a free port with its own instance folder and sandbox
    state under ``root``; yields base URL, demo passwords and root. Afterwards
    the portal is stopped, whatever sandboxes it left are removed (unless
    ``keep_sandboxes``: a restart, the next portal on the same ``root`` takes
    them over) and its log is kept in artifacts/e2e/.

    Unless ``PROCTOR_EXAMS_DIR`` is given, the portal serves the shipped exams
    and the tests' fixed papers (tests/e2e/papers/: ``ckad-fixed``, for a test
    that must know which tasks it meets; the shipped mocks are draws)."""
    port = free_port()
    if "PROCTOR_EXAMS_DIR" not in env_extra:
        exams = root / "exams"
        exams.mkdir(exist_ok=True)
        for paper in [*(REPO / "exams").glob("*.yaml"), *PAPERS.glob("*.yaml")]:
            shutil.copy(paper, exams / paper.name)
        env_extra["PROCTOR_EXAMS_DIR"] = str(exams)
    env = dict(os.environ, PROCTOR_INSTANCE_PATH=str(root / "instance"),
               PROCTOR_STATE_DIR=str(root / "state"), PYTHONUNBUFFERED="1", **env_extra)
    log = (root / "portal.log").open("w")
    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "proctor"), "run", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("the portal did not start:\n"
                                f"{(root / 'portal.log').read_text()[-3000:]}")
                time.sleep(0.3)
        logins = (root / "instance" / "demo-logins.txt").read_text().splitlines()
        passwords = {line.split()[0]: line.split()[2] for line in logins if line.strip()}
        yield {"base": base, "passwords": passwords, "root": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / "portal.log", ARTIFACTS / log_name)
        if not keep_sandboxes:
            destroy_sandboxes(root / "state")


def destroy_sandboxes(state: Path) -> None:
    """Remove every sandbox of every provider kept under ``state``."""
    from sandbox.gvisor import GvisorProvider
    from sandbox.kind import KindProvider
    from sandbox.kwok import KwokProvider
    from sandbox.vm import VMProvider
    for cls in (KwokProvider, GvisorProvider, KindProvider, VMProvider):
        cls(root=state).destroy_all()


def log_in(page, portal: dict, user: str) -> None:
    """Log ``user`` (a demo login: candidate, instructor, admin) in through the form."""
    base = portal["base"]
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", portal["passwords"][user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


# -- what a candidate does on the exam pages ----------------------------------

SCREEN = """() => {
  const b = window.proctorTerminal.term.buffer.active; const out = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
  return out.join('\\n');
}"""


def wait_screen(page, text: str, timeout: float = 30_000) -> None:
    """Wait until ``text`` is on the browser terminal's screen."""
    # Functions, not expression strings: Playwright evaluates a string with
    # eval, which the portal's Content-Security-Policy refuses.
    page.wait_for_function(f"() => ({SCREEN})().includes({text!r})", timeout=timeout)


def terminal_ready(page, prompt: str = "candidate@exam", timeout: float = 90_000) -> None:
    """Wait until the terminal is connected and shows ``prompt``."""
    page.wait_for_function(
        "() => window.proctorTerminal && window.proctorTerminal.status() === 'connected'",
        timeout=timeout)
    wait_screen(page, prompt, timeout)


def start_practice(page, portal: dict, exam: str, timeout: float) -> str:
    """Start ``exam`` in practice mode; returns the attempt's URL once its
    first task page is up (``timeout``: the sandbox and the setups)."""
    page.goto(portal["base"] + f"/exams/{exam}")
    page.get_by_role("button", name="Practice").click()
    page.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"), timeout=timeout)
    return re.match(r"(.*/attempts/\d+)", page.url).group(1)


def open_task(page, title: str) -> None:
    """Open a task by its title in the task list, and wait for its terminal's prompt."""
    page.get_by_role("link", name=re.compile(title)).first.click()
    terminal_ready(page)


def check_my_work(page, timeout: float) -> list[str]:
    """Press "Check my work"; returns each check's class (check-passed, …)."""
    page.get_by_role("button", name="Check my work").click()
    page.wait_for_function("() => document.querySelectorAll('#check-result li').length > 0",
                           timeout=timeout)
    return page.eval_on_selector_all("#check-result li", "els => els.map(e => e.className)")


def finish_practice(page, attempt_url: str, timeout: float) -> None:
    """Finish the practice, confirming the dialog, and wait for the results page."""
    page.once("dialog", lambda d: d.accept())  # "Submit and end this practice?"
    page.get_by_role("button", name="Finish practice").click()
    page.wait_for_url(re.compile(re.escape(attempt_url) + r"/results"), timeout=timeout)
