"""The candidate's cluster cannot be turned against the host: attacks, for real.

Each test is something a candidate with cluster-admin on their kwok sandbox
(and raw access to its etcd, which the terminal tunnels for the etcd tasks)
can do from the exam shell, run against a real sandbox. Where the attack
would make a sandbox process connect somewhere, a real TCP server on the
host's 127.0.0.1 stands in for the host's other services (another sandbox's
API server, the portal) and must receive no connection. Where the defence
leaves evidence that the attempt was made and refused (the egress proxy's
log, etcd's log), the test waits for it, so "no connection" is never just
"not yet".
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from confinement import landlock
from sandbox.base import etcdctl_env
from sandbox.kwok import ETCD_QUOTA, KwokProvider
from confinement.cgroup import Limits, cgroup_v2
from sandbox.toolchain import Toolchain
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster

COMPONENTS = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
              "kwok-controller"}
REFUSED = "403 Proctor sandboxes connect only to their own nodes"


# -- a host service that must never hear from a sandbox -----------------------------
class Listener:
    """A TCP server on the host's loopback recording every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple[tuple, bytes]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            conn.settimeout(0.5)
            try:
                first = conn.recv(120)
            except OSError:
                first = b""
            self.connections.append((peer, first))
            conn.close()

    def assert_untouched(self, attack: str):
        assert not self.connections, (
            f"{attack}: a host loopback port received {len(self.connections)} connection(s) "
            f"from the sandbox; first bytes {self.connections[0][1][:60]!r}")

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    # the listener itself works: a direct connection from the host is seen
    socket.create_connection(("127.0.0.1", lst.port), timeout=5).close()
    wait_for("the listener to see a direct connection", lambda: lst.connections)
    lst.connections.clear()
    yield lst
    lst.close()


# -- helpers ----------------------------------------------------------------------------
def kubectl(sb, *args, check=True, input=None, timeout=60):
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                          "--request-timeout=20s", *args],
                         capture_output=True, text=True, input=input, timeout=timeout)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)} failed: {res.stderr}"
    return res


def etcdctl(sb, *args, input=None, check=True):
    """etcdctl against the sandbox's etcd with its credentials, as the candidate has them."""
    res = subprocess.run([str(Toolchain().binary("etcdctl")), *args], capture_output=True,
                         text=True, input=input, timeout=60,
                         env=dict(os.environ, **etcdctl_env(sb.etcd_endpoint, sb.etcd_pki)))
    if check:
        assert res.returncode == 0, f"etcdctl {' '.join(args)} failed: {res.stderr}"
    return res


def etcd_put(sb, key: str, obj: dict) -> None:
    """Write an object straight into etcd, as a candidate can: no validation,
    no admission (the API server reads JSON from etcd as well as protobuf)."""
    obj["metadata"].setdefault("uid", str(uuid.uuid4()))
    obj["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
    etcdctl(sb, "put", key, input=json.dumps(obj))


def cluster_dir(kwok: KwokProvider, sb) -> Path:
    return kwok.root / "kwok" / "clusters" / sb.name


def refusals(kwok, sb, port: int) -> int:
    """How often the sandbox's egress proxy refused a connection to ``port``."""
    log = cluster_dir(kwok, sb) / "logs" / "egress.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines()
               if line.startswith("egress: refused") and f":{port} " in line)


def expect_refused(kwok, sb, listener, attack: str, before: int, timeout=60.0):
    """The egress proxy refused the attack's connection (so it was attempted),
    and nothing reached the host."""
    wait_for(f"the egress proxy to refuse {attack}",
             lambda: listener.connections or refusals(kwok, sb, listener.port) > before, timeout=timeout)
    listener.assert_untouched(attack)


def call_webhook(sb, listener, label: str, what: str) -> str:
    """Create ConfigMaps labelled ``attack=<label>`` until the API server has
    called the webhook (which takes effect a moment after it is created);
    returns the error of that create."""
    def attempt():
        res = kubectl(sb, "create", "-f", "-", check=False, input=json.dumps({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "generateName": "x-", "namespace": "default", "labels": {"attack": label}}}))
        if listener.connections:
            return "the host was reached"
        return res.returncode != 0 and "failed calling webhook" in res.stderr and res.stderr
    return wait_for(f"{what} to be called", attempt)


