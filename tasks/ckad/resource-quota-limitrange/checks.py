"""Checks for resource-quota-limitrange, by asking the API server to admit test Pods.

A server-side dry run goes through LimitRanger and ResourceQuota admission
without creating anything, so the checks test the namespace's behaviour, not
only the text of the LimitRange; they also ask that the LimitRange the
statement names holds the defaults and the maximum itself (not a second one),
and that the ResourceQuota is as setup left it.
"""

import pytest
from kubernetes.client.exceptions import ApiException

from grader.checks import (command_line, must_be_ready, must_equal, must_get, same_command, same_quantity,
                           show)

QUOTA = {"pods": "10", "requests.cpu": "2", "requests.memory": "2Gi",
         "limits.cpu": "4", "limits.memory": "4Gi"}  # as setup writes it


def _container_entry(k8s, ns, field):
    """``field`` (default, default_request, max) of the Container entry of
    LimitRange container-defaults (the API allows one entry per type): the
    statement wants the defaults and the maximum there, not in another LimitRange."""
    lr = must_get(k8s.core.read_namespaced_limit_range, "container-defaults", ns)
    for item in (lr.spec.limits if lr.spec else None) or []:
        if item.type == "Container":
            return getattr(item, field) or {}
    return {}


def _probe_pod(name, resources=None):
    container = {"name": "probe", "image": "busybox:1.36", "command": ["sleep", "1"]}
    if resources:
        container["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"proctor-check": "dry-run"}},
            "spec": {"containers": [container]}}


def _dry_run(k8s, ns, body):
    """(pod, None) when admitted, (None, reason) when rejected."""
    try:
        return k8s.core.create_namespaced_pod(ns, body, dry_run="All"), None
    except ApiException as exc:
        if exc.status in (400, 403, 409, 422):
            import json
            try:
                return None, json.loads(exc.body).get("message", exc.reason)
            except (ValueError, TypeError):
                return None, str(exc.reason)
        raise


def _defaults(k8s, ns, kind, cpu, memory):
    """Fail unless LimitRange container-defaults has these defaults for ``kind``
    (requests or limits) and a container without resources is admitted with them."""
    field, name = ("default_request", "defaultRequest") if kind == "requests" else ("default", "default")
    own = _container_entry(k8s, ns, field)
    assert same_quantity(own.get("cpu"), cpu) and same_quantity(own.get("memory"), memory), (
        f"LimitRange {ns}/container-defaults has Container {name} {show(own) if own else 'none'}; "
        f"expected cpu: {cpu}, memory: {memory}")
    pod, why = _dry_run(k8s, ns, _probe_pod("proctor-defaults-check"))
    assert pod is not None, (f"a container without resources is rejected in {ns} ({show(why)}); "
                             "expected it to be admitted with default requests and limits")
    res = pod.spec.containers[0].resources
    got = (getattr(res, kind) if res else None) or {}
    assert same_quantity(got.get("cpu"), cpu) and same_quantity(got.get("memory"), memory), (
        f"a container without resources gets {kind} cpu={got.get('cpu')} memory={got.get('memory')}; "
        f"expected cpu={cpu} memory={memory}")


@pytest.mark.points(2)
def test_default_requests(k8s, params):
    """A container without resources gets requests of 100m CPU and 128Mi memory"""
    _defaults(k8s, params["namespace"], "requests", "100m", "128Mi")


@pytest.mark.points(2)
def test_default_limits(k8s, params):
    """A container without resources gets limits of 250m CPU and 256Mi memory"""
    _defaults(k8s, params["namespace"], "limits", "250m", "256Mi")


def test_max_cpu(k8s, params):
    """LimitRange container-defaults rejects a container with a CPU limit above 1 CPU"""
    ns = params["namespace"]
    own = _container_entry(k8s, ns, "max").get("cpu")
    assert same_quantity(own, "1"), (
        f"LimitRange {ns}/container-defaults has Container max cpu {show(own)}; expected 1 "
        "(the same LimitRange as the defaults)")
    big = {"requests": {"cpu": "200m", "memory": "64Mi"},
           "limits": {"cpu": "1500m", "memory": "128Mi"}}
    pod, why = _dry_run(k8s, ns, _probe_pod("proctor-max-check", big))
    assert pod is None, f"a container limited to 1500m CPU is admitted in {ns}; expected it rejected"
    assert "maximum cpu" in (why or "").lower(), (
        f"a container limited to 1500m CPU is rejected with {show(why, 200)}; expected the LimitRange's "
        "maximum of 1 CPU to be the reason")


@pytest.mark.points(2)
def test_worker(k8s, params):
    """Deployment worker runs sleep 3600 on all replicas with requests 250m/256Mi and limits 500m/512Mi, under the unchanged ResourceQuota"""
    want, ns = int(params["replicas"]), params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "worker", ns)
    cs = dep.spec.template.spec.containers or []
    assert len(cs) == 1 and cs[0].image == "busybox:1.36", (
        f"Deployment worker runs images {show([c.image for c in cs])}; expected one container busybox:1.36")
    run = command_line(cs[0])
    assert same_command(cs[0], "sleep 3600"), (
        f"Deployment {ns}/worker runs {show(run) if run else 'the image default command'}; "
        "expected the command sleep 3600 (busybox's default shell exits at once)")
    res = cs[0].resources
    req, lim = ((res.requests or {}), (res.limits or {})) if res else ({}, {})
    found = {"requests.cpu": req.get("cpu"), "requests.memory": req.get("memory"),
             "limits.cpu": lim.get("cpu"), "limits.memory": lim.get("memory")}
    expected = {"requests.cpu": "250m", "requests.memory": "256Mi",
                "limits.cpu": "500m", "limits.memory": "512Mi"}
    must_equal("container of worker", found, expected, same=same_quantity)
    must_be_ready(dep, replicas=want)
    quota = must_get(k8s.core.read_namespaced_resource_quota, "compute-quota", ns,
                     expected="it kept as it was (do not modify or delete it)")
    spec = quota.spec
    hard = (spec.hard if spec else None) or {}
    scoped = bool(spec and (spec.scopes or spec.scope_selector))
    same = set(hard) == set(QUOTA) and all(same_quantity(hard.get(k), v) for k, v in QUOTA.items())
    assert same and not scoped, (
        f"ResourceQuota {ns}/compute-quota has hard {show(hard)}{' and scopes' if scoped else ''}; "
        f"expected {show(QUOTA)} unchanged")
