"""Checks for broken-deployment-fix: the container spec against the runbook, and the rollout."""

import pytest


def _deploy(k8s, params):
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "checkout", ns)
    assert dep is not None, f"Deployment {ns}/checkout not found; expected it repaired, not deleted"
    for c in dep.spec.template.spec.containers:
        if c.name == "checkout":
            return dep, c
    raise AssertionError("Deployment checkout has no container named checkout")


def _image_ok(image, want):
    return image in (want, f"docker.io/library/{want}", f"docker.io/{want}")


def test_image(k8s, params):
    """Container checkout runs the image from the runbook"""
    _, c = _deploy(k8s, params)
    want = f"nginx:{params['version']}-alpine"
    assert _image_ok(c.image, want), f"container checkout runs image {c.image}; expected {want}"


def test_port(k8s, params):
    """Container checkout exposes port 8080 named http"""
    _, c = _deploy(k8s, params)
    ports = {p.name: p.container_port for p in c.ports or []}
    assert ports.get("http") == 8080, (
        f"container checkout has ports {ports or 'none'}; expected http -> 8080")


def test_env(k8s, params):
    """Container checkout gets the right PAYMENTS_URL"""
    _, c = _deploy(k8s, params)
    ns = params["namespace"]
    want = f"http://payments.{ns}.svc.cluster.local:9000"
    found = [e.value for e in c.env or [] if e.name == "PAYMENTS_URL"]
    assert found and found[-1] == want, (
        f"PAYMENTS_URL is {found[-1] if found else 'unset'}; expected {want}")


@pytest.mark.points(2)
def test_rolled_out_and_served(k8s, params):
    """All 3 replicas run the repaired template; Service checkout has 3 endpoints on 8080"""
    dep, c = _deploy(k8s, params)
    ns = params["namespace"]
    want_image = f"nginx:{params['version']}-alpine"
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=checkout").items
            if p.metadata.deletion_timestamp is None]
    good = [p for p in pods
            if any(_image_ok(x.image, want_image) and any(pp.container_port == 8080 for pp in x.ports or [])
                   for x in p.spec.containers)
            and any(cond.type == "Ready" and cond.status == "True" for cond in p.status.conditions or [])]
    assert len(good) == 3 and len(pods) == 3, (
        f"{len(good)} of {len(pods)} checkout Pods are ready with the repaired image and port; expected 3 of 3")
    disc = k8s.discovery

    def served():
        slices = disc.list_namespaced_endpoint_slice(
            ns, label_selector="kubernetes.io/service-name=checkout").items
        ports = sorted({p.port for s in slices for p in s.ports or []})
        ready = [e for s in slices for e in s.endpoints or []
                 if e.conditions is None or e.conditions.ready is not False]
        return ports, len(ready)

    try:  # EndpointSlices follow the rollout asynchronously
        k8s.wait_until(lambda: served() == ([8080], 3), timeout=5)
    except Exception:
        pass
    ports, ready = served()
    assert ports == [8080] and ready == 3, (
        f"Service checkout has {ready} ready endpoints on ports {ports}; expected 3 on [8080]")
