"""Checks for networkpolicy-namespace-isolation.

The sandbox enforces no NetworkPolicy, so the checks work out what a
conforming network plugin would let through: a TCP connection from one end to
another is allowed when the policies that select the source for Egress let it
out and those that select the destination for Ingress let it in. Only the
policies of the task's namespace count (the statement puts them there). The
ends are the task's real Pods, plus Pods that do not exist yet (a new Pod of
the namespace, a Pod of a namespace labelled later), since the statement
covers them too. Any set of policies with that effect passes.

The evaluation is grader.netpol's, shared with the other NetworkPolicy tasks.
"""

import pytest

from grader.checks import live_pods, must_get, show
from grader.netpol import INGRESS, Endpoint, allowed, endpoint_of, policy_types

OTHER_PORTS = (22, 80, 443, 5432)


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
                if app not in self.ends:
                    self.ends[app] = endpoint_of(pod, labels, f"{app} Pods of {ns}")
        for app, ns in (("ledger", self.ns), ("audit", self.ns), ("frontend", params["clients"]),
                        ("scanner", params["others"])):
            assert app in self.ends, f"no running Pod labelled app={app} in {ns}; the Deployments must stay"
        x_labels = self.ends["ledger"].namespace_labels
        self.newcomer = Endpoint(f"a new Pod of {self.ns}", self.ns, x_labels, {"app": "batch"},
                                 "10.255.254.10", {"service": self.port})
        self.later = Endpoint(f"a Pod of a namespace labelled team={self.team} later", "proctor-later",
                              {"kubernetes.io/metadata.name": "proctor-later", "team": self.team},
                              {"app": "client"}, "10.255.254.11")
        self.unlabelled = Endpoint("a Pod of a namespace without labels", "proctor-plain",
                                   {"kubernetes.io/metadata.name": "proctor-plain"}, {"app": "frontend"},
                                   "10.255.254.12")
        self.outside = Endpoint("an address outside the cluster", None, None, None, "203.0.113.7")

    def end(self, what):
        return self.ends[what] if isinstance(what, str) else what

    def allowed(self, src, dst, port):
        return allowed(self.policies, self.end(src), self.end(dst), port)

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
                 if INGRESS in policy_types(p)]
    assert isolating, f"no NetworkPolicy in {w.ns} restricts incoming traffic; expected its Pods isolated"
    w.must(True, [(s, d) for s in ("ledger", "audit", w.newcomer)
                  for d in ("scanner", "frontend", w.outside)], [80, 443])
