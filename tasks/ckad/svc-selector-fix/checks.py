"""Checks for svc-selector-fix: the Service web targets exactly the web Pods."""

import pytest

from grader.checks import eventually, live_pods, must_get, pods_of, selector_text, selects


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
    """Service web has a ready endpoint for each of the 3 web Pods, on port 80"""
    ns = params["namespace"]
    svc = _service(k8s, ns)
    ports = [(p.port, str(p.target_port)) for p in svc.spec.ports or []]
    assert (80, "80") in ports or (80, "http") in ports, (
        f"Service {ns}/web has ports {ports}; expected port 80 -> targetPort 80 unchanged")
    _web_pods(k8s, ns)

    def three():  # EndpointSlices follow a selector change asynchronously
        found = k8s.endpoints("web", ns)
        assert len(found) == 3, (f"Service {ns}/web has {len(found)} ready endpoints "
                                 f"({', '.join(found) or 'none'}); expected 3")
    if any(selects(svc.spec.selector, p.metadata.labels) for p in live_pods(k8s, ns)):
        eventually(three, timeout=5)
    else:
        three()
