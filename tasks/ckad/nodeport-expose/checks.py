"""Checks for nodeport-expose: Service store-np, its ports and its endpoints."""

import pytest


def _svc(k8s, params):
    ns = params["namespace"]
    svc = k8s.get(k8s.core.read_namespaced_service, "store-np", ns)
    assert svc is not None, f"Service {ns}/store-np not found; expected it to exist"
    return svc


def _port80(svc):
    for p in svc.spec.ports or []:
        if p.port == 80:
            return p
    raise AssertionError(f"Service store-np listens on {[p.port for p in svc.spec.ports or []]}; "
                         "expected port 80")


def _matches(sel, labels):
    labels = labels or {}
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


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
    assert str(tp) == str(want), f"Service store-np forwards to port {p.target_port}; expected {want}"
    sel = svc.spec.selector or {}
    pods = [x for x in k8s.core.list_namespaced_pod(ns).items if x.metadata.deletion_timestamp is None]
    chosen = sorted(x.metadata.name for x in pods if _matches(sel, x.metadata.labels))
    store = sorted(x.metadata.name for x in pods if (x.metadata.labels or {}).get("app") == "store")
    assert chosen == store, (f"Service store-np selects {sel or 'nothing'}, matching Pods {chosen}; "
                             f"expected the store Pods {store}")
    try:
        k8s.wait_until(lambda: len(k8s.endpoints("store-np", ns)) >= len(store), timeout=5)
    except Exception:
        pass
    found = k8s.endpoints("store-np", ns)
    assert len(found) == len(store), (
        f"Service store-np has {len(found)} ready endpoints; expected {len(store)}")
