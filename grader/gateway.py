"""Which backends an HTTPRoute sends a request to, as the Gateway API specifies it.

kwok runs no Gateway controller, so the checks of the Gateway API tasks route
sample requests through the candidate's HTTPRoute themselves. The rules, from
https://gateway-api.sigs.k8s.io/reference/spec/#httproutespec and
https://gateway-api.sigs.k8s.io/api-types/httproute/ :

* ``hostnames`` decide whether the route takes the request's host at all (none:
  every host; ``*.example.com`` takes any host below example.com, not
  example.com itself);
* a rule without ``matches`` matches every request (one ``/`` prefix match);
  a match ANDs its path, method, headers and query parameters;
* path ``PathPrefix`` (the default, value ``/``) matches by whole path
  segments, a trailing slash of the prefix ignored (``/api`` takes ``/api``,
  ``/api/`` and ``/api/x``, not ``/apiary``); ``Exact`` the path itself;
  ``RegularExpression`` the whole path (ranked like a prefix of its length);
* headers match by ``Exact`` (the default) or ``RegularExpression`` (whole value),
  names case-insensitively; query parameters likewise, names exactly;
* among the matches that take a request the most specific wins: an Exact
  path, then the longest prefix, then a method match, then the most header
  matches, then the most query parameter matches, then the earlier rule;
* a rule with a ``RequestRedirect`` filter sends nothing to a backend; each
  backendRef with a positive ``weight`` (default 1) gets weight/total of the
  requests, so 80/20, 4/1 and 800/200 are the same split.

The route is read as the untyped JSON of the custom objects API: any field may
be missing or of a wrong type, and then matches nothing.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["as_list", "as_dict", "route_request", "backends", "shares", "REDIRECT"]

REDIRECT = "a redirect"


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value, default=None):
    return value if isinstance(value, str) else default


def _path_score(path_match: dict, path: str):
    """None when ``path_match`` does not take ``path``; else how specific it is."""
    kind = path_match.get("type") or "PathPrefix"
    value = _text(path_match.get("value"), "/")
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


def _value_matches(match: dict, found) -> bool:
    """Whether a header or query parameter match takes the request's value ``found``."""
    want = _text(match.get("value"))
    if found is None or want is None:
        return False
    kind = match.get("type") or "Exact"
    if kind == "Exact":
        return found == want
    if kind == "RegularExpression":
        try:
            return re.fullmatch(want, found) is not None
        except re.error:
            return False
    return False


def _host_taken(names: list, host: str) -> bool:
    return not names or any(h == host or (h.startswith("*.") and host.endswith(h[1:])) for h in names)


def route_request(route, host: str, path: str, method: str = "GET", headers=None, query=None):
    """The rule (a dict) of ``route`` that a request ``method host path`` with
    ``headers`` and ``query`` parameters takes, by the Gateway API's
    precedence, or None when no rule takes it."""
    spec = as_dict(as_dict(route).get("spec"))
    headers = {str(k).lower(): v for k, v in (headers or {}).items()}
    query = dict(query or {})
    if not _host_taken([h for h in as_list(spec.get("hostnames")) if isinstance(h, str)], host):
        return None
    best, chosen = None, None
    for index, rule in enumerate(as_list(spec.get("rules"))):
        rule = as_dict(rule)
        for match in as_list(rule.get("matches")) or [{}]:
            match = as_dict(match)
            if match.get("method") not in (None, method):
                continue
            header_matches = [as_dict(h) for h in as_list(match.get("headers"))]
            if not all(_value_matches(h, headers.get(str(h.get("name")).lower())) for h in header_matches):
                continue
            query_matches = [as_dict(q) for q in as_list(match.get("queryParams"))]
            if not all(_value_matches(q, query.get(q.get("name"))) for q in query_matches):
                continue
            score = _path_score(as_dict(match.get("path")), path)
            if score is None:
                continue
            key = (*score, match.get("method") is not None, len(header_matches), len(query_matches), -index)
            if best is None or key > best:
                best, chosen = key, rule
    return chosen


def _weighted(rule, ns: str) -> list:
    """``[(backend, weight)]`` of ``rule``'s backendRefs that get traffic, in order;
    a backend is named ``Kind[.group] ns/name:port``; a redirect is ``REDIRECT``."""
    rule = as_dict(rule)
    if any(as_dict(f).get("type") == "RequestRedirect" for f in as_list(rule.get("filters"))):
        return [(REDIRECT, 1)]
    found = []
    for ref in as_list(rule.get("backendRefs")):
        ref = as_dict(ref)
        weight = ref.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            continue
        kind = ref.get("kind") or "Service"
        group = ref.get("group") or ""
        what = kind if group == "" else f"{kind}.{group}"
        found.append((f"{what} {ref.get('namespace') or ns}/{ref.get('name')}:{ref.get('port')}", weight))
    return found


def backends(rule, ns: str) -> list:
    """``Service ns/name:port`` of each backend of ``rule`` that gets traffic
    (one entry per backendRef), or ``[REDIRECT]``."""
    return [name for name, _ in _weighted(rule, ns)]


def shares(rule, ns: str) -> dict:
    """``{"Service ns/name:port": share}`` of the backends of ``rule``, by weight
    (backendRefs naming the same backend add up)."""
    weights: dict = {}
    for name, weight in _weighted(rule, ns):
        weights[name] = weights.get(name, 0) + weight
    total = sum(weights.values())
    return {k: Fraction(w, total) for k, w in weights.items()} if total else {}
