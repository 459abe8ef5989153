"""Checks for nodeport-expose: Service store-np, its ports and its endpoints."""

import pytest

from grader.checks import eventually, live_pods, must_get, selector_text, selects, show


def _svc(k8s, params):
    return must_get(k8s.core.read_namespaced_service, "store-np", params["namespace"])


def _port80(svc):
    for p in svc.spec.ports or []:
        if p.port == 80:
            return p
    raise AssertionError(f"Service store-np listens on {[p.port for p in svc.spec.ports or []]}; "
                         "expected port 80")


@pytest.mark.points(2)
def test_nodeport(k8s, params):
    """Service store-np is a NodePort Service on port 80 with the required node port"""
    svc = _svc(k8s, params)
    want = int(params["node_port"])
    assert svc.spec.type == "NodePort", f"Service store-np has type {svc.spec.type}; expected NodePort"
    p = _port80(svc)
    assert p.node_port == want, f"Service store-np port 80 uses node port {p.node_port}; expected {want}"
    assert (p.protocol or "TCP") == "TCP", f"Service store-np port 80 is {p.protocol}; expected TCP"


@pytest.mark.points(2)
def test_routes_to_store(k8s, params):
    """Service store-np forwards to the container port of the store Pods, and only to them"""
    ns = params["namespace"]
    svc = _svc(k8s, params)
    want = int(params["target_port"])
    p = _port80(svc)
    tp = p.target_port
    if isinstance(tp, str) and not tp.isdigit():
        tp = want if tp == "http" else tp  # the container port is named http
    assert str(tp) == str(want), f"Service store-np forwards to port {show(p.target_port)}; expected {want}"
    sel = svc.spec.selector
    pods = live_pods(k8s, ns)
    chosen = sorted(x.metadata.name for x in pods if selects(sel, x.metadata.labels))
    store = sorted(x.metadata.name for x in pods if (x.metadata.labels or {}).get("app") == "store")
    assert chosen == store, (f"Service store-np selects {selector_text(sel)}, matching Pods {chosen}; "
                             f"expected the store Pods {store}")

    def served():  # EndpointSlices follow a selector change asynchronously
        found = k8s.endpoints("store-np", ns)
        assert len(found) == len(store), (
            f"Service store-np has {len(found)} ready endpoints; expected {len(store)}")
    eventually(served, timeout=5)
