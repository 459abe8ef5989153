"""Every port a kwok sandbox opens on the host's loopback, attacked for real.

The host's loopback is shared by every local process: another candidate's
task code (confined, as that sandbox's grader uid), the terminal relays,
``nobody``. Issue 17: a confined check of one candidate read the keys of two
other candidates' etcds over plain HTTP, and could have written them. Here
two live sandboxes, the attacker's own and the victim, and the attacker is
``nobody`` (holding the attacker sandbox's etcd certificates or none) and
the attacker sandbox's grader uid (task code, confined by ``grader.room``,
with its sandbox's ETCDCTL_* credentials). Each listener must ask for
credentials of the victim alone, or serve nothing of the victim's cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest
import yaml

from grader.runner import run_script
from grader.task import load_task
from sandbox.base import ETCD_CLIENT_FILES, etcdctl_env
from sandbox.toolchain import Toolchain

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="attacks as other users: run as root")]

REPO = Path(__file__).resolve().parents[2]
THIEF = REPO / "tests" / "fixtures" / "security" / "etcd-thief"
NOBODY = 65534
LISTENERS = {"etcd", "kube-apiserver", "kwok-controller"}


@pytest.fixture(scope="module")
def attacker(kwok):
    name = f"thief-{os.getpid()}"
    yield kwok.create(name, nodes=1)
    kwok.destroy(name)


@pytest.fixture(scope="module")
def victim(kwok):
    """The victim's cluster, with a namespace whose name only it knows and a pod."""
    name = f"victim-{os.getpid()}"
    sb = kwok.create(name, nodes=2)
    namespace = f"exam-{uuid.uuid4().hex[:10]}"
    kubectl(sb, "create", "namespace", namespace)
    kubectl(sb, "-n", namespace, "run", "secret-pod", "--image=busybox")
    sb.secret_namespace = namespace
    yield sb
    kwok.destroy(name)


@pytest.fixture
def loot_dir():
    """A folder ``nobody`` can read (a test's tmp_path is root's only), with
    the thief and an etcdctl (the toolchain's is under root's home)."""
    d = Path(tempfile.mkdtemp(prefix="proctor-loot-"))
    d.chmod(0o755)
    (d / "bin").mkdir(mode=0o755)
    shutil.copy(Toolchain().binary("etcdctl"), d / "bin" / "etcdctl")
    shutil.copy(THIEF / "setup", d / "thief")
    yield d
    shutil.rmtree(d, ignore_errors=True)


# -- helpers -------------------------------------------------------------------------------
def kubectl(sb, *args, check=True):
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                          "--request-timeout=20s", *args], capture_output=True, text=True,
                         timeout=60)
    assert not check or res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
    return res


def etcd_keys(sb, prefix: str) -> str:
    """The keys under ``prefix`` in the sandbox's etcd, read with its own credentials."""
    res = subprocess.run([str(Toolchain().binary("etcdctl")), "get", "--prefix", "--keys-only",
                          prefix], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, **etcdctl_env(sb.etcd_endpoint, sb.etcd_pki)))
    assert res.returncode == 0, f"etcdctl get with the sandbox's own credentials: {res.stderr}"
    return res.stdout


def as_nobody(argv: list[str], env: dict[str, str] | None = None, bin_dir: Path | None = None):
    """Run ``argv`` as ``nobody``, with no groups, as any local user could."""
    def drop():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    path = f"{bin_dir}:/usr/bin:/bin" if bin_dir else "/usr/bin:/bin"
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/",
                          env={"PATH": path, "HOME": "/", **(env or {})}, preexec_fn=drop)


def listeners(kwok, sb) -> dict[int, str]:
    """port -> the component listening on it, for every listening socket of the sandbox."""
    out = {}
    for p in kwok.processes(sb.name):
        try:
            name = Path(p.cmdline()[0]).name
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    out[c.laddr.port] = name
        except (psutil.NoSuchProcess, IndexError):
            pass
    return out


def port_of(kwok, sb, component: str) -> int:
    ports = [port for port, name in listeners(kwok, sb).items() if name == component]
    assert ports, f"{component} of {sb.name} listens on no port"
    return min(ports)


