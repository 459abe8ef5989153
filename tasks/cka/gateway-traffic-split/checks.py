"""Checks for gateway-traffic-split: the rule of HTTPRoute checkout that takes
every path gives checkout-v2 the canary's share of the requests and
checkout-v1 the rest, and the route keeps its Gateway and hostname.

kwok runs no Gateway controller, so the checks route sample requests through
the HTTPRoute as the Gateway API specifies (grader.gateway, as
gateway-httproute's checks do) and compute each backend's share from the
weights of the rule that takes them: 80/20, 4/1 and 800/200 are the same
split. The route is read as untyped JSON: any field may be missing or of a
wrong type.
"""

from fractions import Fraction

import pytest

from grader.checks import must_get, show
from grader.gateway import as_dict as _dict, as_list as _list, route_request, shares

GROUP, VERSION = "gateway.networking.k8s.io", "v1"
PATHS = ("/", "/cart", "/pay/7")


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
