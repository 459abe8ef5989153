"""Real containers cannot be turned against the host: attacks from a gvisor
sandbox, for real (docs/security.md, "Real containers (gvisor)").

The candidate has cluster-admin on a gvisor sandbox, whose node runs real
containers in a gVisor box. Each test does what that candidate can do with
the sandbox's admin kubeconfig: a Pod as root, privileged, with every
capability, ``hostPath: /``, ``hostPID``, ``hostNetwork`` and ``hostIPC``, and
the cluster's objects pointed at the host's addresses. It must reach nothing
of the host, the portal or another candidate's sandbox.

Where it is practical, the same probe runs once more with the boundary
removed (``weakened``: the same script as root in a Docker container with
``--privileged --pid=host --net=host -v /:/host``) and must then find what
the box hides, so that a probe that sees nothing is proven able to see.
Where the attack makes the API server dial, the test waits for the egress
proxy's proof that the dial was made and refused (its log), or for the
call's own failure, so "no connection" never means "not yet".

Sandboxes: ``attacked`` (the candidate's), ``shared_gvisor`` (another
candidate's, with web servers that count their visitors) and ``victim`` (one
of the attacker's own, made afresh for each attack that may break it: the
host folder, the floods).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psutil
import pytest

from sandbox.toolchain import Toolchain
from tests.security.test_cluster import etcd_put, in_cgroup
from tests.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.containers]

BUSYBOX = "docker.io/library/busybox:1.35"   # in every box (sandbox.gvisor.image.BOX_IMAGES)
DOCKER_BUSYBOX = "busybox:1.35"               # the same image, for the weakened control
REPO = Path(__file__).resolve().parents[2]
HOST_FOLDER = "/run/proctor-host"             # the one host folder a box shares
KUBERNETES_SERVICE = "10.96.0.1"              # reachable from every pod: the probe works
CAPS = {"CAP_NET_ADMIN": 12, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_ADMIN": 21,
        "CAP_SYS_BOOT": 22, "CAP_MKNOD": 27, "CAP_BPF": 39}


# -- helpers -------------------------------------------------------------------------------
def kubectl(sb, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 90) -> subprocess.CompletedProcess:
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                          "--request-timeout=30s", *args], input=input, capture_output=True,
                         text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)} failed: {res.stderr.strip()}"
    return res


def apply(sb, obj: dict) -> None:
    kubectl(sb, "apply", "-f", "-", input=json.dumps(obj))


def real_node(gvisor, sb) -> str:
    """A node of ``sb`` that is real (in the box), not simulated."""
    return gvisor.real_nodes(list(sb.nodes))[0]


def namespace(sb, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kubectl(sb, "create", "namespace", name)
    return name


def rogue_node(sb, name: str, address: str | None = None, port: int | None = None) -> None:
    """A Node of the candidate's, which kwok plays (simulated pods), with the
    address and kubelet port the candidate gives its status."""
    apply(sb, {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}}})
    wait_for(f"kwok to make node {name} Ready", lambda: "True" in kubectl(
        sb, "get", "node", name, "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").stdout)
    if address:
        kubectl(sb, "patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"addresses": [{"type": "InternalIP", "address": address}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}))


def decoy(sb, ns: str, name: str, node: str, ip: str) -> None:
    """A (simulated) pod on ``node`` whose IP the candidate sets to ``ip``:
    the API server's pod and service proxies dial it."""
    apply(sb, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
               "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
                        "containers": [{"name": "c", "image": BUSYBOX}]}})
    wait_for(f"pod {name} Running", lambda: phase(sb, ns, name) == "Running")
    kubectl(sb, "-n", ns, "patch", "pod", name, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}}))


def service_to(sb, ns: str, name: str, address: str, port: int, pod: str) -> None:
    """A Service without a selector whose Endpoints are ``address:port`` on
    ``pod`` (the API server's service proxy dials only an endpoint of a pod),
    written to etcd (the API refuses loopback ones)."""
    apply(sb, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"ports": [{"name": "p", "port": port, "targetPort": port}]}})
    etcd_put(sb, f"/registry/services/endpoints/{ns}/{name}", {
        "kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": name, "namespace": ns},
        "subsets": [{"addresses": [{"ip": address, "targetRef": {
                        "kind": "Pod", "namespace": ns, "name": pod}}],
                     "ports": [{"name": "p", "port": port, "protocol": "TCP"}]}]})
    wait_for(f"the Endpoints of {ns}/{name} served", lambda: address in kubectl(
        sb, "-n", ns, "get", "endpoints", name, "-o", "json").stdout)


