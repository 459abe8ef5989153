"""Checks for gateway-httproute: HTTPRoute shop attaches to the Gateway of the
infra namespace, for exactly the two hostnames, and sends /api and below to
Service api, everything else to Service web.

kwok runs no Gateway controller, so the checks route sample requests through
the HTTPRoute the way the Gateway API specifies (grader.gateway: path matches
by whole path segments, a trailing slash of a prefix ignored; the most
specific match wins: Exact, then the longest prefix, then method, header and
query matches; then the rules' order): every equivalent spelling (rules in
any order, a missing or an explicit `/` match, defaults spelled out, v1 or
v1beta1) passes. The
route is read as untyped JSON: every field may be missing or of a wrong type.
"""

import pytest

from grader.checks import must_get, show
from grader.gateway import as_dict as _dict, as_list as _list, backends, route_request

GROUP, VERSION = "gateway.networking.k8s.io", "v1"
API_PATHS = ("/api", "/api/", "/api/orders/7")
OTHER_PATHS = ("/", "/index.html", "/apiary", "/shop/api")


def _route(k8s, params):
    return must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION,
                    namespace=params["namespace"], plural="httproutes", name="shop", what="HTTPRoute")


def _routed(route, params, paths, want):
    ns, host = params["namespace"], params["host"]
    for h in (host, f"www.{host}"):
        for path in paths:
            rule = route_request(route, h, path)
            found = backends(rule, ns) if rule is not None else None
            assert found == [want], (
                f"HTTPRoute {ns}/shop sends GET http://{h}{path} to "
                f"{show(found) if found else 'no backend (no rule takes it)'}; expected {want}")


def test_route_attached(k8s, params):
    """HTTPRoute shop is attached to the Gateway of namespace infra (its http listener)"""
    ns, infra, gw = params["namespace"], params["infra"], params["gateway"]
    route = _route(k8s, params)
    refs = [_dict(r) for r in _list(_dict(route.get("spec")).get("parentRefs"))]

    def names_gateway(ref):
        return ((ref.get("group") or GROUP) == GROUP and (ref.get("kind") or "Gateway") == "Gateway"
                and ref.get("name") == gw and (ref.get("namespace") or ns) == infra
                and ref.get("sectionName") in (None, "http") and ref.get("port") in (None, 80))
    shown = [f"{r.get('kind') or 'Gateway'} {r.get('namespace') or ns}/{r.get('name')}"
             + (f" section {r.get('sectionName')}" if r.get("sectionName") else "")
             + (f" port {r.get('port')}" if r.get("port") else "") for r in refs]
    assert any(names_gateway(r) for r in refs), (
        f"HTTPRoute {ns}/shop has parentRefs {show(shown) if shown else 'none'}; expected "
        f"Gateway {infra}/{gw} (listener http, port 80)")
    must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION, namespace=infra,
             plural="gateways", name=gw, what="Gateway", expected="it kept")


def test_hostnames(k8s, params):
    """HTTPRoute shop serves exactly the two hostnames of the shop"""
    ns, host = params["namespace"], params["host"]
    found = _list(_dict(_route(k8s, params).get("spec")).get("hostnames"))
    want = {host, f"www.{host}"}
    assert len(found) == len(set(map(str, found))) and set(map(str, found)) == want, (
        f"HTTPRoute {ns}/shop has hostnames {show(found) if found else 'none (every host)'}; "
        f"expected exactly {sorted(want)}")


@pytest.mark.points(2)
def test_api_paths_to_api(k8s, params):
    """Requests for /api and every path below it go to Service api on its port"""
    want = f"Service {params['namespace']}/api:{params['port']}"
    _routed(_route(k8s, params), params, API_PATHS, want)


@pytest.mark.points(2)
def test_other_paths_to_web(k8s, params):
    """Every other request (/, /index.html, /apiary …) goes to Service web on port 80"""
    want = f"Service {params['namespace']}/web:80"
    _routed(_route(k8s, params), params, OTHER_PATHS, want)
