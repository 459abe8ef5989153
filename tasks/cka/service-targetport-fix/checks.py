"""Checks for service-targetport-fix: Service api, fixed in place, forwards port
80 to the port nginx listens on, and a real request from the client Pod gets
the application's answer; the Deployment and its ConfigMap stay as setup left
them."""

import pytest

from grader.checks import (eventually, must_be_original, must_get, selector_text, show)


def _service(k8s, ns):
    return must_get(k8s.core.read_namespaced_service, "api", ns, expected="it fixed in place")


def _target(port, container_ports):
    """A Service port's targetPort as a number: a number, or the name of a container port."""
    t = port.target_port
    if isinstance(t, int) or (isinstance(t, str) and t.isdigit()):
        return int(t)
    return container_ports.get(t)


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_request_reaches_app(kubectl, k8s, params):
    """A request from Pod client to Service api on port 80 gets the application's answer"""
    ns = params["namespace"]
    must_get(k8s.core.read_namespaced_pod, "client", ns, expected="it kept to test the Service from")
    url = f"http://api.{ns}.svc.cluster.local:80/"

    def answered():
        res = kubectl("exec", "-n", ns, "client", "-c", "client", "--", "wget", "-q", "-T", "3",
                      "-O", "-", url, check=False, timeout=8)
        why = next((line for line in (res.stderr or "").splitlines() if line.strip()), "no output")
        assert res.returncode == 0, (f"a request from Pod {ns}/client to {url} failed: {show(why)}; "
                                     "expected the application's answer")
        assert "api ok" in res, f"{url} answered {show(str(res))}; expected 'api ok' from nginx of api"
    eventually(answered, timeout=12)


def test_service_targets_container_port(k8s, params):
    """Service api, fixed in place with port 80 and selector app=api kept, targets the container's port"""
    ns, want = params["namespace"], int(params["port"])
    svc = _service(k8s, ns)
    must_be_original(k8s, svc, f"api-{ns}-original")
    assert (svc.spec.selector or {}) == {"app": "api"}, (
        f"Service {ns}/api selects {selector_text(svc.spec.selector)}; expected app=api unchanged")
    ports = svc.spec.ports or []
    assert [p.port for p in ports] == [80], (
        f"Service {ns}/api has ports {show([p.port for p in ports])}; expected only port 80, kept")
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", ns, expected="it unchanged")
    named = {cp.name: cp.container_port for c in dep.spec.template.spec.containers
             for cp in c.ports or [] if cp.name}
    found = _target(ports[0], named)
    assert found == want, (f"Service {ns}/api sends port 80 to targetPort "
                           f"{show(ports[0].target_port)}; expected the port nginx listens on, {want}")


def test_application_unchanged(k8s, params):
    """Deployment api and ConfigMap api-nginx are as setup left them, and the endpoints of api carry the container's port"""
    ns, want = params["namespace"], int(params["port"])
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", ns, expected="it unchanged")
    assert dep.metadata.generation == 1, (
        f"Deployment {ns}/api was changed (generation {dep.metadata.generation}); expected it "
        "unchanged: fix the Service, not the application")
    cm = must_get(k8s.core.read_namespaced_config_map, "api-nginx", ns, expected="it unchanged")
    conf = (cm.data or {}).get("nginx.conf") or ""
    assert f"listen {want};" in conf, (f"ConfigMap {ns}/api-nginx no longer has 'listen {want};'; "
                                      "expected it unchanged")

    def carried():  # EndpointSlices follow a Service change a moment later
        slices = k8s.discovery.list_namespaced_endpoint_slice(
            ns, label_selector="kubernetes.io/service-name=api").items
        ports = sorted({p.port for s in slices for p in s.ports or [] if p.port is not None})
        assert ports == [want], (f"the EndpointSlices of Service {ns}/api carry ports {show(ports)}; "
                                 f"expected {want}")
        ready = k8s.endpoints("api", ns)
        assert len(ready) == 2, (f"Service {ns}/api has {len(ready)} ready endpoints; expected the "
                                 "2 Pods of api")
    eventually(carried, timeout=5)
