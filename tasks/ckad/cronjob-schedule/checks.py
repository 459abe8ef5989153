"""Checks for cronjob-schedule: CronJob cleanup's schedule and policies, and a manual run."""

import pytest

from grader.checks import command_line, condition, must_container, must_get, owned_by, show


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
    assert c.image == "busybox:1.36" and "echo cleaning up" in cmd, (
        f"container cleanup runs {show(c.image)} {show(cmd)}; expected busybox:1.36 'echo cleaning up'")
    found = (js.backoff_limit, js.template.spec.restart_policy)
    assert found == (2, "OnFailure"), (
        f"CronJob cleanup's Jobs have backoffLimit {found[0]}, restartPolicy {found[1]}; "
        "expected 2 and OnFailure")


@pytest.mark.points(2)
def test_manual_run(k8s, params):
    """Job cleanup-manual, a run of CronJob cleanup, has completed"""
    ns = params["namespace"]
    job = must_get(k8s.batch.read_namespaced_job, "cleanup-manual", ns)
    cj = k8s.get(k8s.batch.read_namespaced_cron_job, "cleanup", ns)
    owned = cj is not None and owned_by(job, cj)
    same = cj is not None and [(c.image, c.command, c.args) for c in job.spec.template.spec.containers] \
        == [(c.image, c.command, c.args) for c in cj.spec.job_template.spec.template.spec.containers]
    assert owned or same, "Job cleanup-manual is not a run of CronJob cleanup (different Pod template)"
    done = condition(job, "Complete") == "True"
    assert done, f"Job cleanup-manual has {job.status.succeeded or 0} succeeded Pods; expected it complete"
