"""What a real cluster runs in kube-system and a gVisor sandbox adds once
its node is up: CoreDNS behind ``kube-dns`` (10.96.0.10), and metrics-server
behind ``v1beta1.metrics.k8s.io`` for ``kubectl top``. The images are the
box image's, under their upstream names; nothing is pulled.

metrics-server scrapes each node at ``BOXD_METRICS_PORT``, where the box's
proctor-boxd serves the kubelet's resource metrics from gVisor's cgroups
(cmd/proctor-boxd/metrics.go): inside gVisor the kubelet's own
``/metrics/resource`` fails, as cAdvisor needs cgroup files gVisor lacks.
The simulated ``controlplane`` has no address to scrape: metrics-server
logs that and serves the real nodes.

CoreDNS answers for the cluster's own names only: with no upstream, any
other name fails at once, as in a cluster without internet.
"""

from __future__ import annotations

import yaml

from .box import CLUSTER_DNS
from .image import METRICS_SERVER

BOXD_METRICS_PORT = 10251  # proctor-boxd's -metrics-port

COREFILE = """.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loop
    reload
    loadbalance
}
"""


def _meta(name: str, **labels) -> dict:
    return {"name": name, "namespace": "kube-system", **({"labels": labels} if labels else {})}


def coredns(image: str) -> list[dict]:
    labels = {"k8s-app": "kube-dns"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns")},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                    "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("coredns"),
         "data": {"Corefile": COREFILE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("coredns", **labels),
         "spec": {
             "replicas": 1, "selector": {"matchLabels": labels},
             "template": {
                 "metadata": {"labels": labels},
                 "spec": {
                     "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                     "dnsPolicy": "Default",
                     "containers": [{
                         "name": "coredns", "image": image, "args": ["-conf", "/etc/coredns/Corefile"],
                         "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                   {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                   {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                         "resources": {"requests": {"cpu": "50m", "memory": "30Mi"},
                                       "limits": {"memory": "170Mi"}},
                         "livenessProbe": {"httpGet": {"path": "/health", "port": 8080},
                                           "initialDelaySeconds": 30, "periodSeconds": 10},
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                            "periodSeconds": 2},
                         "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns",
                                           "readOnly": True}]}],
                     "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": _meta("kube-dns", **{**labels, "kubernetes.io/name": "CoreDNS"}),
         "spec": {"clusterIP": CLUSTER_DNS, "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                            {"name": "metrics", "port": 9153, "protocol": "TCP"}]}},
    ]


def metrics_server() -> list[dict]:
    labels = {"k8s-app": "metrics-server"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("metrics-server", **labels)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:metrics-server", "labels": labels},
         "rules": [{"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:aggregated-metrics-reader",
                      "labels": {**labels, "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                                 "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                                 "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
         "rules": [{"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:metrics-server", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:metrics-server"},
         "subjects": [{"kind": "ServiceAccount", "name": "metrics-server",
                       "namespace": "kube-system"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "metrics-server:system:auth-delegator", "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:auth-delegator"},
         "subjects": [{"kind": "ServiceAccount", "name": "metrics-server",
                       "namespace": "kube-system"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta("metrics-server-auth-reader", **labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "extension-apiserver-authentication-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "metrics-server",
                       "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta("metrics-server", **labels),
         "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                                  "targetPort": "https"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("metrics-server", **labels),
         "spec": {
             "selector": {"matchLabels": labels},
             "template": {
                 "metadata": {"labels": labels},
                 "spec": {
                     "serviceAccountName": "metrics-server",
                     "priorityClassName": "system-cluster-critical",
                     "containers": [{
                         "name": "metrics-server", "image": METRICS_SERVER,
                         "args": ["--cert-dir=/tmp", "--secure-port=10250",
                                  "--kubelet-preferred-address-types=InternalIP",
                                  f"--kubelet-port={BOXD_METRICS_PORT}", "--kubelet-insecure-tls",
                                  "--metric-resolution=15s"],
                         "ports": [{"name": "https", "containerPort": 10250, "protocol": "TCP"}],
                         "resources": {"requests": {"cpu": "50m", "memory": "50Mi"}},
                         "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https",
                                                        "scheme": "HTTPS"},
                                            "periodSeconds": 10},
                         "securityContext": {"readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                             "runAsUser": 65534,
                                             "allowPrivilegeEscalation": False},
                         "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]}],
                     "volumes": [{"name": "tmp", "emptyDir": {}}]}}}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.metrics.k8s.io", "labels": labels},
         "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                  "versionPriority": 100, "insecureSkipTLSVerify": True,
                  "service": {"name": "metrics-server", "namespace": "kube-system"}}},
    ]


def manifests(images: dict[str, str]) -> str:
    """Every add-on, as one YAML stream for ``kubectl apply``."""
    return yaml.safe_dump_all(coredns(images["coredns"]) + metrics_server(), sort_keys=False)
