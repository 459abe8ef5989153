"""What Proctor changes in how kwokctl starts a sandbox's components, and why.

kwokctl starts every component with flags of its own; Proctor adds to them
and overrides some, through the ``componentsPatches`` of the cluster's
kwokctl configuration (an override replaces kwokctl's ``--flag=…`` in
place). The listeners a sandbox opens on the host's loopback, and who can
use them (docs/security.md, "Who can reach a sandbox's ports"):

* etcd, client and peer port: TLS only, and a client certificate signed by
  the sandbox's own CA (``pki``) is required of every client and peer.
  kwokctl has no TLS for etcd in its binary runtime, so its ``http://`` URLs
  are overridden with ``https://`` ones.
* kube-apiserver: TLS with kwokctl's per-cluster CA, and no anonymous
  requests (``--anonymous-auth=false``): nothing in a sandbox needs them, and
  a candidate's RBAC rules cannot open their cluster to other local users.
  It reaches etcd with its own client certificate.
* kube-controller-manager, kube-scheduler: no port at all
  (``--secure-port=0``). kwokctl checks them by their process only; on their
  port anyone could read /metrics, which kwokctl allows without credentials.
* kwok-controller: it plays every node's kubelet for the API server and
  cannot ask a client for credentials; with no exec, logs, attach or
  port-forward rules (and no CRDs to add them) it serves nothing of the
  cluster. Its profiling handler (``/debug/pprof``, on by default) is off.
"""

from __future__ import annotations

from pathlib import Path

from .pki import EtcdPki

LOOPBACK = "127.0.0.1"


def _arg(key: str, value, override: bool = False) -> dict:
    return {"key": key, "value": str(value), "override": override}


def components_patches(pki: EtcdPki, ports: dict[str, int], egress_selector: Path) -> list[dict]:
    """The ``componentsPatches`` of one cluster's kwokctl configuration.

    ``ports`` are the cluster's (``etcdPort``, ``etcdPeerPort`` …, the keys of
    kwokctl's options); ``egress_selector`` is the API server's
    EgressSelectorConfiguration (``confinement.egress``)."""
    client = f"https://{LOOPBACK}:{ports['etcdPort']}"
    peer = f"https://{LOOPBACK}:{ports['etcdPeerPort']}"
    etcd = [
        _arg("listen-client-urls", client, override=True),
        _arg("advertise-client-urls", client, override=True),
        _arg("listen-peer-urls", peer, override=True),
        _arg("initial-advertise-peer-urls", peer, override=True),
        _arg("initial-cluster", f"node0={peer}", override=True),
        _arg("cert-file", pki.server_cert), _arg("key-file", pki.server_key),
        _arg("trusted-ca-file", pki.ca), _arg("client-cert-auth", "true"),
        _arg("peer-cert-file", pki.server_cert), _arg("peer-key-file", pki.server_key),
        _arg("peer-trusted-ca-file", pki.ca), _arg("peer-client-cert-auth", "true"),
    ]
    apiserver = [
        _arg("etcd-servers", client, override=True),
        _arg("etcd-cafile", pki.ca), _arg("etcd-certfile", pki.apiserver_cert),
        _arg("etcd-keyfile", pki.apiserver_key),
        _arg("anonymous-auth", "false"),
        _arg("egress-selector-config-file", egress_selector),
        # one user per cluster: API priority and fairness only costs memory here
        _arg("enable-priority-and-fairness", "false"),
    ]
    no_port = [_arg("secure-port", 0, override=True), _arg("leader-elect", "false")]
    return [
        {"name": "etcd", "extraArgs": etcd},
        {"name": "kube-apiserver", "extraArgs": apiserver},
        {"name": "kube-controller-manager", "extraArgs": no_port},
        {"name": "kube-scheduler", "extraArgs": no_port},
    ]


# kwok v0.8.0 fills in its defaults only when it is given no KwokConfiguration
# at all (config.GetKwokConfiguration), never into one read from a file: a
# document with only the option Proctor changes leaves, e.g., the node lease
# parallelism at 0, and kwok-controller exits. So these are kwok's defaults
# (apis/config/v1alpha1/zz_generated.defaults.go), written out, but for
# the profiling handler.
KWOK_OPTIONS = {
    "cidr": "10.0.0.0/24",
    "enableDebuggingHandlers": True,   # logs, exec … answer "no … found" (no rules)
    "enableContentionProfiling": False,
    "enableProfilingHandler": False,   # /debug/pprof, open to every local process
    "podPlayStageParallelism": 4,
    "nodePlayStageParallelism": 4,
    "nodeLeaseParallelism": 4,
    "podsOnNodeSyncParallelism": 1,
    "enablePodsOnNodeSyncListPager": True,
    "enablePodsOnNodeSyncStreamWatch": False,
}


def kwok_configuration() -> dict:
    """The KwokConfiguration document kwokctl hands to kwok-controller."""
    return {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration",
            "options": dict(KWOK_OPTIONS)}
