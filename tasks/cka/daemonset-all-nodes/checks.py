"""Checks for daemonset-all-nodes: DaemonSet log-agent's template and its Pods."""

import pytest
from kubernetes.utils.quantity import parse_quantity


def _ds(k8s, params):
    ns = params["namespace"]
    ds = k8s.get(k8s.apps.read_namespaced_daemon_set, "log-agent", ns)
    assert ds is not None, f"DaemonSet {ns}/log-agent not found; expected it to exist"
    return ds


def _agent(ds):
    for c in ds.spec.template.spec.containers:
        if c.name == "agent":
            return c
    raise AssertionError(f"DaemonSet log-agent has containers "
                         f"{[c.name for c in ds.spec.template.spec.containers]}; expected agent")


def test_template(k8s, params):
    """log-agent: label app=log-agent, container agent, fluent/fluent-bit:3.1, requests 50m/64Mi"""
    ds = _ds(k8s, params)
    labels = ds.spec.template.metadata.labels or {}
    assert labels.get("app") == "log-agent", f"log-agent Pods are labelled {labels}; expected app=log-agent"
    c = _agent(ds)
    assert c.image == "fluent/fluent-bit:3.1", f"container agent runs {c.image}; expected fluent/fluent-bit:3.1"
    req = (c.resources.requests if c.resources else None) or {}
    ok = (req.get("cpu") and parse_quantity(req["cpu"]) == parse_quantity("50m")
          and req.get("memory") and parse_quantity(req["memory"]) == parse_quantity("64Mi"))
    assert ok, f"container agent requests {req or 'nothing'}; expected cpu=50m memory=64Mi"


def test_hostpath(k8s, params):
    """The host's /var/log is mounted read-only at /var/log"""
    ds = _ds(k8s, params)
    c = _agent(ds)
    vols = {v.name: v for v in ds.spec.template.spec.volumes or []}
    for m in c.volume_mounts or []:
        if m.mount_path.rstrip("/") == "/var/log":
            v = vols.get(m.name)
            src = v.host_path.path.rstrip("/") if v is not None and v.host_path else None
            assert src == "/var/log", f"/var/log is mounted from {src or 'a non-hostPath volume'}; expected hostPath /var/log"
            assert m.read_only is True, "/var/log is mounted read-write; expected read-only"
            return
    raise AssertionError("container agent mounts nothing at /var/log; expected the host's /var/log")


@pytest.mark.points(2)
def test_every_node(k8s, params):
    """A ready log-agent Pod runs on every node, controlplane included"""
    ds = _ds(k8s, params)
    ns = params["namespace"]
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=log-agent").items
            if p.metadata.deletion_timestamp is None and any(
                c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    on = {p.spec.node_name for p in pods}
    assert "controlplane" in on, f"log-agent runs ready on {sorted(on) or 'no node'}; expected controlplane too"
    st = ds.status
    assert st.desired_number_scheduled >= 2 and st.number_ready == st.desired_number_scheduled, (
        f"DaemonSet log-agent has {st.number_ready} of {st.desired_number_scheduled} Pods ready; expected all")