def in_cgroup(pid: int, cgroup) -> bool:
    """Whether ``pid`` is in ``cgroup`` for every controller it has (v1) or at all (v2)."""
    entries = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
    want = "/" + cgroup.name
    if cgroup_v2():
        return any(h == "0" and path == want for h, _, path in entries)
    return all(any(d.parent.name in ctrls.split(",") and path == want for _, ctrls, path in entries)
               for d in cgroup.dirs)


def component_pids(kwok, sb) -> dict[str, int]:
    out = {}
    for p in kwok.processes(sb.name):
        name = Path(p.cmdline()[0]).name
        if name in COMPONENTS:
            out[name] = p.pid
    assert set(out) == COMPONENTS, f"components running: {sorted(out)}"
    return out


def port_forward(sb, pod: str, namespace="default", timeout=30.0) -> str:
    """``kubectl port-forward``, and one local connection through it if it
    starts; returns everything kubectl printed."""
    proc = subprocess.Popen([str(Toolchain().binary("kubectl")), "--kubeconfig",
                             str(sb.kubeconfig), "-n", namespace, "port-forward", f"pod/{pod}",
                             ":80"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                if not line:
                    break  # kubectl ended
                out += line
                m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                if m:
                    with socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=10) as c:
                        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                        c.settimeout(15)
                        try:
                            while c.recv(4096):
                                pass
                        except OSError:
                            pass
                    # the forward ran its course: whatever it dialled, it has dialled
                    break
    finally:
        proc.terminate()
        out += proc.communicate(timeout=10)[0]
    return out


def run_pod(sb, name: str, node: str, namespace="default", extra: dict | None = None):
    spec = {"nodeName": node, "containers": [{"name": name, "image": "busybox"}]}
    spec.update(extra or {})
    kubectl(sb, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": spec}))
    kubectl(sb, "-n", namespace, "wait", f"pod/{name}", "--for=condition=Ready", "--timeout=120s")


@pytest.fixture(scope="module")
def target(kwok):
    """The candidate's cluster under attack: controlplane, node01, node02."""
    name = f"attacked-{os.getpid()}"
    sb = kwok.create(name, nodes=3)
    yield sb
    kwok.destroy(name)


# -- the API server dials nothing of the host's --------------------------------------------
def test_node_address_and_kubelet_port_do_not_reach_the_host(kwok, target, listener):
    """A node's address and kubelet port are the candidate's to set: logs, exec,
    attach, port-forward and the node proxy dial them."""
    sb = target
    run_pod(sb, "victim", "node01")
    assert "no logs found" in kubectl(sb, "logs", "victim", check=False).stderr, \
        "before the attack, kubectl logs should reach kwok-controller (the only allowed dial)"
    kubectl(sb, "patch", "node", "node01", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                  {"type": "Hostname", "address": "localhost"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": listener.port}}}}))
    assert kubectl(sb, "get", "node", "node01", "-o",
                   "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}").stdout == \
        str(listener.port)

    before = refusals(kwok, sb, listener.port)
    res = kubectl(sb, "logs", "victim", check=False)
    expect_refused(kwok, sb, listener, "kubectl logs through a node's kubelet port", before)
    assert res.returncode != 0 and REFUSED in res.stderr, res.stderr

    before = refusals(kwok, sb, listener.port)
    res = kubectl(sb, "exec", "victim", "--", "id", check=False)
    expect_refused(kwok, sb, listener, "kubectl exec through a node's kubelet port", before)
    assert res.returncode != 0 and REFUSED in res.stderr, res.stderr

    before = refusals(kwok, sb, listener.port)
    res = kubectl(sb, "attach", "victim", check=False, timeout=60)
    assert res.returncode != 0, res.stdout
    expect_refused(kwok, sb, listener, "kubectl attach through a node's kubelet port", before)

    before = refusals(kwok, sb, listener.port)
    out = port_forward(sb, "victim")
    expect_refused(kwok, sb, listener, "kubectl port-forward through a node's kubelet port", before)
    assert REFUSED in out, out

    for path in (f"/api/v1/nodes/node01:{listener.port}/proxy/", "/api/v1/nodes/node01/proxy/",
                 f"/api/v1/nodes/https:node01:{listener.port}/proxy/healthz"):
        res = kubectl(sb, "get", "--raw", path, check=False)
        assert res.returncode != 0, f"GET {path} answered: {res.stdout[:200]}"
    listener.assert_untouched("the API server connected to a host loopback port through "
                              "a node's address (nodes/…/proxy)")


def test_a_node_the_candidate_creates_does_not_reach_the_host(kwok, target, listener):
    sb = target
    kubectl(sb, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "rogue",
                                                          "annotations": {"kwok.x-k8s.io/node": "fake"}}}))
    wait_for("kwok to make the candidate's node Ready",
             lambda: "True" in kubectl(sb, "get", "node", "rogue", "-o", "jsonpath={.status."
                                       "conditions[?(@.type==\"Ready\")].status}").stdout)
    kubectl(sb, "patch", "node", "rogue", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"addresses": [{"type": "Hostname", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": listener.port}}}}))
    run_pod(sb, "on-rogue", "rogue")
    before = refusals(kwok, sb, listener.port)
    res = kubectl(sb, "logs", "on-rogue", check=False)
    expect_refused(kwok, sb, listener, "kubectl logs of a pod on a Node object the candidate "
                                       "created with a loopback address", before)
    assert res.returncode != 0 and REFUSED in res.stderr, res.stderr


def test_pod_ip_does_not_reach_the_host(kwok, target, listener):
    """pods/…/proxy dials the pod's IP, which the status subresource lets the candidate set."""
    sb = target
    run_pod(sb, "podip", "node02")
    kubectl(sb, "patch", "pod", "podip", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}))
    for path in (f"/api/v1/namespaces/default/pods/podip:{listener.port}/proxy/",
                 f"/api/v1/namespaces/default/pods/https:podip:{listener.port}/proxy/x"):
        res = kubectl(sb, "get", "--raw", path, check=False)
        assert res.returncode != 0, f"GET {path} answered: {res.stdout[:200]}"
    listener.assert_untouched("the API server connected to a host loopback port through a "
                              "pod's IP (pods/…/proxy)")


def test_service_proxy_with_endpoints_written_to_etcd_does_not_reach_the_host(kwok, target,
                                                                               listener):
    """The API refuses loopback Endpoints, but a candidate writes them into etcd."""
    sb = target
    run_pod(sb, "backend", "node02")
    kubectl(sb, "patch", "pod", "backend", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}))
    kubectl(sb, "create", "service", "clusterip", "loot", f"--tcp=80:{listener.port}")
    etcd_put(sb, "/registry/services/endpoints/default/loot", {
        "kind": "Endpoints", "apiVersion": "v1",
        "metadata": {"name": "loot", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1", "targetRef": {
            "kind": "Pod", "namespace": "default", "name": "backend"}}],
            "ports": [{"name": f"80-{listener.port}", "port": listener.port, "protocol": "TCP"}]}]})
    wait_for("the API server to serve the Endpoints written to etcd",
             lambda: "127.0.0.1" in kubectl(sb, "get", "endpoints", "loot", "-o", "json").stdout)
    before = refusals(kwok, sb, listener.port)
    res = kubectl(sb, "get", "--raw", "/api/v1/namespaces/default/services/http:loot:80/proxy/x",
                  check=False)
    expect_refused(kwok, sb, listener, "the API server connected to a host loopback port "
                                       "through Endpoints written to etcd (services/…/proxy)",
                   before)
    assert res.returncode != 0 and REFUSED in res.stderr, res.stderr