def attack_pod(name: str, script: str, node: str, *, host: bool = True,
               volumes: list | None = None) -> dict:
    """The candidate's worst Pod: root, privileged, every capability, the
    node's ``/`` at ``/host``, and (``host``) the node's PID, network and IPC
    namespaces; it runs ``script`` once."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": "Never",
                     "terminationGracePeriodSeconds": 0,
                     "hostPID": host, "hostNetwork": host, "hostIPC": host,
                     "tolerations": [{"operator": "Exists"}],
                     "containers": [{
                         "name": "attack", "image": BUSYBOX, "command": ["sh", "-c", script],
                         "securityContext": {"privileged": True, "runAsUser": 0,
                                             "allowPrivilegeEscalation": True,
                                             "capabilities": {"add": ["ALL"]}},
                         "volumeMounts": [{"name": "host", "mountPath": "/host"},
                                          *[{"name": v["name"], "mountPath": f"/{v['name']}"}
                                            for v in volumes or []]]}],
                     "volumes": [{"name": "host", "hostPath": {"path": "/"}}, *(volumes or [])]}}


def phase(sb, ns: str, pod: str) -> str:
    return kubectl(sb, "-n", ns, "get", "pod", pod, "-o", "jsonpath={.status.phase}",
                   check=False).stdout


def run_in_pod(sb, ns: str, pod: dict, timeout: float = 240) -> str:
    """Run a one-shot Pod to its end; what it printed."""
    kubectl(sb, "-n", ns, "apply", "-f", "-", input=json.dumps(pod))
    name = pod["metadata"]["name"]
    wait_for(f"pod {ns}/{name} to finish", lambda: phase(sb, ns, name) in ("Succeeded", "Failed"),
             timeout=timeout)
    return kubectl(sb, "-n", ns, "logs", name).stdout


def start_pod(sb, ns: str, pod: dict, timeout: float = 180) -> None:
    kubectl(sb, "-n", ns, "apply", "-f", "-", input=json.dumps(pod))
    name = pod["metadata"]["name"]
    wait_for(f"pod {ns}/{name} running", lambda: phase(sb, ns, name) == "Running", timeout=timeout)


def exec_in(sb, ns: str, pod: str, script: str, timeout: float = 120) -> str:
    res = kubectl(sb, "-n", ns, "exec", pod, "--", "sh", "-c", script, check=False,
                  timeout=timeout)
    return res.stdout + res.stderr


def weakened(script: str, timeout: float = 120) -> str | None:
    """``script`` as root in a Docker container with the boundaries removed
    (privileged, the host's PID and network namespaces, the host's ``/`` at
    ``/host``): what the box must hide, seen. None where Docker cannot run it."""
    if shutil.which("docker") is None:
        return None
    res = subprocess.run(["docker", "run", "--rm", "--pull=never", "--privileged", "--pid=host",
                          "--net=host", "--ipc=host", "-v", "/:/host", "--entrypoint", "sh",
                          DOCKER_BUSYBOX, "-c", script],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode == 125:  # Docker's own error: no daemon, no image
        return None
    return res.stdout + res.stderr


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_ipv4() -> list[str]:
    """The host's own non-loopback IPv4 addresses."""
    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family == socket.AF_INET and not a.address.startswith("127.")})


def egress_log(gvisor, sb) -> Path:
    return gvisor._cluster_dir(sb.name) / "logs" / "egress.log"


def egress_refusals(gvisor, sb, port: int) -> int:
    """How often the sandbox's egress proxy refused a dial to ``port``,
    itself (``refused``) or through the box (``box refused``)."""
    log = egress_log(gvisor, sb)
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text(errors="replace").splitlines()
               if "refused" in line and re.search(rf":{port}\b", line))


def dial_socket(gvisor, sb) -> Path:
    """The host path of the socket through which the egress proxy dials into the box."""
    socks = set(gvisor._egress_routes(sb.name, list(sb.nodes)).values())
    assert len(socks) == 1, f"expected one box in {sb.name}: {socks}"
    return Path(socks.pop())


def box_processes(gvisor, sb) -> dict[str, list[psutil.Process]]:
    """The host processes of ``sb``'s box: runsc's sandbox (the Sentry, gVisor's
    kernel) and its gofer (the file server), by the bundle on their command line."""
    marker = f"{gvisor.box_run / sb.name}/"
    found: dict[str, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if argv and argv[0] in ("runsc-sandbox", "runsc-gofer") and \
                any(marker in a for a in argv):
            found.setdefault(argv[0], []).append(proc)
    return found


def readyz(sb) -> bool:
    return kubectl(sb, "get", "--raw", "/readyz", check=False, timeout=30).returncode == 0


class Ear:
    """A TCP server on one host address recording every connection it accepts."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections.append(peer)
            conn.close()

    def __str__(self):
        return f"{self.address}:{self.port}"


@pytest.fixture
def ears():
    """An ear on the host's 127.0.0.1 and on each of its own addresses, each
    shown to hear a direct connection first."""
    made = [Ear(a) for a in ("127.0.0.1", *host_ipv4())]
    for ear in made:
        socket.create_connection((ear.address, ear.port), timeout=5).close()
        wait_for(f"{ear} to hear a direct connection", lambda e=ear: e.connections, timeout=10)
        ear.connections.clear()
    yield made
    for ear in made:
        ear.sock.close()


def assert_unheard(ears, attack: str) -> None:
    heard = {str(e): e.connections for e in ears if e.connections}
    assert not heard, f"{attack}: host listeners were connected to: {heard}"


# -- the sandboxes ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def attacked(gvisor):
    """The candidate's sandbox: controlplane (simulated) and node01 (the box)."""
    name = f"gx-attacked-{os.getpid()}"
    sb = gvisor.create(name, nodes=2)
    yield sb
    gvisor.destroy(name)


@pytest.fixture
def victim(gvisor, request):
    """A sandbox of the attacker's own for one attack that may break it (the
    host folder, floods), destroyed after it."""
    name = f"gx-{request.node.name[5:20].strip('_').replace('_', '-')}-{os.getpid()}"
    sb = gvisor.create(name, nodes=2)
    yield sb
    gvisor.destroy(name)


@pytest.fixture(scope="module")
def beacon(shared_gvisor, gvisor):
    """Another candidate's web servers, counting their visitors: one in a pod
    (its pod IP, port 8080) and one on the node's network (its node IP, port
    18080). Both boxes use the same node and pod addresses."""
    sb = shared_gvisor
    secret = f"other-candidates-page-{uuid.uuid4().hex}"
    ns = namespace(sb, "beacon")
    node = real_node(gvisor, sb)
    for name, port, host in (("beacon", 8080, False), ("beacon-host", 18080, True)):
        start_pod(sb, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": {"nodeName": node, "hostNetwork": host,
                                    "tolerations": [{"operator": "Exists"}],
                                    "containers": [{"name": "web", "image": BUSYBOX,
                                                    "command": ["sh", "-c",
                                                                f"mkdir /www; echo {secret} >/www/index.html; "
                                                                f"exec httpd -f -vv -p {port} -h /www"]}]}})
    pod_ip = kubectl(sb, "-n", ns, "get", "pod", "beacon", "-o", "jsonpath={.status.podIP}").stdout
    node_ip = kubectl(sb, "-n", ns, "get", "pod", "beacon-host", "-o",
                      "jsonpath={.status.hostIP}").stdout
    # its owner reaches it: the page is there to be found
    for pod, port in (("beacon", 8080), ("beacon-host", 18080)):
        page = wait_for(f"{pod}'s page through its own API server", lambda p=pod, n=port: kubectl(
            sb, "get", "--raw", f"/api/v1/namespaces/{ns}/pods/{p}:{n}/proxy/",
            check=False).stdout, timeout=60)
        assert secret in page, page

    def visits() -> int:
        return sum(kubectl(sb, "-n", ns, "logs", p).stdout.count("url:/")
                   for p in ("beacon", "beacon-host"))
    return {"sb": sb, "ns": ns, "secret": secret, "pod_ip": pod_ip, "node_ip": node_ip,
            "visits": visits}


