"""Checks for resource-quota-limitrange, by asking the API server to admit test Pods.

A server-side dry run goes through LimitRanger and ResourceQuota admission
without creating anything, so the checks test the namespace's behaviour, not
the text of the LimitRange.
"""

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.utils.quantity import parse_quantity


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


def _q(v):
    return parse_quantity(v) if v is not None else None


def _bare(k8s, ns):
    pod, why = _dry_run(k8s, ns, _probe_pod("proctor-defaults-check"))
    assert pod is not None, (f"a container without resources is rejected in {ns} ({why}); "
                             "expected it to be admitted with default requests and limits")
    return pod.spec.containers[0].resources


@pytest.mark.points(2)
def test_default_requests(k8s, params):
    """A container without resources gets requests of 100m CPU and 128Mi memory"""
    res = _bare(k8s, params["namespace"])
    req = res.requests or {}
    found = (req.get("cpu"), req.get("memory"))
    assert _q(found[0]) == _q("100m") and _q(found[1]) == _q("128Mi"), (
        f"a container without resources gets requests cpu={found[0]} memory={found[1]}; "
        "expected cpu=100m memory=128Mi")


@pytest.mark.points(2)
def test_default_limits(k8s, params):
    """A container without resources gets limits of 250m CPU and 256Mi memory"""
    res = _bare(k8s, params["namespace"])
    lim = res.limits or {}
    found = (lim.get("cpu"), lim.get("memory"))
    assert _q(found[0]) == _q("250m") and _q(found[1]) == _q("256Mi"), (
        f"a container without resources gets limits cpu={found[0]} memory={found[1]}; "
        "expected cpu=250m memory=256Mi")


def test_max_cpu(k8s, params):
    """A container with a CPU limit above 1 CPU is rejected by the LimitRange"""
    ns = params["namespace"]
    big = {"requests": {"cpu": "200m", "memory": "64Mi"},
           "limits": {"cpu": "1500m", "memory": "128Mi"}}
    pod, why = _dry_run(k8s, ns, _probe_pod("proctor-max-check", big))
    assert pod is None, f"a container limited to 1500m CPU is admitted in {ns}; expected it rejected"
    assert "maximum cpu" in (why or "").lower(), (
        f"a container limited to 1500m CPU is rejected with '{why}'; expected the LimitRange's "
        "maximum of 1 CPU to be the reason")


@pytest.mark.points(2)
def test_worker(k8s, params):
    """Deployment worker runs all replicas with requests 250m/256Mi and limits 500m/512Mi"""
    ns = params["namespace"]
    want = int(params["replicas"])
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "worker", ns)
    assert dep is not None, f"Deployment {ns}/worker not found; expected it to exist"
    cs = dep.spec.template.spec.containers
    assert len(cs) == 1 and cs[0].image == "busybox:1.36", (
        f"Deployment worker runs images {[c.image for c in cs]}; expected one container busybox:1.36")
    res = cs[0].resources
    req, lim = res.requests or {}, res.limits or {}
    found = {"requests.cpu": req.get("cpu"), "requests.memory": req.get("memory"),
             "limits.cpu": lim.get("cpu"), "limits.memory": lim.get("memory")}
    expected = {"requests.cpu": "250m", "requests.memory": "256Mi",
                "limits.cpu": "500m", "limits.memory": "512Mi"}
    wrong = {k: v for k, v in found.items() if _q(v) != _q(expected[k])}
    assert not wrong, f"container of worker has {wrong}; expected {expected}"
    assert dep.spec.replicas == want, f"Deployment worker has {dep.spec.replicas} replicas; expected {want}"
    ready = dep.status.ready_replicas or 0
    assert ready == want, f"Deployment worker has {ready} ready replicas; expected {want}"
