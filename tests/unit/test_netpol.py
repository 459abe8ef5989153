"""grader.netpol without a cluster, on the client's model objects.

Each case is one rule of
https://kubernetes.io/docs/concepts/services-networking/network-policies/ ,
tried both ways (the connection it lets through, the one it keeps out).
"""

from __future__ import annotations

from types import SimpleNamespace as Raw

import pytest
from kubernetes.client import (
    V1Container, V1ContainerPort, V1IPBlock, V1LabelSelector, V1LabelSelectorRequirement,
    V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer,
    V1NetworkPolicyPort, V1NetworkPolicySpec, V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus)

from grader.netpol import Endpoint, admits, allowed, endpoint_of, isolates, policy_types

NS = "shop"
WEB = Endpoint("web", NS, None, {"app": "web"}, "10.0.0.1")
API = Endpoint("api", NS, None, {"app": "api"}, "10.0.0.2", {"http": 8080})
DB = Endpoint("db", NS, None, {"app": "db"}, "10.0.0.3", {"pg": 5432})
PROD_API = Endpoint("api in prod", "prod", {"kubernetes.io/metadata.name": "prod", "env": "prod"},
                    {"app": "api"}, "10.0.1.2")
PROD_WEB = Endpoint("web in prod", "prod", {"kubernetes.io/metadata.name": "prod", "env": "prod"},
                    {"app": "web"}, "10.0.1.1")
DNS = Endpoint("kube-dns", "kube-system", None, {"k8s-app": "kube-dns"}, "10.0.9.10", {"dns": 53})
OUTSIDE = Endpoint("outside", None, None, None, "93.184.216.34")


def sel(**labels):
    return V1LabelSelector(match_labels=labels or None)


def policy(pod_selector=None, ingress=None, egress=None, types=None, ns=NS, name="p"):
    return V1NetworkPolicy(metadata=V1ObjectMeta(name=name, namespace=ns), spec=V1NetworkPolicySpec(
        pod_selector=pod_selector if pod_selector is not None else sel(), ingress=ingress, egress=egress,
        policy_types=types))


def peer(pods=None, namespaces=None, cidr=None, exclude=None):
    block = V1IPBlock(cidr=cidr, _except=exclude) if cidr else None
    return V1NetworkPolicyPeer(pod_selector=pods, namespace_selector=namespaces, ip_block=block)


def port(number=None, protocol=None, end=None):
    return V1NetworkPolicyPort(port=number, protocol=protocol, end_port=end)


def into(peers=None, ports=None):
    return V1NetworkPolicyIngressRule(_from=peers, ports=ports)


def out(peers=None, ports=None):
    return V1NetworkPolicyEgressRule(to=peers, ports=ports)


def db_only_from(*peers, ports=None):
    return [policy(sel(app="db"), ingress=[into(list(peers), ports)])]


def test_no_policy_allows_everything():
    assert allowed([], WEB, DB, 5432) and allowed([], DB, OUTSIDE, 443, "UDP")


def test_policy_of_another_namespace_does_not_apply():
    deny_all = [policy(types=["Ingress", "Egress"], ns="prod")]
    assert allowed(deny_all, WEB, DB, 5432)
    assert not allowed(deny_all, WEB, PROD_API, 80) and not allowed(deny_all, PROD_API, WEB, 80)


def test_empty_pod_selector_selects_every_pod_of_the_namespace():
    deny = [policy(sel(), types=["Ingress"])]
    assert not allowed(deny, WEB, API, 8080) and not allowed(deny, API, DB, 5432)
    assert allowed(deny, WEB, PROD_API, 80), "Pods of other namespaces are not selected"


def test_pod_selector_selects_only_its_pods():
    deny = [policy(sel(app="db"), types=["Ingress"])]
    assert not allowed(deny, WEB, DB, 5432) and allowed(deny, WEB, API, 8080)


def test_policy_types_omitted_is_ingress_only_without_egress_rules():
    pol = policy(sel(app="db"))
    assert policy_types(pol) == ["Ingress"]
    assert not allowed([pol], API, DB, 5432), "no ingress rule: db isolated for ingress"
    assert allowed([pol], DB, API, 8080), "db is not isolated for egress"


def test_policy_types_omitted_with_egress_rules_is_both():
    pol = policy(sel(app="db"), egress=[out([peer(sel(app="api"))])])
    assert policy_types(pol) == ["Ingress", "Egress"]
    assert not allowed([pol], API, DB, 5432), "isolated for ingress too"
    assert allowed([pol], DB, API, 8080) and not allowed([pol], DB, WEB, 80)


def test_egress_only_policy_leaves_ingress_open():
    pol = policy(sel(app="db"), types=["Egress"])
    assert allowed([pol], WEB, DB, 5432) and not allowed([pol], DB, WEB, 80)
    assert isolates(pol, DB, "Egress") and not isolates(pol, DB, "Ingress")


