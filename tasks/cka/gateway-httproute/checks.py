"""Checks for gateway-httproute: HTTPRoute shop attaches to the Gateway of the
infra namespace, for exactly the two hostnames, and sends /api and below to
Service api, everything else to Service web.

kwok runs no Gateway controller, so the checks route sample requests through
the HTTPRoute the way the Gateway API specifies (path matches by whole path
segments, a trailing slash of a prefix ignored; the most specific match wins:
Exact, then the longest prefix, then method, header and query matches; then
the rules' order): every equivalent spelling (rules in any order, a missing
or an explicit `/` match, defaults spelled out, v1 or v1beta1) passes. The
route is read as untyped JSON: every field may be missing or of a wrong type.
"""

import re

import pytest

from grader.checks import must_get, show

GROUP, VERSION = "gateway.networking.k8s.io", "v1"
API_PATHS = ("/api", "/api/", "/api/orders/7")
OTHER_PATHS = ("/", "/index.html", "/apiary", "/shop/api")


def _list(value):
    return value if isinstance(value, list) else []


def _dict(value):
    return value if isinstance(value, dict) else {}


def _route(k8s, params):
    return must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION,
                    namespace=params["namespace"], plural="httproutes", name="shop", what="HTTPRoute")


def _path_score(path_match, path):
    """None when ``path_match`` does not take ``path``; else how specific it is."""
    kind = path_match.get("type") or "PathPrefix"
    value = path_match.get("value") if isinstance(path_match.get("value"), str) else "/"
    if kind == "Exact":
        return (2, len(value)) if path == value else None
    if kind == "PathPrefix":
        prefix = value.rstrip("/")
        taken = not prefix or path == prefix or path.startswith(prefix + "/")
        return (1, len(value)) if taken else None
    if kind == "RegularExpression":
        try:
            return (1, len(value)) if re.fullmatch(value, path) else None
        except re.error:
            return None
    return None


def route_request(route, host, path):
    """The rule of ``route`` a plain ``GET host path`` takes, by the Gateway
    API's precedence, or None; the route's hostnames decide whether it takes
    the host at all (no hostnames: every host)."""
    spec = _dict(route.get("spec"))
    names = [h for h in _list(spec.get("hostnames")) if isinstance(h, str)]
    if names and not any(h == host or (h.startswith("*.") and host.endswith(h[1:])) for h in names):
        return None
    best, chosen = None, None
    for index, rule in enumerate(_list(spec.get("rules"))):
        rule = _dict(rule)
        for match in _list(rule.get("matches")) or [{}]:
            match = _dict(match)
            if _list(match.get("headers")) or _list(match.get("queryParams")):
                continue
            if match.get("method") not in (None, "GET"):
                continue
            score = _path_score(_dict(match.get("path")), path)
            if score is None:
                continue
            key = (*score, match.get("method") is not None, -index)
            if best is None or key > best:
                best, chosen = key, rule
    return chosen


def backends(rule, ns):
    """``Service ns/name:port`` of each backend of ``rule`` that gets traffic."""
    if any(_dict(f).get("type") == "RequestRedirect" for f in _list(rule.get("filters"))):
        return ["a redirect"]
    found = []
    for ref in _list(rule.get("backendRefs")):
        ref = _dict(ref)
        weight = ref.get("weight", 1)
        if not isinstance(weight, int) or weight <= 0:
            continue
        kind = ref.get("kind") or "Service"
        group = ref.get("group") or ""
        what = kind if group == "" else f"{kind}.{group}"
        found.append(f"{what} {ref.get('namespace') or ns}/{ref.get('name')}:{ref.get('port')}")
    return found


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
