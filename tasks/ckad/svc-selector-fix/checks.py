"""Checks for svc-selector-fix: the Service web, fixed in place, targets exactly the web Pods."""

import pytest

from grader.checks import (eventually, live_pods, must_be_original, must_get, pods_of, selector_text,
                           selects, show)


def _web_pods(k8s, ns):
    """Names of the live Pods of Deployment web."""
    dep = must_get(k8s.apps.read_namespaced_deployment, "web", ns, expected="it kept: it must not be deleted")
    return {p.metadata.name for p in pods_of(k8s, dep)}


def _service(k8s, ns):
    return must_get(k8s.core.read_namespaced_service, "web", ns, expected="it to still exist")


@pytest.mark.points(2)
def test_selects_exactly_web_pods(k8s, params):
    """Service web selects the Pods of Deployment web and no other Pods"""
    ns = params["namespace"]
    sel = _service(k8s, ns).spec.selector
    web = _web_pods(k8s, ns)
    chosen = {p.metadata.name for p in live_pods(k8s, ns) if selects(sel, p.metadata.labels)}
    assert chosen, (f"Service {ns}/web selects {selector_text(sel)}, which matches no Pod; "
                    f"expected it to match the {len(web)} Pods of Deployment web")
    extra = sorted(chosen - web)
    missing = sorted(web - chosen)
    assert not extra, (f"Service {ns}/web selects {selector_text(sel)}, which also matches "
                       f"{', '.join(extra)}; expected only the Pods of Deployment web")
    assert not missing, (f"Service {ns}/web selects {selector_text(sel)}, which misses "
                         f"{', '.join(missing)}; expected every Pod of Deployment web")


def test_has_ready_endpoints(k8s, params):
    """Service web, fixed in place with its type and ports kept, has a ready endpoint for each of the 3 web Pods"""
    ns = params["namespace"]
    svc = _service(k8s, ns)
    must_be_original(k8s, svc, f"web-{ns}-original")
    assert svc.spec.type == "ClusterIP", f"Service {ns}/web has type {show(svc.spec.type)}; expected ClusterIP unchanged"
    ports = [(p.name, p.port, str(p.target_port), p.protocol) for p in svc.spec.ports or []]
    shown = show([f"{n or '(no name)'} {port}->{target}/{proto}" for n, port, target, proto in ports])
    # targetPort http names the same container port 80: equivalent, so accepted.
    assert ports in ([("http", 80, "80", "TCP")], [("http", 80, "http", "TCP")]), (
        f"Service {ns}/web has ports {shown}; expected http 80->80/TCP unchanged")
    _web_pods(k8s, ns)

    def three():  # EndpointSlices follow a selector change asynchronously
        found = k8s.endpoints("web", ns)
        assert len(found) == 3, (f"Service {ns}/web has {len(found)} ready endpoints "
                                 f"({', '.join(found) or 'none'}); expected 3")
    if any(selects(svc.spec.selector, p.metadata.labels) for p in live_pods(k8s, ns)):
        eventually(three, timeout=5)
    else:
        three()
