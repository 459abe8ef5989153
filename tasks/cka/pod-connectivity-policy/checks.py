"""Checks for pod-connectivity-policy: the Pods of namespace a reach the Pods
of namespace b on one TCP port, and nothing else opens.

No sandbox enforces NetworkPolicies, so the checks evaluate the policies of
both namespaces the way a conforming network plugin would (the evaluator of
networkpolicy-single-client, with protocols and both ends' namespaces): a
connection passes when the policies selecting its source let it out (Egress)
and those selecting its destination let it in (Ingress). Any equivalent set
of policies passes: named or numbered ports, a port range of one, labels
of the candidate's own on the namespaces, pod selectors that take every Pod.
"""

import ipaddress

import pytest

from grader.checks import live_pods, must_get, selects, show


class Peer:
    """One end of a connection: a Pod's labels, namespace (and its labels), IP
    and named container ports."""

    def __init__(self, name, labels, ns, ns_labels, ip, ports=None):
        self.name, self.labels, self.ns, self.ip = name, labels or {}, ns, ip
        self.ns_labels, self.ports = ns_labels or {}, ports or {}


def _peer_ok(peer_rule, policy_ns, other):
    """Whether one peer of a rule (a from/to entry) matches the Pod at the other end."""
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


def _port_ok(rule_ports, port, proto, container_ports):
    """Whether a rule's ports take in ``port``/``proto`` of the destination Pod."""
    if not rule_ports:
        return True
    for p in rule_ports:
        if (p.protocol or "TCP") != proto:
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


def _admits(policies, pod, other, port, proto, direction):
    """Whether the policies of ``pod``'s namespace that select it for
    ``direction`` let the connection with ``other`` through: Ingress, other
    connects to pod; Egress, pod connects to other."""
    selecting = [p for p in policies.get(pod.ns, []) if p.spec is not None
                 and selects(p.spec.pod_selector, pod.labels) and direction in _types(p.spec)]
    if not selecting:
        return True
    dst_ports = pod.ports if direction == "Ingress" else other.ports
    for pol in selecting:
        for rule in (pol.spec.ingress if direction == "Ingress" else pol.spec.egress) or []:
            peers = rule._from if direction == "Ingress" else rule.to
            if ((not peers or any(_peer_ok(pr, pol.metadata.namespace, other) for pr in peers))
                    and _port_ok(rule.ports, port, proto, dst_ports)):
                return True
    return False


class World:
    """The Pods of both namespaces, two outsiders, and every policy of a and b."""

    def __init__(self, k8s, params):
        self.a, self.b, self.port = params["a"], params["b"], int(params["port"])
        self.policies = {ns: k8s.networking.list_namespaced_network_policy(ns).items
                         for ns in (self.a, self.b)}
        self.web = self._pods(k8s, self.a, "web")
        self.api = self._pods(k8s, self.b, "api")
        self.outsider = Peer("a Pod labelled app=web in another namespace", {"app": "web"},
                             "proctor-elsewhere", {"kubernetes.io/metadata.name": "proctor-elsewhere"},
                             "10.255.254.1", {"http": self.port})
        self.dns = Peer("CoreDNS", {"k8s-app": "kube-dns"}, "kube-system",
                        {"kubernetes.io/metadata.name": "kube-system"}, "10.255.254.2", {"dns": 53})

    @staticmethod
    def _pods(k8s, ns, app):
        ns_obj = must_get(k8s.core.read_namespace, ns)
        pods = live_pods(k8s, ns, {"app": app})
        assert pods, f"no Pod labelled app={app} in namespace {ns}; the Deployment {app} must stay"
        return [Peer(f"Pod {ns}/{p.metadata.name}", p.metadata.labels, ns, ns_obj.metadata.labels,
                     p.status.pod_ip if p.status else None,
                     {cp.name: cp.container_port for c in p.spec.containers for cp in c.ports or []
                      if cp.name}) for p in pods]

    def allowed(self, src, dst, port, proto="TCP"):
        return (_admits(self.policies, src, dst, port, proto, "Egress")
                and _admits(self.policies, dst, src, port, proto, "Ingress"))

    def must_open(self):
        """Fail unless every Pod of a reaches every Pod of b on the port."""
        blocked = [f"{s.name} -> {d.name}" for s in self.web for d in self.api
                   if not self.allowed(s, d, self.port)]
        assert not blocked, (f"connections on TCP {self.port} from {self.a} to {self.b} are blocked: "
                             f"{show(blocked)}; expected every Pod of {self.a} to reach every Pod of "
                             f"{self.b} on that port")


@pytest.mark.points(2)
def test_a_reaches_b_on_the_port(k8s, params):
    """Every Pod of namespace a can open TCP connections to every Pod of namespace b on the port"""
    World(k8s, params).must_open()


def test_no_other_port(k8s, params):
    """The Pods of a reach those of b on that port only"""
    w = World(k8s, params)
    w.must_open()
    others = [(p, "TCP") for p in (22, 80, 443, 9113, w.port + 1)] + [(w.port, "UDP")]
    open_ports = [f"{p}/{proto}" for p, proto in others if w.allowed(w.web[0], w.api[0], p, proto)]
    assert not open_ports, (f"Pods of {w.a} can also reach Pods of {w.b} on {show(open_ports)}; "
                            f"expected only TCP {w.port}")


def test_no_other_source(k8s, params):
    """Pods of other namespaces, and of b itself, still cannot reach the Pods of b"""
    w = World(k8s, params)
    w.must_open()
    let_in = [s.name for s in (w.outsider, w.api[0]) if w.allowed(s, w.api[-1], w.port)]
    assert not let_in, (f"{show(let_in)} can reach Pods of {w.b} on TCP {w.port}; expected only "
                        f"Pods of {w.a}")


def test_no_other_destination(k8s, params):
    """The Pods of a still reach nothing else but DNS"""
    w = World(k8s, params)
    w.must_open()
    let_out = [f"{d.name} on {p}" for d, p in ((w.outsider, w.port), (w.outsider, 443))
               if w.allowed(w.web[0], d, p)]
    assert not let_out, (f"Pods of {w.a} can reach {show(let_out)}; expected nothing but {w.b} "
                         f"on {w.port} and DNS")
    assert w.allowed(w.web[0], w.dns, 53, "UDP"), (
        f"Pods of {w.a} can no longer reach DNS (UDP 53 in kube-system); expected it still allowed")


def test_default_deny_kept(k8s, params):
    """The two default-deny policies are still there, unchanged, beside policies of your own"""
    w = World(k8s, params)
    w.must_open()
    for ns, name in ((w.b, "default-deny-ingress"), (w.a, "default-deny-egress")):
        pol = must_get(k8s.networking.read_namespaced_network_policy, name, ns, expected="it kept")
        assert pol.metadata.generation == 1, (
            f"NetworkPolicy {ns}/{name} was changed (generation {pol.metadata.generation}); "
            "expected it unchanged: add policies of your own")
