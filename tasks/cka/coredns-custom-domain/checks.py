"""Checks for coredns-custom-domain: from a Pod, the two names of the company
zone resolve through the cluster's CoreDNS to their addresses, while
cluster.local names and reverse lookups still resolve; the ConfigMap coredns
holds the zone.

The lookups are real: busybox's nslookup in Pod dns-client asks the
cluster's DNS address (the kubelet's clusterDNS, 10.96.0.10) directly, for
fully qualified names (a trailing dot: no search domains), so neither the
Pod's /etc/hosts nor its resolv.conf can stand in for CoreDNS.
"""

import pytest

from grader.checks import eventually, must_be_ready, must_get, show
from grader.dns import CLUSTER_DNS, PTR, nslookup


def lookup(kubectl, ns, name):
    """``(addresses, why, output)`` of ``nslookup name`` from Pod dns-client."""
    return nslookup(kubectl, ns, "dns-client", name, CLUSTER_DNS)


def must_resolve(kubectl, params, name, want, timeout=10):
    ns = params["namespace"]

    def answered():
        found, why, _ = lookup(kubectl, ns, name + ".")
        assert sorted(set(found)) == [want], (
            f"{name} resolves to {show(found) if found else 'nothing (' + why + ')'} from Pod "
            f"{ns}/dns-client; expected {want}")
    eventually(answered, timeout=timeout)


@pytest.mark.points(2)
@pytest.mark.timeout(40)
def test_zone_names_resolve(kubectl, k8s, params):
    """From a Pod, the two names of the company zone resolve to their addresses through CoreDNS"""
    zone = params["zone"]
    must_get(k8s.core.read_namespaced_pod, "dns-client", params["namespace"],
             expected="it kept to look names up from")
    must_resolve(kubectl, params, f"{params['host']}.{zone}", params["ip"])
    must_resolve(kubectl, params, f"backup.{zone}", params["ip2"], timeout=8)


@pytest.mark.timeout(40)
def test_cluster_names_still_resolve(kubectl, params):
    """CoreDNS answers for the company zone and still serves cluster.local names and reverse lookups"""
    ns = params["namespace"]
    must_resolve(kubectl, params, f"{params['host']}.{params['zone']}", params["ip"])
    must_resolve(kubectl, params, "kubernetes.default.svc.cluster.local", "10.96.0.1", timeout=8)
    _, why, text = lookup(kubectl, ns, "10.96.0.1")
    names = [n.rstrip(".") for n in PTR.findall(text)]
    assert "kubernetes.default.svc.cluster.local" in names, (
        f"the reverse lookup of 10.96.0.1 from Pod {ns}/dns-client gives "
        f"{show(names) if names else 'nothing (' + why + ')'}; expected kubernetes.default.svc.cluster.local")


def test_corefile_holds_zone(k8s, params):
    """The ConfigMap kube-system/coredns serves the zone with both addresses, and CoreDNS runs ready"""
    zone, ips = params["zone"], (params["ip"], params["ip2"])
    cm = must_get(k8s.core.read_namespaced_config_map, "coredns", "kube-system", expected="it kept")
    data = {k: v for k, v in (cm.data or {}).items() if isinstance(v, str)}
    corefile = data.get("Corefile", "")
    assert zone in corefile, (f"the Corefile in ConfigMap kube-system/coredns does not mention {zone}; "
                              "expected CoreDNS configured to answer for it")
    missing = [ip for ip in ips if not any(ip in text for text in data.values())]
    assert not missing, (f"ConfigMap kube-system/coredns does not hold {show(missing)}; expected "
                         f"the addresses of the {zone} names in it")
    must_be_ready(must_get(k8s.apps.read_namespaced_deployment, "coredns", "kube-system",
                           expected="it kept"))
