"""Checks for ingress-paths: routing of Ingress shop, evaluated like an Ingress controller."""

import pytest

from grader.checks import must_get, show


def _ingress(k8s, params):
    return must_get(k8s.networking.read_namespaced_ingress, "shop", params["namespace"])


def _svc_port(k8s, ns, backend):
    """(service name, numeric port) of an Ingress backend, or None."""
    if backend is None or backend.service is None:
        return None
    name, port = backend.service.name, backend.service.port
    if port is None:
        return (name, None)
    if port.number:
        return (name, port.number)
    svc = k8s.get(k8s.core.read_namespaced_service, name, ns)
    for p in (svc.spec.ports if svc else []) or []:
        if p.name == port.name:
            return (name, p.port)
    return (name, port.name)


def _route(ing, host, path):
    """The backend an Ingress controller would pick for host+path (longest match wins)."""
    best, best_len = None, -1
    for rule in ing.spec.rules or []:
        if rule.host not in (None, "", host) or rule.http is None:
            continue
        for p in rule.http.paths or []:
            rp = p.path or "/"
            if p.path_type == "Exact":
                ok = path == rp
            else:  # Prefix and ImplementationSpecific treated as element-wise prefix
                parts = [x for x in rp.split("/") if x]
                ok = [x for x in path.split("/") if x][:len(parts)] == parts
            if ok and len(rp) > best_len:
                best, best_len = p.backend, len(rp)
    if best is None:
        best = ing.spec.default_backend
    return best


def test_class_and_host(k8s, params):
    """Ingress shop uses IngressClass nginx and serves the required host"""
    ing = _ingress(k8s, params)
    cls = ing.spec.ingress_class_name or (ing.metadata.annotations or {}).get("kubernetes.io/ingress.class")
    assert cls == "nginx", f"Ingress shop uses IngressClass {show(cls)}; expected nginx"
    hosts = [r.host for r in ing.spec.rules or []]
    assert params["host"] in hosts, f"Ingress shop serves hosts {show(hosts)}; expected {params['host']}"


@pytest.mark.points(2)
def test_api_path(k8s, params):
    """/api and /api/... on the host go to Service api port 8080"""
    ing = _ingress(k8s, params)
    ns, host = params["namespace"], params["host"]
    for path in ("/api", "/api/v1/orders"):
        found = _svc_port(k8s, ns, _route(ing, host, path))
        assert found == ("api", 8080), f"{host}{path} goes to {show(found)}; expected Service api port 8080"


@pytest.mark.points(2)
def test_default_path(k8s, params):
    """Every other path on the host goes to Service web port 80"""
    ing = _ingress(k8s, params)
    ns, host = params["namespace"], params["host"]
    for path in ("/", "/index.html", "/apix", "/shop/cart"):
        found = _svc_port(k8s, ns, _route(ing, host, path))
        assert found == ("web", 80), f"{host}{path} goes to {show(found)}; expected Service web port 80"
