"""Checks for canary-deployment: who is behind Service web, by image."""

import pytest

from grader.checks import (eventually, live_pods, must_be_ready, must_get, same_image, selects,
                           selector_text, show)


def _behind(k8s, ns) -> list:
    """The image of the Pod behind each ready endpoint of Service web.

    An endpoint names its Pod (``targetRef``): counting by that, not by
    address, counts two Pods that share an address (kwok reuses one after a
    rewind) as two. A Pod gone meanwhile counts as None."""
    pods = {p.metadata.name: p for p in live_pods(k8s, ns)}
    slices = k8s.discovery.list_namespaced_endpoint_slice(
        ns, label_selector="kubernetes.io/service-name=web").items
    out = []
    for s in slices:
        for e in s.endpoints or []:
            if e.conditions is not None and e.conditions.ready is False:  # nil reads as ready
                continue
            ref = e.target_ref
            p = pods.get(ref.name) if ref is not None and ref.kind == "Pod" else None
            out.append(p.spec.containers[0].image if p is not None and p.spec.containers else None)
    return out


def _v2(k8s, ns):
    return must_get(k8s.apps.read_namespaced_deployment, "web-v2", ns)


def test_v2_deployment(k8s, params):
    """Deployment web-v2 runs nginx:1.27 with all replicas ready"""
    dep = _v2(k8s, params["namespace"])
    images = [c.image for c in dep.spec.template.spec.containers or []]
    assert len(images) == 1 and same_image(images[0], "nginx:1.27"), (
        f"Deployment web-v2 runs {show(images)}; expected nginx:1.27")
    assert dep.spec.replicas, "Deployment web-v2 has 0 replicas; expected it running"
    must_be_ready(dep)


@pytest.mark.points(3)
def test_split(k8s, params):
    """Service web has the required number of endpoints, 20% of them web-v2"""
    ns, total = params["namespace"], int(params["total"])
    _v2(k8s, ns)
    svc = k8s.get(k8s.core.read_namespaced_service, "web", ns)
    assert svc is not None and (svc.spec.selector or {}) == {"app": "web"}, (
        f"Service web selects {selector_text(svc.spec.selector) if svc else 'nothing (deleted)'}; "
        "expected app=web unchanged")
    want_new = total // 5

    def split():
        behind = _behind(k8s, ns)
        new = sum(1 for img in behind if same_image(img, "nginx:1.27"))
        old = sum(1 for img in behind if same_image(img, "nginx:1.26"))
        assert (len(behind), new, old) == (total, want_new, total - want_new), (
            f"Service web has {len(behind)} endpoints: {new} nginx:1.27, {old} nginx:1.26, "
            f"{len(behind) - new - old} other; expected {total}: {want_new} nginx:1.27 and "
            f"{total - want_new} nginx:1.26")
    eventually(split, timeout=5)


def test_v1_kept(k8s, params):
    """web-v1 still runs nginx:1.26, and the two Deployments do not manage each other's Pods"""
    ns = params["namespace"]
    v2 = _v2(k8s, ns)
    v1 = must_get(k8s.apps.read_namespaced_deployment, "web-v1", ns, expected="it to keep serving")
    images = [c.image for c in v1.spec.template.spec.containers]
    assert images == ["nginx:1.26"], f"Deployment web-v1 runs {show(images)}; expected nginx:1.26"
    l1 = v1.spec.template.metadata.labels or {}
    l2 = v2.spec.template.metadata.labels or {}
    overlap = selects(v1.spec.selector, l2) or selects(v2.spec.selector, l1)
    assert not overlap, "the selectors of web-v1 and web-v2 match each other's Pods; expected them disjoint"
