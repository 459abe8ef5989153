"""What a golden cluster is made of: sizes, addresses, kubeadm's configuration.

Every value here is part of the golden clusters' key (``Golden.key``): a
change means a new golden build. ``golden.py`` builds and saves; this says
what it builds.
"""

from __future__ import annotations

import yaml

CP_MEMORY_MB = 2048
WORKER_MEMORY_MB = 1024
CP_CPUS = 2
WORKER_CPUS = 1
PRIVATE_NET = "10.10.0"
POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/16"
# tsc=reliable: under TCG the kernel finds the vCPUs' TSCs "unsynchronized",
# falls back to the HPET and every clock read (Go reads the clock all the
# time) becomes a system call and an emulated MMIO read; with the TSC it stays
# in the vDSO (1e6 time.Now() calls: 3.0 s on the HPET, 0.33-0.48 s on the TSC)
APPEND = ("console=ttyS0 root=/dev/vda rw rootfstype=ext4 net.ifnames=0 mitigations=off "
          "tsc=reliable "
          "init_on_free=1 loglevel=4 proctor.node={node} proctor.ip={ip} proctor.nodes=3 "
          "proctor.key={key}")
# (variant, nodes in the variant, unjoined, what to do before saving it)
STAGES = (
    ("1", ["controlplane"], []),
    ("2", ["controlplane", "node01"], []),
    ("3-node02-unjoined", ["controlplane", "node01", "node02"], ["node02"]),
    ("3", ["controlplane", "node01", "node02"], []),
)
VARIANTS = {(len(nodes), tuple(unjoined)): name for name, nodes, unjoined in STAGES}
# every kubeadm wait raised: a TCG guest on a busy host is slow, not broken
TIMEOUTS = {"controlPlaneComponentHealthCheck": "40m0s", "kubeletHealthCheck": "40m0s",
            "kubernetesAPICall": "10m0s", "etcdAPICall": "10m0s", "tlsBootstrap": "40m0s",
            "discovery": "40m0s"}


# The control plane's probes, relaxed: under TCG on a busy host an API
# server can take minutes to start, and kubeadm's own probes (startup 240 s,
# liveness 8 x 10 s) kill it first, over and over. A restored sandbox keeps
# these too, so a slow moment on the host does not restart its API server.
PROBES = {"startupProbe": {"initialDelaySeconds": 10, "periodSeconds": 10,
                           "timeoutSeconds": 60, "failureThreshold": 360},
          "livenessProbe": {"initialDelaySeconds": 10, "periodSeconds": 30,
                            "timeoutSeconds": 60, "failureThreshold": 20}}
STATIC_PODS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")


# Go's scheduler on one thread in a TCG guest: with more, the runtime's
# threads (GC workers, spinning Ms) contend for vCPUs that are host threads
# on a busy host. Measured in a 2-vCPU TCG guest, GOMAXPROCS=1 against 2:
# 50 GCs 0.12 s against 0.45 s, 50 TLS handshakes 0.44 s against 1.06 s,
# JSON and allocation 1.16 s against 1.69 s. With KVM the default stands.
TCG_ENV = {"GOMAXPROCS": "1"}
TCG_DAEMONS = ("kubelet", "containerd")


def kubeadm_patches(accel: str) -> dict[str, str]:
    """kubeadm's ``patches`` directory: file name -> content."""
    env = [{"name": k, "value": v} for k, v in TCG_ENV.items()] if accel == "tcg" else []
    return {f"{pod}+strategic.yaml": yaml.safe_dump(
        {"spec": {"containers": [{"name": pod, **PROBES, **({"env": env} if env else {})}]}})
        for pod in STATIC_PODS}


def daemon_dropins(accel: str) -> dict[str, str]:
    """systemd drop-ins for the node's own daemons: path -> content."""
    if accel != "tcg":
        return {}
    lines = "".join(f"Environment={k}={v}\n" for k, v in TCG_ENV.items())
    return {f"/etc/systemd/system/{d}.service.d/20-proctor-tcg.conf": "[Service]\n" + lines
            for d in TCG_DAEMONS}


def node_ip(index: int) -> str:
    return f"{PRIVATE_NET}.{10 + index}"


def node_index(node: str) -> int:
    return 0 if node == "controlplane" else int(node[4:])


def kubeadm_config(kube: str, etcd_tag: str) -> str:
    """kubeadm's configuration for the control plane (API on the private
    network, 127.0.0.1 in its certificate for the host's forward)."""
    cri = "unix:///run/containerd/containerd.sock"
    return yaml.safe_dump_all([
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
         "localAPIEndpoint": {"advertiseAddress": node_ip(0), "bindPort": 6443},
         "nodeRegistration": {"name": "controlplane", "criSocket": cri},
         "patches": {"directory": "/root/kubeadm-patches"},
         "timeouts": TIMEOUTS},
        {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
         "kubernetesVersion": kube,
         # ECDSA keys: every TLS handshake signs with the server's key, and an
         # RSA-2048 signature in a TCG guest is slow enough to miss Go's 10 s
         # handshake timeout ("net/http: TLS handshake timeout")
         "encryptionAlgorithm": "ECDSA-P256",
         # API Priority and Fairness off: fewer start-up hooks and objects for an
         # API server that starts in a TCG guest (kwok sandboxes run without it too)
         "apiServer": {"certSANs": ["127.0.0.1", "localhost", "controlplane", node_ip(0)],
                       "extraArgs": [{"name": "enable-priority-and-fairness",
                                      "value": "false"}]},
         "networking": {"podSubnet": POD_SUBNET, "serviceSubnet": SERVICE_SUBNET},
         # one control plane: no leader election, whose 5 s lease renewals a
         # TCG guest misses ("leaderelection lost", and the component exits)
         "controllerManager": {"extraArgs": [{"name": "leader-elect", "value": "false"}]},
         "scheduler": {"extraArgs": [{"name": "leader-elect", "value": "false"}]},
         "etcd": {"local": {"imageTag": etcd_tag}}},
        {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
         "cgroupDriver": "cgroupfs"},
    ])


def join_config(node: str, token: str, ca_hash: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
        "discovery": {"bootstrapToken": {"apiServerEndpoint": f"{node_ip(0)}:6443",
                                         "token": token, "caCertHashes": [ca_hash]}},
        "nodeRegistration": {"name": node, "criSocket": "unix:///run/containerd/containerd.sock"},
        "timeouts": TIMEOUTS})


def memory_mb(node: str) -> int:
    return CP_MEMORY_MB if node == "controlplane" else WORKER_MEMORY_MB


def cpus(node: str) -> int:
    return CP_CPUS if node == "controlplane" else WORKER_CPUS
