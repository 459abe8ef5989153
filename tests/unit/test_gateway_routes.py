"""grader.gateway without a cluster, on HTTPRoutes as the custom objects API returns them (plain JSON).

Each case is one rule of the Gateway API's HTTPRoute matching
(https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from grader.gateway import REDIRECT, backends, route_request, shares

NS = "shop"


def to(name, port=80, weight=None, **more):
    ref = {"name": name, "port": port, **more}
    if weight is not None:
        ref["weight"] = weight
    return ref


def rule(*refs, matches=None, filters=None):
    found = {"backendRefs": list(refs)}
    if matches is not None:
        found["matches"] = matches
    if filters is not None:
        found["filters"] = filters
    return found


def prefix(value):
    return {"path": {"type": "PathPrefix", "value": value}}


def exact(value):
    return {"path": {"type": "Exact", "value": value}}


def route(*rules, hostnames=None):
    spec = {"rules": list(rules)}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    return {"spec": spec}


def sent(r, path, host="shop.example.com", **request):
    chosen = route_request(r, host, path, **request)
    return backends(chosen, NS) if chosen is not None else None


def test_rule_without_matches_takes_everything():
    r = route(rule(to("web")))
    assert [sent(r, p) for p in ("/", "/x/y")] == [["Service shop/web:80"]] * 2


def test_path_prefix_matches_whole_segments():
    r = route(rule(to("api"), matches=[prefix("/api")]))
    assert sent(r, "/api") == sent(r, "/api/") == sent(r, "/api/orders/7") == ["Service shop/api:80"]
    assert sent(r, "/apiary") is None and sent(r, "/shop/api") is None and sent(r, "/") is None


def test_trailing_slash_of_a_prefix_is_ignored():
    r = route(rule(to("api"), matches=[prefix("/api/")]))
    assert sent(r, "/api") == ["Service shop/api:80"] and sent(r, "/apix") is None


def test_default_path_match_is_prefix_slash():
    r = route(rule(to("web"), matches=[{}]), rule(to("web2"), matches=[{"path": {"value": "/a"}}]))
    assert sent(r, "/b") == ["Service shop/web:80"] and sent(r, "/a/b") == ["Service shop/web2:80"]


def test_longest_prefix_wins_whatever_the_rule_order():
    for rules in ((rule(to("web"), matches=[prefix("/")]), rule(to("api"), matches=[prefix("/api")])),
                  (rule(to("api"), matches=[prefix("/api")]), rule(to("web"), matches=[prefix("/")]))):
        r = route(*rules)
        assert sent(r, "/api/x") == ["Service shop/api:80"] and sent(r, "/index.html") == ["Service shop/web:80"]


def test_exact_beats_a_longer_prefix_and_matches_only_the_path():
    r = route(rule(to("api"), matches=[prefix("/api/v1")]), rule(to("special"), matches=[exact("/api/v1")]))
    assert sent(r, "/api/v1") == ["Service shop/special:80"]
    assert sent(r, "/api/v1/") == ["Service shop/api:80"] and sent(r, "/api/v1/x") == ["Service shop/api:80"]


def test_regular_expression_path_is_a_full_match():
    r = route(rule(to("num"), matches=[{"path": {"type": "RegularExpression", "value": "/[0-9]+"}}]))
    assert sent(r, "/42") == ["Service shop/num:80"] and sent(r, "/42x") is None
    assert sent(route(rule(to("x"), matches=[{"path": {"type": "RegularExpression", "value": "("}}])), "/") is None


def test_method_match_and_its_precedence():
    r = route(rule(to("read"), matches=[prefix("/")]), rule(to("write"), matches=[{**prefix("/"), "method": "POST"}]))
    assert sent(r, "/x") == ["Service shop/read:80"]
    assert sent(r, "/x", method="POST") == ["Service shop/write:80"]


def test_header_matches_and_their_precedence():
    canary = {**prefix("/"), "headers": [{"name": "X-Canary", "value": "yes"}]}
    r = route(rule(to("stable"), matches=[prefix("/")]), rule(to("canary"), matches=[canary]))
    assert sent(r, "/") == ["Service shop/stable:80"], "a plain request has no header"
    assert sent(r, "/", headers={"x-canary": "yes"}) == ["Service shop/canary:80"], "names case-insensitive"
    assert sent(r, "/", headers={"X-Canary": "no"}) == ["Service shop/stable:80"]
    regex = {"headers": [{"type": "RegularExpression", "name": "user", "value": "a.*"}]}
    r = route(rule(to("a"), matches=[regex]))
    assert sent(r, "/", headers={"user": "alice"}) == ["Service shop/a:80"]
    assert sent(r, "/", headers={"user": "bob"}) is None


def test_more_header_matches_win_then_query_params():
    one = {"headers": [{"name": "a", "value": "1"}]}
    two = {"headers": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}
    query = {"headers": [{"name": "a", "value": "1"}], "queryParams": [{"name": "q", "value": "x"}]}
    r = route(rule(to("one"), matches=[one]), rule(to("two"), matches=[two]), rule(to("query"), matches=[query]))
    assert sent(r, "/", headers={"a": "1", "b": "2"}, query={"q": "x"}) == ["Service shop/two:80"]
    assert sent(r, "/", headers={"a": "1"}, query={"q": "x"}) == ["Service shop/query:80"]
    assert sent(r, "/", headers={"a": "1"}) == ["Service shop/one:80"]


def test_path_precedes_headers():
    r = route(rule(to("hdr"), matches=[{**prefix("/"), "headers": [{"name": "a", "value": "1"}]}]),
              rule(to("api"), matches=[prefix("/api")]))
    assert sent(r, "/api", headers={"a": "1"}) == ["Service shop/api:80"]


def test_earlier_rule_wins_a_tie():
    r = route(rule(to("first"), matches=[prefix("/a")]), rule(to("second"), matches=[prefix("/a")]))
    assert sent(r, "/a") == ["Service shop/first:80"]


def test_hostnames():
    r = route(rule(to("web")), hostnames=["shop.example.com", "*.example.org"])
    assert sent(r, "/") == ["Service shop/web:80"]
    assert sent(r, "/", host="www.example.org") == sent(r, "/", host="a.b.example.org") == ["Service shop/web:80"]
    assert sent(r, "/", host="example.org") is None and sent(r, "/", host="www.shop.example.com") is None
    assert sent(route(rule(to("web"))), "/", host="anything") == ["Service shop/web:80"]


def test_backend_names_and_redirects():
    r = rule(to("api", 8080), to("ext", 443, namespace="other", kind="Backend", group="x.io"), to("off", weight=0))
    assert backends(r, NS) == ["Service shop/api:8080", "Backend.x.io other/ext:443"]
    assert backends(rule(to("web"), filters=[{"type": "RequestRedirect"}]), NS) == [REDIRECT]
    assert shares(rule(to("web"), filters=[{"type": "RequestRedirect"}]), NS) == {REDIRECT: Fraction(1)}


@pytest.mark.parametrize("weights", [(80, 20), (4, 1), (800, 200)])
def test_weights_are_ratios(weights):
    r = rule(to("v1", weight=weights[0]), to("v2", 8080, weight=weights[1]))
    assert shares(r, NS) == {"Service shop/v1:80": Fraction(4, 5), "Service shop/v2:8080": Fraction(1, 5)}


def test_weights_default_to_one_and_same_backend_adds_up():
    assert shares(rule(to("v1"), to("v2")), NS) == {"Service shop/v1:80": Fraction(1, 2),
                                                    "Service shop/v2:80": Fraction(1, 2)}
    assert shares(rule(to("v1", weight=1), to("v1", weight=1), to("v2", weight=2)), NS) == {
        "Service shop/v1:80": Fraction(1, 2), "Service shop/v2:80": Fraction(1, 2)}
    assert shares(rule(to("v1", weight=0)), NS) == {} and shares(rule(), NS) == {}


def test_hostile_json_is_tolerated():
    for r in (None, [], {"spec": None}, {"spec": {"rules": "x"}}, {"spec": {"rules": [None, 7]}},
              {"spec": {"hostnames": "x", "rules": [{"matches": "x", "backendRefs": [None, "x", {"weight": "9"}]}]}}):
        chosen = route_request(r, "h", "/")
        assert chosen is None or backends(chosen, NS) in ([], ["Service shop/None:None"] * 2)
    bad = route(rule(to("a"), matches=[{"path": {"type": "Exact", "value": 7}}, {"path": "x"},
                                       {"headers": [{"name": "a", "value": 7}]}, {"method": 3}]))
    assert sent(bad, "/") == ["Service shop/a:80"], "a non-string value reads as the default /"
    assert sent(bad, "/x") == ["Service shop/a:80"], "path 'x' is not a map: the default prefix /"
    assert shares(rule(to("a", weight=True), to("b", weight=-1), to("c", weight=1.5)), NS) == {}
    assert backends(None, NS) == [] and shares("x", NS) == {}
