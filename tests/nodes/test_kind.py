"""The kind provider on real nodes: the cluster, pods, Services, DNS,
storage, node hosts for checks, and a clean destroy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from confinement.cgroup import SANDBOX_CPU_WEIGHT, cpu_shares
from sandbox.base import InvalidOption
from sandbox.kind import NETWORK_PREFIX, container_name
from sandbox.nodeimage import WORKLOAD_IMAGES

pytestmark = pytest.mark.nodes

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: nginx:1.22, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80}]
"""


def test_nodes_are_ready_with_exam_names(kind, kind_cluster, kubectl):
    out = json.loads(kubectl(kind_cluster, "get", "nodes", "-o", "json").stdout)
    nodes = {n["metadata"]["name"]: n for n in out["items"]}
    assert sorted(nodes) == ["controlplane", "node01", "node02"]
    for name, node in nodes.items():
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", f"{name} is not Ready"
        assert node["status"]["nodeInfo"]["kubeletVersion"] == kind.toolchain.pins["kubernetes"]
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://2.")
    taints = [t["key"] for t in nodes["controlplane"]["spec"].get("taints", [])]
    assert "node-role.kubernetes.io/control-plane" in taints
    # the API is on loopback only
    assert kind_cluster.api_url.startswith("https://127.0.0.1:")


def test_nothing_was_pulled_and_the_network_is_the_sandboxs_own(kind, kind_cluster):
    """Every image on every node is one the node image preloaded (nothing can
    be pulled here), and the nodes sit on this sandbox's own Docker network."""
    preloaded = set(kind.image.preloaded_images())
    for node in kind_cluster.nodes:
        res = kind.node_exec(kind_cluster, node, "ctr", "-n", "k8s.io", "images", "ls", "-q")
        names = {i for i in res.stdout.split() if not i.startswith("sha256:")}
        assert names <= preloaded, f"{node} has images nobody preloaded: {names - preloaded}"
        nets = subprocess.run(
            ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}",
             container_name(kind_cluster.name, node)], capture_output=True, text=True).stdout
        assert list(json.loads(nets)) == [NETWORK_PREFIX + kind_cluster.name]


def test_the_nodes_have_a_sandboxs_share_of_the_cpu(kind_cluster):
    """A kind sandbox's node containers weigh as a kwok sandbox's cgroup does
    (confinement.cgroup.SANDBOX_CPU_WEIGHT), not as much as a shell."""
    for node in kind_cluster.nodes:
        res = subprocess.run(["docker", "inspect", "--format", "{{.HostConfig.CpuShares}}",
                              container_name(kind_cluster.name, node)],
                             capture_output=True, text=True)
        assert res.stdout.strip() == str(cpu_shares(SANDBOX_CPU_WEIGHT)), \
            f"{node}: cpu shares {res.stdout.strip() or res.stderr.strip()}"


