"""Checks for pv-reclaim-access-modes: the archive volume kept in place, the
new volume's fields, and the claim bound (by the PV binder of
kube-controller-manager) to that volume and no other."""

import pytest

from grader.checks import eventually, must_be_original, must_equal, must_get, same_quantity, show


def _no_class(value) -> bool:
    """No storage class: "" as written, or unset (the cluster has no default class)."""
    return value in ("", None)


@pytest.mark.points(2)
def test_archive_kept(k8s, params):
    """PersistentVolume archive-pv has reclaim policy Retain and is still the original, bound to archive"""
    ns = params["namespace"]
    pv = must_get(k8s.core.read_persistent_volume, "archive-pv", expected="it to still exist")
    policy = pv.spec.persistent_volume_reclaim_policy
    assert policy == "Retain", f"PersistentVolume archive-pv has reclaim policy {show(policy)}; expected Retain"
    must_be_original(k8s, pv, f"archive-pv-{ns}-original")
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, "archive", ns,
                   expected="it to still exist")
    must_be_original(k8s, pvc, f"archive-pvc-{ns}-original")
    ref = pv.spec.claim_ref
    bound = (pv.status.phase if pv.status else None, ref.namespace if ref else None,
             ref.name if ref else None, ref.uid if ref else None)
    assert bound == ("Bound", ns, "archive", pvc.metadata.uid), (
        f"PersistentVolume archive-pv is {show(bound[0])} to {show(bound[1])}/{show(bound[2])}; "
        f"expected Bound to {ns}/archive as before")


@pytest.mark.points(2)
def test_new_volume(k8s, params):
    """PersistentVolume <pv>: capacity, access mode, host path, no storage class, Retain"""
    name = params["pv"]
    s = must_get(k8s.core.read_persistent_volume, name).spec
    found = {"capacity": (s.capacity or {}).get("storage"), "accessModes": s.access_modes,
             "hostPath": (s.host_path.path or "").rstrip("/") if s.host_path else None,
             "storageClassName": s.storage_class_name,
             "reclaimPolicy": s.persistent_volume_reclaim_policy}
    want = {"capacity": params["size"], "accessModes": [params["mode"]], "hostPath": params["path"],
            "storageClassName": "", "reclaimPolicy": "Retain"}
    must_equal(f"PersistentVolume {name}", found, want,
               same={"capacity": same_quantity, "storageClassName": lambda f, w: _no_class(f)})


@pytest.mark.points(3)
def test_claim_bound_to_it(k8s, params):
    """PersistentVolumeClaim reports asks for 1Gi in the access mode with no class, and is Bound to <pv>"""
    ns, name = params["namespace"], params["pv"]

    def bound():
        pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, "reports", ns)
        s = pvc.spec
        found = {"request": ((s.resources.requests if s.resources else None) or {}).get("storage"),
                 "accessModes": s.access_modes, "storageClassName": s.storage_class_name}
        must_equal(f"PersistentVolumeClaim {ns}/reports", found,
                   {"request": "1Gi", "accessModes": [params["mode"]], "storageClassName": ""},
                   same={"request": same_quantity, "storageClassName": lambda f, w: _no_class(f)})
        phase = pvc.status.phase if pvc.status else None
        assert (phase, s.volume_name) == ("Bound", name), (
            f"PersistentVolumeClaim {ns}/reports is {show(phase)} to {show(s.volume_name)}; "
            f"expected Bound to {name}")
    eventually(bound, timeout=8)
