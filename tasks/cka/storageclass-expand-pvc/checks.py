"""Checks for storageclass-expand-pvc: the new class and claim as the API
stores them (no CSI driver runs, so the claim's spec is graded, not a
volume), and the old claim's request raised in place."""

import pytest

from grader.checks import must_be_original, must_equal, must_get, same_quantity, show


def _request(pvc):
    res = pvc.spec.resources
    return ((res.requests if res else None) or {}).get("storage")


@pytest.mark.points(2)
def test_storage_class(k8s, params):
    """StorageClass <class>: the driver, Retain, WaitForFirstConsumer, expansion allowed"""
    sc = must_get(k8s.storage.read_storage_class, params["class"])
    found = {"provisioner": sc.provisioner, "reclaimPolicy": sc.reclaim_policy,
             "volumeBindingMode": sc.volume_binding_mode,
             "allowVolumeExpansion": sc.allow_volume_expansion is True}
    must_equal(f"StorageClass {params['class']}", found,
               {"provisioner": params["provisioner"], "reclaimPolicy": "Retain",
                "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True})


@pytest.mark.points(2)
def test_new_claim(k8s, params):
    """PersistentVolumeClaim media-cache asks for the size, ReadWriteOnce and the class"""
    ns = params["namespace"]
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, "media-cache", ns)
    found = {"storageClassName": pvc.spec.storage_class_name, "accessModes": pvc.spec.access_modes,
             "request": _request(pvc)}
    must_equal(f"PersistentVolumeClaim {ns}/media-cache", found,
               {"storageClassName": params["class"], "accessModes": ["ReadWriteOnce"],
                "request": params["size"]}, same={"request": same_quantity})


@pytest.mark.points(2)
def test_uploads_expanded_in_place(k8s, params):
    """PersistentVolumeClaim uploads requests the new size, is the original and still bound to its volume"""
    ns = params["namespace"]
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, "uploads", ns,
                   expected="it to still exist")
    req = _request(pvc)
    assert same_quantity(req, params["grow"]), (
        f"PersistentVolumeClaim {ns}/uploads requests {show(req)}; expected {params['grow']}")
    must_be_original(k8s, pvc, f"uploads-{ns}-original")
    phase = pvc.status.phase if pvc.status else None
    assert (phase, pvc.spec.volume_name) == ("Bound", f"uploads-{ns}"), (
        f"PersistentVolumeClaim {ns}/uploads is {show(phase)} to {show(pvc.spec.volume_name)}; "
        f"expected Bound to uploads-{ns} as before")


def test_old_class_allows_expansion(k8s, params):
    """StorageClass hdd-<namespace> allows expansion and is otherwise unchanged"""
    name = f"hdd-{params['namespace']}"
    sc = must_get(k8s.storage.read_storage_class, name, expected="it to still exist")
    found = {"allowVolumeExpansion": sc.allow_volume_expansion is True, "provisioner": sc.provisioner,
             "reclaimPolicy": sc.reclaim_policy, "volumeBindingMode": sc.volume_binding_mode,
             "parameters": sc.parameters or {}}
    must_equal(f"StorageClass {name}", found,
               {"allowVolumeExpansion": True, "provisioner": "kubernetes.io/no-provisioner",
                "reclaimPolicy": "Retain", "volumeBindingMode": "Immediate", "parameters": {}})