def test_pods_answer_through_a_service_and_dns(kind, kind_cluster, kubectl):
    ns = "svc-test"
    kubectl(kind_cluster, "create", "namespace", ns)
    kubectl(kind_cluster, "-n", ns, "apply", "-f", "-", input=WEB)
    kubectl(kind_cluster, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
    res = kubectl(kind_cluster, "-n", ns, "run", "client", "--image", WORKLOAD_IMAGES["busybox"],
                  "--restart=Never", "--rm", "-i", "--command", "--", "sh", "-c",
                  f"wget -qO- http://web.{ns}.svc.cluster.local:8080/", timeout=120)
    assert "Welcome to nginx!" in res.stdout
    # real containers: exec and logs reach them
    res = kubectl(kind_cluster, "-n", ns, "exec", "deploy/web", "--", "cat", "/etc/hostname")
    assert res.stdout.strip().startswith("web-")
    logs = kubectl(kind_cluster, "-n", ns, "logs", "-l", "app=web", "--prefix").stdout
    assert '"GET / HTTP/1.1" 200' in logs


def test_default_storage_class_binds_a_claim(kind, kind_cluster, kubectl):
    ns = "pvc-test"
    kubectl(kind_cluster, "create", "namespace", ns)
    kubectl(kind_cluster, "-n", ns, "apply", "-f", "-", input="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  nodeSelector: {kubernetes.io/hostname: node01}  # not nodeName: binding waits for the scheduler
  containers:
  - name: w
    image: busybox:1.35
    command: [sh, -c, "echo kept > /data/file && sleep 3600"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
""")
    kubectl(kind_cluster, "-n", ns, "wait", "--for=condition=Ready", "pod/writer", "--timeout=120s")
    pvc = json.loads(kubectl(kind_cluster, "-n", ns, "get", "pvc", "data", "-o", "json").stdout)
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == "standard"
    host = kind.node_host(kind_cluster, "node01")
    found = host.check_output("cat /var/local-path-provisioner/*_%s_data/file", ns)
    assert found == "kept"


def test_node_hosts_for_checks(kind, kind_cluster):
    host = kind.node_host(kind_cluster, "node01")
    kubelet = host.service("kubelet")
    assert kubelet.is_running and kubelet.is_enabled
    assert host.check_output("hostname") == "node01"
    assert host.file("/var/lib/kubelet/config.yaml").contains("failCgroupV1: false")
    cp = kind.node_host(kind_cluster, "controlplane")
    assert cp.file("/etc/kubernetes/manifests/etcd.yaml").exists
    with pytest.raises(InvalidOption):
        kind.node_host(kind_cluster, "node07")


def proctor(state_root, *args, timeout=60):
    """The `proctor` command, on the tests' own kind state."""
    exe = Path(sys.executable).parent / "proctor"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PROCTOR_STATE_DIR": str(state_root)})


def test_sandbox_ssh_command(kind_root, kind_cluster):
    """`proctor sandbox ssh NAME NODE -- CMD`, as an instructor trying a task."""
    res = proctor(kind_root, "sandbox", "ssh", "-p", "kind", kind_cluster.name, "node01",
                  "--", "systemctl", "is-active", "kubelet")
    assert (res.returncode, res.stdout.strip()) == (0, "active"), res.stderr
    res = proctor(kind_root, "sandbox", "ssh", "-p", "kind", kind_cluster.name, "node07")
    assert res.returncode == 2 and "has no node 'node07' (it has controlplane, node01, node02)" \
        in res.stderr, res.stderr


def test_ssh_command_runs_on_the_node(kind, kind_cluster):
    """The command behind `ssh node02` in the terminal: a root shell there."""
    argv = kind.node_shell(kind_cluster, "node02", tty=False)
    res = subprocess.run(argv + ["bash", "-lc", "id -u; hostname; crictl ps -q | wc -l"],
                         capture_output=True, text=True, timeout=60)
    uid, host, containers = res.stdout.split()
    assert (uid, host) == ("0", "node02") and int(containers) >= 2


def test_unjoined_worker_and_clean_destroy(kind, kind_root, kubectl, docker_objects):
    """A 2-node sandbox whose node01 has kubeadm and a kubelet but is not in the
    cluster, made by `proctor sandbox up --unjoined`; destroying it leaves no
    container, network or volume."""
    name = f"unjoined-{os.getpid()}"
    assert not any(docker_objects(name).values())
    res = proctor(kind_root, "sandbox", "up", "-p", "kind", "--name", name, "--nodes", "2",
                  "--unjoined", "node01", timeout=300)
    try:
        assert res.returncode == 0, res.stderr
        assert "unjoined:   node01 (machines, not yet nodes: proctor sandbox ssh " \
            f"{name} node01)" in res.stdout, res.stdout
        sb = kind.get(name)
        assert sb.nodes == ["controlplane", "node01"] and sb.unjoined == ["node01"]
        names = kubectl(sb, "get", "nodes", "-o", "name").stdout.split()
        assert names == ["node/controlplane"]
        host = kind.node_host(sb, "node01")
        assert host.exists("kubeadm") and host.exists("kubelet")
        assert not host.file("/etc/kubernetes/kubelet.conf").exists
        during = docker_objects(name)
        assert len(during["containers"]) == 2 and len(during["networks"]) == 1, during
        assert len(during["volumes"]) == 2, during  # each node's /var
    finally:
        kind.destroy(name)
    after = docker_objects(name)
    left = {**after, "volumes": during["volumes"] & set(_all_volumes())}
    left = {kind_: ids for kind_, ids in left.items() if ids}
    assert not left, f"destroy left Docker objects behind: {left}"
    assert kind.get(name) is None
    kind.destroy(name)  # idempotent


def _all_volumes() -> list[str]:
    return subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True,
                          check=True).stdout.split()


def test_bad_options_are_refused_before_anything_starts(kind):
    with pytest.raises(InvalidOption, match="node05"):
        kind.create("badopt", nodes=3, unjoined=["node05"])
    with pytest.raises(InvalidOption, match="controlplane"):
        kind.create("badopt", nodes=3, unjoined=["controlplane"])
    assert kind._read("badopt") is None
