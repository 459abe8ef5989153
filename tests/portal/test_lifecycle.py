"""Deadlines, leases, restarts, the warm pool and reaping: the worker's side.

The worker-kill test runs real ``proctor worker`` processes on the SQLite
huey queue (fake sandboxes and grading, so it needs no cluster)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.portal.fakes import FakeServices
from tests.portal.helpers import attempt, events, set_task_values, set_values, solve, start
from tests.waiting import wait_for
from web import create_app
from web.db import get_db
from web.lifecycle.grading import STALE_CHECK
from web.models import Attempt, PoolSandbox, User
from web.queue import Ticker

REPO = Path(__file__).resolve().parents[2]  # where the worker finds tests.portal.fakes


def test_deadline_auto_submits_with_no_client(app, client, auth):
    auth.login()
    aid = start(auth)
    auth.logout()  # the browser is gone
    deadline = time.time() + 1.5
    set_values(app, aid, deadline_at=deadline)
    ticker = Ticker(app.extensions["proctor.lifecycle"], interval=1.0)
    ticker.start()
    try:
        graded = wait_for("the attempt auto-submitted and graded",
                          lambda: attempt(app, aid).state == "graded", timeout=10)
    finally:
        ticker.stop()
    a = attempt(app, aid)
    assert graded and a.auto_submitted
    assert a.submitted_at == pytest.approx(deadline, abs=0.01)
    got_submitted = [e for e in events(app, aid) if e[0] == "submitted"]
    assert got_submitted == [("submitted", "automatically at the deadline")]
    assert a.graded_at - deadline < 5.0, "auto-submit and grading within 5 s of the deadline"


def test_duplicate_grade_jobs_grade_once(app, client, auth, monkeypatch):
    auth.login()
    aid = start(auth)
    lc = app.extensions["proctor.lifecycle"]
    lc.queue = None  # submit without running the job inline
    with app.app_context(), get_db().session() as s:
        assert lc.submit(s, s.get(Attempt, aid))
    monkeypatch.setenv("FAKE_GRADE_SECONDS", "1")
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(lc.grade(aid))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["graded", "skipped", "skipped"]
    assert lc.grade(aid) == "skipped"
    assert len(events(app, aid, "graded")) == 1 and attempt(app, aid).grade_runs == 1


def test_claim_takes_a_row_once_and_a_lease_only_when_free_or_expired(app, client, auth):
    """``claim``: the one guarded UPDATE behind provisioning, grading, practice
    checks and "Validate now"."""
    from web.lifecycle.lease import WORKER_ID, claim
    from web.models import AttemptTask
    auth.login()
    aid = start(auth, mode="practice")
    set_values(app, aid, state="submitted")
    with app.app_context(), get_db().session() as s:
        take = dict(states=("submitted", "grading"), to="grading", lease=60, progress="Grading")
        assert claim(s, Attempt, Attempt.id == aid, **take)
        assert not claim(s, Attempt, Attempt.id == aid, **take)  # held
        a = s.get(Attempt, aid)
        s.refresh(a)
        assert (a.state, a.lease_owner, a.progress) == ("grading", WORKER_ID, "Grading")
        assert a.lease_until > time.time() + 50
        a.lease_until = time.time() - 1  # its worker died
        s.flush()
        assert claim(s, Attempt, Attempt.id == aid, **take)  # expired: taken over
        assert not claim(s, Attempt, Attempt.id == aid, states=("running",), lease=60)
        # no lease: the state alone guards a row (a practice check)
        row = (AttemptTask.attempt_id == aid, AttemptTask.position == 1)
        s.execute(AttemptTask.__table__.update().where(*row).values(check_state="pending"))
        assert claim(s, AttemptTask, *row, column="check_state", states=("pending",), to="running")
        assert not claim(s, AttemptTask, *row, column="check_state", states=("pending",),
                         to="running")


def test_lost_provision_is_picked_up_after_restart(app, tmp_path, client, auth):
    """A portal/worker restart mid-provisioning: the sweep hands the attempt to a new job."""
    auth.login()
    lc = app.extensions["proctor.lifecycle"]
    queue, lc.queue = lc.queue, None  # the job is "lost"
    aid = start(auth)
    assert attempt(app, aid).state == "provisioning"
    set_values(app, aid, enqueued_at=time.time() - 120, lease_owner="dead-worker", lease_until=time.time() - 1)
    # a new portal process on the same instance sees the same attempt
    app2 = create_app(dict(app.config, MIGRATE=True))
    lc2 = app2.extensions["proctor.lifecycle"]
    assert lc2.sweep()["provision"] == [aid]
    assert attempt(app, aid).state == "running"
    lc.queue = queue


def test_warm_pool(app, client, auth):
    """A sandbox prepared for an exam (paper set up) makes the attempt run at once."""
    app.config.update(POOL_SIZE=1, POOL_EXAMS="fake-ckad")
    lc = app.extensions["proctor.lifecycle"]
    assert lc.refill_pool() == {"fake-ckad": ["added", "full"]}
    with app.app_context(), get_db().session() as s:
        pooled = s.scalar(select(PoolSandbox))
        name, seed = pooled.name, pooled.seed
    lc.queue.refill = lambda: None  # look at the claim before the pool is topped up
    auth.login()
    aid = start(auth)
    a = attempt(app, aid)
    assert a.state == "running" and a.from_pool and a.sandbox_name == name and a.seed == seed
    assert all(t.setup_ok for t in a.tasks)
    # at once: no sandbox made and no setup run for it (a condition, not a time)
    assert "start_to_running" in a.timings and not {"sandbox", "setup"} & a.timings.keys()
    with app.app_context(), get_db().session() as s:
        assert s.scalar(select(PoolSandbox)) is None
    del lc.queue.refill
    assert lc.refill_pool() == {"fake-ckad": ["added", "full"]}
    # an exam with no warm sandbox is made cold by the worker
    auth.post(f"/attempts/{aid}/submit")
    aid2 = start(auth, exam="fake-draw")
    assert not attempt(app, aid2).from_pool and attempt(app, aid2).state == "running"
    auth.post(f"/attempts/{aid2}/submit")
    # a warm sandbox that died meanwhile is thrown away, not handed out
    with app.app_context(), get_db().session() as s:
        dead = s.scalar(select(PoolSandbox)).name
    app.extensions["proctor.services"].destroy_sandbox(dead)
    aid3 = start(auth)
    a3 = attempt(app, aid3)
    assert a3.state == "running" and not a3.from_pool and a3.sandbox_name != dead


def test_maintain_reaps_finished_and_orphans_only_ours(app, client, auth):
    lc = app.extensions["proctor.lifecycle"]
    services = app.extensions["proctor.services"]
    ours = services.create_sandbox(lc.prefix + "a999", 1)
    theirs = services.create_sandbox("someone-else", 1)
    for sb in (ours, theirs):
        rec = sb.workspace.parent / "sandbox.json"
        data = json.loads(rec.read_text())
        data["created_at"] = time.time() - 3600
        rec.write_text(json.dumps(data))
    auth.login()
    aid = start(auth)
    out = lc.maintain()
    assert out["orphans"] == [lc.prefix + "a999"]
    assert services.sandbox_healthy("someone-else")
    assert services.sandbox_healthy(attempt(app, aid).sandbox_name)  # running: kept


def worker(instance, tmp_path, exams, database_url="", **env):
    if database_url:
        env["PROCTOR_DATABASE_URL"] = database_url
    full = dict(os.environ, PROCTOR_INSTANCE_PATH=str(instance), PROCTOR_SERVICES="tests.portal.fakes:FakeServices",
                PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                PROCTOR_EXAMS_DIR=str(exams), PROCTOR_POOL_SIZE="0", PROCTOR_LEASE_SECONDS="2",
                PROCTOR_TICK_SECONDS="0.3", PROCTOR_WORKERS="2", FAKE_ROOT=str(tmp_path), **env)
    log = open(tmp_path / f"worker-{time.time()}.log", "w")
    return subprocess.Popen([sys.executable, "-c", "from grader.cli import main; main()", "worker"],
                            env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_worker_killed_mid_grading_grades_once(app, tmp_path):
    """SIGKILL the worker while it grades; a new worker finishes the job, once."""
    exams = app.config["EXAMS_DIR"]
    app.extensions["proctor.db"].dispose()
    cfg = {"INSTANCE_PATH": app.instance_path, "SERVICES": FakeServices, "FAKE_ROOT": str(tmp_path),
           "EXAMS_DIR": exams, "POOL_SIZE": 0, "LEASE_SECONDS": 2,
           "DATABASE_URL": app.config["DATABASE_URL"]}
    db_url = app.config["DATABASE_URL"] if not app.config["DATABASE_URL"].startswith("sqlite") else ""
    portal = create_app(cfg)  # the real queue: SQLite huey in the instance
    lc = portal.extensions["proctor.lifecycle"]
    with portal.app_context(), get_db().session() as s:
        user = s.scalar(select(User).where(User.username == "alice"))
        exam = portal.extensions["proctor.bank"]().exam("fake-ckad")
        aid = lc.start(s, user, exam, "exam").id
    w1 = worker(app.instance_path, tmp_path, exams, db_url, FAKE_GRADE_SECONDS="6")
    w2 = None
    try:
        wait_for("the attempt running (or its error)", lambda: attempt(portal, aid).state
                 == "running" or attempt(portal, aid).error, timeout=30)
        assert attempt(portal, aid).state == "running", attempt(portal, aid).error
        solve(portal, aid, "pod-security")
        with portal.app_context(), get_db().session() as s:
            assert lc.submit(s, s.get(Attempt, aid))
        log = tmp_path / "grade-runs.log"
        wait_for("the first worker grading", lambda: attempt(portal, aid).state == "grading"
                 and log.exists(), timeout=20)
        time.sleep(0.5)
        os.killpg(w1.pid, signal.SIGKILL)
        w1.wait()
        assert attempt(portal, aid).state == "grading"  # the kill left it mid-way
        w2 = worker(app.instance_path, tmp_path, exams, db_url, FAKE_GRADE_SECONDS="0.5")
        wait_for("the second worker's grade", lambda: attempt(portal, aid).state == "graded",
                 timeout=30)
        time.sleep(1.5)  # give a wrong second grading the chance to show itself
        a = attempt(portal, aid)
        assert a.grade_runs == 2  # the killed run and the one that finished
        assert len(events(portal, aid, "graded")) == 1
        assert log.read_text().count("done") == 1
        assert a.score == 40.0  # pod-security solved: 4 of 10
        wait_for("the sandbox destroyed", lambda: attempt(portal, aid).sandbox_state
                 == "destroyed", timeout=10)
    finally:
        for w in (w1, w2):
            if w and w.poll() is None:
                os.killpg(w.pid, signal.SIGINT)
                try:
                    w.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
        portal.extensions["proctor.db"].dispose()


def test_half_made_warm_sandbox_of_a_dead_worker_is_dropped(app):
    import socket
    lc = app.extensions["proctor.lifecycle"]
    app.extensions["proctor.services"].create_sandbox(lc.prefix + "wdead", 1)
    with app.app_context(), get_db().session() as s:
        s.add(PoolSandbox(name=lc.prefix + "wdead", nodes=1, state="creating", exam_id="fake-ckad",
                          owner=f"{socket.gethostname()}:999999:abcdef", created_at=time.time()))
    lc.maintain()
    with app.app_context(), get_db().session() as s:
        assert s.scalar(select(PoolSandbox).where(PoolSandbox.name == lc.prefix + "wdead")) is None
    assert not app.extensions["proctor.services"].sandbox_healthy(lc.prefix + "wdead")


@pytest.mark.skipif(not os.environ.get("PROCTOR_TEST_REDIS_URL"),
                    reason="set PROCTOR_TEST_REDIS_URL=redis://… to run the queue on Redis")
def test_jobs_through_redis(app, tmp_path):
    """The networked queue: portal and worker share jobs through Redis."""
    url = os.environ["PROCTOR_TEST_REDIS_URL"]
    exams = app.config["EXAMS_DIR"]
    db_url = app.config["DATABASE_URL"] if not app.config["DATABASE_URL"].startswith("sqlite") else ""
    portal = create_app({"INSTANCE_PATH": app.instance_path, "SERVICES": FakeServices,
                         "FAKE_ROOT": str(tmp_path), "EXAMS_DIR": exams, "POOL_SIZE": 0,
                         "QUEUE_URL": url, "DATABASE_URL": app.config["DATABASE_URL"]})
    from huey import RedisHuey
    assert isinstance(portal.extensions["proctor.queue"].huey, RedisHuey)
    portal.extensions["proctor.queue"].huey.flush()
    lc = portal.extensions["proctor.lifecycle"]
    with portal.app_context(), get_db().session() as s:
        user = s.scalar(select(User).where(User.username == "bob"))
        aid = lc.start(s, user, portal.extensions["proctor.bank"]().exam("fake-ckad"), "exam").id
    w = worker(app.instance_path, tmp_path, exams, db_url, PROCTOR_QUEUE_URL=url)
    try:
        wait_for("the attempt running", lambda: attempt(portal, aid).state == "running",
                 timeout=30)
        with portal.app_context(), get_db().session() as s:
            assert lc.submit(s, s.get(Attempt, aid))
        wait_for("the attempt graded", lambda: attempt(portal, aid).state == "graded", timeout=30)
    finally:
        os.killpg(w.pid, signal.SIGINT)
        w.wait(timeout=30)


def test_every_job_the_lifecycle_queues_is_a_method_of_the_queue():
    """Jobs are named by methods (``ctx.queue.refill()``), not strings: the real
    queue and the stand-in for none both offer every one."""
    from web.lifecycle import Jobs, NoQueue
    from web.queue import Queue
    jobs = sorted(n for n in vars(Jobs) if not n.startswith("_"))
    assert jobs == ["check_task", "grade", "maintain", "provision", "reap", "refill"]
    for name in jobs:
        assert callable(getattr(Queue, name)) and callable(getattr(NoQueue, name)), name


def test_a_practice_check_left_running_by_a_dead_worker_runs_again(app, client, auth):
    auth.login()
    aid = start(auth, mode="practice")
    # a worker claimed the check, then died
    set_task_values(app, aid, 1, check_state="running", checked_at=time.time() - 60)
    # still fresh: a second click does not start a second check
    r = auth.post(f"/attempts/{aid}/tasks/1/check", headers={"X-Requested-With": "fetch"})
    assert r.json["check_state"] == "running"
    assert app.extensions["proctor.lifecycle"].check_task(aid, 1) == "skipped"
    # abandoned: the next click checks again, and the check finishes
    set_task_values(app, aid, 1, checked_at=time.time() - STALE_CHECK - 1)
    r = auth.post(f"/attempts/{aid}/tasks/1/check", headers={"X-Requested-With": "fetch"})
    assert r.json["check_state"] == "done"
    r = client.get(f"/attempts/{aid}/tasks/1/check")
    assert r.json["result"]["checks"][0]["outcome"] == "failed"
