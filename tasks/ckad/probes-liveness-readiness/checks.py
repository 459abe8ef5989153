"""Checks for probes-liveness-readiness: probes on Deployment api, rolled out."""

import pytest


def _deploy(k8s, params):
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "api", ns)
    assert dep is not None, f"Deployment {ns}/api not found; expected it to still exist"
    return dep


def _container(spec):
    for c in spec.containers:
        if c.name == "api":
            return c
    raise AssertionError(f"Pod template has containers {[c.name for c in spec.containers]}; "
                         "expected one named api")


def _port_of(container, port):
    """A probe port (int or container port name) as a number, or None."""
    if port is None:
        return None
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.ports or []:
        if p.name == port:
            return p.container_port
    return None


@pytest.mark.points(2)
def test_readiness_probe(k8s, params):
    """Readiness probe: HTTP GET on the given path and port, delay 5s, period 10s"""
    c = _container(_deploy(k8s, params).spec.template.spec)
    want_port, want_path = int(params["port"]), params["path"]
    p = c.readiness_probe
    assert p is not None, "container api has no readinessProbe; expected an HTTP GET probe"
    assert p.http_get is not None, "the readinessProbe of container api is not an HTTP GET probe"
    found_port = _port_of(c, p.http_get.port)
    assert p.http_get.path == want_path and found_port == want_port, (
        f"readinessProbe GETs {p.http_get.path} on port {p.http_get.port}; "
        f"expected {want_path} on port {want_port}")
    assert (p.initial_delay_seconds or 0) == 5 and (p.period_seconds or 10) == 10, (
        f"readinessProbe has initialDelaySeconds {p.initial_delay_seconds}, periodSeconds "
        f"{p.period_seconds}; expected 5 and 10")


@pytest.mark.points(2)
def test_liveness_probe(k8s, params):
    """Liveness probe: TCP on the given port, delay 15s, period 20s, 3 failures"""
    c = _container(_deploy(k8s, params).spec.template.spec)
    want_port = int(params["port"])
    p = c.liveness_probe
    assert p is not None, "container api has no livenessProbe; expected a TCP socket probe"
    assert p.tcp_socket is not None, "the livenessProbe of container api is not a TCP socket probe"
    found_port = _port_of(c, p.tcp_socket.port)
    assert found_port == want_port, (
        f"livenessProbe connects to port {p.tcp_socket.port}; expected {want_port}")
    found = (p.initial_delay_seconds or 0, p.period_seconds or 10, p.failure_threshold or 3)
    assert found == (15, 20, 3), (
        f"livenessProbe has initialDelaySeconds/periodSeconds/failureThreshold {found}; "
        "expected (15, 20, 3)")


def test_rolled_out(k8s, params):
    """Every replica of api runs the Pod template with both probes and is ready"""
    dep = _deploy(k8s, params)
    ns = params["namespace"]
    c = _container(dep.spec.template.spec)
    assert c.image == "nginx:1.27", f"container api uses image {c.image}; expected nginx:1.27 unchanged"
    assert dep.spec.replicas == 2, f"Deployment api has {dep.spec.replicas} replicas; expected 2"
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=api").items
            if p.metadata.deletion_timestamp is None]
    probed = [p for p in pods if all(x.readiness_probe and x.liveness_probe
                                     for x in p.spec.containers if x.name == "api")]
    ready = [p for p in probed if any(cond.type == "Ready" and cond.status == "True"
                                      for cond in p.status.conditions or [])]
    st = dep.status
    assert len(probed) == len(pods) == 2 and len(ready) == 2, (
        f"{len(ready)} of {len(pods)} api Pods are ready with both probes; expected 2 of 2")
    assert (st.updated_replicas or 0) == 2 and (st.ready_replicas or 0) == 2, (
        f"Deployment api has {st.updated_replicas} updated and {st.ready_replicas} ready replicas; "
        "expected 2 and 2")
