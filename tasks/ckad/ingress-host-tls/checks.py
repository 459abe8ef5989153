"""Checks for ingress-host-tls: Ingress front names its IngressClass in the
field, routes each host (every path) to its Service port, and serves both
hosts over TLS from the given Secret.

kwok runs no Ingress controller, so the checks send sample requests through
the Ingress the way the Ingress API defines it: the rules of the request's
host (an exact host before a `*.` wildcard, a rule without a host last), the
longest matching path (Exact before Prefix of the same length; Prefix and
ImplementationSpecific by whole path elements), else `spec.defaultBackend`.
A backend port by name is resolved through the Service, so `http` and `80`
are the same port. Every field of the Ingress may be missing.
"""

import pytest

from grader.checks import must_get, show
from grader.ingress import host_matches, route, target, target_text

SHOP_PATHS = ("/", "/index.html", "/cart/items")
API_PATHS = ("/", "/v1/orders", "/healthz")


def _ingress(k8s, params):
    return must_get(k8s.networking.read_namespaced_ingress, "front", params["namespace"])


def _routes_to(k8s, params, host, paths, want, label):
    ns = params["namespace"]
    ing = _ingress(k8s, params)
    for path in paths:
        found = target(k8s, ns, route(ing, host, path))
        assert found == want, (f"Ingress {ns}/front sends https://{host}{path} to {target_text(found)}; "
                               f"expected Service {want[0]} port {label}")


def test_ingress_class(k8s, params):
    """Ingress front names IngressClass in spec.ingressClassName (not the deprecated annotation)"""
    ns, want = params["namespace"], params["ingress_class"]
    ing = _ingress(k8s, params)
    found = ing.spec.ingress_class_name if ing.spec else None
    note = ""
    legacy = (ing.metadata.annotations or {}).get("kubernetes.io/ingress.class")
    if legacy is not None:
        note = f" (the deprecated annotation kubernetes.io/ingress.class is {show(legacy)})"
    assert found == want, f"Ingress {ns}/front has spec.ingressClassName {show(found)}{note}; expected {want}"


@pytest.mark.points(2)
def test_shop_host_to_web(k8s, params):
    """Every path of the shop host goes to Service web on its port http (80)"""
    _routes_to(k8s, params, params["shop_host"], SHOP_PATHS, ("web", 80), "http (80)")


@pytest.mark.points(2)
def test_api_host_to_api(k8s, params):
    """Every path of the API host goes to Service api on its port rest"""
    port = int(params["api_port"])
    _routes_to(k8s, params, params["api_host"], API_PATHS, ("api", port), f"{port} (rest)")


@pytest.mark.points(2)
def test_tls_both_hosts(k8s, params):
    """Both hosts are served over TLS with the certificate of the given Secret"""
    ns, secret = params["namespace"], params["secret"]
    ing = _ingress(k8s, params)
    entries = [t for t in ((ing.spec.tls if ing.spec else None) or []) if t is not None]
    for host in (params["shop_host"], params["api_host"]):
        names = [t.secret_name for t in entries if any(host_matches(h, host) for h in t.hosts or [])]
        assert names, (f"Ingress {ns}/front has no tls entry for host {host} (tls hosts "
                       f"{show([h for t in entries for h in t.hosts or []])}); "
                       f"expected {host} with Secret {secret}")
        assert all(n == secret for n in names), (
            f"Ingress {ns}/front serves {host} over TLS with Secret "
            f"{show(names[0]) if len(names) == 1 else show(names)}; expected {secret}")
    found = must_get(k8s.core.read_namespaced_secret, secret, ns,
                     expected="the TLS Secret setup created, kept")
    assert found.type == "kubernetes.io/tls", (
        f"Secret {ns}/{secret} has type {show(found.type)}; expected kubernetes.io/tls")
