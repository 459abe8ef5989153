"""The kwok provider against real API servers: lifecycle, isolation, crash, cleanup."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time

import psutil
import pytest
from kubernetes import client, config

from sandbox import CreateFailed, NameTaken, node_names
from sandbox.base import etcdctl_env
from sandbox.toolchain import Toolchain
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

KUBECTL = None


def kubectl(sb, *args, check=True, input=None):
    global KUBECTL
    KUBECTL = KUBECTL or str(Toolchain().binary("kubectl"))
    res = subprocess.run([KUBECTL, "--kubeconfig", str(sb.kubeconfig), *args],
                         capture_output=True, text=True, input=input, timeout=60)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)} failed: {res.stderr}"
    return res


def api(sb) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sb.kubeconfig))


def listening_ports(procs):
    ports = set()
    for p in procs:
        try:
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    ports.add((c.laddr.ip, c.laddr.port))
        except psutil.NoSuchProcess:
            pass
    return ports


def all_listening():
    return {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN}


def endpoint_count(sb, namespace, service):
    slices = client.DiscoveryV1Api(api(sb)).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}")
    return sum(1 for s in slices.items for e in (s.endpoints or [])
               if e.conditions and e.conditions.ready)


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""


def test_lifecycle_create_deploy_endpoints_selector_destroy(kwok):
    sb = kwok.create("life", nodes=3)
    assert sb.nodes == ["controlplane", "node01", "node02"]
    assert sb.url == "kwok://life?nodes=3"
    assert sb.api_url.startswith("https://127.0.0.1:")

    core = client.CoreV1Api(api(sb))
    nodes = {n.metadata.name: n for n in core.list_node().items}
    assert sorted(nodes) == sb.nodes
    for n in nodes.values():
        ready = [c.status for c in n.status.conditions if c.type == "Ready"]
        assert ready == ["True"], f"node {n.metadata.name} Ready={ready}"
    assert [t.key for t in nodes["controlplane"].spec.taints] == [
        "node-role.kubernetes.io/control-plane"]
    assert core.read_namespaced_service_account("default", "default")

    kubectl(sb, "apply", "-f", "-", input=DEPLOYMENT)
    kubectl(sb, "rollout", "status", "deployment/web", "--timeout=180s")
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.status.pod_ip for p in pods)
    assert all(p.spec.node_name in ("node01", "node02") for p in pods), \
        "pods were scheduled on the tainted control plane"
    wait_for("3 endpoints", lambda: endpoint_count(sb, "default", "web") == 3)

    kubectl(sb, "patch", "service", "web", "-p", '{"spec":{"selector":{"app":"wrong"}}}')
    wait_for("0 endpoints", lambda: endpoint_count(sb, "default", "web") == 0)

    procs = kwok.processes("life")
    assert len(procs) >= 6  # five components and the API server's egress proxy
    ports = listening_ports(procs)
    assert ports and all(ip == "127.0.0.1" for ip, _ in ports), f"not loopback-only: {ports}"
    cgroup = kwok.cgroup("life")
    assert cgroup.exists() and {p.pid for p in procs} <= cgroup.pids(), \
        "the sandbox's processes are not all in its cgroup"

    kwok.destroy("life")
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not cgroup.exists(), f"cgroup {cgroup.name} left after destroy"
    assert not ports & all_listening(), "ports still listening after destroy"
    assert kwok.get("life") is None
    assert not (kwok.root / "sandboxes" / "life").exists()
    assert not (kwok.root / "kwok" / "clusters" / "life").exists()
    kwok.destroy("life")  # idempotent


def test_two_sandboxes_reject_each_others_credentials(kwok, shared_sandbox):
    other = kwok.create("other", nodes=1)
    try:
        # shared_sandbox's admin credentials, pointed at the other API server
        cfg = kubectl(shared_sandbox, "config", "view", "--raw", "-o", "json").stdout
        res = subprocess.run(
            [str(Toolchain().binary("kubectl")), "--kubeconfig", str(shared_sandbox.kubeconfig),
             "--server", other.api_url, "--insecure-skip-tls-verify", "get", "nodes"],
            capture_output=True, text=True, timeout=30)
        assert res.returncode != 0, "sandbox A's admin certificate was accepted by sandbox B"
        # a 401: "Unauthorized" once kubectl has a discovery cache for that
        # address, client-go's words for it before
        assert any(w in res.stderr for w in ("Unauthorized", "provide credentials",
                                              "certificate")), res.stderr
        assert cfg  # the credentials themselves are real and work at home:
        kubectl(shared_sandbox, "get", "nodes")
    finally:
        kwok.destroy("other")


def test_api_credentials_are_made_by_proctor_and_sign_service_account_tokens(kwok, shared_sandbox):
    """kwokctl takes the cluster's CA and admin pair Proctor made before it
    ran (pki.make_api): the API server serves with it, and the admin key
    signs ServiceAccount tokens that the API server then accepts."""
    folder = kwok.root / "kwok" / "clusters" / shared_sandbox.name / "pki"
    assert folder.stat().st_mode & 0o077 == 0, f"{folder} is open to others"
    assert b"BEGIN EC PRIVATE KEY" in (folder / "admin.key").read_bytes(), \
        "the admin key is not the one Proctor made (kwokctl writes RSA)"
    served = ssl.get_server_certificate(("127.0.0.1", int(shared_sandbox.api_url.rsplit(":", 1)[1])))
    assert served.strip() == (folder / "admin.crt").read_text().strip(), \
        "the API server serves another certificate than the admin one Proctor made"
    token = kubectl(shared_sandbox, "create", "token", "default", "-n", "default").stdout.strip()
    res = subprocess.run(
        [str(Toolchain().binary("kubectl")), "--server", shared_sandbox.api_url,
         "--certificate-authority", str(folder / "ca.crt"), "--token", token,
         "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
        capture_output=True, text=True, timeout=30)
    assert res.stdout == "system:serviceaccount:default:default", res.stderr


def test_create_twice_returns_the_same_sandbox_and_foreign_names_are_refused(kwok, shared_sandbox):
    again = kwok.create(shared_sandbox.name, nodes=3)
    assert again.api_url == shared_sandbox.api_url
    with pytest.raises(NameTaken, match="already exists with 3 nodes, not 2"):
        kwok.create(shared_sandbox.name, nodes=2)
    foreign = kwok.root / "kwok" / "clusters" / "foreign"
    foreign.mkdir(parents=True)
    try:
        with pytest.raises(NameTaken, match="Proctor did not create"):
            kwok.create("foreign")
        with pytest.raises(NameTaken, match="not created by Proctor"):
            kwok.destroy("foreign")
    finally:
        foreign.rmdir()


def test_crashed_sandbox_is_reported_and_reaped(kwok):
    sb = kwok.create("crash", nodes=1)
    assert kwok.health("crash").ok
    apiserver = [p for p in kwok.processes("crash") if "kube-apiserver" in p.cmdline()[0]]
    assert len(apiserver) == 1
    ports = listening_ports(kwok.processes("crash"))
    apiserver[0].send_signal(signal.SIGKILL)
    apiserver[0].wait(10)
    health = kwok.health("crash")
    assert not health.ok and "kube-apiserver" in health.detail
    assert "crash" in kwok.reap(older_than=3600)
    assert kwok.get("crash") is None and not kwok.processes("crash")
    assert not ports & all_listening()
    assert sb.name not in [s.name for s in kwok.list()]


def test_workloads_behave_as_on_a_real_cluster(shared_sandbox):
    sb = shared_sandbox
    kubectl(sb, "create", "namespace", "behave")
    manifests = """
