"""Checks for networkpolicy-egress-dns.

The sandbox enforces no NetworkPolicy, so the checks evaluate every policy of
the namespace the way a conforming network plugin would: a connection from one
Pod to another (or an address) on a port and protocol is allowed when the
policies selecting the source let it out (Egress) and those selecting the
destination let it in (Ingress). Any set of policies with the asked effect
passes, whatever their names and number. The evaluation is grader.netpol's.
"""

import pytest

from grader.checks import live_pods, must_get
from grader.netpol import EGRESS, Endpoint, allowed, endpoint_of, isolates, policy_types


class World:
    """The namespace's policies and the peers the checks connect."""

    def __init__(self, k8s, params):
        ns = self.ns = params["namespace"]
        app = self.app = params["app"]
        must_get(k8s.core.read_namespace, ns)
        self.policies = k8s.networking.list_namespaced_network_policy(ns).items
        pods = {}
        for p in live_pods(k8s, ns):
            pods.setdefault((p.metadata.labels or {}).get("app"), p)
        for label in (app, "db", "cache"):
            assert label in pods, f"no Pod labelled app={label} in {ns}; the Deployments must stay"

        def peer(label):
            return endpoint_of(pods[label], {"kubernetes.io/metadata.name": ns}, f"{label} Pod")
        self.src, self.db, self.cache = peer(app), peer("db"), peer("cache")
        self.dns = Endpoint("kube-dns Pod in kube-system", "kube-system", None, {"k8s-app": "kube-dns"},
                            "10.244.0.53", {"dns": 53, "dns-tcp": 53, "metrics": 9153})
        self.other_db = Endpoint(f"db Pod in {ns}-reporting", f"{ns}-reporting", None, {"app": "db"},
                                 "10.244.1.77", self.db.named_ports)
        self.outside = Endpoint("93.184.216.34 (outside the cluster)", None, None, {}, "93.184.216.34")

    def allowed(self, src, dst, port, proto="TCP"):
        return allowed(self.policies, src, dst, port, proto)


def _blocked(world, cases):
    return [f"{s.what} -> {d.what} {proto} {port}" for s, d, port, proto in cases
            if not world.allowed(s, d, port, proto)]


def _open(world, cases):
    return [f"{s.what} -> {d.what} {proto} {port}" for s, d, port, proto in cases
            if world.allowed(s, d, port, proto)]


@pytest.mark.points(2)
def test_db_and_dns_allowed(k8s, params):
    """The app's Pods are limited for egress, and can reach db on the database port and the cluster DNS on UDP and TCP 53"""
    w = World(k8s, params)
    port = int(params["port"])
    limiting = [p.metadata.name for p in w.policies if isolates(p, w.src, EGRESS)]
    assert limiting, (f"no NetworkPolicy in {w.ns} limits the outgoing traffic of the app={w.app} Pods; "
                      "expected them isolated for egress")
    blocked = _blocked(w, [(w.src, w.db, port, "TCP"), (w.src, w.dns, 53, "UDP"), (w.src, w.dns, 53, "TCP")])
    assert not blocked, f"connections {', '.join(blocked)} are blocked; expected them allowed"


@pytest.mark.points(3)
def test_everything_else_denied(k8s, params):
    """The app's Pods can open no other connection: other Pods, other ports of db, DNS metrics, outside addresses"""
    w = World(k8s, params)
    port = int(params["port"])
    opened = _open(w, [(w.src, w.db, port + 1, "TCP"), (w.src, w.db, 22, "TCP"), (w.src, w.db, port, "UDP"),
                       (w.src, w.cache, 6379, "TCP"), (w.src, w.other_db, port, "TCP"),
                       (w.src, w.dns, 9153, "TCP"), (w.src, w.outside, 443, "TCP"),
                       (w.src, w.outside, 80, "TCP")])
    assert not opened, f"connections {', '.join(opened)} are allowed; expected them denied"


@pytest.mark.points(2)
def test_others_unaffected(k8s, params):
    """The app's Pods still accept incoming traffic; the traffic of db and cache is unchanged"""
    w = World(k8s, params)
    port = int(params["port"])
    isolated = [p.metadata.name for p in w.policies if policy_types(p)]
    assert isolated, f"no NetworkPolicy in {w.ns} restricts anything; expected the app's egress limited"
    blocked = _blocked(w, [(w.cache, w.src, 8080, "TCP"), (w.db, w.src, 8080, "TCP"),
                           (w.cache, w.db, port, "TCP"), (w.db, w.cache, 6379, "TCP"),
                           (w.cache, w.outside, 443, "TCP"), (w.db, w.dns, 53, "UDP"),
                           (w.other_db, w.src, 8080, "TCP"), (w.other_db, w.cache, 6379, "TCP")])
    assert not blocked, f"connections {', '.join(blocked)} are blocked; expected them unaffected"
