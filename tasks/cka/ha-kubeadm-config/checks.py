"""Checks for ha-kubeadm-config: the candidate's file, read as hostile YAML
(no aliases, several documents, anything in any field), each field the
statement asks for, and kubeadm's own validation of the whole file."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from grader.checks import show
from grader import yamlfile

API = "kubeadm.k8s.io/v1beta4"
# kinds kubeadm init reads from one file, with their API versions
OTHERS = {"InitConfiguration": {API}, "KubeletConfiguration": {"kubelet.config.k8s.io/v1beta1"},
          "KubeProxyConfiguration": {"kubeproxy.config.k8s.io/v1alpha1"}}
PKI = "/etc/kubernetes/pki"


def _documents(answers, params) -> tuple[str, list]:
    f = answers / params["file"]
    text = f.read_text()
    try:
        docs = yamlfile.load_all(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise AssertionError(f"{f} is not valid YAML{where}: {getattr(exc, 'problem', None) or 'unreadable'}") \
            from None
    return text, docs


def _cluster_configuration(answers, params) -> dict:
    f = answers / params["file"]
    _, docs = _documents(answers, params)
    kinds = [(d.get("kind"), d.get("apiVersion")) if isinstance(d, dict) else (None, None) for d in docs]
    found = [d for d, (k, v) in zip(docs, kinds) if k == "ClusterConfiguration"]
    assert len(found) == 1, (f"{f} has {len(found)} ClusterConfiguration documents "
                             f"(kinds {show([k for k, _ in kinds])}); expected exactly one")
    version = found[0].get("apiVersion")
    assert version == API, f"{f}: ClusterConfiguration has apiVersion {show(version)}; expected {API}"
    odd = [f"{k} {v}" for k, v in kinds if k != "ClusterConfiguration" and v not in OTHERS.get(k, ())]
    assert not odd, f"{f} also holds {show(odd)}; expected only kubeadm configuration documents"
    return found[0]


def _map(doc, key) -> dict:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


@pytest.mark.points(2)
def test_load_balancer_endpoint(answers, params):
    """controlPlaneEndpoint is the load balancer, and the API server's certificate names it and its address"""
    cc = _cluster_configuration(answers, params)
    want = f"{params['lb']}:{params['port']}"
    found = cc.get("controlPlaneEndpoint")
    assert found == want, f"ClusterConfiguration has controlPlaneEndpoint {show(found)}; expected {want}"
    sans = _map(cc, "apiServer").get("certSANs")
    sans = [s for s in sans if isinstance(s, str)] if isinstance(sans, list) else []
    missing = [s for s in (params["lb"], params["vip"]) if s not in sans]
    assert not missing, (f"ClusterConfiguration has apiServer.certSANs {show(sans) if sans else 'none'}; "
                         f"expected {', '.join(missing)} among them")


@pytest.mark.points(2)
def test_external_etcd(answers, params):
    """etcd is the external cluster of three members, with the CA, client certificate and key given"""
    cc = _cluster_configuration(answers, params)
    etcd = _map(cc, "etcd")
    assert "local" not in etcd, "ClusterConfiguration has etcd.local; expected only etcd.external"
    ext = _map(etcd, "external")
    endpoints = ext.get("endpoints")
    want = sorted(f"https://{params['etcd']}.{n}:2379" for n in (11, 12, 13))
    found = sorted(e for e in endpoints if isinstance(e, str)) if isinstance(endpoints, list) else None
    assert found == want and len(endpoints) == 3, (
        f"ClusterConfiguration has etcd.external.endpoints {show(endpoints)}; expected {', '.join(want)}")
    files = {"caFile": f"{PKI}/etcd/ca.crt", "certFile": f"{PKI}/apiserver-etcd-client.crt",
             "keyFile": f"{PKI}/apiserver-etcd-client.key"}
    wrong = [f"{k}: {show(ext.get(k))}" for k, v in files.items() if ext.get(k) != v]
    assert not wrong, (f"ClusterConfiguration has etcd.external {', '.join(wrong)}; expected "
                       + ", ".join(f"{k}: {v}" for k, v in files.items()))


def test_version_and_pod_subnet(answers, params):
    """kubernetesVersion is v1.36.3 and networking.podSubnet the Pod range"""
    cc = _cluster_configuration(answers, params)
    version = cc.get("kubernetesVersion")
    assert version == "v1.36.3", f"ClusterConfiguration has kubernetesVersion {show(version)}; expected v1.36.3"
    subnet = _map(cc, "networking").get("podSubnet")
    assert subnet == params["subnet"], (
        f"ClusterConfiguration has networking.podSubnet {show(subnet)}; expected {params['subnet']}")


def test_kubeadm_accepts_it(answers, params, kubectl):
    """kubeadm config validate accepts the whole file"""
    version = _cluster_configuration(answers, params).get("kubernetesVersion")
    # without a version kubeadm asks the internet for the latest one: never from a check
    assert isinstance(version, str) and re.fullmatch(r"v?\d+\.\d+\.\d+", version), (
        f"ClusterConfiguration has kubernetesVersion {show(version)}; expected v1.36.3")
    text, _ = _documents(answers, params)
    # a private copy: kubeadm reads what was checked, never a link of the candidate's
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as copy:
        copy.write(text)
    try:
        kubeadm = Path(kubectl.binary).with_name("kubeadm")  # the toolchain's, beside kubectl
        res = subprocess.run([str(kubeadm), "config", "validate", "--config", copy.name],
                             capture_output=True, text=True, timeout=8, stdin=subprocess.DEVNULL,
                             env={"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()})
    finally:
        os.unlink(copy.name)
    why = [ln for ln in (res.stderr or "").splitlines() if ln.startswith("error")]
    assert res.returncode == 0, (f"kubeadm config validate refuses /opt/answers/{params['file']}: "
                                 f"{show(why[0] if why else res.stderr.strip()[-200:], 200)}")
