"""Checks for networkpolicy-single-client.

The sandbox enforces no NetworkPolicy, so the checks evaluate every policy of
the namespace the way a conforming network plugin would: a connection from
one Pod to another on a port is allowed when the policies of the source let
it out (Egress) and those of the destination let it in (Ingress). Any
equivalent set of policies passes; a policy that also isolates the db Pods'
own outgoing traffic (Egress in policyTypes, no egress rule) does not.
"""

import ipaddress

import pytest

from grader.checks import live_pods, must_get, selects, show


class Peer:
    """One end of a connection: a Pod's labels, namespace (and its labels), IP
    and named container ports."""

    def __init__(self, labels, ns, ns_labels, ip, ports=None):
        self.labels, self.ns, self.ns_labels, self.ip = labels or {}, ns, ns_labels or {}, ip
        self.ports = ports or {}


def _peer_ok(peer_rule, policy_ns, other):
    """Whether one peer of a rule (from/to entry) matches the Pod at the other end."""
    if peer_rule.ip_block is not None:
        if not other.ip:
            return False
        try:
            ip = ipaddress.ip_address(other.ip)
            if ip not in ipaddress.ip_network(peer_rule.ip_block.cidr or "", strict=False):
                return False
            return not any(ip in ipaddress.ip_network(c, strict=False)
                           for c in peer_rule.ip_block._except or [])
        except (TypeError, ValueError):  # not an address or a CIDR: matches nothing
            return False
    if peer_rule.namespace_selector is not None:
        if not selects(peer_rule.namespace_selector, other.ns_labels):
            return False
    elif other.ns != policy_ns:
        return False
    if peer_rule.pod_selector is not None:
        return selects(peer_rule.pod_selector, other.labels)
    return True


def _port_ok(rule_ports, port, container_ports):
    """Whether a rule's ports take in TCP ``port`` of the destination Pod."""
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


def _types(spec):
    """policyTypes as the API defaults them: Ingress, plus Egress when there are egress rules."""
    if spec.policy_types:
        return spec.policy_types
    return ["Ingress", "Egress"] if spec.egress else ["Ingress"]


def _admits(policies, pod, other, port, direction):
    """Whether the policies that select ``pod`` for ``direction`` let the
    connection with ``other`` through: Ingress, other connects to pod;
    Egress, pod connects to other (on ``port``, TCP)."""
    selecting = [p for p in policies if p.spec is not None
                 and selects(p.spec.pod_selector, pod.labels) and direction in _types(p.spec)]
    if not selecting:
        return True
    dst_ports = pod.ports if direction == "Ingress" else other.ports
    for pol in selecting:
        for rule in (pol.spec.ingress if direction == "Ingress" else pol.spec.egress) or []:
            peers = rule._from if direction == "Ingress" else rule.to
            if ((not peers or any(_peer_ok(pr, pol.metadata.namespace, other) for pr in peers))
                    and _port_ok(rule.ports, port, dst_ports)):
                return True
    return False


def _allowed(policies, ns, src, dst, port):
    """Whether src may open a TCP connection to dst on port (only ``ns`` has policies)."""
    return ((src.ns != ns or _admits(policies, src, dst, port, "Egress"))
            and (dst.ns != ns or _admits(policies, dst, src, port, "Ingress")))


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
        ports = {cp.name: cp.container_port for c in p.spec.containers for cp in c.ports or [] if cp.name}
        return Peer(p.metadata.labels, ns, ns_obj.metadata.labels, p.status.pod_ip if p.status else None,
                    ports)

    outsider = Peer({"app": "api", "stack": "shop"}, "proctor-elsewhere",
                    {"kubernetes.io/metadata.name": "proctor-elsewhere"}, "10.255.254.1")

    def allowed(src, port, dst="db"):
        return _allowed(policies, ns, src, peer(dst) if isinstance(dst, str) else dst, port)

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
