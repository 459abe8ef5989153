"""Checks for probes-liveness-readiness: probes on Deployment api, rolled out."""

import pytest

from grader.checks import is_ready, must_be_ready, must_container, must_get, pods_of, show


def _api(k8s, params):
    """Deployment api and its container api."""
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", params["namespace"],
                   expected="it to still exist")
    return dep, must_container(dep, "api")


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
    _, c = _api(k8s, params)
    want_port, want_path = int(params["port"]), params["path"]
    p = c.readiness_probe
    assert p is not None, "container api has no readinessProbe; expected an HTTP GET probe"
    assert p.http_get is not None, "the readinessProbe of container api is not an HTTP GET probe"
    found_port = _port_of(c, p.http_get.port)
    assert p.http_get.path == want_path and found_port == want_port, (
        f"readinessProbe GETs {show(p.http_get.path)} on port {show(p.http_get.port)}; "
        f"expected {want_path} on port {want_port}")
    assert (p.initial_delay_seconds or 0) == 5 and (p.period_seconds or 10) == 10, (
        f"readinessProbe has initialDelaySeconds {p.initial_delay_seconds}, periodSeconds "
        f"{p.period_seconds}; expected 5 and 10")


@pytest.mark.points(2)
def test_liveness_probe(k8s, params):
    """Liveness probe: TCP on the given port, delay 15s, period 20s, 3 failures"""
    _, c = _api(k8s, params)
    want_port = int(params["port"])
    p = c.liveness_probe
    assert p is not None, "container api has no livenessProbe; expected a TCP socket probe"
    assert p.tcp_socket is not None, "the livenessProbe of container api is not a TCP socket probe"
    found_port = _port_of(c, p.tcp_socket.port)
    assert found_port == want_port, (
        f"livenessProbe connects to port {show(p.tcp_socket.port)}; expected {want_port}")
    found = (p.initial_delay_seconds or 0, p.period_seconds or 10, p.failure_threshold or 3)
    assert found == (15, 20, 3), (
        f"livenessProbe has initialDelaySeconds/periodSeconds/failureThreshold {found}; "
        "expected (15, 20, 3)")


def test_rolled_out(k8s, params):
    """Every replica of api runs the Pod template with both probes and is ready"""
    dep, c = _api(k8s, params)
    assert c.image == "nginx:1.27", f"container api uses image {show(c.image)}; expected nginx:1.27 unchanged"
    assert dep.spec.replicas == 2, f"Deployment api has {dep.spec.replicas} replicas; expected 2"
    pods = pods_of(k8s, dep)
    probed = [p for p in pods if all(x.readiness_probe and x.liveness_probe
                                     for x in p.spec.containers if x.name == "api")]
    ready = [p for p in probed if is_ready(p)]
    assert len(probed) == len(pods) == 2 and len(ready) == 2, (
        f"{len(ready)} of {len(pods)} api Pods are ready with both probes; expected 2 of 2")
    must_be_ready(dep)