def kwokctl_options(kwok, sb) -> dict:
    """The options of the sandbox's kwokctl configuration (the ports Proctor picked)."""
    path = kwok.root / "sandboxes" / sb.name / "kwokctl.yaml"
    return next(d for d in yaml.safe_load_all(path.read_text())
                if d and d.get("kind") == "KwokctlConfiguration")["options"]


# The probe ``nobody`` runs against one port: plain HTTP and TLS (any server
# certificate, no client certificate) for each path; one JSON line per try.
PROBE = textwrap.dedent('''
    import http.client, json, ssl, sys
    port, paths = int(sys.argv[1]), sys.argv[2:]
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    for scheme in ("http", "https"):
        for path in paths:
            try:
                conn = (http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=10)
                        if scheme == "https" else
                        http.client.HTTPConnection("127.0.0.1", port, timeout=10))
                conn.request("GET", path)
                resp = conn.getresponse()
                out = {"status": resp.status, "body": resp.read(200000).decode("latin-1")}
            except Exception as exc:
                out = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps({"scheme": scheme, "path": path, **out}), flush=True)
''')


def probe(port: int, *paths: str) -> list[dict]:
    res = as_nobody(["/usr/bin/python3", "-I", "-c", PROBE, str(port), *paths])
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def served(tries: list[dict]) -> list[str]:
    """The tries that got an answer other than an error (a TLS server answers
    a plain HTTP request with 400 and no more)."""
    return [f"{t['scheme']}://…{t['path']} -> {t['status']} {t['body'][:80]!r}" for t in tries
            if t.get("status", 999) < 400]


# -- etcd ------------------------------------------------------------------------------------
def thief_said(output: str) -> tuple[list[str], list[str]]:
    lines = output.splitlines()
    return [x for x in lines if x.startswith("OPEN")], [x for x in lines if x.startswith("OWN")]


def test_nobody_reads_and_writes_no_sandboxs_etcd(victim, loot_dir):
    """``nobody``, with no certificate: plain HTTP (issue 17's attack) and TLS."""
    (loot_dir / "victim.txt").write_text(f"{victim.etcd_endpoint} {victim.secret_namespace}\n")
    res = as_nobody([str(loot_dir / "thief")], {"ANSWERS_DIR": str(loot_dir)}, loot_dir / "bin")
    opened, _ = thief_said(res.stdout)
    assert res.returncode == 0 and "SHUT read with plain HTTP" in res.stdout, res.stdout + res.stderr
    assert not opened, f"nobody reached another sandbox's etcd: {opened}\n{res.stdout}"
    assert "planted" not in etcd_keys(victim, "/registry/configmaps/"), \
        "nobody wrote a key into another sandbox's etcd"


def test_one_sandboxs_etcd_certificate_opens_no_other_etcd(attacker, victim, loot_dir):
    """``nobody`` holding the attacker sandbox's etcd CA and client pair (a
    candidate has theirs): they open the attacker's etcd and not the victim's."""
    (loot_dir / "victim.txt").write_text(f"{victim.etcd_endpoint} {victim.secret_namespace}\n")
    for rel in ETCD_CLIENT_FILES:
        (loot_dir / rel).parent.mkdir(exist_ok=True, mode=0o755)
        shutil.copy(attacker.etcd_pki / rel, loot_dir / rel)
        (loot_dir / rel).chmod(0o644)
    env = {"ANSWERS_DIR": str(loot_dir), **etcdctl_env(attacker.etcd_endpoint, loot_dir)}
    res = as_nobody([str(loot_dir / "thief")], env, loot_dir / "bin")
    opened, own = thief_said(res.stdout)
    assert own == ["OWN 0"], f"the attacker's credentials do not open their own etcd: {res.stdout}"
    assert not opened, f"one sandbox's etcd certificate opened another's etcd: {opened}"
    assert "planted" not in etcd_keys(victim, "/registry/configmaps/")


