"""The golden build's steps on the cluster: ``kubeadm init`` phase by phase,
joins, and waiting until the cluster is usable. A mixin of ``build.Builder``,
which provides ``sh``, ``log``, ``step``, ``nodes``, ``vms`` and ``work``."""

from __future__ import annotations

import subprocess

from ..kubeapi import wait_usable
from ..toolchain import ToolchainError
from .recipe import join_config, kubeadm_config, kubeadm_patches, node_ip
from .ssh import Node


class KubeadmSteps:
    def kubeadm_init(self, cp: Node) -> None:
        """``kubeadm init`` phase by phase. Some of its requests carry a fixed
        10 s timeout (the admin user's ClusterRoleBinding), which an API
        server in a TCG guest on a busy host can miss; so the phases that
        talk to the API run once it answers, and again if they fail (each
        is idempotent)."""
        cp.write("/root/kubeadm.yaml", kubeadm_config(self.g.image.kube,
                                                      self.g.image.node.etcd_tag))
        config = "--config /root/kubeadm.yaml"
        self.sh(cp, "mkdir -p /root/kubeadm-patches", 60)
        for fname, text in kubeadm_patches(self.g.accel).items():
            cp.write(f"/root/kubeadm-patches/{fname}", text)
        # The API server first, alone: the controller manager and the scheduler
        # retrying against it take the CPU it needs to start (its own start-up
        # checks have fixed deadlines, and it exits when it misses one).
        for phase in ("preflight", "certs all", "kubeconfig all", "etcd local",
                      "control-plane apiserver", "kubelet-start"):
            self.sh(cp, f"kubeadm init phase {phase} {config}", 1800)
        self.step("waiting for the API server")
        # curl, not kubectl: starting kubectl every few seconds costs a TCG guest
        # more than the API server can spare
        readyz = (f"until curl -skf --max-time 30 https://{node_ip(0)}:6443/readyz >/dev/null; "
                  "do sleep 5; done")
        self.sh(cp, readyz, 3600)
        for phase in ("control-plane controller-manager", "control-plane scheduler"):
            self.sh(cp, f"kubeadm init phase {phase} {config}", 1800)
        for phase in ("upload-config all", "mark-control-plane", "bootstrap-token",
                      "kubelet-finalize all", "addon all"):
            for attempt in range(1, 6):
                self.log(f"[controlplane] kubeadm init phase {phase} (try {attempt})")
                rc, out, err = cp.run(f"kubeadm init phase {phase} {config}", timeout=1800)
                self.log(out + err)
                if rc == 0:
                    break
            else:
                raise ToolchainError(f"golden build: kubeadm init phase {phase} failed 5 times: "
                                     f"{(err or out).strip().splitlines()[-2:]}",
                                     self.work / "build.log")

    def join(self, node: str) -> None:
        cp = self.nodes["controlplane"]
        self.step(f"kubeadm join {node}")
        token = self.sh(cp, "kubeadm token create --ttl 2h", 300).strip()
        ca_hash = self.sh(cp, "openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl pkey "
                              "-pubin -outform der | sha256sum | cut -d' ' -f1", 60).strip()
        n = self.nodes[node]
        n.write("/root/join.yaml", join_config(node, token, "sha256:" + ca_hash))
        self.sh(n, "kubeadm join --config /root/join.yaml && rm /root/join.yaml", 3600)

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kubeconfig = self.work / "admin.conf"
        if not kubeconfig.exists():
            text = self.admin.replace(f"https://{node_ip(0)}:6443",
                                      f"https://127.0.0.1:{self.vms['controlplane'].m.api_port}")
            kubeconfig.write_text(text)
            kubeconfig.chmod(0o600)
        return subprocess.run([str(self.g.toolchain.binary("kubectl")), "--kubeconfig",
                               str(kubeconfig), *args], capture_output=True, text=True,
                              timeout=timeout)

    def wait_usable(self, nodes: list[str], timeout: float = 1800) -> None:
        self.step(f"waiting for {', '.join(nodes)} Ready, CoreDNS, default ServiceAccount")
        state = wait_usable(self.kubectl, set(nodes), timeout, 2)
        if state:
            raise ToolchainError(f"golden cluster not usable after {timeout:.0f}s: {state}",
                                 self.work / "build.log")