# -- 1. files ---------------------------------------------------------------------------------
def test_a_privileged_hostpath_pod_reads_and_writes_nothing_of_the_host(
        gvisor, attacked, shared_gvisor, tmp_path):
    """``hostPath: /`` is the box's root: not the host's files, the portal's
    (the repository, an instance folder), nor another sandbox's kubeconfig and
    etcd certificates; what it writes stays in the box's memory."""
    secret = f"host-secret-{uuid.uuid4().hex}"
    planted = {tmp_path / "host-secret": secret,
               tmp_path / "instance" / "secret_key": secret,
               Path("/root") / f"proctor-escape-{uuid.uuid4().hex[:8]}": secret}
    for path, text in planted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    other = shared_gvisor
    other_pki = Path(other.kubeconfig).parent / "pki"
    fingerprints = {p: sha256(p.read_bytes()) for p in
                    (REPO / "pyproject.toml", Path(other.kubeconfig),
                     *sorted(f for f in other_pki.rglob("*") if f.is_file()))}
    assert len(fingerprints) > 3, f"no etcd certificates of {other.name} in {other_pki}"
    wrote = f"written-by-the-pod-{uuid.uuid4().hex[:8]}"
    made_by_hostpath = tmp_path / "made-by-a-hostpath-volume"
    script = "\n".join([
        # the box's own root, to show that the mount is there
        "ls /host/usr/local/sbin /host/run",
        *[f"cat /host{p} /proc/1/root{p}" for p in planted],
        *[f"sha256sum /host{p} /proc/1/root{p}" for p in fingerprints],
        f"ls -la /host{REPO} /host{tmp_path} /host{gvisor.root} /host{Path(other.kubeconfig).parent}",
        f"echo {wrote} >/host/{wrote}; echo {wrote} >/host/root/{wrote}",
        f"mkdir -p /host{tmp_path} && echo {wrote} >/host{tmp_path}/{wrote}",
        f"echo {wrote} >/proc/1/root/tmp/{wrote}",
        "echo done-probing"])
    ns = namespace(attacked, "files")
    out = run_in_pod(attacked, ns, attack_pod(
        "files", script, real_node(gvisor, attacked),
        volumes=[{"name": "made", "hostPath": {"path": str(made_by_hostpath),
                                                "type": "DirectoryOrCreate"}}]))
    try:
        assert "done-probing" in out and "proctor-box-init" in out, \
            f"the probe did not run on the box's root:\n{out[-2000:]}"
        assert secret not in out, f"the pod read a file planted on the host:\n{out[-3000:]}"
        leaked = [str(p) for p, digest in fingerprints.items() if digest in out]
        assert not leaked, f"the pod read host files (the portal's, another sandbox's): {leaked}"
        written = [p for p in (Path("/") / wrote, Path("/root") / wrote, tmp_path / wrote,
                               Path("/tmp") / wrote, gvisor.image.dir / wrote) if p.exists()]
        assert not written, f"the pod's writes to its hostPath / reached the host: {written}"
        assert not made_by_hostpath.exists(), \
            "a hostPath volume (DirectoryOrCreate) created a folder on the host"

        # the same probe with the boundary removed reads and writes the host
        control = weakened(script)
        if control is not None:
            assert secret in control and fingerprints[REPO / "pyproject.toml"] in control, \
                f"the probe cannot see the host even when nothing hides it:\n{control[-2000:]}"
            assert (tmp_path / wrote).exists()
    finally:
        for p in (*planted, Path("/") / wrote, Path("/root") / wrote, Path("/tmp") / wrote):
            p.unlink(missing_ok=True)


