"""Checks for job-completions-parallelism: Job report's spec and its completion."""

import pytest

from grader.checks import command_line, condition, must_container, must_equal, must_get, show


def _job(k8s, params):
    return must_get(k8s.batch.read_namespaced_job, "report", params["namespace"])


def test_container(k8s, params):
    """Job report runs container report, busybox:1.36, echoing 'report done'"""
    c = must_container(_job(k8s, params), "report")
    assert c.image == "busybox:1.36", f"container report uses image {show(c.image)}; expected busybox:1.36"
    cmd = command_line(c)
    assert "echo report done" in cmd, f"container report runs {show(cmd)}; expected sh -c 'echo report done'"


@pytest.mark.points(2)
def test_spec(k8s, params):
    """Job report has the required completions, parallelism, retries and restart policy"""
    s = _job(k8s, params).spec
    found = {"completions": s.completions, "parallelism": s.parallelism,
             "backoffLimit": s.backoff_limit, "restartPolicy": s.template.spec.restart_policy}
    want = {"completions": int(params["completions"]), "parallelism": int(params["parallelism"]),
            "backoffLimit": 2, "restartPolicy": "Never"}
    must_equal("Job report", found, want)


def test_completed(k8s, params):
    """Job report has completed successfully the required number of times"""
    job = _job(k8s, params)
    want = int(params["completions"])
    done = condition(job, "Complete") == "True"
    assert done and (job.status.succeeded or 0) == want, (
        f"Job report has {job.status.succeeded or 0} succeeded Pods and is "
        f"{'complete' if done else 'not complete'}; expected complete with {want}")
