"""Checks for coredns-broken: cluster DNS answers again for Service names
(short, through the Pod's search path, and fully qualified), Pod names and
reverse lookups, with CoreDNS as it was deployed and its Corefile's
kubernetes plugin serving cluster.local again.

The lookups are real: busybox's nslookup in Pod client, as a Pod of the
namespace would resolve (its resolv.conf, the kubelet's clusterDNS
10.96.0.10).
"""

import pytest

from grader.checks import eventually, must_be_original, must_be_ready, must_get, show
from grader.dns import CLUSTER_DNS, PTR, nslookup


def lookup(kubectl, ns, name):
    """``(addresses, why, output)`` of ``nslookup name`` from Pod client."""
    return nslookup(kubectl, ns, "client", name)


def must_resolve(kubectl, ns, name, want, timeout=10):
    def answered():
        found, why, _ = lookup(kubectl, ns, name)
        assert sorted(set(found)) == [want], (
            f"{name} resolves to {show(found) if found else 'nothing (' + why + ')'} from Pod "
            f"{ns}/client; expected {want}")
    eventually(answered, timeout=timeout)


def _web_ip(k8s, ns):
    svc = must_get(k8s.core.read_namespaced_service, "web", ns, expected="it kept")
    return svc.spec.cluster_ip


def _client(k8s, ns):
    return must_get(k8s.core.read_namespaced_pod, "client", ns, expected="it kept to look names up from")


@pytest.mark.points(2)
@pytest.mark.timeout(40)
def test_service_names_resolve(kubectl, k8s, params):
    """From Pod client, Service web resolves by its short name and by its full name"""
    ns = params["namespace"]
    _client(k8s, ns)
    ip = _web_ip(k8s, ns)
    must_resolve(kubectl, ns, "web", ip)
    must_resolve(kubectl, ns, f"web.{ns}.svc.cluster.local.", ip, timeout=8)


@pytest.mark.timeout(40)
def test_pod_names_and_reverse_lookups(kubectl, k8s, params):
    """Pod names and reverse lookups resolve again too"""
    ns = params["namespace"]
    pod = _client(k8s, ns)
    must_resolve(kubectl, ns, "kubernetes.default.svc.cluster.local.", "10.96.0.1")
    ip = pod.status.pod_ip if pod.status else None
    assert ip, f"Pod {ns}/client has no IP; expected it running"
    must_resolve(kubectl, ns, f"{ip.replace('.', '-')}.{ns}.pod.cluster.local.", ip, timeout=8)
    _, why, text = lookup(kubectl, ns, "10.96.0.1")
    names = [n.rstrip(".") for n in PTR.findall(text)]
    assert "kubernetes.default.svc.cluster.local" in names, (
        f"the reverse lookup of 10.96.0.1 from Pod {ns}/client gives "
        f"{show(names) if names else 'nothing (' + why + ')'}; expected kubernetes.default.svc.cluster.local")


def test_coredns_repaired_in_place(k8s):
    """The Corefile's kubernetes plugin serves cluster.local again, and CoreDNS runs ready behind kube-dns 10.96.0.10 as deployed"""
    cm = must_get(k8s.core.read_namespaced_config_map, "coredns", "kube-system", expected="it kept")
    corefile = (cm.data or {}).get("Corefile") or ""
    lines = [line.split() for line in corefile.splitlines()]
    plugin = next((words for words in lines if words and words[0] == "kubernetes"), None)
    assert plugin and "cluster.local" in plugin[1:], (
        f"the Corefile in ConfigMap kube-system/coredns has "
        f"{show(' '.join(plugin)) if plugin else 'no kubernetes plugin'}; expected the kubernetes "
        "plugin serving cluster.local")
    dep = must_get(k8s.apps.read_namespaced_deployment, "coredns", "kube-system", expected="it kept")
    must_be_original(k8s, dep, "coredns-original")
    must_be_ready(dep)
    svc = must_get(k8s.core.read_namespaced_service, "kube-dns", "kube-system", expected="it kept")
    assert svc.spec.cluster_ip == CLUSTER_DNS, (f"Service kube-system/kube-dns has address "
                                                f"{show(svc.spec.cluster_ip)}; expected {CLUSTER_DNS}")
