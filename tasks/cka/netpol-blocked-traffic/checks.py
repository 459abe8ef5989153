"""Checks for netpol-blocked-traffic: the frontend Pods of the web namespace
reach the api Pods on one TCP port, and nothing else gets in.

No sandbox enforces NetworkPolicies, so the checks work out what the policies
of the three namespaces let through, the way a conforming network plugin would
(grader.netpol), between the task's real Pods plus a few that do not exist
(an app=frontend Pod of the api's own namespace and of an unlabelled one, an
address outside the cluster). Any set of policies with that effect passes:
allow-frontend fixed, or replaced by a policy of the candidate's own, with a
numbered or a named port, namespaces picked by name or by labels.
"""

import pytest

from grader.checks import must_get, pods_of, show
from grader.netpol import Endpoint, allowed, endpoint_of

OTHER_PORTS = (22, 80, 443, 9090)
NAME_LABEL = "kubernetes.io/metadata.name"


class World:
    """The Pods of the task's Deployments, as setup left them, a few Pods that
    could appear, and every NetworkPolicy of the three namespaces."""

    def __init__(self, k8s, params):
        ns, web, staging = self.ns, self.web, self.staging = (
            params["namespace"], params["web"], params["staging"])
        self.port = int(params["port"])
        want = {ns: {}, web: {"team": "storefront", "env": "prod"},
                staging: {"team": "storefront", "env": "staging"}}
        labels = {}
        for n, own in want.items():
            found = must_get(k8s.core.read_namespace, n, expected="it kept").metadata.labels or {}
            extra = {k: v for k, v in found.items() if k != NAME_LABEL}
            assert extra == own, (f"Namespace {n} has labels {show(extra) if extra else 'none'}; expected "
                                  f"{show(own) if own else 'none'} as setup left them "
                                  "(do not change the namespaces' labels)")
            labels[n] = found
        self.policies = [p for n in want for p in k8s.networking.list_namespaced_network_policy(n).items]
        self.pods = {}
        for n, name in ((ns, "api"), (ns, "reports"), (web, "frontend"), (web, "crawler"),
                        (staging, "frontend")):
            dep = must_get(k8s.apps.read_namespaced_deployment, name, n, expected="it kept")
            assert dep.metadata.generation == 1, (
                f"Deployment {n}/{name} was changed (generation {dep.metadata.generation}); "
                "expected it unchanged: fix the NetworkPolicies")
            pods = pods_of(k8s, dep)
            assert pods, f"no Pod of Deployment {n}/{name} runs; expected its Pods as setup left them"
            for p in pods:
                own = {k: v for k, v in (p.metadata.labels or {}).items() if k != "pod-template-hash"}
                assert own == {"app": name}, (f"Pod {n}/{p.metadata.name} has labels {show(own)}; expected "
                                              f"app={name} as its Deployment set it")
            self.pods[(n, name)] = [endpoint_of(p, labels[n], f"Pod {n}/{p.metadata.name}") for p in pods]
        self.api, self.frontend = self.pods[(ns, "api")], self.pods[(web, "frontend")]
        self.newcomer = Endpoint(f"a new app=frontend Pod of {ns}", ns, labels[ns], {"app": "frontend"},
                                 "10.255.254.21")
        self.unlabelled = Endpoint("an app=frontend Pod of a namespace without labels", "proctor-plain",
                                   {NAME_LABEL: "proctor-plain"}, {"app": "frontend"}, "10.255.254.22")
        self.outside = Endpoint("an address outside the cluster", None, None, None, "203.0.113.7")

    def opened(self, sources, destinations, ports, proto="TCP"):
        """The connections among these that the policies let through."""
        return [f"{s.what} -> {d.what} on {proto} {p}" for s in sources for d in destinations for p in ports
                if allowed(self.policies, s, d, p, proto)]

    def must_open(self):
        """Fail unless every frontend Pod of web reaches every api Pod on the port."""
        every = len(self.frontend) * len(self.api)
        got = self.opened(self.frontend, self.api, [self.port])
        assert len(got) == every, (
            f"NetworkPolicies let {len(got)} of the {every} connections from the frontend Pods of {self.web} "
            f"to the api Pods of {self.ns} on TCP {self.port} through; expected all of them")


def _must_be_closed(opened, what):
    more = f" and {len(opened) - 3} more" if len(opened) > 3 else ""
    assert not opened, f"NetworkPolicies let {'; '.join(opened[:3])}{more} through; expected {what}"


@pytest.mark.points(2)
def test_frontend_reaches_api(k8s, params):
    """The frontend Pods of the web namespace can connect to the api Pods on the TCP port"""
    World(k8s, params).must_open()


def test_no_other_port(k8s, params):
    """The frontend Pods reach the api Pods on that TCP port only"""
    w = World(k8s, params)
    w.must_open()
    opened = (w.opened(w.frontend, w.api, [p for p in OTHER_PORTS + (w.port + 1,) if p != w.port])
              + w.opened(w.frontend, w.api, [w.port], "UDP"))
    _must_be_closed(opened, f"only TCP {w.port}")


@pytest.mark.points(2)
def test_no_other_source(k8s, params):
    """No other Pod reaches the api Pods: not crawler, not reports, not the staging frontend, not other app=frontend Pods"""
    w = World(k8s, params)
    w.must_open()
    sources = (w.pods[(w.web, "crawler")] + w.pods[(w.ns, "reports")] + w.pods[(w.staging, "frontend")]
               + [w.newcomer, w.unlabelled, w.outside])
    _must_be_closed(w.opened(sources, w.api, [w.port, 80]),
                    f"only the frontend Pods of {w.web} let in")


def test_rest_isolated(k8s, params):
    """default-deny-ingress is unchanged and the other Pods of the namespace stay isolated"""
    w = World(k8s, params)
    w.must_open()
    pol = must_get(k8s.networking.read_namespaced_network_policy, "default-deny-ingress", w.ns,
                   expected="it kept as it was")
    spec = pol.spec
    sel = spec.pod_selector if spec else None
    every = sel is not None and not sel.match_labels and not sel.match_expressions
    types = spec.policy_types if spec else None
    assert every and types == ["Ingress"] and not spec.ingress and not spec.egress, (
        f"NetworkPolicy {w.ns}/default-deny-ingress was changed; expected it as it was: every Pod "
        "selected, policyTypes [Ingress], no rules")
    sources = w.frontend + w.pods[(w.web, "crawler")] + w.api + [w.unlabelled]
    _must_be_closed(w.opened(sources, w.pods[(w.ns, "reports")], [w.port, 80]),
                    f"the reports Pods of {w.ns} isolated")