def test_externalname_service_does_not_reach_the_host(kwok, target, listener):
    """An ExternalName Service named ``localhost``: webhooks and APIServices by
    Service resolve it to https://localhost:<port> (no etcd needed)."""
    sb = target
    kubectl(sb, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "home", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "localhost",
                 "ports": [{"port": listener.port}]}}))
    res = kubectl(sb, "get", "--raw",
                  f"/api/v1/namespaces/default/services/home:{listener.port}/proxy/", check=False)
    assert res.returncode != 0, res.stdout[:200]

    before = refusals(kwok, sb, listener.port)
    kubectl(sb, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "via-externalname"},
        "webhooks": [{"name": "home.example.com", "sideEffects": "None",
                      "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
                      "timeoutSeconds": 3,
                      "clientConfig": {"service": {"name": "home", "namespace": "default",
                                                   "port": listener.port}},
                      "objectSelector": {"matchLabels": {"attack": "externalname"}},
                      "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                 "apiVersions": ["v1"], "resources": ["configmaps"]}]}]}))
    try:
        error = call_webhook(sb, listener, "externalname", "the webhook on ExternalName localhost")
        expect_refused(kwok, sb, listener, "a webhook by ExternalName Service connected to a "
                                           "host loopback port", before)
        assert REFUSED in error, error
    finally:
        kubectl(sb, "delete", "validatingwebhookconfiguration", "via-externalname")

    before = refusals(kwok, sb, listener.port)
    kubectl(sb, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1.home.example.com"},
        "spec": {"group": "home.example.com", "version": "v1", "groupPriorityMinimum": 1000,
                 "versionPriority": 15, "insecureSkipTLSVerify": True,
                 "service": {"name": "home", "namespace": "default", "port": listener.port}}}))
    try:
        res = kubectl(sb, "get", "--raw", "/apis/home.example.com/v1", check=False)
        assert res.returncode != 0, res.stdout[:200]
        listener.assert_untouched("an APIService on an ExternalName Service connected to a "
                                  "host loopback port")
    finally:
        kubectl(sb, "delete", "apiservice", "v1.home.example.com")
    assert refusals(kwok, sb, listener.port) >= before


