"""Checks for pvc-pending-fix: the claim, by its name, Bound to the volume
made for it (and the volume to that very claim, by uid), the Pod running with
it, and the volume left as it was (the same object, the same fields)."""

import pytest

from grader.checks import (eventually, mounted, must_be_original, must_equal, must_get, same_image,
                           same_quantity, show)


def _claim(params) -> str:
    return f"{params['app']}-data"


@pytest.mark.points(3)
def test_claim_bound(k8s, params):
    """PersistentVolumeClaim <app>-data is Bound to <pv>, and <pv> to that very claim"""
    ns, name, pv = params["namespace"], _claim(params), params["pv"]

    def bound():
        pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, name, ns,
                       expected="it to exist under that name")
        phase = pvc.status.phase if pvc.status else None
        vol_name = pvc.spec.volume_name
        assert (phase, vol_name) == ("Bound", pv), (
            f"PersistentVolumeClaim {ns}/{name} is {show(phase)} with "
            f"{'volume ' + show(vol_name) if vol_name else 'no volume'}; expected Bound to {pv}")
        vol = must_get(k8s.core.read_persistent_volume, pv, expected="it to still exist")
        ref = vol.spec.claim_ref
        found = (vol.status.phase if vol.status else None, ref.namespace if ref else None,
                 ref.name if ref else None, ref.uid if ref else None)
        assert found == ("Bound", ns, name, pvc.metadata.uid), (
            f"PersistentVolume {pv} is {show(found[0])} to claim {show(found[1])}/{show(found[2])} "
            f"(uid {show(found[3])}); expected Bound to {ns}/{name} (uid {pvc.metadata.uid})")
    eventually(bound, timeout=5)


@pytest.mark.points(2)
def test_pod_running(k8s, params):
    """Pod <app> runs busybox:1.36 with the claim mounted at /var/lib/<app>, and is Running"""
    ns, app, name = params["namespace"], params["app"], _claim(params)
    path = f"/var/lib/{app}"

    def running():
        pod = must_get(k8s.core.read_namespaced_pod, app, ns, expected="it to exist under that name")
        images = [c.image for c in pod.spec.containers]
        assert len(images) == 1 and same_image(images[0], "busybox:1.36"), (
            f"Pod {ns}/{app} runs {show(images)}; expected busybox:1.36 as before")
        mount, volume = mounted(pod, pod.spec.containers[0], path)
        claim = volume.persistent_volume_claim if volume is not None else None
        assert claim is not None and claim.claim_name == name, (
            f"Pod {ns}/{app} mounts {'volume ' + show(mount.name) if mount else 'nothing'} at {path}; "
            f"expected the claim {name}")
        phase = pod.status.phase if pod.status else None
        assert phase == "Running", f"Pod {ns}/{app} is {show(phase)}; expected Running"
    pvc = k8s.get(k8s.core.read_namespaced_persistent_volume_claim, name, ns)
    if pvc is not None and pvc.status is not None and pvc.status.phase == "Bound":
        eventually(running, timeout=5)  # the scheduler places the Pod a moment after the binding
    else:
        running()


@pytest.mark.points(2)
def test_volume_kept(k8s, params):
    """PersistentVolume <pv> is the original, with its capacity, access mode, class, reclaim policy and path, and is Bound"""
    name = params["pv"]
    pv = must_get(k8s.core.read_persistent_volume, name, expected="it kept: it must not be deleted")
    must_be_original(k8s, pv, f"{name}-original")
    s = pv.spec
    found = {"capacity": (s.capacity or {}).get("storage"), "accessModes": s.access_modes,
             "storageClassName": s.storage_class_name,
             "reclaimPolicy": s.persistent_volume_reclaim_policy,
             "hostPath": (s.host_path.path or "").rstrip("/") if s.host_path else None}
    want = {"capacity": params["size"], "accessModes": [params["mode"]],
            "storageClassName": params["class"], "reclaimPolicy": "Retain",
            "hostPath": f"/srv/{params['app']}"}
    must_equal(f"PersistentVolume {name}", found, want, same={"capacity": same_quantity})
    # Only once a claim is bound to it is this check about the fix.
    phase = pv.status.phase if pv.status else None
    assert phase == "Bound", (f"PersistentVolume {name} is {show(phase)}; expected it Bound to "
                              f"{params['namespace']}/{_claim(params)}")