apiVersion: batch/v1
kind: Job
metadata: {name: pi, namespace: behave}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: perl, command: ["perl", "-e", "print 1"]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: behave}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: picky, namespace: behave}
spec:
  nodeSelector: {kubernetes.io/hostname: node02}
  containers: [{name: c, image: busybox}]
"""
    kubectl(sb, "apply", "-f", "-", input=manifests)
    kubectl(sb, "-n", "behave", "wait", "job/pi", "--for=condition=Complete", "--timeout=180s")
    core = client.CoreV1Api(api(sb))
    wait_for("a DaemonSet pod per worker",
             lambda: len([p for p in core.list_namespaced_pod("behave", label_selector="app=agent").items
                          if p.status.phase == "Running"]) == 2)
    ds_nodes = sorted(p.spec.node_name for p in
                      core.list_namespaced_pod("behave", label_selector="app=agent").items)
    assert ds_nodes == ["node01", "node02"]
    kubectl(sb, "-n", "behave", "wait", "pod/picky", "--for=condition=Ready", "--timeout=120s")
    assert core.read_namespaced_pod("picky", "behave").spec.node_name == "node02"

    # ReplicaSets scale; cordon and drain move pods off a node
    kubectl(sb, "-n", "behave", "create", "deployment", "app", "--image=nginx", "--replicas=4")
    kubectl(sb, "-n", "behave", "rollout", "status", "deployment/app", "--timeout=180s")
    kubectl(sb, "-n", "behave", "scale", "deployment/app", "--replicas=6")
    kubectl(sb, "-n", "behave", "rollout", "status", "deployment/app", "--timeout=180s")
    kubectl(sb, "drain", "node01", "--ignore-daemonsets", "--force", "--timeout=180s")
    assert core.read_node("node01").spec.unschedulable is True
    wait_for("drained pods rescheduled on node02",
             lambda: all(p.spec.node_name == "node02" for p in
                         core.list_namespaced_pod("behave", label_selector="app=app").items
                         if p.metadata.deletion_timestamp is None)
             and len(core.list_namespaced_pod("behave", label_selector="app=app").items) == 6)
    kubectl(sb, "uncordon", "node01")

    # taints are honoured by the real scheduler, tolerations let pods through
    kubectl(sb, "taint", "node", "node01", "node02", "gpu=yes:NoSchedule")
    try:
        kubectl(sb, "-n", "behave", "run", "plain", "--image=busybox")
        kubectl(sb, "-n", "behave", "run", "tolerant", "--image=busybox", "--overrides",
                '{"spec":{"tolerations":[{"key":"gpu","operator":"Equal","value":"yes",'
                '"effect":"NoSchedule"}]}}')
        kubectl(sb, "-n", "behave", "wait", "pod/tolerant", "--for=condition=Ready", "--timeout=120s")
        time.sleep(1)
        plain = core.read_namespaced_pod("plain", "behave")
        assert plain.spec.node_name is None and plain.status.phase == "Pending"
    finally:
        kubectl(sb, "taint", "node", "node01", "node02", "gpu=yes:NoSchedule-")


def test_kwok_runs_nothing_on_the_host(shared_sandbox):
    """exec/attach/port-forward would run candidate commands on the host: refused."""
    sb = shared_sandbox
    kubectl(sb, "create", "namespace", "sec")
    kubectl(sb, "-n", "sec", "run", "target", "--image=busybox")
    kubectl(sb, "-n", "sec", "wait", "pod/target", "--for=condition=Ready", "--timeout=120s")
    marker = f"/tmp/proctor-exec-{os.getpid()}"
    res = kubectl(sb, "-n", "sec", "exec", "target", "--", "touch", marker, check=False)
    assert res.returncode != 0
    assert not os.path.exists(marker), "kubectl exec ran a command on the host"
    res = kubectl(sb, "-n", "sec", "attach", "target", check=False)
    assert res.returncode != 0
    # and no way to configure kwok to do so: its Exec/ClusterExec CRDs are absent
    res = kubectl(sb, "api-resources", "--api-group=kwok.x-k8s.io", "-o", "name", check=False)
    assert res.stdout.strip() == "", f"kwok CRDs are served: {res.stdout}"


def test_etcd_endpoint_is_a_real_etcd(shared_sandbox):
    """etcd answers over TLS to a client certificate of the sandbox's own
    (tests/security/test_sandbox_ports.py: and to nothing else)."""
    sb = shared_sandbox
    assert sb.etcd_endpoint.startswith("https://127.0.0.1:")
    assert sb.etcd_pki is not None and sb.etcd_pki.stat().st_mode & 0o077 == 0, \
        f"the etcd credentials {sb.etcd_pki} are open to others"
    etcdctl = str(Toolchain().binary("etcdctl"))
    res = subprocess.run([etcdctl, "endpoint", "health"], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, **etcdctl_env(sb.etcd_endpoint,
                                                                        sb.etcd_pki)))
    assert res.returncode == 0 and "is healthy" in (res.stdout + res.stderr), res.stderr


def test_node_names_match_the_exam():
    assert node_names(3) == ["controlplane", "node01", "node02"]


def test_a_failed_create_leaves_nothing_but_a_log_that_explains_it(kwok, monkeypatch):
    def never_usable(sandbox, log):
        raise CreateFailed(f"sandbox {sandbox.name!r} did not become usable")
    monkeypatch.setattr(kwok, "_wait_usable", never_usable)
    name = f"failing-{os.getpid()}"
    with pytest.raises(CreateFailed, match="did not become usable") as info:
        kwok.create(name)
    kept = info.value.log
    assert kept.parent == kwok.root / "failed", kept
    text = kept.read_text()
    assert "--- last lines of kube-apiserver.log ---" in text, text[-2000:]
    assert kwok.get(name) is None and not kwok._record_dir(name).exists()
