"""Checks for job-completions-parallelism: Job report's spec and its completion."""

import pytest


def _job(k8s, params):
    ns = params["namespace"]
    job = k8s.get(k8s.batch.read_namespaced_job, "report", ns)
    assert job is not None, f"Job {ns}/report not found; expected it to exist"
    return job


def test_container(k8s, params):
    """Job report runs container report, busybox:1.36, echoing 'report done'"""
    job = _job(k8s, params)
    cs = {c.name: c for c in job.spec.template.spec.containers}
    assert "report" in cs, f"Job report has containers {sorted(cs)}; expected one named report"
    c = cs["report"]
    assert c.image == "busybox:1.36", f"container report uses image {c.image}; expected busybox:1.36"
    cmd = " ".join((c.command or []) + (c.args or []))
    assert "echo report done" in cmd, f"container report runs '{cmd}'; expected sh -c 'echo report done'"


@pytest.mark.points(2)
def test_spec(k8s, params):
    """Job report has the required completions, parallelism, retries and restart policy"""
    job = _job(k8s, params)
    s = job.spec
    found = {"completions": s.completions, "parallelism": s.parallelism,
             "backoffLimit": s.backoff_limit, "restartPolicy": s.template.spec.restart_policy}
    want = {"completions": int(params["completions"]), "parallelism": int(params["parallelism"]),
            "backoffLimit": 2, "restartPolicy": "Never"}
    wrong = {k: v for k, v in found.items() if v != want[k]}
    assert not wrong, f"Job report has {wrong}; expected {({k: want[k] for k in wrong})}"


def test_completed(k8s, params):
    """Job report has completed successfully the required number of times"""
    job = _job(k8s, params)
    want = int(params["completions"])
    done = any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or [])
    assert done and (job.status.succeeded or 0) == want, (
        f"Job report has {job.status.succeeded or 0} succeeded Pods and is "
        f"{'complete' if done else 'not complete'}; expected complete with {want}")
