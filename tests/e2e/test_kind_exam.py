"""An exam on real nodes in a real browser: the portal (kind enabled) gives
the candidate a kind cluster whose node02 waits to be joined, and the jailed
terminal's `ssh` reaches the nodes."""

from __future__ import annotations

import re

import pytest
from e2e_portal import log_in, run_portal
from test_journey import ARTIFACTS, SCREEN, wait_screen

pytestmark = [pytest.mark.e2e, pytest.mark.nodes]


@pytest.fixture(scope="module")
def kind_portal(tmp_path_factory):
    with run_portal(tmp_path_factory.mktemp("kind-portal"), log_name="portal-kind.log",
                    PROCTOR_KIND_SANDBOXES="1", PROCTOR_POOL_SIZE="0") as p:
        yield p


def test_node_exam_on_real_nodes(kind_portal, browser_page):
    page, base = browser_page, kind_portal["base"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_in(page, kind_portal, "candidate")
    assert "real nodes" in page.inner_text("main")

    page.goto(base + "/exams/cka-nodes")
    page.get_by_role("button", name="Practice").click()
    # a kind cluster, then the setups (the broken kubelet waits for NotReady)
    page.wait_for_url(re.compile(r".*/attempts/\d+/tasks/\d+"), timeout=600_000)
    attempt_url = re.match(r"(.*/attempts/\d+)", page.url).group(1)
    page.get_by_role("link", name=re.compile("Join a new worker node")).first.click()
    page.wait_for_function(
        "window.proctorTerminal && window.proctorTerminal.status() === 'connected'",
        timeout=60_000)
    wait_screen(page, "candidate@exam")

    page.click("#terminal")
    page.keyboard.type("k get nodes -o name | sort | tr '\\n' ' '; echo\n")
    wait_screen(page, "node/controlplane node/node01")
    screen = page.evaluate(SCREEN)
    assert "node/node02" not in screen, "node02 should wait to be joined"
    page.keyboard.type("ssh node02\n")
    wait_screen(page, "root@node02", timeout=60_000)
    # (the output, not the echo of the command line: $((6*7)) prints 42)
    page.keyboard.type("kubeadm version -o short; test -f /etc/kubernetes/kubelet.conf || "
                       "echo not-joined-$((6*7))\n")
    wait_screen(page, "not-joined-42")
    assert "v1.36.3" in page.evaluate(SCREEN)
    page.keyboard.type("exit\n")
    wait_screen(page, "logout")
    page.screenshot(path=str(ARTIFACTS / "kind-terminal.png"))

    # nothing solved yet: the graded checks of this task fail, none errors
    page.get_by_role("button", name="Check my work").click()
    page.wait_for_function("document.querySelectorAll('#check-result li').length > 0",
                           timeout=120_000)
    outcomes = page.eval_on_selector_all("#check-result li", "els => els.map(e => e.className)")
    assert outcomes and set(outcomes) == {"check-failed"}, page.inner_text("#check-result")

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Finish practice").click()
    page.wait_for_url(re.compile(re.escape(attempt_url) + r"/results"), timeout=300_000)
    assert "Join a new worker node" in page.inner_text("main")
