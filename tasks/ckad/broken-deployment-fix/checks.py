"""Checks for broken-deployment-fix: the container spec against the runbook, and the rollout
of the original Deployment (repaired in place: a deleted and recreated one has another uid)."""

import pytest

from grader.checks import (eventually, is_ready, must_be_original, must_container, must_get, pods_of,
                           same_image, show)


def _deploy(k8s, params):
    dep = must_get(k8s.apps.read_namespaced_deployment, "checkout", params["namespace"],
                   expected="it repaired, not deleted")
    return dep, must_container(dep, "checkout")


def test_image(k8s, params):
    """Container checkout runs the image from the runbook"""
    _, c = _deploy(k8s, params)
    want = f"nginx:{params['version']}-alpine"
    assert same_image(c.image, want), f"container checkout runs image {show(c.image)}; expected {want}"


def test_port(k8s, params):
    """Container checkout exposes port 8080 named http"""
    _, c = _deploy(k8s, params)
    ports = {p.name: p.container_port for p in c.ports or []}
    assert ports.get("http") == 8080, (
        f"container checkout has ports {show(ports) if ports else 'none'}; expected http -> 8080")


def test_env(k8s, params):
    """Container checkout gets the right PAYMENTS_URL"""
    _, c = _deploy(k8s, params)
    ns = params["namespace"]
    want = f"http://payments.{ns}.svc.cluster.local:9000"
    found = [e.value for e in c.env or [] if e.name == "PAYMENTS_URL"]
    assert found and found[-1] == want, (
        f"PAYMENTS_URL is {show(found[-1]) if found else 'unset'}; expected {want}")


@pytest.mark.points(2)
def test_rolled_out_and_served(k8s, params):
    """The original Deployment checkout, repaired in place, runs 3 repaired replicas; Service checkout has 3 endpoints on 8080"""
    dep, _ = _deploy(k8s, params)
    ns = params["namespace"]
    must_be_original(k8s, dep, f"checkout-{ns}-original")
    want_image = f"nginx:{params['version']}-alpine"
    pods = pods_of(k8s, dep)
    good = [p for p in pods if is_ready(p) and any(
        same_image(x.image, want_image) and any(pp.container_port == 8080 for pp in x.ports or [])
        for x in p.spec.containers)]
    assert len(good) == 3 and len(pods) == 3, (
        f"{len(good)} of {len(pods)} checkout Pods are ready with the repaired image and port; expected 3 of 3")

    def served():
        slices = k8s.discovery.list_namespaced_endpoint_slice(
            ns, label_selector="kubernetes.io/service-name=checkout").items
        ports = sorted({p.port for s in slices for p in s.ports or []})
        ready = [e for s in slices for e in s.endpoints or []
                 if e.conditions is None or e.conditions.ready is not False]
        assert ports == [8080] and len(ready) == 3, (
            f"Service checkout has {len(ready)} ready endpoints on ports {ports}; expected 3 on [8080]")
    eventually(served, timeout=5)  # EndpointSlices follow the rollout asynchronously
