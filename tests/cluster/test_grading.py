"""The grader against a real API server (kwok sandbox): check helpers, fixtures, outcomes, speed.

No mocks: the checks run in the runner's separate pytest process against the
session's shared sandbox (tests/cluster/conftest.py).
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

import pytest

from grader.kube import K8s, Kubectl, KubectlError
from grader.runner import grade, run_script
from grader.task import load_task
from sandbox.toolchain import Toolchain

pytestmark = pytest.mark.cluster

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LIVE = FIXTURES / "grading" / "live"


@pytest.fixture(scope="module")
def k8s(shared_sandbox) -> K8s:
    return K8s(shared_sandbox.kubeconfig)


@pytest.fixture(scope="module")
def kubectl(shared_sandbox) -> Kubectl:
    return Kubectl(Toolchain().binary("kubectl"), shared_sandbox.kubeconfig)


@pytest.fixture(scope="module")
def ns(kubectl) -> str:
    name = f"grading-{secrets.token_hex(3)}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def test_get_is_none_on_404(k8s, ns):
    assert k8s.get(k8s.core.read_namespaced_service, "nope", ns) is None
    assert k8s.get(k8s.core.read_namespace, ns).metadata.name == ns


def test_kubectl_output_and_errors(kubectl, ns):
    assert f"namespace/{ns}" in kubectl(f"get namespace {ns} -o name")
    assert kubectl.json("get", "namespace", ns)["metadata"]["name"] == ns
    with pytest.raises(KubectlError, match='services "nope" not found'):
        kubectl("get", "service", "nope", "-n", ns)
    out = kubectl("get", "service", "nope", "-n", ns, check=False)
    assert out.returncode == 1 and "NotFound" in out.stderr


def test_pods_and_endpoints(k8s, kubectl, ns):
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2", "-n", ns)
    kubectl("expose", "deployment", "web", "--port=80", "-n", ns)
    kubectl("rollout", "status", "deployment/web", "--timeout=60s", "-n", ns)
    assert len(k8s.pods(ns, {"app": "web"})) == 2
    assert len(k8s.pods(ns, "app=web")) == 2
    assert k8s.pods(ns, "app=other") == []
    assert any(p.metadata.namespace == ns for p in k8s.pods(None, "app=web"))
    ready = k8s.wait_until(lambda: len(k8s.endpoints("web", ns)) == 2 and k8s.endpoints("web", ns),
                           timeout=30)
    ips = sorted(p.status.pod_ip for p in k8s.pods(ns, "app=web"))
    assert ready == ips
    kubectl("set", "selector", "service", "web", "app=nothing", "-n", ns)
    assert k8s.wait_until(lambda: k8s.endpoints("web", ns) == [], timeout=30) is not None
    assert k8s.endpoints("web", ns) == []
    assert k8s.endpoints("no-such-service", ns) == []


def test_can_asks_the_authorizer(k8s, kubectl, ns):
    kubectl("create", "serviceaccount", "ci", "-n", ns)
    kubectl("create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps",
            "-n", ns)
    kubectl("create", "rolebinding", "ci-reader", "--role=reader", f"--serviceaccount={ns}:ci",
            "-n", ns)
    sa = f"system:serviceaccount:{ns}:ci"
    assert k8s.can(sa, "list", "pods", ns)
    assert k8s.can(sa, "get", "deployments.apps", ns)
    assert k8s.can(sa, "get", "deployments", ns, group="apps")
    assert not k8s.can(sa, "delete", "pods", ns)
    assert not k8s.can(sa, "get", "pods/log", ns)
    assert not k8s.can(sa, "list", "pods", "default")
    assert not k8s.can(sa, "list", "secrets", ns)


def test_wait_until(k8s):
    started = time.monotonic()
    assert k8s.wait_until(lambda: 0, timeout=0.3, interval=0.05) == 0
    assert time.monotonic() - started < 60   # gave up (never true), however busy the machine
    calls = []
    assert k8s.wait_until(lambda: calls.append(1) or len(calls) >= 3, interval=0.01) is True

    def never():
        assert False, "still wrong"
    with pytest.raises(AssertionError, match="still wrong"):
        k8s.wait_until(never, timeout=0.2, interval=0.05)


def test_outcomes_live(shared_sandbox):
    """setup → grade → solution → grade, every outcome and every fixture, one process each."""
    task = load_task(LIVE)
    params = task.draw_params(secrets.randbits(32))
    assert run_script(task, "setup", shared_sandbox, params).ok
    [before] = grade(shared_sandbox, [(task, params)])
    outcomes = {c.id: c.outcome for c in before.checks}
    assert outcomes == {"test_namespace_exists": "passed", "test_marker_exists": "failed",
                        "test_kubectl_and_answers": "failed", "test_api_error": "error",
                        "test_hangs": "error"}
    by_id = {c.id: c for c in before.checks}
    assert by_id["test_marker_exists"].message == \
        f"ConfigMap {params['namespace']}/marker not found; expected it to exist"
    assert by_id["test_marker_exists"].points == 3
    assert by_id["test_api_error"].message.startswith("Kubernetes API error 404 Not Found")
    assert "2s time limit" in by_id["test_hangs"].message
    assert by_id["test_hangs"].duration < 900   # cut at its limit: it would wait an hour

    res = run_script(task, "solution", shared_sandbox, params)
    assert res.ok, res.output
    [after] = grade(shared_sandbox, [(task, params)])
    outcomes = {c.id: c.outcome for c in after.checks}
    assert outcomes["test_marker_exists"] == "passed"
    assert outcomes["test_kubectl_and_answers"] == "passed"
    assert (after.score, after.max_score) == (5, 7)


def test_exam_of_16_tasks_in_one_process(shared_sandbox, tmp_path):
    """16 tasks graded in one process: the kubernetes client is imported once."""
    tasks = []
    for i in range(16):
        dst = tmp_path / f"exam-{i:02d}"
        shutil.copytree(FIXTURES / "tasks" / "solution-misses", dst)
        text = (dst / "task.yaml").read_text().replace("id: solution-misses", f"id: exam-{i:02d}")
        (dst / "task.yaml").write_text(text)
        task = load_task(dst)
        tasks.append((task, task.draw_params(i)))
    started = time.monotonic()
    results = grade(shared_sandbox, tasks)
    elapsed = time.monotonic() - started
    assert [r.task_id for r in results] == [f"exam-{i:02d}" for i in range(16)]
    assert all(c.outcome == "failed" for r in results for c in r.checks)
    print(f"16-task exam graded in {elapsed:.2f}s")
    assert elapsed < 30, f"grading 16 tasks took {elapsed:.1f}s; expected a few seconds"
