"""A whole attempt against a real kwok sandbox: the real provider, the real
task setup and the real grader; jobs run inline (huey immediate mode)."""

import secrets
import subprocess
import textwrap
import time

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from tests.portal.helpers import attempt, events
from tests.waiting import wait_for
from web import create_app
from web.db import get_db
from web.models import User

pytestmark = pytest.mark.cluster

EXAM = """
    title: Cluster test exam
    track: ckad
    duration: 30
    pass_mark: 60
    nodes: 3
    tasks:
      - {id: ckad/svc-selector-fix, weight: 4}
      - {id: ckad/pod-security-context, weight: 6}
      - {id: ckad/probes-liveness-readiness, weight: 5}
"""


def toolchain_complete() -> bool:
    from sandbox.toolchain import Toolchain
    return Toolchain().status()["complete"]


@pytest.fixture
def kwok_app(tmp_path):
    if not toolchain_complete():
        pytest.skip("the Kubernetes toolchain is not built (`proctor toolchain build`)")
    exams = tmp_path / "exams"
    exams.mkdir()
    (exams / "cluster-exam.yaml").write_text(textwrap.dedent(EXAM))
    prefix = f"tw{secrets.token_hex(2)}-"
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                      "QUEUE_IMMEDIATE": True, "EXAMS_DIR": str(exams), "POOL_SIZE": 0,
                      "SANDBOX_PREFIX": prefix, "PROVIDER": "kwok"})
    with app.app_context(), get_db().session() as s:
        s.add(User(username="alice", role="candidate",
                   password_hash=generate_password_hash("correct-horse-battery")))
    yield app
    from sandbox import get_provider
    prov = get_provider("kwok")
    for sb in prov.list(include_creating=True):
        if sb.name.startswith(prefix):
            prov.destroy(sb.name)
    app.extensions["proctor.db"].dispose()


def kubectl(sandbox, *args: str) -> str:
    from sandbox.toolchain import Toolchain
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sandbox.kubeconfig), *args],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_whole_attempt_on_kwok(kwok_app):
    app = kwok_app
    client = app.test_client()
    from tests.portal.helpers import AuthActions
    auth = AuthActions(client)
    auth.login("alice", "correct-horse-battery")
    t0 = time.monotonic()
    resp = auth.post("/exams/cluster-exam/start", {"mode": "exam"})
    assert resp.status_code == 302
    aid = int(resp.headers["Location"].rsplit("/", 1)[1])
    a = attempt(app, aid)
    assert a.state == "running", a.error
    print(f"start -> running (cold, inline) {time.monotonic() - t0:.1f}s; timings {a.timings}")
    sb = a.sandbox
    assert kubectl(sb, "get", "nodes", "-o", "name").split() == [
        "node/controlplane", "node/node01", "node/node02"]
    page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert "Service" in page and 'id="terminal"' in page

    # The candidate fixes task 1 with kubectl, as the statement asks.
    ns = a.tasks[0].params["namespace"]
    assert f"<code>{ns}</code>" in page
    kubectl(sb, "-n", ns, "patch", "service", "web", "--type=merge",
            "-p", '{"spec":{"selector":{"app":"web","tier":"frontend"}}}')
    # the EndpointSlice controller lists the Pods of web: what the checks read
    pod_ips = set(kubectl(sb, "-n", ns, "get", "pods", "-l", "app=web,tier=frontend", "-o",
                          "jsonpath={.items[*].status.podIP}").split())
    wait_for("web's EndpointSlice to list the Pods of web", lambda: pod_ips and set(kubectl(
        sb, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o",
        "jsonpath={.items[*].endpoints[*].addresses[*]}").split()) == pod_ips)

    t1 = time.monotonic()
    assert auth.post(f"/attempts/{aid}/submit").status_code == 302
    a = attempt(app, aid)
    assert a.state == "graded"
    print(f"submit -> results {time.monotonic() - t1:.1f}s")
    r = client.get(f"/api/v1/attempts/{aid}/results").json
    by_id = {t["task_id"]: t for t in r["tasks"]}
    fixed = by_id["svc-selector-fix"]
    assert fixed["checks"] and all(c["outcome"] == "passed" for c in fixed["checks"]), fixed["checks"]
    for other in ("pod-security-context", "probes-liveness-readiness"):
        checks = by_id[other]["checks"]
        assert checks and all(c["outcome"] == "failed" for c in checks), checks
        assert all(c["message"] for c in checks)
    assert r["score"] == pytest.approx(100 * 4 / 15, abs=0.1) and r["passed"] is False
    assert "kubectl" in fixed["solution"]
    html = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Not passed" in html and "Services and Networking" in html
    # results stored, then the sandbox is gone
    from sandbox import get_provider
    assert a.sandbox_state == "destroyed" and get_provider("kwok").get(sb.name) is None
    assert [k for k, _ in events(app, aid)][-2:] == ["graded", "reaped"]


def test_deadline_then_worker_killed_mid_grading_on_kwok(kwok_app):
    """Real worker processes, real cluster: nobody submits; at the deadline the
    worker does; it is killed while grading; the next worker grades it once."""
    import os
    import signal
    import sys

    app = kwok_app
    lc = app.extensions["proctor.lifecycle"]
    lc.queue = None  # this portal process only records; the workers do the work
    from web.queue import Queue
    app.config["QUEUE_IMMEDIATE"] = False
    Queue(app, lc)  # the instance's SQLite queue, shared with the workers
    with app.app_context(), get_db().session() as s:
        user = s.scalar(select(User).where(User.username == "alice"))
        exam = app.extensions["proctor.bank"]().exam("cluster-exam")
        aid = lc.start(s, user, exam, "exam").id

    def worker():
        env = dict(os.environ, PROCTOR_INSTANCE_PATH=app.instance_path,
                   PROCTOR_EXAMS_DIR=app.config["EXAMS_DIR"], PROCTOR_POOL_SIZE="0",
                   PROCTOR_SANDBOX_PREFIX=app.config["SANDBOX_PREFIX"], PROCTOR_LEASE_SECONDS="5")
        return subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", "worker"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def wait(pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return False

    w1, w2 = worker(), None
    try:
        assert wait(lambda: attempt(app, aid).state in ("running", "error"), 240)
        assert attempt(app, aid).state == "running", attempt(app, aid).error
        deadline = time.time() + 3
        with app.app_context(), get_db().session() as s:
            from web.models import Attempt
            s.get(Attempt, aid).deadline_at = deadline
        assert wait(lambda: attempt(app, aid).state == "grading", 30)
        assert time.time() - deadline < 5.0
        os.killpg(w1.pid, signal.SIGKILL)
        w1.wait()
        a = attempt(app, aid)
        assert a.auto_submitted and a.submitted_at == pytest.approx(deadline, abs=0.01)
        assert a.state == "grading"
        w2 = worker()
        assert wait(lambda: attempt(app, aid).state == "graded", 180)
        time.sleep(2)
        a = attempt(app, aid)
        assert len(events(app, aid, "graded")) == 1 and a.grade_runs == 2
        assert a.score == 0.0 and all(t.result.checks for t in a.tasks)
        assert wait(lambda: attempt(app, aid).sandbox_state == "destroyed", 60)
    finally:
        for w in (w1, w2):
            if w is not None and w.poll() is None:
                os.killpg(w.pid, signal.SIGINT)
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