def test_empty_rule_allows_everything():
    pol = policy(sel(app="db"), ingress=[into()])
    assert allowed([pol], WEB, DB, 5432) and allowed([pol], PROD_API, DB, 1) and allowed([pol], OUTSIDE, DB, 1)


def test_pod_selector_peer_is_own_namespace_only():
    pols = db_only_from(peer(sel(app="api")))
    assert allowed(pols, API, DB, 5432)
    assert not allowed(pols, WEB, DB, 5432) and not allowed(pols, PROD_API, DB, 5432)


def test_namespace_selector_alone_takes_every_pod_there():
    pols = db_only_from(peer(namespaces=sel(env="prod")))
    assert allowed(pols, PROD_API, DB, 5432) and allowed(pols, PROD_WEB, DB, 5432)
    assert not allowed(pols, API, DB, 5432), "own namespace not labelled env=prod"


def test_empty_namespace_selector_takes_every_namespace():
    pols = db_only_from(peer(sel(app="api"), sel()))
    assert allowed(pols, API, DB, 5432) and allowed(pols, PROD_API, DB, 5432)
    assert not allowed(pols, PROD_WEB, DB, 5432) and not allowed(pols, OUTSIDE, DB, 5432)


def test_namespace_and_pod_selector_in_one_peer_is_and():
    pols = db_only_from(peer(sel(app="api"), sel(env="prod")))
    assert allowed(pols, PROD_API, DB, 5432)
    assert not allowed(pols, PROD_WEB, DB, 5432) and not allowed(pols, API, DB, 5432)


def test_namespace_and_pod_selector_in_two_peers_is_or():
    pols = db_only_from(peer(sel(app="api")), peer(namespaces=sel(env="prod")))
    assert allowed(pols, PROD_API, DB, 5432) and allowed(pols, PROD_WEB, DB, 5432)
    assert allowed(pols, API, DB, 5432) and not allowed(pols, WEB, DB, 5432)


def test_namespace_selector_by_name_label():
    pols = db_only_from(peer(namespaces=sel(**{"kubernetes.io/metadata.name": "prod"})))
    assert allowed(pols, PROD_WEB, DB, 5432) and not allowed(pols, WEB, DB, 5432)


def test_match_expressions_in_selectors():
    expr = V1LabelSelector(match_expressions=[V1LabelSelectorRequirement(key="app", operator="In",
                                                                         values=["api", "web"])])
    pols = db_only_from(peer(expr))
    assert allowed(pols, API, DB, 5432) and allowed(pols, WEB, DB, 5432)
    assert not allowed(pols, Endpoint("x", NS, None, {"app": "x"}, "10.0.0.9"), DB, 5432)


def test_ip_block_with_except_and_outside_addresses():
    pols = [policy(sel(app="web"), types=["Egress"],
                   egress=[out([peer(cidr="0.0.0.0/0", exclude=["10.0.0.0/8"])])])]
    assert allowed(pols, WEB, OUTSIDE, 443)
    assert not allowed(pols, WEB, DB, 5432), "10.0.0.3 is in the except"
    only_selectors = [policy(sel(app="web"), types=["Egress"], egress=[out([peer(namespaces=sel())])])]
    assert not allowed(only_selectors, WEB, OUTSIDE, 443), "selectors never match outside addresses"
    assert allowed(only_selectors, WEB, PROD_API, 80)


@pytest.mark.parametrize("cidr,exclude", [("not-a-cidr", None), ("10.0.0.0/8", ["bad"])])
def test_bad_ip_block_matches_nothing(cidr, exclude):
    assert not allowed(db_only_from(peer(cidr=cidr, exclude=exclude)), API, DB, 5432)


def test_ports_number_protocol_and_range():
    pols = db_only_from(ports=[port(5432), port(6000, end=6010), port(53, "UDP")])
    assert allowed(pols, API, DB, 5432) and not allowed(pols, API, DB, 5432, "UDP")
    assert allowed(pols, API, DB, 6005) and allowed(pols, API, DB, 6010) and not allowed(pols, API, DB, 6011)
    assert allowed(pols, API, DB, 53, "UDP") and not allowed(pols, API, DB, 53)


def test_port_without_number_takes_every_port_of_its_protocol():
    pols = db_only_from(ports=[port(protocol="UDP")])
    assert allowed(pols, API, DB, 9999, "UDP") and not allowed(pols, API, DB, 9999)


def test_named_ports_resolve_on_the_destination():
    pols = db_only_from(ports=[port("pg")])
    assert allowed(pols, API, DB, 5432) and not allowed(pols, API, DB, 5433)
    egress = [policy(sel(app="web"), types=["Egress"], egress=[out(ports=[port("http")])])]
    assert allowed(egress, WEB, API, 8080), "api's port http is 8080"
    assert not allowed(egress, WEB, DB, 8080), "db has no port named http"


def test_peers_and_ports_of_one_rule_are_anded_rules_ored():
    pols = [policy(sel(app="db"), ingress=[into([peer(sel(app="api"))], [port(5432)]),
                                           into([peer(sel(app="web"))], [port(80)])])]
    assert allowed(pols, API, DB, 5432) and allowed(pols, WEB, DB, 80)
    assert not allowed(pols, API, DB, 80) and not allowed(pols, WEB, DB, 5432)


