"""Checks for kustomize-patch-overlay: the overlay builds on the base (which
stays as given), and what it applied: prefixed objects in the namespace with
the label (the Pods too), the replicas, the resources of container api only
(metrics kept), the Service routing to the Pods."""

import hashlib
import posixpath

import pytest
import yaml

from grader.checks import (eventually, must_be_ready, must_container, must_equal, must_get,
                           pods_of, same_image, same_quantity, show)

OVERLAY = "inventory/overlays/prod/kustomization.yaml"
BASE = {  # sha256 of the base's files as setup wrote them
    "deployment.yaml": "475dcc5629d7726ef024d0573f2b354cc51150f6619db3c0739c1005d54fb006",
    "service.yaml": "320fdb8373466db4494b7ad82e658ec7f53ccc84faa4439a84d860b0a000f16e",
    "kustomization.yaml": "2237ec3375f88871a58160c1761c69c227a02db72dd0c00b23cf6e9ba318bb38",
}
METRICS_COMMAND = ["sh", "-c", "while true; do sleep 60; done"]


def _deployment(k8s, ns):
    return must_get(k8s.apps.read_namespaced_deployment, "prod-inventory", ns,
                    expected="it made by the overlay")


def test_overlay_builds_on_base(answers):
    """The prod overlay lists ../../base as a resource; the base's files are as given"""
    f = answers / OVERLAY
    assert f.exists(), f"/opt/answers/{OVERLAY} does not exist; expected the overlay's kustomization"
    try:
        doc = yaml.safe_load(f.read_text())
    except yaml.YAMLError:
        raise AssertionError(f"/opt/answers/{OVERLAY} is not valid YAML; expected a kustomization") from None
    resources = doc.get("resources") if isinstance(doc, dict) else None
    listed = [posixpath.normpath(r) for r in resources if isinstance(r, str)] \
        if isinstance(resources, list) else []
    assert "../../base" in listed, (f"/opt/answers/{OVERLAY} has resources {show(resources)}; "
                                    "expected the base, ../../base")
    for name, digest in BASE.items():
        g = answers / f"inventory/base/{name}"
        assert g.exists(), f"/opt/answers/inventory/base/{name} does not exist; expected the base as given"
        assert hashlib.sha256(g.read_bytes()).hexdigest() == digest, (
            f"/opt/answers/inventory/base/{name} was changed; expected the base as given (the overlay makes the changes)")


@pytest.mark.points(2)
def test_prefixed_and_labelled(k8s, params):
    """Deployment and Service prod-inventory are in the namespace, labelled env=production, the Pods too"""
    ns = params["namespace"]
    dep = _deployment(k8s, ns)
    svc = must_get(k8s.core.read_namespaced_service, "prod-inventory", ns, expected="it made by the overlay")
    for what, labels in ((f"Deployment {ns}/prod-inventory", dep.metadata.labels),
                         (f"Service {ns}/prod-inventory", svc.metadata.labels),
                         (f"Deployment {ns}/prod-inventory's Pod template", dep.spec.template.metadata.labels)):
        labels = labels or {}
        assert labels.get("env") == "production" and labels.get("app") == "inventory", (
            f"{what} has labels {show(labels)}; expected env=production beside app=inventory")


@pytest.mark.points(2)
def test_api_resources_only(k8s, params):
    """Container api requests the CPU and memory, limits memory; metrics is unchanged"""
    ns = params["namespace"]
    dep = _deployment(k8s, ns)
    api = must_container(dep, "api")
    res = api.resources
    requests, limits = (res.requests or {}) if res else {}, (res.limits or {}) if res else {}
    must_equal(f"Deployment {ns}/prod-inventory container api",
               {"requests.cpu": requests.get("cpu"), "requests.memory": requests.get("memory"),
                "limits.memory": limits.get("memory")},
               {"requests.cpu": params["cpu"], "requests.memory": params["memory"],
                "limits.memory": params["memory"]}, same=same_quantity)
    assert set(limits) == {"memory"} and set(requests) == {"cpu", "memory"}, (
        f"Deployment {ns}/prod-inventory container api has requests {show(sorted(requests))} and limits "
        f"{show(sorted(limits))}; expected requests of cpu and memory and a limit of memory only")
    assert same_image(api.image, "httpd:2.4"), (
        f"Deployment {ns}/prod-inventory container api runs {show(api.image)}; expected httpd:2.4 as in the base")
    metrics = must_container(dep, "metrics")
    mres = metrics.resources
    assert (same_image(metrics.image, "busybox:1.36") and list(metrics.command or []) == METRICS_COMMAND
            and not (mres and (mres.requests or mres.limits))), (
        f"Deployment {ns}/prod-inventory container metrics was changed (image {show(metrics.image)}, "
        "resources or command); expected it as in the base")


@pytest.mark.points(2)
def test_replicas_rolled_out_and_routed(k8s, params):
    """prod-inventory runs the replicas, rolled out, and Service prod-inventory routes to them"""
    ns, replicas = params["namespace"], params["replicas"]
    dep = _deployment(k8s, ns)
    must_be_ready(dep, replicas=replicas)
    ips = {p.status.pod_ip for p in pods_of(k8s, dep) if p.status and p.status.pod_ip}

    def routed():
        found = set(k8s.endpoints("prod-inventory", ns))
        assert found and found == ips, (f"Service {ns}/prod-inventory routes to {len(found)} endpoint(s); "
                                        f"expected the {len(ips)} Pods of Deployment prod-inventory")
    eventually(routed, timeout=5)
