"""Checks for pod-connectivity-policy: the Pods of namespace a reach the Pods
of namespace b on one TCP port, and nothing else opens.

No sandbox enforces NetworkPolicies, so the checks evaluate the policies of
both namespaces the way a conforming network plugin would (grader.netpol): a
connection passes when the policies selecting its source let it out (Egress)
and those selecting its destination let it in (Ingress). Any equivalent set
of policies passes: named or numbered ports, a port range of one, labels
of the candidate's own on the namespaces, pod selectors that take every Pod.
"""

import pytest

from grader.checks import live_pods, must_get, show
from grader.netpol import Endpoint, allowed, endpoint_of


class World:
    """The Pods of both namespaces, two outsiders, and every policy of a and b."""

    def __init__(self, k8s, params):
        self.a, self.b, self.port = params["a"], params["b"], int(params["port"])
        self.policies = [p for ns in (self.a, self.b)
                         for p in k8s.networking.list_namespaced_network_policy(ns).items]
        self.web = self._pods(k8s, self.a, "web")
        self.api = self._pods(k8s, self.b, "api")
        self.outsider = Endpoint("a Pod labelled app=web in another namespace", "proctor-elsewhere",
                                 {"kubernetes.io/metadata.name": "proctor-elsewhere"}, {"app": "web"},
                                 "10.255.254.1", {"http": self.port})
        self.dns = Endpoint("CoreDNS", "kube-system", {"kubernetes.io/metadata.name": "kube-system"},
                            {"k8s-app": "kube-dns"}, "10.255.254.2", {"dns": 53})

    @staticmethod
    def _pods(k8s, ns, app):
        ns_obj = must_get(k8s.core.read_namespace, ns)
        pods = live_pods(k8s, ns, {"app": app})
        assert pods, f"no Pod labelled app={app} in namespace {ns}; the Deployment {app} must stay"
        return [endpoint_of(p, ns_obj.metadata.labels, f"Pod {ns}/{p.metadata.name}") for p in pods]

    def allowed(self, src, dst, port, proto="TCP"):
        return allowed(self.policies, src, dst, port, proto)

    def must_open(self):
        """Fail unless every Pod of a reaches every Pod of b on the port."""
        blocked = [f"{s.what} -> {d.what}" for s in self.web for d in self.api
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
    let_in = [s.what for s in (w.outsider, w.api[0]) if w.allowed(s, w.api[-1], w.port)]
    assert not let_in, (f"{show(let_in)} can reach Pods of {w.b} on TCP {w.port}; expected only "
                        f"Pods of {w.a}")


def test_no_other_destination(k8s, params):
    """The Pods of a still reach nothing else but DNS"""
    w = World(k8s, params)
    w.must_open()
    let_out = [f"{d.what} on {p}" for d, p in ((w.outsider, w.port), (w.outsider, 443))
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