def test_policies_add_up():
    pols = [policy(sel(app="db"), types=["Ingress"], name="deny"),
            policy(sel(app="db"), ingress=[into([peer(sel(app="api"))])], name="allow-api")]
    assert allowed(pols, API, DB, 5432) and not allowed(pols, WEB, DB, 5432)


def test_both_ends_must_agree():
    pols = [policy(sel(app="api"), types=["Egress"]),
            policy(sel(app="db"), ingress=[into([peer(sel(app="api"))])])]
    assert not allowed(pols, API, DB, 5432), "api's egress is denied"
    assert admits(pols, DB, API, 5432, "TCP", "Ingress")


def test_egress_to_dns():
    pols = [policy(sel(app="web"), types=["Egress"], egress=[
        out([peer(sel(app="db"))], [port(5432)]),
        out([peer(sel(**{"k8s-app": "kube-dns"}), sel(**{"kubernetes.io/metadata.name": "kube-system"}))],
            [port(53, "UDP"), port(53, "TCP")])])]
    assert allowed(pols, WEB, DNS, 53, "UDP") and allowed(pols, WEB, DNS, 53)
    assert not allowed(pols, WEB, DNS, 9153) and not allowed(pols, WEB, OUTSIDE, 53, "UDP")
    assert allowed(pols, WEB, DB, 5432) and not allowed(pols, WEB, API, 8080)
    assert allowed(pols, API, DNS, 53, "UDP"), "api is not selected"


def test_endpoint_of_a_pod():
    pod = V1Pod(metadata=V1ObjectMeta(name="db-1", namespace=NS, labels={"app": "db"}),
                spec=V1PodSpec(containers=[V1Container(name="c", ports=[
                    V1ContainerPort(container_port=5432, name="pg"), V1ContainerPort(container_port=9)])]),
                status=V1PodStatus(pod_ip="10.0.0.3"))
    end = endpoint_of(pod, {"kubernetes.io/metadata.name": NS})
    assert (end.what, end.namespace, end.labels, end.ip, end.named_ports) == (
        "Pod shop/db-1", NS, {"app": "db"}, "10.0.0.3", {"pg": 5432})
    bare = endpoint_of(V1Pod(metadata=V1ObjectMeta(namespace=NS)), None, "bare")
    assert (bare.labels, bare.ip, bare.named_ports, bare.namespace_labels) == (
        {}, None, {}, {"kubernetes.io/metadata.name": NS})


def test_hostile_policies_are_tolerated():
    """Fields missing, None or of a wrong type (plain objects: the client's models would refuse them)."""
    def raw(spec, ns=NS):
        return Raw(metadata=Raw(name="p", namespace=ns), spec=spec)
    db_sel = sel(app="db")
    hostile = [V1NetworkPolicy(metadata=V1ObjectMeta(namespace=NS)),
               policy(None), object(), None,
               raw(Raw(pod_selector=db_sel, policy_types="Ingress", egress=None)),
               raw(Raw(pod_selector=db_sel, policy_types=["Ingress"], ingress="everything")),
               raw(Raw(pod_selector=db_sel, policy_types=["Ingress"], ingress=[Raw(_from=[Raw()], ports="all")])),
               raw(Raw(pod_selector=db_sel, policy_types=None, ingress=[Raw(_from=[
                   Raw(ip_block=Raw(cidr="10.0.0.0/8", _except=7))])], egress=None))]
    hostile[1].spec.pod_selector = None  # a nil selector selects nothing
    assert policy_types(hostile[0]) == [] and policy_types(hostile[4]) == []
    assert not allowed(hostile[5:6], API, DB, 5432), "unreadable rules let nothing in"
    assert not allowed(hostile[6:7], API, DB, 5432), "unreadable ports take nothing"
    assert not allowed(hostile[7:], API, DB, 5432), "an unreadable except matches nothing"
    assert allowed(hostile[:5], API, DB, 5432)
    for peers, ports in (("everyone", None), (None, [None])):
        pol = raw(Raw(pod_selector=db_sel, policy_types=["Ingress"], ingress=[Raw(_from=peers, ports=ports)]))
        assert not allowed([pol], API, DB, 5432), f"from {peers!r} ports {ports!r} let api in"
    weird = [raw(Raw(pod_selector=db_sel, policy_types=["Ingress"], ingress=[Raw(_from=None, ports=[
        Raw(port=True), Raw(port="nope"), Raw(port=5432.0), Raw(port="5432"), Raw(port=1, end_port="x"),
        Raw(port=None, protocol=7)])]))]
    assert allowed(weird, API, DB, 5432) and allowed(weird, API, DB, 1)
    assert not allowed(weird, API, DB, 2)
    assert not allowed([raw(Raw(pod_selector=sel(), policy_types=["Ingress"]))], Endpoint("?", NS), DB, 1)