def loopback_service(sb, name: str, port: int) -> None:
    """A Service whose ClusterIP is 127.0.0.1, written to etcd (the API only
    takes ClusterIPs from the service range). Webhooks and APIServices by
    Service dial the ClusterIP."""
    etcd_put(sb, f"/registry/services/specs/default/{name}", {
        "kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "ClusterIP", "clusterIP": "127.0.0.1", "clusterIPs": ["127.0.0.1"],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}]}})
    wait_for(f"the API server to serve Service {name} written to etcd",
             lambda: kubectl(sb, "get", "service", name, "-o", "jsonpath={.spec.clusterIP}",
                             check=False).stdout == "127.0.0.1")


def test_admission_webhooks_do_not_reach_the_host(kwok, target, listener):
    """A webhook by URL (https://127.0.0.1:PORT) and one by a Service whose
    ClusterIP, written to etcd, is 127.0.0.1."""
    sb = target
    loopback_service(sb, "hook", listener.port)
    hooks = {
        "ValidatingWebhookConfiguration": {"url": f"https://127.0.0.1:{listener.port}/validate"},
        "MutatingWebhookConfiguration": {"service": {"name": "hook", "namespace": "default",
                                                     "port": listener.port}},
    }
    for kind, client_config in hooks.items():
        label = kind.lower()
        before = refusals(kwok, sb, listener.port)
        kubectl(sb, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": "evil"},
            "webhooks": [{"name": "evil.example.com", "sideEffects": "None",
                          "admissionReviewVersions": ["v1"], "failurePolicy": "Fail",
                          "timeoutSeconds": 3, "clientConfig": client_config,
                          "objectSelector": {"matchLabels": {"attack": label}},
                          "rules": [{"operations": ["CREATE"], "apiGroups": [""],
                                     "apiVersions": ["v1"], "resources": ["configmaps"]}]}]}))
        try:
            error = call_webhook(sb, listener, label, f"the {kind}")
            expect_refused(kwok, sb, listener, f"a {kind} ({client_config}) connected to a host "
                                               "loopback port", before)
            assert REFUSED in error, error
        finally:
            kubectl(sb, "delete", kind.lower(), "evil")


