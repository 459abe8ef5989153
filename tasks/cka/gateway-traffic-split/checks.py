"""Checks for gateway-traffic-split: the rule of HTTPRoute checkout that takes
every path gives checkout-v2 the canary's share of the requests and
checkout-v1 the rest, and the route keeps its Gateway and hostname.

kwok runs no Gateway controller, so the checks route sample requests through
the HTTPRoute as the Gateway API specifies (the same evaluator as
gateway-httproute's checks) and compute each backend's share from the
weights of the rule that takes them: 80/20, 4/1 and 800/200 are the same
split. The route is read as untyped JSON: any field may be missing or of a
wrong type.
"""

import re
from fractions import Fraction

import pytest

from grader.checks import must_get, show

GROUP, VERSION = "gateway.networking.k8s.io", "v1"
PATHS = ("/", "/cart", "/pay/7")


def _list(value):
    return value if isinstance(value, list) else []


def _dict(value):
    return value if isinstance(value, dict) else {}


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


def shares(rule, ns):
    """``{"Service ns/name:port": share}`` of the backends of ``rule``, by weight."""
    if any(_dict(f).get("type") == "RequestRedirect" for f in _list(rule.get("filters"))):
        return {"a redirect": Fraction(1)}
    weights = {}
    for ref in _list(rule.get("backendRefs")):
        ref = _dict(ref)
        weight = ref.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            continue
        kind = ref.get("kind") or "Service"
        group = ref.get("group") or ""
        what = kind if group == "" else f"{kind}.{group}"
        key = f"{what} {ref.get('namespace') or ns}/{ref.get('name')}:{ref.get('port')}"
        weights[key] = weights.get(key, 0) + weight
    total = sum(weights.values())
    return {k: Fraction(w, total) for k, w in weights.items()} if total else {}


def _percent(share):
    return f"{float(share * 100):g}%"


def _route(k8s, params):
    return must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION,
                    namespace=params["namespace"], plural="httproutes", name="checkout",
                    what="HTTPRoute", expected="it changed in place")


def _split(k8s, params):
    """``[(path, shares)]`` for each sample request of the route's hostname."""
    ns, host = params["namespace"], params["host"]
    route = _route(k8s, params)
    found = []
    for path in PATHS:
        rule = route_request(route, host, path)
        found.append((path, shares(rule, ns) if rule is not None else {}))
    return found


def _shown(split):
    return show({k: _percent(v) for k, v in sorted(split.items())}) if split else "no backend"


@pytest.mark.points(2)
def test_canary_share(k8s, params):
    """checkout-v2, on its port, gets the canary's share of the requests for every path"""
    ns, canary = params["namespace"], int(params["canary"])
    want = f"Service {ns}/checkout-v2:{params['port']}"
    for path, split in _split(k8s, params):
        assert split.get(want) == Fraction(canary, 100), (
            f"HTTPRoute {ns}/checkout sends GET http://{params['host']}{path} to {_shown(split)}; "
            f"expected {canary}% to {want}")


def test_rest_to_stable(k8s, params):
    """checkout-v1 on port 80 gets the rest, through the same route, Gateway and hostname, and no other backend gets any"""
    ns, canary, host = params["namespace"], int(params["canary"]), params["host"]
    want = {f"Service {ns}/checkout-v1:80": Fraction(100 - canary, 100),
            f"Service {ns}/checkout-v2:{params['port']}": Fraction(canary, 100)}
    for path, split in _split(k8s, params):
        assert split == want, (f"HTTPRoute {ns}/checkout sends GET http://{host}{path} to "
                               f"{_shown(split)}; expected {_shown(want)}")
    spec = _dict(_route(k8s, params).get("spec"))
    refs = [_dict(r) for r in _list(spec.get("parentRefs"))]
    assert any(r.get("name") == "gateway" and (r.get("namespace") or ns) == ns
               and (r.get("kind") or "Gateway") == "Gateway" for r in refs), (
        f"HTTPRoute {ns}/checkout has parentRefs {show(refs)}; expected Gateway {ns}/gateway kept")
    names = _list(spec.get("hostnames"))
    assert names == [host], f"HTTPRoute {ns}/checkout has hostnames {show(names)}; expected [{host}] kept"
    routes = k8s.custom.list_namespaced_custom_object(GROUP, VERSION, ns, "httproutes")
    others = sorted(str(_dict(r.get("metadata")).get("name")) for r in _list(_dict(routes).get("items"))
                    if _dict(r.get("metadata")).get("name") != "checkout")
    assert not others, f"namespace {ns} has other HTTPRoutes {show(others)}; expected only checkout"
