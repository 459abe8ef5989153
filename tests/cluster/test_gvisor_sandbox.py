"""Real containers in a gvisor sandbox, used as a candidate uses them: the
kubectl commands of the CKAD's container streams, debugging and observability
topics, against a real API server and a real kubelet, containerd and runc in
a gVisor box. Each test works in a namespace of its own on one shared sandbox.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import pytest

from sandbox.gvisor.addons import BOXD_METRICS_PORT
from sandbox.toolchain import Toolchain
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.containers]
BUSYBOX = "docker.io/library/busybox:1.35"
NGINX = "docker.io/library/nginx:1.22"


def kubectl(sb, *args: str, input: str | None = None, timeout: float = 60,
            check: bool = True) -> str:
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                          *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout + (res.stderr if not check else "")


@pytest.fixture
def ns(shared_gvisor, request):
    name = "t-" + request.node.name.replace("_", "-")[5:40].strip("-").lower()
    kubectl(shared_gvisor, "create", "namespace", name)
    yield name
    kubectl(shared_gvisor, "delete", "namespace", name, "--wait=false", check=False)


def apply(sb, ns: str, manifest: dict) -> None:
    kubectl(sb, "-n", ns, "apply", "-f", "-", input=json.dumps(manifest))


def pod(name: str, *containers: dict, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": list(containers), **spec}}


def running(sb, ns: str, name: str) -> bool:
    phase = kubectl(sb, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")
    return phase == "Running"


def test_the_worker_is_a_real_node_in_gvisor(shared_gvisor):
    nodes = json.loads(kubectl(shared_gvisor, "get", "nodes", "-o", "json"))["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(by_name) == ["controlplane", "node01"]
    assert "gvisor" in by_name["node01"]["status"]["nodeInfo"]["kernelVersion"]
    assert by_name["node01"]["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd")
    assert any(t["key"] == "node-role.kubernetes.io/control-plane"
               for t in by_name["controlplane"]["spec"].get("taints", []))
    dns = kubectl(shared_gvisor, "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns",
                  "-o", "jsonpath={.items[0].spec.nodeName} {.items[0].status.phase}")
    assert dns == "node01 Running"


def test_the_first_pods_of_a_node_get_their_network_at_once(shared_gvisor):
    """CoreDNS and metrics-server are the node's first pods, set up at once:
    the pod network plugin made the node's bridge for both, and the second
    was told "File exists", failed, and waited for the kubelet's retry (15 s
    of a create). A race: before the fix one create in three here lost it."""
    events = json.loads(kubectl(shared_gvisor, "-n", "kube-system", "get", "events", "-o", "json"))
    failed = [e["message"] for e in events["items"] if e["reason"] == "FailedCreatePodSandBox"]
    assert not failed, failed


def test_logs_follow_previous_and_container(shared_gvisor, ns):
    sb = shared_gvisor
    apply(sb, ns, pod(
        "two",
        {"name": "app", "image": BUSYBOX,
         "command": ["sh", "-c", "echo started-$(date +%s%N); i=0; while [ $i -lt 3 ]; do "
                                 "echo tick $i; i=$((i+1)); sleep 1; done; exit 3"]},
        {"name": "side", "image": BUSYBOX, "command": ["sh", "-c", "echo sidecar-says-hi; sleep 3600"]}))
    wait_for("the sidecar's output", lambda: "sidecar-says-hi" in kubectl(
        sb, "-n", ns, "logs", "two", "-c", "side", check=False))
    follow = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig",
                             str(sb.kubeconfig), "-n", ns, "logs", "-f", "two", "-c", "app"],
                            capture_output=True, text=True, timeout=60)
    assert "tick 2" in follow.stdout, follow.stdout + follow.stderr  # -f ends with the container
    # the container exits 3 and restarts: the previous run's output is kept
    first = follow.stdout.split()[0]
    wait_for("a restart", lambda: kubectl(sb, "-n", ns, "get", "pod", "two", "-o",
                                          "jsonpath={.status.containerStatuses[?(@.name=='app')]"
                                          ".restartCount}") not in ("", "0"))
    previous = kubectl(sb, "-n", ns, "logs", "two", "-c", "app", "--previous")
    assert first in previous and "tick 2" in previous


def test_exec_attach_run_rm_and_cp(shared_gvisor, ns, tmp_path):
    sb = shared_gvisor
    apply(sb, ns, pod("box", {"name": "box", "image": BUSYBOX, "stdin": True,
                              "command": ["sh", "-c", "while read l; do echo got:$l; done"]}))
    wait_for("the pod running", lambda: running(sb, ns, "box"))
    assert kubectl(sb, "-n", ns, "exec", "box", "--", "sh", "-c", "echo $((6*7))").strip() == "42"
    assert kubectl(sb, "-n", ns, "exec", "-i", "box", "--", "cat", input="piped\n") == "piped\n"
    # attach: what is typed reaches the container's stdin, what it prints comes back
    attach = subprocess.Popen([str(Toolchain().binary("kubectl")), "--kubeconfig",
                               str(sb.kubeconfig), "-n", ns, "attach", "-i", "box"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "got:hello" not in seen and time.monotonic() < deadline:
            attach.stdin.write("hello\n")  # until the stream is up, lines may go unseen
            attach.stdin.flush()
            line = attach.stdout.readline()
            seen += line
        assert "got:hello" in seen, seen
    finally:
        attach.kill()
        attach.wait(10)
    out = kubectl(sb, "-n", ns, "run", "once", "--rm", "-i", "--restart=Never", f"--image={BUSYBOX}",
                  "--", "sh", "-c", "echo from-a-throwaway-pod", timeout=120)
    assert "from-a-throwaway-pod" in out
    assert kubectl(sb, "-n", ns, "get", "pod", "once", "--ignore-not-found") == ""
    local = tmp_path / "in.txt"
    local.write_text("copied in\n")
    kubectl(sb, "-n", ns, "cp", str(local), "box:/tmp/in.txt")
    kubectl(sb, "-n", ns, "cp", "box:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "copied in\n"


def test_port_forward_to_the_local_shell(shared_gvisor, ns):
    sb = shared_gvisor
    apply(sb, ns, pod("web", {"name": "nginx", "image": NGINX, "ports": [{"containerPort": 80}]}))
    wait_for("nginx running", lambda: running(sb, ns, "web"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                             "-n", ns, "port-forward", "pod/web", f"{port}:80"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def page():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
            except OSError:
                return ""
        assert "nginx" in wait_for("the page through port-forward", page, timeout=60).lower()
    finally:
        proc.terminate()
        proc.wait(10)


def test_debug_an_ephemeral_container_beside_the_target(shared_gvisor, ns):
    sb = shared_gvisor
    apply(sb, ns, pod("target", {"name": "app", "image": BUSYBOX,
                                 "command": ["sh", "-c", "exec sleep 3601"]}))
    wait_for("the pod running", lambda: running(sb, ns, "target"))
    kubectl(sb, "-n", ns, "debug", "target", f"--image={BUSYBOX}", "--target=app",
            "--container=dbg", "--", "sh", "-c", "ps; sleep 3600", timeout=120)
    # the debug container sees the target's processes (it shares their namespace)
    out = wait_for("the debug container's ps", lambda: (lambda o: "sleep 3601" in o and o)(
        kubectl(sb, "-n", ns, "logs", "target", "-c", "dbg", check=False)))
    assert "ps" in out


def test_services_and_dns_from_a_pod(shared_gvisor, ns):
    sb = shared_gvisor
    kubectl(sb, "-n", ns, "create", "deployment", "web", f"--image={NGINX}", "--replicas=2")
    kubectl(sb, "-n", ns, "expose", "deployment", "web", "--port=80")
    kubectl(sb, "-n", ns, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    # each step is tried until it answers (a busy machine answers late, not never); the
    # output is read from the finished Pod's log: `run -i` attaches after the container
    # starts, so a fast first line can go unseen (as "If you don't see a command prompt")
    retry = "for i in $(seq 30); do {} && break; sleep 1; done"
    apply(sb, ns, pod("client", {"name": "client", "image": BUSYBOX, "command": [
        "sh", "-c", "; ".join(retry.format(step) for step in (
            f"nslookup web.{ns}.svc.cluster.local", "wget -qO- -T5 http://web",
            f"wget -qO- -T5 http://web.{ns}"))]}, restartPolicy="Never"))
    wait_for("the client pod to finish", lambda: kubectl(
        sb, "-n", ns, "get", "pod", "client", "-o", "jsonpath={.status.phase}")
        in ("Succeeded", "Failed"), timeout=300)
    out = kubectl(sb, "-n", ns, "logs", "client")
    ip = kubectl(sb, "-n", ns, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert ip in out, out
    assert out.count("Welcome to nginx") >= 1, out


def test_probes_and_init_containers_really_run(shared_gvisor, ns):
    sb = shared_gvisor
    apply(sb, ns, pod(
        "probed",
        {"name": "app", "image": BUSYBOX,
         "command": ["sh", "-c", "cat /work/from-init; sleep 3600"],
         "volumeMounts": [{"name": "work", "mountPath": "/work"}],
         "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
         "livenessProbe": {"exec": {"command": ["test", "!", "-e", "/tmp/die"]},
                           "periodSeconds": 1, "failureThreshold": 1}},
        initContainers=[{"name": "init", "image": BUSYBOX, "command": ["sh", "-c",
                         "echo written-by-init > /work/from-init"],
                         "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
        volumes=[{"name": "work", "emptyDir": {}}]))
    wait_for("the pod running", lambda: running(sb, ns, "probed"))
    assert "written-by-init" in kubectl(sb, "-n", ns, "logs", "probed", "-c", "app")

    def ready() -> str:
        return kubectl(sb, "-n", ns, "get", "pod", "probed", "-o",
                       "jsonpath={.status.containerStatuses[0].ready}")
    time.sleep(3)  # a readiness probe that fails keeps failing: not ready for several periods
    assert ready() == "false"
    kubectl(sb, "-n", ns, "exec", "probed", "-c", "app", "--", "touch", "/tmp/ready")
    wait_for("ready once the probe passes", lambda: ready() == "true")
    kubectl(sb, "-n", ns, "exec", "probed", "-c", "app", "--", "touch", "/tmp/die")
    wait_for("restarted by its liveness probe", lambda: kubectl(
        sb, "-n", ns, "get", "pod", "probed", "-o",
        "jsonpath={.status.containerStatuses[0].restartCount}") not in ("", "0"))


def test_an_image_that_is_not_there_fails_fast(shared_gvisor, ns):
    """No registry: ErrImagePull, then ImagePullBackOff, as in a cluster offline."""
    sb = shared_gvisor
    apply(sb, ns, pod("missing", {"name": "app", "image": "docker.io/library/redis:7.2"}))
    wait_for("a pull error", lambda: kubectl(
        sb, "-n", ns, "get", "pod", "missing", "-o",
        "jsonpath={.status.containerStatuses[0].state.waiting.reason}") in
        ("ErrImagePull", "ImagePullBackOff"), timeout=120)
    events = kubectl(sb, "-n", ns, "get", "events", "--field-selector", "involvedObject.name=missing")
    assert "Failed to pull image" in events, events


def millicores(q: str) -> int:
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def mebibytes(q: str) -> float:
    return float(q[:-2]) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[q[-2:]]


def test_top_nodes_and_pods(shared_gvisor, ns):
    """kubectl top, as a candidate finds the pod that uses the most:
    metrics-server scrapes proctor-boxd's resource metrics (the kubelet's own
    fail inside gVisor). A pod burning a CPU shows more than an idle one, a
    pod holding 40 MB shows them, the simulated controlplane (nothing to
    scrape) stays <unknown> without hiding node01, and the node's CPU counter
    does not go back when a pod goes (gVisor forgets a removed cgroup's time)."""
    sb = shared_gvisor
    apply(sb, ns, pod("burn", {"name": "burn", "image": BUSYBOX,
                               "command": ["sh", "-c", "while :; do :; done"]}))
    apply(sb, ns, pod("idle", {"name": "idle", "image": BUSYBOX, "command": ["sleep", "3600"]}))
    # the loop keeps sh (and its 40 MB variable) alive: a last command would be exec'd
    apply(sb, ns, pod("hold", {"name": "hold", "image": BUSYBOX, "command": [
        "sh", "-c", 'x=$(head -c 40000000 /dev/zero | tr "\\0" a); while :; do sleep 3600; done']}))

    def pods():
        out = kubectl(sb, "-n", ns, "top", "pods", "--no-headers", check=False)
        rows = {f[0]: (millicores(f[1]), mebibytes(f[2]))
                for f in map(str.split, out.splitlines()) if len(f) == 3}
        if {"burn", "idle", "hold"} <= rows.keys() and rows["burn"][0] >= rows["idle"][0] + 100 \
                and rows["hold"][1] >= 35:
            return rows
        return None
    usage = wait_for("kubectl top pods: burn busy, hold's 40 MB", pods, timeout=180)
    assert usage["idle"][1] < usage["hold"][1], usage

    def nodes():
        out = kubectl(sb, "top", "nodes", "--no-headers")
        rows = {f[0]: f[1:] for f in map(str.split, out.splitlines())}
        cpu, _, memory, _ = rows["node01"]
        if millicores(cpu) >= 100 and mebibytes(memory) >= usage["hold"][1]:
            return rows
        return None
    rows = wait_for("kubectl top nodes: node01 with burn's CPU and hold's memory", nodes)
    assert rows.get("controlplane", ["<unknown>"])[0] == "<unknown>", rows

    def scrape() -> dict[str, float]:
        text = kubectl(sb, "get", "--raw",
                       f"/api/v1/nodes/https:node01:{BOXD_METRICS_PORT}/proxy/metrics/resource")
        return {f[0]: float(f[1]) for f in map(str.split, text.splitlines())
                if f and not f[0].startswith("#")}
    burn = f'container_cpu_usage_seconds_total{{container="burn",namespace="{ns}",pod="burn"}}'
    wait_for("burn's first CPU-seconds", lambda: scrape().get(burn, 0) >= 2)
    before = scrape()["node_cpu_usage_seconds_total"]
    kubectl(sb, "-n", ns, "delete", "pod", "burn", "--grace-period=1", "--wait=true", timeout=120)
    after = scrape()  # the pod is gone once the kubelet has removed its cgroup
    assert burn not in after
    assert after["node_cpu_usage_seconds_total"] >= before, (before, after)
