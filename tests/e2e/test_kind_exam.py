"""An exam on real nodes in a real browser: the portal (kind enabled) gives
the candidate a kind cluster whose node02 waits to be joined, and the jailed
terminal's `ssh` reaches the nodes."""

from __future__ import annotations

import pytest
from .e2e_portal import (ARTIFACTS, SCREEN, check_my_work, finish_practice, log_in, open_task,
                         run_portal, start_practice, wait_screen)

pytestmark = [pytest.mark.e2e, pytest.mark.nodes]


@pytest.fixture(scope="module")
def kind_portal(tmp_path_factory):
    with run_portal(tmp_path_factory.mktemp("kind-portal"), log_name="portal-kind.log",
                    PROCTOR_KIND_SANDBOXES="1", PROCTOR_POOL_SIZE="0") as p:
        yield p


def test_node_exam_on_real_nodes(kind_portal, browser_page):
    page = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_in(page, kind_portal, "candidate")
    assert "real nodes" in page.inner_text("main")

    # a kind cluster, then the setups (the broken kubelet waits for NotReady)
    attempt_url = start_practice(page, kind_portal, "cka-nodes", timeout=600_000)
    open_task(page, "Join a new worker node")

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
    outcomes = check_my_work(page, timeout=120_000)
    assert outcomes and set(outcomes) == {"check-failed"}, page.inner_text("#check-result")

    finish_practice(page, attempt_url, timeout=300_000)
    assert "Join a new worker node" in page.inner_text("main")
