"""An exam on real nodes in a real browser: the portal gives the candidate
a cluster whose node02 waits to be joined (kind nodes, or VM nodes restored
from the golden state), and the jailed terminal's `ssh` reaches the nodes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from .e2e_portal import (ARTIFACTS, SCREEN, check_my_work, finish_practice, log_in, open_task,
                         run_portal, start_practice, wait_screen)

pytestmark = [pytest.mark.e2e, pytest.mark.nodes]


@pytest.fixture(scope="module", params=["kind", pytest.param("vm", marks=pytest.mark.vm)])
def nodes_portal(request):
    if request.param == "vm":
        from sandbox.vm.golden import Golden
        golden = Golden()
        if not golden.exists():
            message = (f"the golden VM clusters are not built ({golden.dir}); "
                       "run `scripts/bootstrap --with-vm` (QEMU, the VM image, the golden clusters) (docs/vm.md)")
            if os.environ.get("PROCTOR_VM_TESTS") == "1":
                pytest.fail(message)
            pytest.skip(message)
    # short: the vm provider's Unix sockets live under the state folder
    root = Path(tempfile.mkdtemp(prefix=f"e2e-{request.param}-", dir="/tmp"))
    switch = {"kind": "PROCTOR_KIND_SANDBOXES", "vm": "PROCTOR_VM_SANDBOXES"}[request.param]
    try:
        with run_portal(root, log_name=f"portal-{request.param}.log", PROCTOR_POOL_SIZE="0",
                        **{switch: "1"}) as p:
            yield {**p, "provider": request.param}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_node_exam_on_real_nodes(nodes_portal, browser_page):
    page = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_in(page, nodes_portal, "candidate")
    assert "real nodes" in page.inner_text("main")

    # a cluster, then the setups (the broken kubelet waits for NotReady)
    attempt_url = start_practice(page, nodes_portal, "cka-nodes", timeout=600_000)
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
    lines = [line.rstrip() for line in page.evaluate(SCREEN).splitlines()]
    assert "v1.36.3" in lines and "not-joined-42" in lines, \
        "the node's output does not start at the left edge:\n" + "\n".join(lines)
    page.keyboard.type("exit\n")
    wait_screen(page, "logout")
    page.screenshot(path=str(ARTIFACTS / f"{nodes_portal['provider']}-terminal.png"))

    # nothing solved yet: the graded checks of this task fail, none errors
    outcomes = check_my_work(page, timeout=120_000)
    assert outcomes and set(outcomes) == {"check-failed"}, page.inner_text("#check-result")

    finish_practice(page, attempt_url, timeout=300_000)
    assert "Join a new worker node" in page.inner_text("main")
