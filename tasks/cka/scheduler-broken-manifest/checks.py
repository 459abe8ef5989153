"""Checks for scheduler-broken-manifest: kube-scheduler's static Pod manifest repaired.

Setup recorded the kubelet's hash of kubeadm's manifest (the mirror Pod's
``kubernetes.io/config.hash``). The kubelet hashes the Pod it decodes from the
file, not the file's text, so the same manifest written in any layout hashes
the same, and any other change (a flag, a volume, the file's name) does not.
"""

import pytest
import yaml

from grader.checks import eventually, is_ready, must_be_original, must_get, show

MANIFEST = "/etc/kubernetes/manifests/kube-scheduler.yaml"
MIRROR = "kube-scheduler-controlplane"
RECORD = "scheduler-broken-manifest-original"
HASH = "kubernetes.io/config.hash"


def _mirror(k8s):
    return must_get(k8s.core.read_namespaced_pod, MIRROR, "kube-system",
                    expected="the kubelet of controlplane to run the scheduler's static Pod")


def _manifest_command(host) -> list:
    f = host.file(MANIFEST)
    assert f.exists, f"{MANIFEST} does not exist on controlplane; expected the scheduler's manifest there"
    try:
        pod = yaml.safe_load(f.content_string)
    except yaml.YAMLError as exc:
        pytest.fail(f"{MANIFEST} on controlplane is not valid YAML ({str(exc).splitlines()[0]})")
    containers = ((pod or {}).get("spec") or {}).get("containers") if isinstance(pod, dict) else None
    first = containers[0] if isinstance(containers, list) and containers else None
    command = first.get("command") if isinstance(first, dict) else None
    assert isinstance(command, list) and command, (
        f"{MANIFEST} on controlplane has no container command; expected kubeadm's kube-scheduler command")
    return [str(w) for w in command]


def _state(status) -> str:
    """``waiting (CrashLoopBackOff)``, ``running``: a container status in words."""
    state = status.state
    for kind in ("waiting", "terminated", "running"):
        part = getattr(state, kind, None) if state else None
        if part is not None:
            reason = getattr(part, "reason", None)
            return f"{kind} ({reason})" if reason else kind
    return "unknown"


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_scheduler_running(k8s):
    """The scheduler Pod kube-scheduler-controlplane runs and is ready"""
    def running():
        pod = _mirror(k8s)
        assert "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}), (
            f"Pod kube-system/{MIRROR} is not a mirror Pod; expected the static Pod of controlplane")
        states = [_state(s) for s in (pod.status.container_statuses if pod.status else None) or []]
        assert pod.status and pod.status.phase == "Running" and is_ready(pod), (
            f"Pod kube-system/{MIRROR} is {pod.status.phase if pod.status else 'unknown'} with "
            f"containers {show(states)}, not ready; expected it running and ready")
    eventually(running, timeout=5)


def test_fault_corrected(nodes, params):
    """The wrong value in the scheduler's manifest is corrected"""
    command = _manifest_command(nodes["controlplane"])
    if params["fault"] == "command-typo":
        assert command[0] == "kube-scheduler", (
            f"{MANIFEST} on controlplane runs the command {show(command[0])}; expected kube-scheduler")
    else:
        flags = [w for w in command if w.startswith("--kubeconfig=")]
        assert flags == ["--kubeconfig=/etc/kubernetes/scheduler.conf"], (
            f"{MANIFEST} on controlplane has {show(flags) if flags else 'no --kubeconfig flag'}; "
            "expected --kubeconfig=/etc/kubernetes/scheduler.conf, the file the Pod mounts")


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_manifest_otherwise_unchanged(k8s):
    """The scheduler runs from kubeadm's manifest, nothing changed but the wrong value"""
    record = must_get(k8s.core.read_namespaced_config_map, RECORD, "kube-system",
                      expected="it untouched: setup recorded there the hash of kubeadm's manifest")
    want = (record.data or {}).get("hash")
    assert want, f"ConfigMap kube-system/{RECORD} holds no hash; expected setup's record untouched"

    def same():
        found = (_mirror(k8s).metadata.annotations or {}).get(HASH)
        assert found == want, (
            f"Pod kube-system/{MIRROR} runs a manifest that differs from kubeadm's (config hash "
            f"{show(found)}); expected only the wrong value corrected in {MANIFEST}, nothing else "
            "changed, added or renamed")
    eventually(same, timeout=5)


@pytest.mark.points(2)
def test_pod_scheduled(k8s, params):
    """The waiting Pod is scheduled by the default scheduler and running"""
    name = params["name"]
    pod = must_get(k8s.core.read_namespaced_pod, name, "default",
                   expected="the Pod that was waiting, scheduled now")
    must_be_original(k8s, pod, f"pod-{name}-original")
    scheduled = next((c for c in (pod.status.conditions if pod.status else None) or []
                      if c.type == "PodScheduled"), None)
    assert pod.spec.node_name and scheduled is not None and scheduled.status == "True", (
        f"Pod default/{name} is not scheduled ({scheduled.reason if scheduled and scheduled.reason else 'no node'}); "
        "expected the scheduler to bind it to a node")
    assert pod.spec.scheduler_name == "default-scheduler", (
        f"Pod default/{name} names scheduler {show(pod.spec.scheduler_name)}; expected default-scheduler")
    assert pod.status.phase == "Running" and is_ready(pod), (
        f"Pod default/{name} is {pod.status.phase} on {pod.spec.node_name}; expected it running and ready")
