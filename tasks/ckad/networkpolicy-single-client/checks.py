"""Checks for networkpolicy-single-client.

The sandbox enforces no NetworkPolicy, so the checks evaluate every policy of
the namespace the way a conforming network plugin would: a connection from
one Pod to another on a port is allowed when the policies of the source let
it out (Egress) and those of the destination let it in (Ingress). Any
equivalent set of policies passes; a policy that also isolates the db Pods'
own outgoing traffic (Egress in policyTypes, no egress rule) does not. The
evaluation is grader.netpol's.
"""

import pytest

from grader.checks import live_pods, must_get, show
from grader.netpol import Endpoint, allowed as _allowed, endpoint_of


def _world(k8s, params):
    ns = params["namespace"]
    policies = k8s.networking.list_namespaced_network_policy(ns).items
    ns_obj = must_get(k8s.core.read_namespace, ns)
    pods = live_pods(k8s, ns)
    by_app = {}
    for p in pods:
        by_app.setdefault((p.metadata.labels or {}).get("app"), p)
    for app in ("db", "api", "web"):
        assert app in by_app, f"no running Pod labelled app={app} in {ns}; the Deployments must stay"

    def peer(app):
        return endpoint_of(by_app[app], ns_obj.metadata.labels)

    outsider = Endpoint("a Pod of another namespace", "proctor-elsewhere",
                        {"kubernetes.io/metadata.name": "proctor-elsewhere"}, {"app": "api", "stack": "shop"},
                        "10.255.254.1")

    def allowed(src, port, dst="db"):
        return _allowed(policies, src, peer(dst) if isinstance(dst, str) else dst, port)

    return ns, policies, peer, outsider, allowed


@pytest.mark.points(2)
def test_api_allowed(k8s, params):
    """NetworkPolicy db-allow-api exists and lets api reach db on the database port"""
    ns, policies, peer, _, allowed = _world(k8s, params)
    port = int(params["port"])
    names = [p.metadata.name for p in policies]
    assert "db-allow-api" in names, f"NetworkPolicies in {ns}: {show(names) if names else 'none'}; expected db-allow-api"
    assert allowed(peer("api"), port), f"api Pods cannot reach db on TCP {port}; expected allowed"


@pytest.mark.points(2)
def test_web_denied(k8s, params):
    """web Pods in the namespace cannot reach db"""
    ns, _, peer, _, allowed = _world(k8s, params)
    port = int(params["port"])
    assert not allowed(peer("web"), port), f"web Pods can reach db on TCP {port}; expected denied"


def test_other_namespace_denied(k8s, params):
    """Pods of other namespaces, even labelled app=api, cannot reach db"""
    ns, _, _, outsider, allowed = _world(k8s, params)
    port = int(params["port"])
    assert not allowed(outsider, port), (
        f"a Pod labelled app=api in another namespace can reach db on TCP {port}; expected denied")


def test_other_port_denied(k8s, params):
    """api cannot reach db on any port but the database port"""
    ns, _, peer, _, allowed = _world(k8s, params)
    port = int(params["port"])
    open_ports = [p for p in (22, 80, 443, 8080, port + 1) if allowed(peer("api"), p)]
    assert not open_ports, f"api Pods can reach db on TCP {open_ports}; expected only {port}"


def test_others_unaffected(k8s, params):
    """db is isolated, while api and web still accept traffic and db's own outgoing traffic is not blocked"""
    ns, _, peer, outsider, allowed = _world(k8s, params)
    port = int(params["port"])
    assert not allowed(peer("web"), port), f"db accepts traffic from web on TCP {port}; expected isolated"
    blocked = [f"{s} -> {d}:{p}" for s, d, p in (("web", "api", 8080), ("api", "web", 80),
                                                 ("db", "api", 8080), ("db", "web", 80))
               if not allowed(peer(s), p, dst=d)]
    if not allowed(peer("db"), 443, dst=outsider):
        blocked.append("db -> a Pod of another namespace:443")
    assert not blocked, f"connections {', '.join(blocked)} are blocked; expected them unaffected"