def test_aggregated_api_does_not_reach_the_host(kwok, target, listener):
    """An APIService on a Service whose ClusterIP (written to etcd) is 127.0.0.1,
    with a ready EndpointSlice so that the aggregator calls it available."""
    sb = target
    loopback_service(sb, "agg", listener.port)
    etcd_put(sb, "/registry/endpointslices/default/agg-ready", {
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "agg-ready", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "agg"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}],
        "ports": [{"name": "", "port": listener.port, "protocol": "TCP"}]})
    before = refusals(kwok, sb, listener.port)
    kubectl(sb, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1.agg.example.com"},
        "spec": {"group": "agg.example.com", "version": "v1", "groupPriorityMinimum": 1000,
                 "versionPriority": 15, "insecureSkipTLSVerify": True,
                 "service": {"name": "agg", "namespace": "default", "port": listener.port}}}))
    try:
        # the availability controller dials the service as soon as it sees the APIService
        expect_refused(kwok, sb, listener, "an aggregated APIService connected to a host "
                                           "loopback port", before)
        res = kubectl(sb, "get", "--raw", "/apis/agg.example.com/v1", check=False)
        assert res.returncode != 0, res.stdout[:200]
        listener.assert_untouched("an aggregated APIService connected to a host loopback port")
    finally:
        kubectl(sb, "delete", "apiservice", "v1.agg.example.com")