# -- 2. processes -------------------------------------------------------------------------------
def test_host_pid_shows_and_signals_no_host_process(gvisor, attacked, shared_gvisor):
    """``hostPID`` is the box's processes: a host process with a marker on its
    command line is not among them, and ``kill`` reaches neither it nor
    another sandbox's API server."""
    marker = f"host-process-{uuid.uuid4().hex}"
    host_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", marker])
    other_api = next(p.pid for p in gvisor.processes(shared_gvisor.name)
                     if Path(p.cmdline()[0]).name == "kube-apiserver")
    listing = "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(tr '\\0' ' ' <$p/cmdline)\"; done"
    kills = "".join(f"kill -9 {pid}; echo kill-{pid}-rc=$?; " for pid in (host_proc.pid, other_api))
    ns = namespace(attacked, "pids")
    try:
        out = run_in_pod(attacked, ns, attack_pod(
            "pids", f"{listing}; {kills} echo done-probing", real_node(gvisor, attacked)))
        assert "done-probing" in out and "proctor-box-init" in out, \
            f"the pod did not list the box's processes:\n{out[-2000:]}"
        assert marker not in out, f"the pod saw a host process:\n{out[-3000:]}"
        seen = {line.split()[0] for line in out.splitlines() if line[:1].isdigit()}
        for pid in (host_proc.pid, other_api):
            if str(pid) not in seen:  # a box process may have the same number
                assert f"kill-{pid}-rc=0" not in out, f"kill -9 {pid} succeeded:\n{out[-1000:]}"
        assert host_proc.poll() is None, "the pod killed a host process"
        assert psutil.pid_exists(other_api) and readyz(shared_gvisor), \
            "the pod killed another sandbox's API server"

        control = weakened(listing)
        if control is not None:
            assert marker in control, "the probe cannot see host processes even with --pid=host"
    finally:
        host_proc.kill()
        host_proc.wait()


# -- 3. the network -------------------------------------------------------------------------------
def test_pods_connect_to_no_host_address(gvisor, attacked, shared_gvisor, ears):
    """Neither a pod on the box's network (``hostNetwork``) nor one on its own
    reaches a listener on the host's loopback or its own addresses, nor
    another sandbox's API server."""
    other_port = int(shared_gvisor.api_url.rsplit(":", 1)[1])
    targets = [(e.address, e.port) for e in ears] + \
        [(a, other_port) for a in ("127.0.0.1", *host_ipv4())]
    script = "\n".join([
        "try() { if nc -w 3 $1 $2 </dev/null >/dev/null 2>&1; then echo REACHED $1:$2; "
        "else echo failed $1:$2; fi; }",
        f"try {KUBERNETES_SERVICE} 443",   # the probe reaches what is there
        *[f"try {a} {p}" for a, p in targets],
        "echo done-probing"])
    ns = namespace(attacked, "net")
    node = real_node(gvisor, attacked)
    for host in (True, False):
        out = run_in_pod(attacked, ns, attack_pod(f"net-{str(host).lower()}", script, node,
                                                  host=host))
        assert "done-probing" in out and f"REACHED {KUBERNETES_SERVICE}:443" in out, \
            f"the probe does not work (hostNetwork={host}):\n{out}"
        reached = [line for line in out.splitlines() if line.startswith("REACHED") and
                   KUBERNETES_SERVICE not in line]
        assert not reached, f"a pod (hostNetwork={host}) connected to the host: {reached}"
        assert_unheard(ears, f"a pod (hostNetwork={host})")

    control = weakened(script)
    if control is not None:
        assert all(e.connections for e in ears), \
            f"the listeners hear nothing even from --net=host: {control}"


