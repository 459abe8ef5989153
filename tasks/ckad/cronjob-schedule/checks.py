"""Checks for cronjob-schedule: CronJob cleanup's schedule and policies, and a manual run."""

import pytest

from grader.checks import command_line, condition, must_container, must_get, owned_by, same_image, show


def _cron(k8s, params):
    return must_get(k8s.batch.read_namespaced_cron_job, "cleanup", params["namespace"])


def _minutes(field):
    """The set of minutes a cron minute field fires at (supports *, */n, a-b, a-b/n, lists)."""
    out = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part == "*":
            lo, hi = 0, 59
        elif "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
        else:
            lo = int(part)
            hi = 59 if step > 1 else lo
        out.update(range(lo, hi + 1, step))
    return out


@pytest.mark.points(2)
def test_schedule(k8s, params):
    """CronJob cleanup runs at the required minutes of every hour"""
    cj = _cron(k8s, params)
    every = int(params["every"])
    fields = cj.spec.schedule.split()
    want = set(range(0, 60, every))
    try:
        ok = len(fields) == 5 and _minutes(fields[0]) == want and fields[1:] == ["*"] * 4
    except ValueError:
        ok = False
    assert ok, (f"CronJob cleanup has schedule {show(cj.spec.schedule)}; expected every {every} minutes, "
                f"e.g. '*/{every} * * * *'")


def test_policies(k8s, params):
    """No overlapping runs; 3 successful and 1 failed Job kept"""
    cj = _cron(k8s, params)
    s = cj.spec
    found = {"concurrencyPolicy": s.concurrency_policy,
             "successfulJobsHistoryLimit": s.successful_jobs_history_limit,
             "failedJobsHistoryLimit": s.failed_jobs_history_limit}
    want = {"concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    assert found == want, f"CronJob cleanup has {found}; expected {want}"


def test_job_template(k8s, params):
    """Each run: container cleanup, busybox:1.36, 2 retries, restart in place"""
    cj = _cron(k8s, params)
    js = cj.spec.job_template.spec
    c = must_container(cj, "cleanup")
    cmd = command_line(c)
    assert same_image(c.image, "busybox:1.36") and "echo cleaning up" in cmd, (
        f"container cleanup runs {show(c.image)} {show(cmd)}; expected busybox:1.36 'echo cleaning up'")
    found = (js.backoff_limit, js.template.spec.restart_policy)
    assert found == (2, "OnFailure"), (
        f"CronJob cleanup's Jobs have backoffLimit {found[0]}, restartPolicy {found[1]}; "
        "expected 2 and OnFailure")


def _run(spec) -> dict:
    """What makes a Job a run of a Job template: its containers, restart policy and retries."""
    pod = spec.template.spec if spec and spec.template else None
    containers = (pod.containers if pod else None) or []
    return {"containers": [(c.name, c.image, c.command, c.args) for c in containers],
            "restartPolicy": pod.restart_policy if pod else None,
            "backoffLimit": spec.backoff_limit if spec else None}


@pytest.mark.points(2)
def test_manual_run(k8s, params):
    """Job cleanup-manual, a run of CronJob cleanup (its Job template), has completed"""
    ns = params["namespace"]
    job = must_get(k8s.batch.read_namespaced_job, "cleanup-manual", ns)
    cj = must_get(k8s.batch.read_namespaced_cron_job, "cleanup", ns,
                  expected="it to exist: cleanup-manual is to be a run of it")
    if not owned_by(job, cj):  # not made from it (--from): a copy of its Job template will do
        found, want = _run(job.spec), _run(cj.spec.job_template.spec if cj.spec.job_template else None)
        wrong = [k for k in want if want[k] is not None and found[k] != want[k]]
        assert not wrong, (
            f"Job {ns}/cleanup-manual is not a run of CronJob cleanup: it has "
            + ", ".join(f"{k} {show(found[k])}" for k in wrong) + "; expected the CronJob's "
            + ", ".join(f"{k} {show(want[k])}" for k in wrong))
    done = condition(job, "Complete") == "True"
    succeeded = (job.status.succeeded if job.status else None) or 0
    assert done, f"Job {ns}/cleanup-manual has {succeeded} succeeded Pods; expected it complete"