def test_crd_conversion_webhook_does_not_reach_the_host(kwok, target, listener):
    sb = target
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.evil.example.com"},
        "spec": {"group": "evil.example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "conversion": {"strategy": "Webhook", "webhook": {
                     "conversionReviewVersions": ["v1"],
                     "clientConfig": {"url": f"https://127.0.0.1:{listener.port}/convert"}}},
                 "versions": [{"name": name, "served": True, "storage": name == "v1",
                               "schema": {"openAPIV3Schema": {
                                   "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
                              for name in ("v1", "v2")]}}
    kubectl(sb, "apply", "-f", "-", input=json.dumps(crd))
    kubectl(sb, "wait", "crd/widgets.evil.example.com", "--for=condition=Established",
            "--timeout=60s")
    before = refusals(kwok, sb, listener.port)

    def attempt():
        res = kubectl(sb, "apply", "-f", "-", check=False, input=json.dumps({
            "apiVersion": "evil.example.com/v2", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"}}))
        if listener.connections:
            return "the host was reached"
        return res.returncode != 0 and "conversion webhook" in res.stderr and res.stderr
    error = wait_for("the conversion webhook to be called", attempt)
    expect_refused(kwok, sb, listener, "a CRD conversion webhook connected to a host loopback "
                                       "port", before)
    assert REFUSED in error, error


# -- nor do the other components ----------------------------------------------------------------
def test_etcd_member_the_candidate_adds_is_never_dialled(kwok, target, listener):
    """``etcdctl member add`` makes etcd dial the new member's peer URL."""
    if landlock.available():
        pytest.skip(f"Landlock TCP rules unavailable here: {landlock.available()}")
    sb = target
    etcd_log = cluster_dir(kwok, sb) / "logs" / "etcd.log"
    denied = etcd_log.read_text().count("connect: permission denied")
    # JSON, not the text: etcdctl prints the ID with "%16x", space-padded, so
    # one ID in 16 (a leading zero digit) read "Member  7059897bfdd618d added"
    res = etcdctl(sb, "member", "add", "evil", "--learner", "-w", "json",
                  f"--peer-urls=http://127.0.0.1:{listener.port}")
    member = f"{json.loads(res.stdout)['member']['ID']:x}"
    try:
        wait_for("etcd to try the learner's peer URL and be refused by Landlock",
                 lambda: listener.connections
                 or etcd_log.read_text().count("connect: permission denied") > denied)
        listener.assert_untouched("etcd connected to a host loopback port through a member the "
                                  "candidate added")
    finally:
        etcdctl(sb, "member", "remove", member)


def test_every_component_is_confined_and_limited(kwok, target):
    sb = target
    rec = json.loads((kwok.root / "sandboxes" / sb.name / "sandbox.json").read_text())
    cgroup = kwok.cgroup(sb.name)
    assert cgroup.exists(), f"no cgroup {cgroup.name}: {rec.get('confinement')}"
    limits = Limits()
    for name, pid in component_pids(kwok, sb).items():
        status = Path(f"/proc/{pid}/status").read_text()
        if not landlock.available():
            assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), \
                f"{name} (pid {pid}) was not started under Landlock (no_new_privs unset)"
        assert in_cgroup(pid, cgroup), \
            f"{name} (pid {pid}) is not in cgroup {cgroup.name}: {Path(f'/proc/{pid}/cgroup').read_text()}"
        limits_text = Path(f"/proc/{pid}/limits").read_text()
        fsize = re.search(r"^Max file size\s+(\S+)", limits_text, re.M).group(1)
        assert fsize == str(limits.file_size), f"{name} may write files of {fsize} bytes"
    seen = set()
    for d in cgroup.dirs:
        for f, want in (("memory.limit_in_bytes", limits.memory_bytes),
                        ("memory.max", limits.memory_bytes), ("pids.max", limits.pids)):
            if (d / f).exists():
                assert int((d / f).read_text()) == want, f"{d / f} is {(d / f).read_text()}"
                seen.add(f.split(".")[0])
    assert seen == {"memory", "pids"}, f"limits found in {cgroup.dirs}: {seen}"
    cmd = psutil.Process(component_pids(kwok, sb)["kube-apiserver"]).cmdline()
    assert any(a.startswith("--egress-selector-config-file=") for a in cmd), cmd


def test_etcd_quota_is_small(kwok, target):
    sb = target
    cmd = psutil.Process(component_pids(kwok, sb)["etcd"]).cmdline()
    quota = [a for a in cmd if a.startswith("--quota-backend-bytes=")]
    assert quota == [f"--quota-backend-bytes={256 * 1024**2}"], quota
    assert ETCD_QUOTA == "256Mi"
    status = json.loads(etcdctl(sb, "endpoint", "status", "-w", "json").stdout)
    assert status[0]["Status"]["dbSize"] < 256 * 1024**2


def test_a_flood_fills_only_the_candidates_own_etcd(kwok_root, target):
    """With a tiny quota, writing until etcd refuses: the cluster goes read-only
    (NOSPACE), the other sandboxes do not notice, destroy leaves no cgroup."""
    small = KwokProvider(root=kwok_root, etcd_quota="24Mi")
    name = f"flood-{os.getpid()}"
    sb = small.create(name, nodes=1)
    cgroup = small.cgroup(name)
    try:
        assert cgroup.exists()
        blob = "x" * (900 * 1024)
        error = ""
        for i in range(200):
            res = kubectl(sb, "create", "-f", "-", check=False, input=json.dumps({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"flood-{i}", "namespace": "default"},
                "data": {"blob": blob}}))
            if res.returncode != 0:
                error = res.stderr
                break
        assert "database space exceeded" in error, f"the flood was not stopped by the quota: {error}"
        alarms = etcdctl(sb, "alarm", "list").stdout
        assert "NOSPACE" in alarms, alarms
        # the candidate's own cluster refuses writes; the other sandbox works
        res = kubectl(sb, "create", "configmap", "tiny", check=False)
        assert res.returncode != 0
        kubectl(target, "create", "configmap", f"after-flood-{os.getpid()}")
        assert kwok_root.joinpath("sandboxes", target.name).exists()
    finally:
        small.destroy(name)
    assert not cgroup.exists(), f"cgroup {cgroup.name} left after destroy"
    assert not cgroup.pids()


def test_huge_object_is_refused(target):
    blob = "y" * (4 * 1024 * 1024)
    res = kubectl(target, "create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge", "namespace": "default"},
        "data": {"blob": blob}}))
    assert res.returncode != 0, "a 4 MiB object was stored"
    assert "too large" in res.stderr.lower() or "request entity" in res.stderr.lower(), res.stderr
    kubectl(target, "get", "--raw", "/readyz")


# -- kwok runs nothing on the host -----------------------------------------------------------------
KWOK_KINDS = ("ClusterExec", "Exec", "ClusterLogs", "Logs", "ClusterAttach", "Attach",
              "ClusterPortForward", "PortForward", "Stage")


