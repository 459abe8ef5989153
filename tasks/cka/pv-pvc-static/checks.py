"""Checks for pv-pvc-static: the volume, the claim's binding, and the Pod's mount."""

import pytest

from grader.checks import (command_line, mounted, must_equal, must_get, same_command, same_image,
                           same_quantity, show)


def test_pv(k8s, params):
    """PersistentVolume data-pv: size, access mode, class, hostPath /srv/data, Retain"""
    s = must_get(k8s.core.read_persistent_volume, "data-pv").spec
    found = {"capacity": (s.capacity or {}).get("storage"), "accessModes": s.access_modes,
             "storageClassName": s.storage_class_name,
             "hostPath": s.host_path.path.rstrip("/") if s.host_path else None,
             "reclaimPolicy": s.persistent_volume_reclaim_policy}
    want = {"capacity": params["size"], "accessModes": [params["mode"]],
            "storageClassName": params["class"], "hostPath": "/srv/data", "reclaimPolicy": "Retain"}
    must_equal("PersistentVolume data-pv", found, want, same={"capacity": same_quantity})


@pytest.mark.points(2)
def test_pvc_bound(k8s, params):
    """PersistentVolumeClaim data-pvc requests the size, mode and class, and is Bound to data-pv"""
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, "data-pvc", params["namespace"])
    req = (pvc.spec.resources.requests or {}).get("storage")
    assert same_quantity(req, params["size"]), f"data-pvc requests {show(req)}; expected {params['size']}"
    assert pvc.spec.access_modes == [params["mode"]], (
        f"data-pvc asks for {show(pvc.spec.access_modes)}; expected [{params['mode']}]")
    assert pvc.spec.storage_class_name == params["class"], (
        f"data-pvc has storage class {show(pvc.spec.storage_class_name)}; expected {params['class']!r}")
    assert pvc.status.phase == "Bound" and pvc.spec.volume_name == "data-pv", (
        f"data-pvc is {pvc.status.phase} to {show(pvc.spec.volume_name) if pvc.spec.volume_name else 'nothing'}; "
        "expected Bound to data-pv")


@pytest.mark.points(2)
def test_pod_mount(k8s, params):
    """Pod data-reader runs busybox:1.36 with sleep 3600, mounts data-pvc at /data and is Running"""
    pod = must_get(k8s.core.read_namespaced_pod, "data-reader", params["namespace"])
    mount, volume = next((mv for mv in (mounted(pod, c, "/data") for c in pod.spec.containers)
                          if mv[0] is not None), (None, None))
    claim = volume.persistent_volume_claim if volume is not None else None
    assert claim is not None and claim.claim_name == "data-pvc", (
        f"/data in data-reader is {'volume ' + show(mount.name) if mount else 'not mounted'}; "
        "expected claim data-pvc")
    images = [c.image for c in pod.spec.containers]
    assert len(images) == 1 and same_image(images[0], "busybox:1.36"), (
        f"data-reader runs {show(images)}; expected busybox:1.36")
    c = pod.spec.containers[0]
    ran = show(command_line(c)) if command_line(c) else "the image's default command"
    assert same_command(c, "sleep 3600"), f"data-reader runs {ran}; expected the command sleep 3600"
    assert pod.status.phase == "Running", f"Pod data-reader is {pod.status.phase}; expected Running"
