"""Checks for networkpolicy-namespace-isolation.

The sandbox enforces no NetworkPolicy, so the checks work out what a
conforming network plugin would let through: a TCP connection from one end to
another is allowed when the policies that select the source for Egress let it
out and those that select the destination for Ingress let it in. Only the
policies of the task's namespace count (the statement puts them there). The
ends are the task's real Pods, plus Pods that do not exist yet (a new Pod of
the namespace, a Pod of a namespace labelled later), since the statement
covers them too. Any set of policies with that effect passes.

The evaluation is written for this task; the NetworkPolicy tasks of the bank
each carry one (networkpolicy-single-client, networkpolicy-egress-dns): it
belongs in one shared helper of grader/.
"""

import ipaddress

import pytest

from grader.checks import live_pods, must_get, selects, show

OTHER_PORTS = (22, 80, 443, 5432)


class End:
    """One end of a connection: a Pod (its namespace and labels, the labels of
    that namespace, its IP, its named ports) or, with ``ns`` None, an address
    outside the cluster."""

    def __init__(self, what, ns, ns_labels, labels, ip, named=None):
        self.what, self.ns, self.ns_labels, self.labels = what, ns, ns_labels or {}, labels or {}
        self.ip, self.named = ip, named or {}


def _policy_types(spec):
    """policyTypes as the API defaults them: Ingress, plus Egress when there are egress rules."""
    return spec.policy_types or (["Ingress", "Egress"] if spec.egress else ["Ingress"])


def _peer_matches(peer, policy_ns, end):
    """Whether one from/to entry of a rule of a policy in ``policy_ns`` matches ``end``."""
    if peer.ip_block is not None:
        try:
            ip = ipaddress.ip_address(end.ip or "")
            if ip not in ipaddress.ip_network(peer.ip_block.cidr or "", strict=False):
                return False
            return not any(ip in ipaddress.ip_network(c, strict=False) for c in peer.ip_block._except or [])
        except (TypeError, ValueError):  # not an address or a CIDR: matches nothing
            return False
    if end.ns is None:  # outside the cluster: only an ipBlock matches
        return False
    if peer.namespace_selector is not None:
        in_scope = selects(peer.namespace_selector, end.ns_labels)
    else:
        in_scope = end.ns == policy_ns
    return in_scope and (peer.pod_selector is None or selects(peer.pod_selector, end.labels))


def _port_matches(ports, port, named):
    """Whether a rule's ports take TCP ``port`` of a destination with named ports ``named``."""
    if not ports:
        return True
    for p in ports:
        if (p.protocol or "TCP") != "TCP":
            continue
        if p.port is None:
            return True
        first = p.port
        if isinstance(first, str):
            first = int(first) if first.isdigit() else named.get(first)
        if isinstance(first, int) and first <= port <= (p.end_port or first):
            return True
    return False


def _lets_through(policies, pod, other, port, direction):
    """Whether the policies selecting ``pod`` for ``direction`` pass the connection
    with ``other`` (Ingress: other connects to pod; Egress: pod connects to other)."""
    applying = [p for p in policies if p.spec is not None and selects(p.spec.pod_selector, pod.labels)
                and direction in _policy_types(p.spec)]
    if not applying:
        return True
    named = (pod if direction == "Ingress" else other).named
    for pol in applying:
        for rule in (pol.spec.ingress if direction == "Ingress" else pol.spec.egress) or []:
            peers = rule._from if direction == "Ingress" else rule.to
            if ((not peers or any(_peer_matches(x, pol.metadata.namespace, other) for x in peers))
                    and _port_matches(rule.ports, port, named)):
                return True
    return False


