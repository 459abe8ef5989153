"""Checks for kubelet-broken-config: node01's kubelet repaired in its configuration file."""

import os.path
import shlex

import pytest
import yaml

from grader.checks import eventually, must_be_ready, must_get, show

CONFIG = "/var/lib/kubelet/config.yaml"
# fault -> (path of the setting in the configuration, the wrong value setup wrote,
#           what the right value names on the node: `test` flag, in words)
FAULTS = {
    "client-ca": (("authentication", "x509", "clientCAFile"), "/etc/kubernetes/pki/kubelet-ca.crt",
                  ("-f", "cluster CA certificate")),
    # The kubelet takes a bare socket path as unix:// of it, so either spelling is right.
    "runtime-endpoint": (("containerRuntimeEndpoint",), "unix:///var/run/cri-dockerd.sock",
                         ("-S", "container runtime socket")),
}


@pytest.mark.points(2)
def test_node01_ready(k8s):
    """node01 is Ready"""
    eventually(lambda: must_be_ready(must_get(k8s.core.read_node, "node01",
                                              expected="it registered and Ready")), timeout=5)


@pytest.mark.timeout(20)
def test_kubelet_service(nodes):
    """The kubelet service on node01 is running, healthy and enabled at boot"""
    host = nodes["node01"]
    enabled = host.run("systemctl is-enabled kubelet").stdout.strip() or "unknown"
    assert enabled == "enabled", (
        f"the kubelet service on node01 is {enabled}; expected it enabled, to start at boot")
    state = host.run("systemctl is-active kubelet").stdout.strip() or "unknown"
    # A crash-looping kubelet is 'active' for a moment between restarts: ask it too.
    health = host.run("curl -s -m 3 http://127.0.0.1:10248/healthz").stdout.strip()
    assert state == "active" and health == "ok", (
        f"the kubelet service on node01 is {state} and its health endpoint answers "
        f"{health or 'nothing'}; expected it running and healthy")


def test_config_corrected(nodes, params):
    """The wrong setting is corrected in the kubelet's configuration file"""
    keys, bad, (kind, what) = FAULTS[params["fault"]]
    setting = ".".join(keys)
    host = nodes["node01"]
    f = host.file(CONFIG)
    assert f.exists, f"{CONFIG} does not exist on node01; expected the kubelet's configuration there"
    try:
        value = yaml.safe_load(f.content_string) or {}
    except yaml.YAMLError as exc:
        pytest.fail(f"{CONFIG} on node01 is not valid YAML ({str(exc).splitlines()[0]})")
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    assert value != bad, f"{setting} in {CONFIG} on node01 is still {bad}; expected it corrected"
    assert isinstance(value, str) and value, (
        f"{setting} is not set in {CONFIG} on node01; expected it corrected, not removed")
    target = value.removeprefix("unix://") if kind == "-S" else value
    assert os.path.isabs(target) and host.run(f"test {kind} {shlex.quote(target)}").rc == 0, (
        f"{setting} in {CONFIG} on node01 is {show(value)}, which does not exist on the node; "
        f"expected the {what}")