def test_task_code_of_one_sandbox_reads_and_writes_no_other_etcd(attacker, victim):
    """A task's setup for the attacker's sandbox, confined as its grader uid
    and given its sandbox's ETCDCTL_* credentials, turns to the victim."""
    answers = Path(attacker.workspace) / "answers"
    answers.mkdir(exist_ok=True)
    (answers / "victim.txt").write_text(f"{victim.etcd_endpoint} {victim.secret_namespace}\n")
    (answers / "victim.txt").chmod(0o644)
    res = run_script(load_task(THIEF), "setup", attacker, {})
    opened, own = thief_said(res.output)
    assert res.ok and own == ["OWN 0"], f"the task's own etcd is out of its reach: {res.output}"
    assert not opened, f"task code of one sandbox reached another's etcd: {opened}\n{res.output}"
    assert "planted" not in etcd_keys(victim, "/registry/configmaps/")


def test_etcd_peer_port_wants_a_certificate_of_the_sandbox(kwok, victim):
    """The peer port serves raft messages and the member list: not without
    a certificate of the sandbox's own CA."""
    peer = kwokctl_options(kwok, victim)["etcdPeerPort"]
    assert listeners(kwok, victim).get(peer) == "etcd", listeners(kwok, victim)
    tries = probe(peer, "/members", "/version", "/raft")
    assert not served(tries), f"etcd's peer port served nobody: {served(tries)}"
    assert "peerURLs" not in json.dumps(tries), f"etcd's peer port listed its members: {tries}"


# -- the API server ----------------------------------------------------------------------------
def test_api_server_answers_no_anonymous_request(kwok, victim):
    """No request without credentials is served, whatever the candidate's
    RBAC rules say (here: cluster-admin for ``system:anonymous``)."""
    kubectl(victim, "create", "clusterrolebinding", "open-to-all", "--clusterrole=cluster-admin",
            "--user=system:anonymous", "--group=system:unauthenticated")
    try:
        tries = probe(port_of(kwok, victim, "kube-apiserver"), "/version", "/healthz",
                      f"/api/v1/namespaces/{victim.secret_namespace}")
        https = [t for t in tries if t["scheme"] == "https"]
        assert https and all(t.get("status") == 401 for t in https), \
            f"the API server answered nobody: {tries}"
        assert not [t for t in tries if victim.secret_namespace in t.get("body", "")], tries
    finally:
        kubectl(victim, "delete", "clusterrolebinding", "open-to-all")


# -- the rest ------------------------------------------------------------------------------------
def test_controller_manager_and_scheduler_open_no_port(kwok, victim):
    """kwokctl lets anyone read their /metrics; Proctor gives them no port."""
    ports = listeners(kwok, victim)
    assert set(ports.values()) == LISTENERS, f"listening: {ports}"
    options = kwokctl_options(kwok, victim)
    for key in ("kubeControllerManagerPort", "kubeSchedulerPort"):
        tries = probe(options[key], "/metrics", "/healthz")
        assert not any("status" in t for t in tries), f"{key} answered nobody: {tries}"


def test_kwok_controller_serves_nothing_of_the_cluster(kwok, victim):
    """kwok-controller plays the kubelet and asks no one for credentials:
    without rules it serves no logs, no exec, no profile, nothing of the cluster."""
    kubectl(victim, "-n", victim.secret_namespace, "wait", "pod/secret-pod",
            "--for=condition=Ready", "--timeout=120s")
    ns = victim.secret_namespace
    tries = probe(port_of(kwok, victim, "kwok-controller"), "/debug/pprof/",
                  "/debug/pprof/goroutine?debug=2", f"/containerLogs/{ns}/secret-pod/secret-pod",
                  "/metrics", "/discovery/prometheus", "/healthz")
    pprof = [t for t in tries if t["path"].startswith("/debug/pprof")]
    assert not served(pprof), f"kwok-controller's profiler served nobody: {served(pprof)}"
    leaked = [t["path"] for t in tries if ns not in t["path"] and ns in t.get("body", "")]
    assert not leaked, f"kwok-controller showed nobody the victim's namespace at {leaked}"
