"""Checks for blue-green-switch: the Service routes to exactly the green Pods,
green was all ready before the Service changed, blue still runs, and neither
Pod template changed (blue's checked with the Service, so that nothing passes
right after setup).

"Before" is read from resource versions: the API server stamps every write
with the store's revision, which only grows (etcd's modification revision),
so the Service's last write must come after the last write of green's
Deployment and ReplicaSets (their status reaching all ready). Scaling green
after the switch leaves green's writes later than the Service's.
"""

import pytest

from grader.checks import (eventually, must_be_original, must_be_ready, must_container, must_get,
                           pods_of, replica_sets_of, same_image, selector_text, selects, show)

IMAGES = {"blue": "nginx:1.26", "green": "nginx:1.27"}


def _deployment(k8s, ns, color):
    return must_get(k8s.apps.read_namespaced_deployment, f"checkout-{color}", ns, expected="it to still exist")


def _revision(obj) -> int | None:
    rv = getattr(obj.metadata, "resource_version", None)
    return int(rv) if isinstance(rv, str) and rv.isdigit() else None


def _template_kept(dep, color, label):
    ns = dep.metadata.namespace
    labels = dep.spec.template.metadata.labels or {}
    c = must_container(dep, "checkout")
    assert labels == {"app": "checkout", label: color} and same_image(c.image, IMAGES[color]), (
        f"Deployment {ns}/checkout-{color} has Pod labels {show(labels)} and image {show(c.image)}; "
        f"expected app=checkout, {label}={color} and {IMAGES[color]} as before")


@pytest.mark.points(2)
def test_service_routes_to_green_only(k8s, params):
    """Service checkout, the original, routes to exactly the ready green Pods; checkout-blue still runs, unchanged"""
    ns, label = params["namespace"], params["label"]
    svc = must_get(k8s.core.read_namespaced_service, "checkout", ns, expected="it to still exist")
    must_be_original(k8s, svc, f"checkout-{ns}-original")
    green = _deployment(k8s, ns, "green")
    blue = _deployment(k8s, ns, "blue")
    assert not any(selects(svc.spec.selector, p.metadata.labels) for p in pods_of(k8s, blue)), (
        f"Service {ns}/checkout selects {selector_text(svc.spec.selector)}, which takes blue Pods; "
        "expected the green Pods only")

    def routed():
        ips = {p.status.pod_ip for p in pods_of(k8s, green) if p.status and p.status.pod_ip}
        found = set(k8s.endpoints("checkout", ns))
        assert ips and found == ips, (
            f"Service {ns}/checkout routes to {len(found)} ready endpoint(s), {len(found & ips)} of them "
            f"green; expected the {len(ips) or 'ready'} green Pods only")
    eventually(routed, timeout=5)
    must_be_ready(blue, replicas=params["replicas"])  # kept for a switch back
    _template_kept(blue, "blue", label)


@pytest.mark.points(2)
def test_green_ready_before_switch(k8s, params):
    """checkout-green runs all replicas, unchanged, and was all ready before the Service switched"""
    ns, label, replicas = params["namespace"], params["label"], params["replicas"]
    green = _deployment(k8s, ns, "green")
    must_be_ready(green, replicas=replicas)
    _template_kept(green, "green", label)
    svc = must_get(k8s.core.read_namespaced_service, "checkout", ns)
    switched = _revision(svc)
    last_green = max((r for r in (_revision(o) for o in [green, *replica_sets_of(k8s, green)]) if r is not None),
                     default=None)
    assert switched is not None and last_green is not None and last_green < switched, (
        f"Service {ns}/checkout was last changed before checkout-green finished scaling up; expected "
        "green all ready first, then the switch")