def test_kwok_crds_made_by_the_candidate_are_ignored(kwok, target, listener, tmp_path):
    """kwok-controller can run exec on the host, serve host files as logs and
    forward ports to host addresses, by rules in CRDs it watches. A candidate
    can create CRDs with kwok's names and rules in them: kwok must ignore them."""
    sb = target
    for kind in KWOK_KINDS:
        plural = kind.lower() + ("es" if kind.endswith(("h", "s")) else "s")
        kubectl(sb, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kwok.x-k8s.io"},
            "spec": {"group": "kwok.x-k8s.io", "scope": "Cluster" if kind.startswith("Cluster")
                     or kind == "Stage" else "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}}))
        kubectl(sb, "wait", f"crd/{plural}.kwok.x-k8s.io", "--for=condition=Established",
                "--timeout=60s")
    marker = tmp_path / "kwok-exec-ran-on-the-host"
    secret = tmp_path / "host-secret"
    secret.write_text("host-secret-" + uuid.uuid4().hex)
    rules = [
        {"kind": "ClusterExec", "spec": {"execs": [{"local": {"workDir": "/"}}]}},
        {"kind": "ClusterLogs", "spec": {"logs": [{"logsFile": str(secret)}]}},
        {"kind": "ClusterAttach", "spec": {"attaches": [{"logsFile": str(secret)}]}},
        {"kind": "ClusterPortForward", "spec": {"forwards": [
            {"target": {"port": listener.port, "address": "127.0.0.1"}}]}},
    ]
    for rule in rules:
        kubectl(sb, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": rule["kind"],
            "metadata": {"name": "candidate"}, "spec": rule["spec"]}))
    run_pod(sb, "kwok-target", "node02")

    res = kubectl(sb, "exec", "kwok-target", "--", "touch", str(marker), check=False)
    assert res.returncode != 0 and "no exec found" in res.stderr, res.stderr
    assert not marker.exists(), "kwok ran the candidate's exec on the host (ClusterExec CRD)"
    res = kubectl(sb, "logs", "kwok-target", check=False)
    assert secret.read_text() not in res.stdout + res.stderr, \
        "kwok served a host file as a pod's logs (ClusterLogs CRD)"
    assert "no logs found" in res.stderr, res.stderr
    res = kubectl(sb, "attach", "kwok-target", check=False)
    assert secret.read_text() not in res.stdout + res.stderr, \
        "kwok served a host file through attach (ClusterAttach CRD)"
    out = port_forward(sb, "kwok-target")
    listener.assert_untouched("kwok forwarded a port to a host address (ClusterPortForward CRD)")
    assert "Forwarding from" in out or "error" in out.lower(), out


def test_hostpath_volume_touches_nothing_on_the_host(target, tmp_path):
    path = tmp_path / "made-by-a-hostpath-volume"
    run_pod(target, "hostpath", "node02", extra={
        "volumes": [{"name": "h", "hostPath": {"path": str(path), "type": "DirectoryOrCreate"}}],
        "containers": [{"name": "hostpath", "image": "busybox",
                        "volumeMounts": [{"name": "h", "mountPath": "/host"}]}]})
    assert not path.exists(), "a hostPath volume of a kwok pod created a directory on the host"


def test_components_a_rewind_restarts_stay_confined(kwok, tmp_path):
    """A rewind (validate's fresh copy of a post-setup cluster) stops the
    controller-manager, the scheduler and kwok-controller and starts them again:
    they come back in the sandbox's cgroup and under its Landlock rule (kwok's
    own port only), never as free processes of the host."""
    from sandbox.kwok import CONTROLLERS
    sb = kwok.create("rewound", nodes=1)
    try:
        before = component_pids(kwok, sb)
        kwok.rewind(sb, kwok.checkpoint(sb))
        after = component_pids(kwok, sb)
        for comp in CONTROLLERS:
            assert after[comp] != before[comp], f"{comp} was not restarted"
            assert in_cgroup(after[comp], kwok.cgroup("rewound")), \
                f"{comp} left the sandbox's cgroup"
            if landlock.available() is None:  # confine_tcp sets no_new_privs first
                assert "NoNewPrivs:\t1" in Path(f"/proc/{after[comp]}/status").read_text(), \
                    f"{comp} runs without the sandbox's Landlock rule"
    finally:
        kwok.destroy("rewound")
