"""Checks for daemonset-all-nodes: DaemonSet log-agent's template and its Pods."""

import pytest

from grader.checks import (is_ready, mounted, must_container, must_get, pods_of, same_image, same_quantity,
                           show)


def _ds(k8s, params):
    return must_get(k8s.apps.read_namespaced_daemon_set, "log-agent", params["namespace"])


def test_template(k8s, params):
    """log-agent: label app=log-agent, container agent, fluent/fluent-bit:3.1, requests 50m/64Mi"""
    ds = _ds(k8s, params)
    meta = ds.spec.template.metadata
    labels = (meta.labels if meta else None) or {}
    assert labels.get("app") == "log-agent", (
        f"log-agent Pods are labelled {show(labels)}; expected app=log-agent")
    c = must_container(ds, "agent")
    # docker.io/fluent/fluent-bit:3.1 is the same image, spelt with its registry
    assert same_image(c.image, "fluent/fluent-bit:3.1"), (
        f"container agent runs {show(c.image)}; expected fluent/fluent-bit:3.1")
    req = (c.resources.requests if c.resources else None) or {}
    ok = same_quantity(req.get("cpu"), "50m") and same_quantity(req.get("memory"), "64Mi")
    assert ok, f"container agent requests {show(req) if req else 'nothing'}; expected cpu=50m memory=64Mi"


def test_hostpath(k8s, params):
    """The host's /var/log is mounted read-only at /var/log"""
    ds = _ds(k8s, params)
    mount, volume = mounted(ds, must_container(ds, "agent"), "/var/log")
    assert mount is not None, "container agent mounts nothing at /var/log; expected the host's /var/log"
    src = volume.host_path.path.rstrip("/") if volume is not None and volume.host_path else None
    assert src == "/var/log", (
        f"/var/log is mounted from {show(src) if src else 'a non-hostPath volume'}; expected hostPath /var/log")
    assert mount.read_only is True, "/var/log is mounted read-write; expected read-only"


@pytest.mark.points(2)
def test_every_node(k8s, params):
    """A ready log-agent Pod runs on every node, controlplane included"""
    ds = _ds(k8s, params)
    on = {p.spec.node_name for p in pods_of(k8s, ds) if is_ready(p)}
    assert "controlplane" in on, f"log-agent runs ready on {sorted(on) or 'no node'}; expected controlplane too"
    st = ds.status
    assert st.desired_number_scheduled >= 2 and st.number_ready == st.desired_number_scheduled, (
        f"DaemonSet log-agent has {st.number_ready} of {st.desired_number_scheduled} Pods ready; expected all")