def test_the_api_server_is_pointed_at_no_host_address(gvisor, attacked, shared_gvisor, ears):
    """A Node's address, a Service's Endpoints, a webhook's URL, a webhook
    and an APIService by Service: every address the candidate names is dialled
    through the egress proxy, which refuses the host's (loopback or not) and
    hands the box's own to the box. Another sandbox's API server port too."""
    sb = attacked
    other_port = int(shared_gvisor.api_url.rsplit(":", 1)[1])
    targets = [(e.address, e.port) for e in ears] + [("127.0.0.1", other_port)]
    ns = namespace(sb, "api")
    for i, (address, port) in enumerate(targets):
        what = f"{address}:{port}"
        # a Node of the candidate's (kwok plays it) at that address and kubelet port,
        # and a pod on it whose IP the candidate sets to that address
        node = f"rogue-{i}-{ns}"
        rogue_node(sb, node, address, port)
        decoy(sb, ns, f"on-{node}", node, address)
        before = egress_refusals(gvisor, sb, port)
        for args in (("-n", ns, "logs", f"on-{node}"),
                     ("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods"),
                     ("get", "--raw", f"/api/v1/namespaces/{ns}/pods/on-{node}:{port}/proxy/")):
            res = kubectl(sb, *args, check=False)
            assert res.returncode != 0, f"kubectl {' '.join(args)}: {res.stdout[:300]}"
        wait_for(f"the egress proxy to refuse kubectl logs through a Node at {what}",
                 lambda: egress_refusals(gvisor, sb, port) > before)
        assert_unheard(ears, f"kubectl logs, nodes/…/proxy, pods/…/proxy at {what}")

        # a Service whose Endpoints (written to etcd: the API refuses loopback
        # ones) are that address, on the decoy pod
        svc = f"loot-{i}"
        service_to(sb, ns, svc, address, port, pod=f"on-{node}")
        before = egress_refusals(gvisor, sb, port)
        res = kubectl(sb, "get", "--raw", f"/api/v1/namespaces/{ns}/services/{svc}:{port}/proxy/",
                      check=False)
        assert res.returncode != 0, res.stdout[:300]
        wait_for(f"the egress proxy to refuse services/…/proxy to {what} ({res.stderr.strip()})",
                 lambda: egress_refusals(gvisor, sb, port) > before)
        assert_unheard(ears, f"services/…/proxy to Endpoints at {what}")

        # webhooks: by URL (refused by the proxy), and by that Service, whose
        # ClusterIP is in the box: proctor-boxd proxies it, inside the box
        for hook, client in (("url", {"url": f"https://{what}/hook"}),
                             ("svc", {"service": {"name": svc, "namespace": ns, "port": port}})):
            label = f"{hook}-{i}"
            before = egress_refusals(gvisor, sb, port)
            apply(sb, {"apiVersion": "admissionregistration.k8s.io/v1",
                       "kind": "ValidatingWebhookConfiguration", "metadata": {"name": f"evil-{label}"},
                       "webhooks": [{"name": "evil.example.com", "sideEffects": "None",
                                     "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
                                     "timeoutSeconds": 5, "clientConfig": client,
                                     "objectSelector": {"matchLabels": {"attack": label}},
                                     "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                                "apiVersions": ["v1"], "resources": ["configmaps"]}]}]})
            try:
                def called():
                    res = kubectl(sb, "-n", ns, "create", "-f", "-", check=False, input=json.dumps(
                        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                            "generateName": "x-", "labels": {"attack": label}}}))
                    return res.returncode != 0 and "failed calling webhook" in res.stderr
                wait_for(f"the webhook by {hook} at {what} to be called and fail", called)
                if hook == "url":
                    wait_for("the egress proxy's refusal", lambda: egress_refusals(
                        gvisor, sb, port) > before)
                assert_unheard(ears, f"a webhook by {hook} at {what}")
            finally:
                kubectl(sb, "delete", "validatingwebhookconfiguration", f"evil-{label}",
                        check=False)

    # an APIService on a Service whose ClusterIP (written to etcd) is a host address
    for i, ear in enumerate(ears):
        svc = f"agg-{i}"
        etcd_put(sb, f"/registry/services/specs/{ns}/{svc}", {
            "kind": "Service", "apiVersion": "v1", "metadata": {"name": svc, "namespace": ns},
            "spec": {"type": "ClusterIP", "clusterIP": ear.address, "clusterIPs": [ear.address],
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [{"port": ear.port, "targetPort": ear.port, "protocol": "TCP"}]}})
        before = egress_refusals(gvisor, sb, ear.port)
        group = f"agg{i}.example.com"
        apply(sb, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                   "metadata": {"name": f"v1.{group}"},
                   "spec": {"group": group, "version": "v1", "groupPriorityMinimum": 1000,
                            "versionPriority": 15, "insecureSkipTLSVerify": True,
                            "service": {"name": svc, "namespace": ns, "port": ear.port}}})
        try:
            wait_for(f"the egress proxy to refuse the APIService at {ear}",
                     lambda: egress_refusals(gvisor, sb, ear.port) > before)
            assert_unheard(ears, f"an APIService on a Service at {ear}")
        finally:
            kubectl(sb, "delete", "apiservice", f"v1.{group}", check=False)
    # the box's own addresses go into the box: node01's address, a port no one serves there
    ear = ears[0]
    before = egress_refusals(gvisor, sb, ear.port)
    kubectl(sb, "get", "--raw", f"/api/v1/nodes/{real_node(gvisor, sb)}:{ear.port}/proxy/",
            check=False)
    wait_for("the box to refuse a dial to its node's address",
             lambda: egress_refusals(gvisor, sb, ear.port) > before)
    assert "box refused" in egress_log(gvisor, sb).read_text()
    assert_unheard(ears, "nodes/…/proxy to the box's node address")


def test_one_box_reaches_nothing_of_another_box(gvisor, attacked, beacon):
    """Both boxes have the same node and pod addresses. From the attacker's
    pods (on the box's network and not) and through the attacker's API server
    (node proxy, Service Endpoints), the other candidate's addresses lead into
    the attacker's own box: the other candidate's web servers see no visit."""
    sb = attacked
    secret, pod_ip, node_ip = beacon["secret"], beacon["pod_ip"], beacon["node_ip"]
    visits = beacon["visits"]()
    urls = [f"http://{pod_ip}:8080/", f"http://{node_ip}:18080/"]
    script = "; ".join(f"wget -q -T 3 -O - {u} 2>&1" for u in urls) + "; echo done-probing"
    ns = namespace(sb, "boxes")
    outputs = []
    for host in (True, False):
        outputs.append(run_in_pod(sb, ns, attack_pod(f"wget-{str(host).lower()}", script,
                                                     real_node(gvisor, sb), host=host)))
    outputs.append(kubectl(sb, "get", "--raw", f"/api/v1/nodes/{real_node(gvisor, sb)}:18080"
                           "/proxy/", check=False).stdout)
    rogue_node(sb, f"decoys-{ns}")
    decoy(sb, ns, "other", f"decoys-{ns}", pod_ip)
    service_to(sb, ns, "other", pod_ip, 8080, pod="other")
    for path in (f"/api/v1/namespaces/{ns}/pods/other:8080/proxy/",
                 f"/api/v1/namespaces/{ns}/services/other:8080/proxy/"):
        outputs.append(kubectl(sb, "get", "--raw", path, check=False).stdout)
    assert all("done-probing" in o for o in outputs[:2]), outputs
    assert not any(secret in o for o in outputs), \
        f"the attacker's sandbox read another candidate's web page: {outputs}"
    assert beacon["visits"]() == visits, "another candidate's web server was visited"


# -- 4. devices and the kernel ------------------------------------------------------------------
def host_disk() -> tuple[int, int, str | None]:
    """The major and minor numbers of the block device of the host's ``/``,
    and the sha256 of its first 4 KiB (None where even the host's root may
    not read it, as in a VM that forbids it)."""
    dev = os.stat("/").st_dev
    major, minor = os.major(dev), os.minor(dev)
    name = Path(f"/sys/dev/block/{major}:{minor}").resolve().name
    try:
        with open(f"/dev/{name}", "rb") as f:
            return major, minor, sha256(f.read(4096))
    except PermissionError:
        return major, minor, None


def test_no_host_device_or_kernel(gvisor, attacked):
    """The kernel is gVisor's: no module loads, a block device made with
    ``mknod`` for the host's disk reads nothing of it, nor does ``/dev/mem``;
    ``/proc/kcore``, ``/proc/cmdline`` and ``/sys`` are not the host's."""
    major, minor, disk = host_disk()
    host_cmdline = Path("/proc/cmdline").read_text().strip()
    macs = {p.read_text().strip() for p in Path("/sys/class/net").glob("*/address")} - \
        {"00:00:00:00:00:00"}
    probe = "\n".join([
        "echo uname=$(uname -r)",
        "echo cmdline=$(cat /proc/cmdline)",
        f"mknod /tmp/disk b {major} {minor}; echo mknod-rc=$?",
        "echo disk-bytes=$(dd if=/tmp/disk bs=4096 count=1 2>/dev/null | wc -c)",
        "dd if=/tmp/disk bs=4096 count=1 2>/dev/null | sha256sum",
        "echo kcore-bytes=$(head -c 4096 /proc/kcore 2>/dev/null | wc -c)",
        "cat /sys/class/net/*/address; ls /sys/block /sys/class/block",
        "echo done-probing"])
    kernel = "\n".join([
        "mknod /tmp/mem c 1 1; echo mem-bytes=$(dd if=/tmp/mem bs=4096 count=1 2>/dev/null | wc -c)",
        "echo devmem-bytes=$(dd if=/dev/mem bs=4096 count=1 2>/dev/null | wc -c)",
        ": >/tmp/m.ko; insmod /tmp/m.ko; echo insmod-rc=$?",
        "modprobe -a loop dummy; echo modprobe-rc=$?"])
    ns = namespace(attacked, "kernel")
    out = run_in_pod(attacked, ns, attack_pod("kernel", f"{probe}\n{kernel}",
                                              real_node(gvisor, attacked)))
    assert "done-probing" in out, out
    uname = re.search(r"^uname=(.*)$", out, re.M).group(1)
    assert uname != os.uname().release, f"the pod runs on the host's kernel ({uname})"
    assert host_cmdline not in out, "the pod read the host kernel's command line"
    assert disk is None or disk not in out, \
        "the pod read the host's disk through a block device it made"
    assert "disk-bytes=0" in out, f"the pod read a block device:\n{out}"
    assert "kcore-bytes=0" in out, f"the pod read /proc/kcore:\n{out}"
    assert "mem-bytes=0" in out and "devmem-bytes=0" in out, f"the pod read /dev/mem:\n{out}"
    assert "insmod-rc=0" not in out and "modprobe-rc=0" not in out, \
        f"the pod loaded a kernel module:\n{out}"
    shown = macs & set(out.split())
    assert not shown, f"the pod's /sys shows the host's network cards {shown}"
    assert not re.search(r"^vd[a-z]|^sd[a-z]|^nvme", out, re.M), f"the host's disks in /sys:\n{out}"

    # with the boundary removed the same probe reads the disk and the host's
    # cards (module loading is not tried there: it would change the host's kernel)
    control = weakened(probe)
    if control is not None:
        assert (disk is None or disk in control) and macs & set(control.split()), control
        assert os.uname().release in control


# -- 5. the box itself, seen from the host ------------------------------------------------------
def status_of(pid: int) -> dict[str, str]:
    return dict(line.split(":", 1) for line in
                Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)


def test_the_box_is_confined_on_the_host(gvisor, attacked):
    """runsc's sandbox (the Sentry) and gofer: a seccomp filter, no_new_privs,
    a user and a network namespace of their own (the Sentry's holds only a
    loopback: ``--network=none``), none of the capabilities that reach the
    host's kernel or devices, and the sandbox's cgroup with its memory limit."""
    procs = box_processes(gvisor, attacked)
    assert set(procs) == {"runsc-sandbox", "runsc-gofer"}, \
        f"the box's host processes: {procs} (looked for {gvisor.box_run / attacked.name})"
    cgroup = gvisor.cgroup(attacked.name)
    host_ns = {ns: os.readlink(f"/proc/self/ns/{ns}") for ns in ("user", "net", "pid", "mnt")}
    for kind, plist in procs.items():
        for p in plist:
            status = status_of(p.pid)
            where = f"{kind} (pid {p.pid})"
            assert status["Seccomp"].strip() == "2", f"{where} has no seccomp filter"
            assert status["NoNewPrivs"].strip() == "1", f"{where} may gain privileges"
            for ns, host in host_ns.items():
                assert os.readlink(f"/proc/{p.pid}/ns/{ns}") != host, \
                    f"{where} is in the host's {ns} namespace"
            eff = int(status["CapEff"], 16) | int(status["CapBnd"], 16)
            held = [c for c, bit in CAPS.items() if eff >> bit & 1]
            assert not held, f"{where} holds {held}"
            assert in_cgroup(p.pid, cgroup), \
                f"{where} is not in the sandbox's cgroup {cgroup.name}: " \
                f"{Path(f'/proc/{p.pid}/cgroup').read_text()}"
    sentry = procs["runsc-sandbox"][0].pid
    links = [line.split(":")[0].strip() for line in
             Path(f"/proc/{sentry}/net/dev").read_text().splitlines()[2:]]
    assert links == ["lo"], f"the Sentry's network namespace has links {links}"
    limits = {f.name: int(f.read_text()) for d in cgroup.dirs for f in
              (d / "memory.limit_in_bytes", d / "memory.max", d / "pids.max") if f.exists()}
    assert limits.get("memory.limit_in_bytes", limits.get("memory.max")) == \
        gvisor.limits.memory_bytes, f"the box's cgroup limits: {limits}"
    assert limits["pids.max"] == gvisor.limits.pids, limits


# -- the host folder, the box's one opening -------------------------------------------------------
def test_the_host_folder_leads_to_no_other_box(gvisor, victim, beacon):
    """The box shares one host folder, where its dialer's socket lives; the
    candidate, root in the box, can rename, delete and link in it. A link in
    its place to another sandbox's dialer must not make the API server's
    egress proxy, a host process that connects by path, dial into that
    other box (nor may the box itself follow it)."""
    sb = victim
    other_dial = dial_socket(gvisor, beacon["sb"])
    own_dial = dial_socket(gvisor, sb)
    link = os.path.relpath(other_dial, own_dial.parent)
    node = real_node(gvisor, sb)
    ns = namespace(sb, "link")
    start_pod(sb, ns, attack_pod("root", "sleep 3600", node))
    rogue_node(sb, f"decoys-{ns}")
    decoy(sb, ns, "other", f"decoys-{ns}", beacon["pod_ip"])
    service_to(sb, ns, "other", beacon["pod_ip"], 8080, pod="other")
    visits = beacon["visits"]()
    secret = beacon["secret"]
    try:
        # inside the box, the link leads nowhere: the box resolves it in its own files
        ask = f"printf '{beacon['pod_ip']}:8080\\nGET / HTTP/1.0\\r\\n\\r\\n'"
        inside = exec_in(sb, ns, "root", "\n".join([
            f"cd /host{HOST_FOLDER} && ln -s {link} other-dial.sock && "
            f"ln -s {other_dial} abs-dial.sock && ls -la",
            *[f"{ask} | chroot /host timeout 10 socat -t 5 - UNIX-CONNECT:{HOST_FOLDER}/{name}"
              for name in ("other-dial.sock", "abs-dial.sock")],
            "echo done-probing"]))
        assert "done-probing" in inside and secret not in inside, inside
        # the dialer's socket swapped for the link: the host's egress proxy connects by path
        exec_in(sb, ns, "root", f"cd /host{HOST_FOLDER} && rm -f dial.sock && ln -s {link} dial.sock")
        # (where the box cannot make it, or the host does not follow it, nothing changes)
        pages = [kubectl(sb, "get", "--raw", path, check=False)
                 for path in (f"/api/v1/nodes/{node}/proxy/pods",
                              f"/api/v1/nodes/{node}:18080/proxy/",
                              f"/api/v1/namespaces/{ns}/pods/other:8080/proxy/",
                              f"/api/v1/namespaces/{ns}/services/other:8080/proxy/")]
        seen = [p.stdout[:300] for p in pages if secret in p.stdout or beacon["ns"] in p.stdout]
        assert not seen, ("the egress proxy followed a link the box made in its host folder "
                          f"({own_dial} -> {os.readlink(own_dial) if own_dial.is_symlink() else '?'}) "
                          f"into another sandbox's box: {seen}")
        assert beacon["visits"]() == visits, "another candidate's web server was visited"
    finally:
        for name in ("dial.sock", "other-dial.sock", "abs-dial.sock"):  # destroy would too
            if (own_dial.parent / name).is_symlink():
                (own_dial.parent / name).unlink()


def folder_usage(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file() and not f.is_symlink())


def test_the_host_folder_holds_no_flood(gvisor, victim):
    """What the box writes into its host folder lands on the host's disk
    (``/run`` here is the root file system): the folder must bound it, as
    every other place a candidate writes is bounded (the box's own files are
    in its memory, under the sandbox's cgroup)."""
    sb = victim
    folder = dial_socket(gvisor, sb).parent
    ask = 256   # MiB, in files of 16 MiB; the folder needs a few KiB
    script = (f"i=0; while [ $i -lt {ask // 16} ]; do "
              f"dd if=/dev/zero of=/host{HOST_FOLDER}/fill-$i bs=1M count=16 2>&1 | tail -1 || "
              "break; i=$((i+1)); done; echo done-filling")
    ns = namespace(sb, "fill")
    try:
        out = run_in_pod(sb, ns, attack_pod("fill", script, real_node(gvisor, sb), host=False))
        assert "done-filling" in out, out
        used = folder_usage(folder)
        print(f"host folder flood: {used / 1024**2:.0f} MiB of {ask} MiB written to {folder}; "
              f"box running after it: {'runsc-sandbox' in box_processes(gvisor, sb)}")
        assert used < 64 * 1024**2, (
            f"the box wrote {used / 1024**2:.0f} MiB into its host folder {folder} "
            f"({ask} MiB asked; {shutil.disk_usage(folder).free / 1024**3:.1f} GiB free there): "
            "a candidate can fill the host's disk")
    finally:
        for f in folder.glob("fill-*"):
            f.unlink()


# -- 6. floods ------------------------------------------------------------------------------------
def cgroup_value(gvisor, sb, *files: str) -> int | None:
    """The first of ``files`` the sandbox's cgroup has (v1 or v2 names)."""
    for d in gvisor.cgroup(sb.name).dirs:
        for f in files:
            if (d / f).exists():
                return int((d / f).read_text().split()[-1])
    return None


def oom_kills(gvisor, sb) -> int:
    """OOM kills in the sandbox's cgroup so far (v1 ``memory.oom_control``, v2 ``memory.events``)."""
    for d in gvisor.cgroup(sb.name).dirs:
        for f in ("memory.oom_control", "memory.events"):
            if (d / f).exists():
                m = re.search(r"^oom_kill (\d+)", (d / f).read_text(), re.M)
                if m:
                    return int(m.group(1))
    return 0


def test_a_fork_bomb_stays_in_the_box(gvisor, victim, shared_gvisor):
    """A pod that forks until it cannot. The host holds whatever happens: the
    sandbox's cgroup bounds its host tasks (gVisor runs one per thread in the
    box) and another sandbox answers throughout. No pids limit inside the box
    holds a container back (gVisor counts a cgroup's own tasks only, so the
    kubelet's ``podPidsLimit`` on the pod's cgroup stops nothing), so the bomb
    may take the candidate's own box down; the sandbox then says it is
    unhealthy, so that the portal replaces it rather than hand it on."""
    sb = victim
    ns = namespace(sb, "bomb")
    pids_max = gvisor.limits.pids
    sentry = box_processes(gvisor, sb)["runsc-sandbox"][0].pid
    sentry_fsize = re.search(r"^Max file size\s+(\S+)", Path(f"/proc/{sentry}/limits").read_text(),
                             re.M).group(1)
    bomb = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bomb"},
            "spec": {"nodeName": real_node(gvisor, sb), "restartPolicy": "Never",
                     "containers": [{"name": "bomb", "image": BUSYBOX, "command": [
                         "sh", "-c", "n=0; while true; do sleep 3600 & n=$((n+1)); "
                                     "[ $((n % 50)) = 0 ] && echo forked $n; done"]}]}}
    kubectl(sb, "-n", ns, "apply", "-f", "-", input=json.dumps(bomb))
    answers, host_pids, forked = [], [], ["0"]

    def stopped() -> str | None:
        answers.append(readyz(shared_gvisor))
        host_pids.append(cgroup_value(gvisor, sb, "pids.current") or 0)
        logs = kubectl(sb, "-n", ns, "logs", "bomb", check=False).stdout
        forked.extend(re.findall(r"forked (\d+)", logs)[-1:])
        if "can't fork" in logs or phase(sb, ns, "bomb") == "Failed":
            return "a pids limit in the box"
        if "runsc-sandbox" not in box_processes(gvisor, sb):
            return "the box's death"
        return None
    how = wait_for("the fork bomb to be stopped", stopped, timeout=300, interval=0.5)
    peak = max(host_pids + [cgroup_value(gvisor, sb, "pids.peak") or 0])
    report = (f"the fork bomb was stopped by {how} after {forked[-1]}+ processes; the "
              f"sandbox's host tasks peaked at {peak} (pids.max {pids_max}, "
              f"{cgroup_value(gvisor, sb, 'pids.events') or 0} refusals), its memory at "
              f"{(cgroup_value(gvisor, sb, 'memory.max_usage_in_bytes') or 0) / 1024**2:.0f} MiB "
              f"(limit {gvisor.limits.memory_bytes / 1024**2:.0f} MiB); the Sentry's file size "
              f"limit was {sentry_fsize}")
    print(report)
    # the host holds
    assert all(answers) and readyz(shared_gvisor), "another sandbox stopped answering"
    assert peak <= pids_max, report
    # and a box that died of it is not taken for a healthy sandbox
    if how == "the box's death":
        detail = wait_for("the sandbox's health to say that its box died",
                          lambda: (lambda h: None if h.ok else h.detail)(gvisor.health(sb.name)),
                          timeout=120, interval=1)
        assert "not running" in detail, detail
    kubectl(sb, "-n", ns, "delete", "pod", "bomb", "--grace-period=0", "--force", check=False)


