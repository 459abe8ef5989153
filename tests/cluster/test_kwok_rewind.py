"""A kwok sandbox rewound to a checkpoint (sandbox.kwok.rewind), on a real API server:
what a script did after the checkpoint is gone, what it removed is back, the API server
and the controllers go on without a restart, and the workspace is as it was."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from sandbox.gvisor import GvisorProvider
from sandbox.kwok.rewind import Gateway, RewindFailed
from sandbox.toolchain import Toolchain
from tests.waiting import wait_for

pytestmark = pytest.mark.cluster


def kubectl(sb, *args: str, check: bool = True) -> str:
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                          *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 or not check, res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def sandbox(kwok):
    sb = kwok.create("rewind-me", nodes=2)
    yield sb
    kwok.destroy("rewind-me")


def state(sb) -> dict:
    """What a check would read: the objects by name, with what defines them."""
    items = json.loads(kubectl(sb, "get", "namespaces,deployments,replicasets,pods,services,"
                                   "configmaps,clusterroles,nodes", "-A", "-o", "json"))["items"]
    return {(i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]):
            (i["metadata"]["uid"], i["metadata"].get("labels"), i.get("spec", {}).get("replicas"),
             i.get("spec", {}).get("unschedulable"), i.get("data"))
            for i in items}


def test_a_rewind_undoes_what_was_done_since_the_checkpoint(kwok, sandbox):
    sb = sandbox
    kubectl(sb, "create", "namespace", "app")
    kubectl(sb, "-n", "app", "create", "deployment", "web", "--image=nginx", "--replicas=2")
    kubectl(sb, "-n", "app", "create", "service", "clusterip", "web", "--tcp=80")
    kubectl(sb, "-n", "app", "create", "configmap", "settings", "--from-literal=mode=dev")
    kubectl(sb, "-n", "app", "rollout", "status", "deployment/web", "--timeout=60s")
    work = sb.workspace
    (work / "answers").mkdir(exist_ok=True)
    (work / "answers" / "kept.txt").write_text("as setup wrote it\n")
    # a link a script left: the checkpoint keeps it as a link, never what it points at
    os.symlink("/etc/shadow", work / "answers" / "link")
    before = state(sb)
    cp = kwok.checkpoint(sb)
    assert os.path.islink(cp.workspace / "answers" / "link")

    # a candidate's (or a near miss's) work: every kind of change
    kubectl(sb, "-n", "app", "scale", "deployment/web", "--replicas=4")
    kubectl(sb, "-n", "app", "set", "image", "deployment/web", "nginx=nginx:1.27")
    kubectl(sb, "-n", "app", "delete", "service", "web")
    kubectl(sb, "-n", "app", "patch", "configmap", "settings", "-p", '{"data":{"mode":"prod"}}')
    kubectl(sb, "create", "namespace", "extra")
    kubectl(sb, "-n", "extra", "create", "configmap", "left-behind")
    kubectl(sb, "create", "clusterrole", "reader", "--verb=get", "--resource=pods")
    kubectl(sb, "cordon", "node01")
    kubectl(sb, "label", "node", "node01", "disk=ssd")
    (work / "answers" / "kept.txt").write_text("changed\n")
    (work / "answers" / "new.txt").write_text("new\n")
    (work / "answers" / "link").unlink()
    assert state(sb) != before

    made = set(Gateway(sb).keys()) - set(cp.keys)
    kwok.rewind(sb, cp)
    assert state(sb) == before
    # etcd holds every key of the checkpoint and none of those made since
    now = set(Gateway(sb).keys())
    assert set(cp.keys) <= now and not made & now, (set(cp.keys) - now, made & now)
    assert sorted(p.name for p in (work / "answers").iterdir()) == ["kept.txt", "link"]
    assert (work / "answers" / "kept.txt").read_text() == "as setup wrote it\n"
    assert os.readlink(work / "answers" / "link") == "/etc/shadow"
    # the controllers go on from there: a scale after the rewind is carried out
    kubectl(sb, "-n", "app", "scale", "deployment/web", "--replicas=3")
    kubectl(sb, "-n", "app", "rollout", "status", "deployment/web", "--timeout=60s")
    assert kubectl(sb, "-n", "app", "get", "deployment", "web", "-o",
                   "jsonpath={.status.readyReplicas}") == "3"
    # and the checkpoint rewinds any number of times (controllers acting on the state
    # before a rewind may overshoot for a moment: they take it back on their own)
    kwok.rewind(sb, cp)
    wait_for("the state of the checkpoint again", lambda: state(sb) == before, timeout=30)


def revisions(sb, ns: str) -> dict:
    rs = json.loads(kubectl(sb, "-n", ns, "get", "replicasets", "-o", "json"))["items"]
    return {r["metadata"]["name"]: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for r in rs}


def test_controllers_remember_nothing_of_what_a_rewind_took_away(kwok, sandbox):
    """Kept running through a rewind, the Deployment controller numbered a restored
    ReplicaSet after ReplicaSets the rewind had deleted (rollout history 1, 4, 5
    where setup left 1, 2, 3), and kwok gave a new Pod the IP of a restored one."""
    sb = sandbox
    kubectl(sb, "create", "namespace", "hist")
    kubectl(sb, "-n", "hist", "create", "deployment", "app", "--image=nginx:1.25", "--replicas=2")
    for image in ("nginx:1.26", "nginx:1.27"):
        kubectl(sb, "-n", "hist", "rollout", "status", "deployment/app", "--timeout=60s")
        kubectl(sb, "-n", "hist", "set", "image", "deployment/app", f"nginx={image}")
    kubectl(sb, "-n", "hist", "rollout", "status", "deployment/app", "--timeout=60s")
    history = revisions(sb, "hist")
    assert sorted(history.values()) == ["1", "2", "3"]
    cp = kwok.checkpoint(sb)
    for image in ("nginx:1.28", "nginx:1.29", "nginx:1.30"):
        kubectl(sb, "-n", "hist", "set", "image", "deployment/app", f"nginx={image}")
        kubectl(sb, "-n", "hist", "rollout", "status", "deployment/app", "--timeout=60s")
        kwok.rewind(sb, cp)
        assert revisions(sb, "hist") == history
    kubectl(sb, "-n", "hist", "scale", "deployment/app", "--replicas=6")
    kubectl(sb, "-n", "hist", "rollout", "status", "deployment/app", "--timeout=60s")
    ips = kubectl(sb, "get", "pods", "-A", "-o", "jsonpath={.items[*].status.podIP}").split()
    assert len(ips) == len(set(ips)), f"two Pods share an IP: {sorted(ips)}"
    assert revisions(sb, "hist") == history


def test_a_checkpoint_rewinds_only_its_own_sandbox(kwok, sandbox):
    cp = kwok.checkpoint(sandbox)
    other = type(sandbox)(**{**sandbox.__dict__, "name": "someone-else"})
    with pytest.raises(RewindFailed, match="checkpoint of sandbox 'rewind-me' cannot rewind"):
        kwok.rewind(other, cp)


def test_a_sandbox_with_containers_does_not_claim_to_rewind(tmp_path):
    """A gvisor box's containers and node files are state etcd does not hold."""
    prov = GvisorProvider(root=tmp_path)
    assert prov.rewinds is False
    with pytest.raises(NotImplementedError, match="gvisor sandboxes cannot be rewound"):
        prov.checkpoint(None)
