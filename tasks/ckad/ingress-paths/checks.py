"""Checks for ingress-paths: routing of Ingress shop, as the Ingress API defines it (grader.ingress)."""

import pytest

from grader.checks import must_get, show
from grader.ingress import route, target


def _ingress(k8s, params):
    return must_get(k8s.networking.read_namespaced_ingress, "shop", params["namespace"])


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
        found = target(k8s, ns, route(ing, host, path))
        assert found == ("api", 8080), f"{host}{path} goes to {show(found)}; expected Service api port 8080"


@pytest.mark.points(2)
def test_default_path(k8s, params):
    """Every other path on the host goes to Service web port 80"""
    ing = _ingress(k8s, params)
    ns, host = params["namespace"], params["host"]
    for path in ("/", "/index.html", "/apix", "/shop/cart"):
        found = target(k8s, ns, route(ing, host, path))
        assert found == ("web", 80), f"{host}{path} goes to {show(found)}; expected Service web port 80"