def test_a_memory_flood_stays_in_the_box(gvisor, victim, shared_gvisor):
    """A pod with no limit that doubles a string until it dies: the sandbox's
    cgroup stops it at the sandbox's limit, and another sandbox answers."""
    sb = victim
    cg = gvisor.cgroup(sb.name)
    limit = gvisor.limits.memory_bytes
    kills = oom_kills(gvisor, sb)
    ns = namespace(sb, "memory")
    hog = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
           "spec": {"nodeName": real_node(gvisor, sb), "restartPolicy": "Never",
                    "containers": [{"name": "hog", "image": BUSYBOX, "command": [
                        "awk", "BEGIN { s = \"x\"; while (1) s = s s }"]}]}}
    kubectl(sb, "-n", ns, "apply", "-f", "-", input=json.dumps(hog))
    answers = []

    def over() -> str | None:
        answers.append(readyz(shared_gvisor))
        if oom_kills(gvisor, sb) > kills:
            return "the host's OOM killer, in the sandbox's cgroup"
        p = phase(sb, ns, "hog")
        if p == "Failed":
            return "the pod failed: " + kubectl(sb, "-n", ns, "get", "pod", "hog", "-o", "jsonpath="
                                                "{.status.containerStatuses[0].state}",
                                                check=False).stdout
        if "runsc-sandbox" not in box_processes(gvisor, sb):
            return "the box stopped"
        return None
    how = wait_for("the memory flood to be stopped", over, timeout=300, interval=0.5)
    peak = cgroup_value(gvisor, sb, "memory.max_usage_in_bytes", "memory.peak")
    print(f"memory flood: stopped by {how}; cgroup peak {peak and peak / 1024**2:.0f} MiB "
          f"of {limit / 1024**2:.0f} MiB; OOM kills {oom_kills(gvisor, sb) - kills}; "
          f"box running: {'runsc-sandbox' in box_processes(gvisor, sb)}")
    assert all(answers) and readyz(shared_gvisor), "another sandbox stopped answering"
    # the charge may pass the limit by the pages of one reclaim batch
    assert peak is None or peak <= limit + 1024**2, f"the sandbox's cgroup reached {peak} bytes"
    assert cg.exists()
