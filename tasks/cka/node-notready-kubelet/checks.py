"""Checks for node-notready-kubelet: node02 Ready again, its services running and enabled at boot."""

import pytest

from grader.checks import eventually, is_ready, must_be_ready, must_get

SERVICES = ("containerd", "kubelet")


@pytest.mark.points(2)
def test_node02_ready(k8s):
    """node02 is Ready"""
    eventually(lambda: must_be_ready(must_get(k8s.core.read_node, "node02",
                                              expected="it registered and Ready")), timeout=5)


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_services_running_and_enabled(nodes):
    """containerd and the kubelet run on node02 and are started at boot"""
    host = nodes["node02"]
    wrong = []
    for svc in SERVICES:
        state = host.run(f"systemctl is-active {svc}").stdout.strip() or "unknown"
        enabled = host.run(f"systemctl is-enabled {svc}").stdout.strip() or "unknown"
        if (state, enabled) != ("active", "enabled"):
            wrong.append(f"{svc} is {state} and {enabled}")
    assert not wrong, (f"on node02, {'; '.join(wrong)}; expected containerd and the kubelet "
                       "active and enabled at boot")


def test_pod_runs_on_node02(k8s, params):
    """The Pod bound to node02 runs there"""
    name = params["name"]

    def running():
        pod = must_get(k8s.core.read_namespaced_pod, name, "default",
                       expected="it running on node02")
        assert pod.spec.node_name == "node02", (
            f"Pod default/{name} is on {pod.spec.node_name or 'no node'}; expected it on node02")
        phase = pod.status.phase if pod.status else "unknown"
        assert phase == "Running" and is_ready(pod), (
            f"Pod default/{name} is {phase} on node02, not ready; expected it running and ready")
    eventually(running, timeout=5)
