"""Checks for svc-selector-fix: the Service web targets exactly the web Pods."""

import pytest


def _selector_str(sel):
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items())) or "<none>"


def _matches(selector, labels):
    labels = labels or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _eventually(k8s, condition, timeout=5):
    """Wait briefly for state that converges asynchronously; never raise."""
    try:
        k8s.wait_until(condition, timeout=timeout)
    except Exception:
        pass


def _web_pods(k8s, ns):
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "web", ns)
    assert dep is not None, f"Deployment {ns}/web is missing; it must not be deleted"
    want = dep.spec.selector.match_labels or {}
    pods = k8s.core.list_namespaced_pod(ns).items
    return dep, pods, {p.metadata.name for p in pods if _matches(want, p.metadata.labels)
                       and p.metadata.deletion_timestamp is None}


@pytest.mark.points(2)
def test_selects_exactly_web_pods(k8s, params):
    """Service web selects the Pods of Deployment web and no other Pods"""
    ns = params["namespace"]
    svc = k8s.get(k8s.core.read_namespaced_service, "web", ns)
    assert svc is not None, f"Service {ns}/web not found; expected it to still exist"
    _, pods, web = _web_pods(k8s, ns)
    sel = svc.spec.selector or {}
    chosen = {p.metadata.name for p in pods if _matches(sel, p.metadata.labels)
              and p.metadata.deletion_timestamp is None}
    assert chosen, (f"Service {ns}/web selects {_selector_str(sel)}, which matches no Pod; "
                    f"expected it to match the {len(web)} Pods of Deployment web")
    extra = sorted(chosen - web)
    missing = sorted(web - chosen)
    assert not extra, (f"Service {ns}/web selects {_selector_str(sel)}, which also matches "
                       f"{', '.join(extra)}; expected only the Pods of Deployment web")
    assert not missing, (f"Service {ns}/web selects {_selector_str(sel)}, which misses "
                         f"{', '.join(missing)}; expected every Pod of Deployment web")


def test_has_ready_endpoints(k8s, params):
    """Service web has a ready endpoint for each of the 3 web Pods, on port 80"""
    ns = params["namespace"]
    svc = k8s.get(k8s.core.read_namespaced_service, "web", ns)
    assert svc is not None, f"Service {ns}/web not found; expected it to still exist"
    ports = [(p.port, str(p.target_port)) for p in svc.spec.ports or []]
    assert (80, "80") in ports or (80, "http") in ports, (
        f"Service {ns}/web has ports {ports}; expected port 80 -> targetPort 80 unchanged")
    sel = svc.spec.selector or {}
    _, _, web = _web_pods(k8s, ns)
    pods = k8s.core.list_namespaced_pod(ns).items
    if any(_matches(sel, p.metadata.labels) for p in pods):
        # EndpointSlices follow a selector change asynchronously.
        _eventually(k8s, lambda: len(k8s.endpoints("web", ns)) >= len(web))
    found = k8s.endpoints("web", ns)
    assert len(found) == 3, (f"Service {ns}/web has {len(found)} ready endpoints "
                             f"({', '.join(found) or 'none'}); expected 3")
