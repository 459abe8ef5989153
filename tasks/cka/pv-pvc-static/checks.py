"""Checks for pv-pvc-static: the volume, the claim's binding, and the Pod's mount."""

import pytest
from kubernetes.utils.quantity import parse_quantity


def test_pv(k8s, params):
    """PersistentVolume data-pv: size, access mode, class, hostPath /srv/data, Retain"""
    pv = k8s.get(k8s.core.read_persistent_volume, "data-pv")
    assert pv is not None, "PersistentVolume data-pv not found; expected it to exist"
    s = pv.spec
    cap = (s.capacity or {}).get("storage")
    found = {"capacity": cap, "accessModes": s.access_modes, "storageClassName": s.storage_class_name,
             "hostPath": s.host_path.path.rstrip("/") if s.host_path else None,
             "reclaimPolicy": s.persistent_volume_reclaim_policy}
    want = {"capacity": params["size"], "accessModes": [params["mode"]],
            "storageClassName": params["class"], "hostPath": "/srv/data", "reclaimPolicy": "Retain"}
    wrong = {k: v for k, v in found.items()
             if (parse_quantity(v) != parse_quantity(want[k]) if k == "capacity" and v else v != want[k])}
    assert not wrong, f"PersistentVolume data-pv has {wrong}; expected {({k: want[k] for k in wrong})}"


@pytest.mark.points(2)
def test_pvc_bound(k8s, params):
    """PersistentVolumeClaim data-pvc requests the size, mode and class, and is Bound to data-pv"""
    ns = params["namespace"]
    pvc = k8s.get(k8s.core.read_namespaced_persistent_volume_claim, "data-pvc", ns)
    assert pvc is not None, f"PersistentVolumeClaim {ns}/data-pvc not found; expected it to exist"
    req = (pvc.spec.resources.requests or {}).get("storage")
    assert req and parse_quantity(req) == parse_quantity(params["size"]), (
        f"data-pvc requests {req}; expected {params['size']}")
    assert pvc.spec.access_modes == [params["mode"]], (
        f"data-pvc asks for {pvc.spec.access_modes}; expected [{params['mode']}]")
    assert pvc.spec.storage_class_name == params["class"], (
        f"data-pvc has storage class {pvc.spec.storage_class_name!r}; expected {params['class']!r}")
    assert pvc.status.phase == "Bound" and pvc.spec.volume_name == "data-pv", (
        f"data-pvc is {pvc.status.phase} to {pvc.spec.volume_name or 'nothing'}; expected Bound to data-pv")


@pytest.mark.points(2)
def test_pod_mount(k8s, params):
    """Pod data-reader mounts data-pvc at /data and is Running"""
    ns = params["namespace"]
    pod = k8s.get(k8s.core.read_namespaced_pod, "data-reader", ns)
    assert pod is not None, f"Pod {ns}/data-reader not found; expected it to exist"
    claims = {v.name: v.persistent_volume_claim.claim_name
              for v in pod.spec.volumes or [] if v.persistent_volume_claim}
    at = {m.mount_path.rstrip("/"): m.name for c in pod.spec.containers for m in c.volume_mounts or []}
    assert claims.get(at.get("/data")) == "data-pvc", (
        f"/data in data-reader is {'volume ' + at['/data'] if '/data' in at else 'not mounted'}; "
        "expected claim data-pvc")
    assert [c.image for c in pod.spec.containers] == ["busybox:1.36"], (
        f"data-reader runs {[c.image for c in pod.spec.containers]}; expected busybox:1.36")
    assert pod.status.phase == "Running", f"Pod data-reader is {pod.status.phase}; expected Running"
