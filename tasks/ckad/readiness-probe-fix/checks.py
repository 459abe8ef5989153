"""Checks for readiness-probe-fix: the readiness probe of Deployment web checks the
application's health endpoint, really, and Service web routes to ready Pods."""

import re

import pytest

from grader.checks import (eventually, is_ready, must_be_ready, must_container, must_get, pods_of,
                           show)

# nginx's access log (format "combined"): "GET /healthz HTTP/1.1" 200 3 "-" "kube-probe/1.36"
PROBE_REQUEST = re.compile(r'"GET (?P<path>[^ "?]*)[^ "]* HTTP/[\d.]+" (?P<status>\d{3}) .*"kube-probe/')
LOG_BYTES = 512 * 1024


def _deployment(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "web", params["namespace"],
                    expected="it fixed, not removed")


def _port_of(container, port):
    """A probe port (a number, or the name of a container port) as a number, or None."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    return next((p.container_port for p in container.ports or [] if p.name == port), None)


def _pods(k8s, params):
    """The Deployment's current Pods that run."""
    return [p for p in pods_of(k8s, _deployment(k8s, params)) if p.status and p.status.phase == "Running"]


@pytest.mark.points(2)
def test_pods_ready(k8s, params):
    """Both replicas of web are ready, each with a readiness probe"""
    dep = _deployment(k8s, params)
    must_be_ready(dep, replicas=2)
    pods = _pods(k8s, params)
    unprobed = sorted(p.metadata.name for p in pods
                      if not any(c.name == "web" and c.readiness_probe for c in p.spec.containers))
    assert not unprobed, (f"Pods {', '.join(unprobed)} of web have no readiness probe; expected "
                          "the probe fixed, not removed")


def test_service_routes(k8s, kubectl, params):
    """Service web has the Pods of web as ready endpoints and answers HTTP through them"""
    ns = params["namespace"]
    must_get(k8s.core.read_namespaced_service, "web", ns, expected="it unchanged")
    pods = [p for p in _pods(k8s, params) if is_ready(p)]
    assert pods, "no Pod of web is ready; expected both ready behind Service web"
    want = sorted(p.status.pod_ip for p in pods if p.status.pod_ip)

    def routed():  # EndpointSlices follow readiness a moment later
        found = k8s.endpoints("web", ns)
        assert found == want, (f"Service web has ready endpoints {show(found)}; expected the "
                               f"ready Pods of web {show(want)}")
    eventually(routed, timeout=5)
    res = kubectl("exec", "-n", ns, pods[0].metadata.name, "-c", "web", "--",
                  "wget", "-q", "-T", "3", "-O", "/dev/null", f"http://web.{ns}.svc.cluster.local/",
                  check=False, timeout=8)
    why = next((line for line in (res.stderr or "").splitlines() if line.strip()), "no output")
    assert res.returncode == 0, (f"an HTTP request from Pod {pods[0].metadata.name} to Service web "
                                 f"failed: {show(why)}; expected an answer")


def test_probe_spec(k8s, params):
    """The readiness probe of container web is an HTTP GET of the health endpoint on the application's port"""
    want_path, want_port = params["path"], int(params["port"])
    c = must_container(_deployment(k8s, params), "web")
    p = c.readiness_probe
    assert p is not None, "container web has no readiness probe; expected an HTTP GET of the health endpoint"
    kind = next((k for a, k in (("_exec", "an exec"), ("tcp_socket", "a TCP socket"), ("grpc", "a gRPC"))
                 if getattr(p, a, None)), "another kind of")
    assert p.http_get is not None, (f"the readiness probe of container web is {kind} probe; "
                                    "expected an HTTP GET")
    port = _port_of(c, p.http_get.port)
    assert p.http_get.path == want_path and port == want_port, (
        f"the readiness probe GETs {show(p.http_get.path)} on port {show(p.http_get.port)}; "
        f"expected {want_path} on port {want_port}")
    scheme = p.http_get.scheme or "HTTP"
    assert scheme == "HTTP", f"the readiness probe uses scheme {show(scheme)}; expected HTTP"


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_probe_reaches_health(k8s, params):
    """The kubelet's probes reach the health endpoint of every Pod of web, and get 200"""
    ns, path = params["namespace"], params["path"]
    pods = _pods(k8s, params)
    assert pods, "Deployment web has no running Pods; expected 2"

    def probed(pod):
        log = k8s.core.read_namespaced_pod_log(pod.metadata.name, ns, container="web",
                                               limit_bytes=LOG_BYTES, tail_lines=400)
        seen = [(m["path"], m["status"]) for m in PROBE_REQUEST.finditer(log)]
        ok = [s for s in seen if s == (path, "200")]
        assert ok, (f"the access log of Pod {pod.metadata.name} shows "
                    f"{'probe requests ' + show(seen[-3:]) if seen else 'no request from the kubelet'}; "
                    f"expected probes of {path} answered 200")

    for pod in pods:
        eventually(lambda: probed(pod), timeout=6)
