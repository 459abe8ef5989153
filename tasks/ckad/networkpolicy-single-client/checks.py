"""Checks for networkpolicy-single-client.

The sandbox enforces no NetworkPolicy, so the checks evaluate every policy of
the namespace the way a conforming network plugin would: which connections
from which Pods to which Pods and ports are allowed. Any equivalent set of
policies passes.
"""

import ipaddress

import pytest

from grader.checks import live_pods, must_get, selects, show


class Peer:
    def __init__(self, labels, ns, ns_labels, ip):
        self.labels, self.ns, self.ns_labels, self.ip = labels, ns, ns_labels, ip


def _peer_ok(peer_rule, policy_ns, src):
    if peer_rule.ip_block is not None:
        if not src.ip:
            return False
        ip = ipaddress.ip_address(src.ip)
        if ip not in ipaddress.ip_network(peer_rule.ip_block.cidr, strict=False):
            return False
        return not any(ip in ipaddress.ip_network(c, strict=False)
                       for c in peer_rule.ip_block._except or [])
    if peer_rule.namespace_selector is not None:
        if not selects(peer_rule.namespace_selector, src.ns_labels):
            return False
    elif src.ns != policy_ns:
        return False
    if peer_rule.pod_selector is not None:
        return selects(peer_rule.pod_selector, src.labels)
    return True


def _port_ok(rule_ports, port, container_ports):
    if not rule_ports:
        return True
    for p in rule_ports:
        if (p.protocol or "TCP") != "TCP":
            continue
        if p.port is None:
            return True
        want = p.port
        if isinstance(want, str) and not want.isdigit():
            want = container_ports.get(want)
        if want is None:
            continue
        end = p.end_port or int(want)
        if int(want) <= port <= end:
            return True
    return False


def _allowed(policies, dst_labels, dst_ports, ns, src, port):
    """Whether src may open a TCP connection to a Pod with dst_labels on port."""
    selecting = [p for p in policies
                 if selects(p.spec.pod_selector, dst_labels)
                 and "Ingress" in (p.spec.policy_types or ["Ingress"])]
    if not selecting:
        return True
    for pol in selecting:
        for rule in pol.spec.ingress or []:
            peers_ok = not rule._from or any(_peer_ok(pr, ns, src) for pr in rule._from)
            if peers_ok and _port_ok(rule.ports, port, dst_ports):
                return True
    return False


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
        p = by_app[app]
        return Peer(p.metadata.labels, ns, ns_obj.metadata.labels, p.status.pod_ip)

    outsider = Peer({"app": "api", "stack": "shop"}, "proctor-elsewhere",
                    {"kubernetes.io/metadata.name": "proctor-elsewhere"}, "10.255.254.1")

    def allowed(src, port, dst="db"):
        p = by_app[dst]
        ports = {cp.name: cp.container_port for c in p.spec.containers for cp in c.ports or [] if cp.name}
        return _allowed(policies, p.metadata.labels, ports, ns, src, port)

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
    """api and web still accept traffic from the other Pods, and db is isolated"""
    ns, _, peer, _, allowed = _world(k8s, params)
    port = int(params["port"])
    assert not allowed(peer("web"), port), f"db accepts traffic from web on TCP {port}; expected isolated"
    blocked = [f"{s} -> {d}:{p}" for s, d, p in (("web", "api", 8080), ("api", "web", 80))
               if not allowed(peer(s), p, dst=d)]
    assert not blocked, f"connections {', '.join(blocked)} are blocked; expected them unaffected"