class World:
    """The task's Pods and namespaces, and the policies of its namespace."""

    def __init__(self, k8s, params):
        self.ns, self.team, self.port = params["namespace"], params["team"], int(params["port"])
        self.policies = k8s.networking.list_namespaced_network_policy(self.ns).items
        want = {self.ns: None, params["clients"]: self.team, params["others"]: "marketing"}
        self.ends = {}
        for ns, team in want.items():
            labels = must_get(k8s.core.read_namespace, ns, expected="it to stay").metadata.labels or {}
            assert labels.get("team") == team, (
                f"Namespace {ns} has label team={show(labels.get('team'))}; expected "
                f"{team if team else 'no team label'}, as setup left it "
                "(do not change the labels of the namespaces)")
            for pod in live_pods(k8s, ns):
                app = (pod.metadata.labels or {}).get("app")
                ports = {cp.name: cp.container_port for c in pod.spec.containers
                         for cp in c.ports or [] if cp.name}
                self.ends.setdefault(app, End(f"{app} Pods of {ns}", ns, labels, pod.metadata.labels,
                                              pod.status.pod_ip if pod.status else None, ports))
        for app, ns in (("ledger", self.ns), ("audit", self.ns), ("frontend", params["clients"]),
                        ("scanner", params["others"])):
            assert app in self.ends, f"no running Pod labelled app={app} in {ns}; the Deployments must stay"
        x_labels = self.ends["ledger"].ns_labels
        self.newcomer = End(f"a new Pod of {self.ns}", self.ns, x_labels, {"app": "batch"}, "10.255.254.10",
                            {"service": self.port})
        self.later = End(f"a Pod of a namespace labelled team={self.team} later", "proctor-later",
                         {"kubernetes.io/metadata.name": "proctor-later", "team": self.team},
                         {"app": "client"}, "10.255.254.11")
        self.unlabelled = End("a Pod of a namespace without labels", "proctor-plain",
                              {"kubernetes.io/metadata.name": "proctor-plain"}, {"app": "frontend"},
                              "10.255.254.12")
        self.outside = End("an address outside the cluster", None, None, None, "203.0.113.7")

    def end(self, what):
        return self.ends[what] if isinstance(what, str) else what

    def allowed(self, src, dst, port):
        src, dst = self.end(src), self.end(dst)
        return ((src.ns != self.ns or _lets_through(self.policies, src, dst, port, "Egress"))
                and (dst.ns != self.ns or _lets_through(self.policies, dst, src, port, "Ingress")))

    def must(self, allow, pairs, ports):
        """Fail naming the connections (source, destination, ports) that are not as ``allow`` says."""
        wrong = []
        for s, d in pairs:
            bad = [p for p in ports if self.allowed(s, d, p) != allow]
            if bad:
                wrong.append(f"{self.end(s).what} -> {self.end(d).what} on TCP {', '.join(map(str, bad))}")
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        assert not wrong, (f"NetworkPolicies in {self.ns} {'block' if allow else 'let through'} "
                           f"{'; '.join(wrong[:3])}{more}; expected {'allowed' if allow else 'denied'}")


@pytest.mark.points(2)
def test_same_namespace_on_the_port_only(k8s, params):
    """Pods of the namespace reach each other on the port, and on no other port"""
    w = World(k8s, params)
    pairs = [("ledger", "audit"), ("audit", "ledger"), ("ledger", w.newcomer)]
    w.must(False, pairs, OTHER_PORTS)
    w.must(True, pairs, [w.port])


@pytest.mark.points(2)
def test_labelled_namespaces_on_the_port_only(k8s, params):
    """Pods of namespaces labelled with the team, now or later, get in on the port only"""
    w = World(k8s, params)
    pairs = [("frontend", "ledger"), ("frontend", "audit"), (w.later, "ledger"), ("frontend", w.newcomer)]
    w.must(False, pairs, OTHER_PORTS)
    w.must(True, pairs, [w.port])


@pytest.mark.points(2)
def test_other_sources_denied(k8s, params):
    """Pods of other namespaces and addresses outside the cluster cannot get in"""
    w = World(k8s, params)
    sources = ["scanner", w.unlabelled, w.outside]
    w.must(False, [(s, d) for s in sources for d in ("ledger", "audit", w.newcomer)], [w.port, 80])


def test_outgoing_unaffected(k8s, params):
    """The Pods of the namespace are isolated for incoming traffic only: what they open themselves is not blocked"""
    w = World(k8s, params)
    isolating = [p.metadata.name for p in w.policies
                 if p.spec is not None and "Ingress" in _policy_types(p.spec)]
    assert isolating, f"no NetworkPolicy in {w.ns} restricts incoming traffic; expected its Pods isolated"
    w.must(True, [(s, d) for s in ("ledger", "audit", w.newcomer)
                  for d in ("scanner", "frontend", w.outside)], [80, 443])
