"""Checks for deployment-quota-blocked: invoice-api, fixed in place, runs every
replica within the unchanged ResourceQuota, with the resources the statement
sets.

How the limits are lowered is the candidate's choice (any value that fits the
quota passes): running replicas prove the fit, since quota admission let each
Pod in. The requests are prescribed, and the Deployment must carry them itself
(not a LimitRange's defaults).
"""

import pytest

from grader.checks import (describe, must_be_original, must_be_ready, must_container, must_equal, must_get,
                           pods_of, same_image, same_quantity, show)


def _quota(params) -> dict:
    """ResourceQuota team-budget's hard limits, as setup wrote them."""
    n = int(params["replicas"])
    return {"pods": "10", "requests.cpu": f"{n * 400}m", "requests.memory": f"{n * 512}Mi",
            "limits.cpu": str(n), "limits.memory": f"{n * 768}Mi"}


def _deployment(k8s, params):
    """Deployment invoice-api, the very one setup made, and its live Pods."""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "invoice-api", ns, expected="it fixed, not deleted")
    must_be_original(k8s, dep, f"invoice-api-{ns}-original")
    return dep, pods_of(k8s, dep)


def _resources(container) -> dict:
    """requests.cpu, requests.memory, limits.cpu, limits.memory of a container (None when unset)."""
    res = container.resources
    req = (res.requests if res else None) or {}
    lim = (res.limits if res else None) or {}
    req, lim = (req if isinstance(req, dict) else {}), (lim if isinstance(lim, dict) else {})
    return {"requests.cpu": req.get("cpu"), "requests.memory": req.get("memory"),
            "limits.cpu": lim.get("cpu"), "limits.memory": lim.get("memory")}


def _must_run_some(dep, pods):
    """Only once Pods of the Deployment run is a "kept" check about the fix rather than the setup."""
    running = [p for p in pods if p.spec.node_name and p.status and p.status.phase == "Running"]
    assert running, f"no Pod of {describe(dep)} is running yet; expected the Deployment fixed"


@pytest.mark.points(3)
def test_all_replicas_running(k8s, params):
    """Deployment invoice-api, fixed in place, has all its replicas running"""
    n = int(params["replicas"])
    dep, pods = _deployment(k8s, params)
    must_be_ready(dep, replicas=n)
    running = [p for p in pods if p.spec.node_name and p.status and p.status.phase == "Running"]
    assert len(running) == n, (f"{describe(dep)} has {len(running)} running Pods of {len(pods)}; "
                               f"expected {n} running")


@pytest.mark.points(2)
def test_agent_resources(k8s, params):
    """Container log-agent requests and is limited to the CPU and memory the statement gives"""
    dep, _ = _deployment(k8s, params)
    agent = must_container(dep, "log-agent")
    assert same_image(agent.image, "busybox:1.36"), (
        f"container log-agent of {describe(dep)} runs {show(agent.image)}; expected busybox:1.36 unchanged")
    cpu, mem = params["agent_cpu"], params["agent_memory"]
    must_equal(f"container log-agent of {describe(dep)}", _resources(agent),
               {"requests.cpu": cpu, "requests.memory": mem, "limits.cpu": cpu, "limits.memory": mem},
               same=same_quantity)


def test_api_requests_kept(k8s, params):
    """Container api keeps its image and its requests of 250m CPU and 256Mi memory"""
    dep, pods = _deployment(k8s, params)
    api = must_container(dep, "api")
    assert same_image(api.image, "nginx:1.27"), (
        f"container api of {describe(dep)} runs {show(api.image)}; expected nginx:1.27 unchanged")
    found = _resources(api)
    must_equal(f"container api of {describe(dep)}",
               {k: found[k] for k in ("requests.cpu", "requests.memory")},
               {"requests.cpu": "250m", "requests.memory": "256Mi"}, same=same_quantity)
    _must_run_some(dep, pods)


def test_quota_kept(k8s, params):
    """ResourceQuota team-budget is unchanged and the namespace has no LimitRange"""
    ns = params["namespace"]
    want = _quota(params)
    quota = must_get(k8s.core.read_namespaced_resource_quota, "team-budget", ns,
                     expected="it kept as it was (do not change or delete it)")
    spec = quota.spec
    hard = (spec.hard if spec else None) or {}
    hard = hard if isinstance(hard, dict) else {}
    scoped = bool(spec and (spec.scopes or spec.scope_selector))
    same = set(hard) == set(want) and all(same_quantity(hard.get(k), v) for k, v in want.items())
    assert same and not scoped, (
        f"ResourceQuota {ns}/team-budget has hard {show(hard)}{' and scopes' if scoped else ''}; "
        f"expected {show(want)} unchanged")
    ranges = [r.metadata.name for r in k8s.core.list_namespaced_limit_range(ns).items]
    assert not ranges, (f"namespace {ns} has LimitRanges {show(ranges)}; expected none: "
                        "the Deployment itself must declare its resources")
    _must_run_some(*_deployment(k8s, params))
