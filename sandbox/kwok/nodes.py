"""The exam's nodes in a kwok sandbox: Node objects kwok keeps Ready.

kwok simulates nodes, so Proctor registers them itself, named as in the
exams (``controlplane``, ``node01`` …) and labelled and tainted as kubeadm
would leave them, so that scheduling, taints and node selectors behave as on
a real cluster.
"""

from __future__ import annotations

NODE_ANNOTATION = "kwok.x-k8s.io/node"


def node_manifest(name: str, kube_version: str, control_plane: bool, tainted: bool) -> dict:
    """A Node object as kubeadm would leave it, for kwok to keep Ready."""
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "type": "kwok",
    }
    spec: dict = {}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        if tainted:
            spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane",
                               "effect": "NoSchedule"}]
    resources = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "kubeletVersion": kube_version,
                "kubeProxyVersion": kube_version,
                "containerRuntimeVersion": "containerd://2.1.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "kernelVersion": "6.1.0",
            },
        },
    }

