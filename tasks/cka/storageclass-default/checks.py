"""Checks for storageclass-default: the class's fields, and what a class-less claim gets."""

import pytest
from kubernetes.client.exceptions import ApiException

from grader.checks import must_equal, must_get, show

DEFAULT = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT = "storageclass.beta.kubernetes.io/is-default-class"  # still honoured by the API


def _is_default(sc) -> bool:
    """Whether the API takes the class for a default, as its IsDefaultAnnotation
    does: either annotation, the GA one or the older beta one, set to "true"."""
    notes = (sc.metadata.annotations if sc.metadata else None) or {}
    return notes.get(DEFAULT) == "true" or notes.get(BETA_DEFAULT) == "true"


def _sc(k8s, params):
    return must_get(k8s.storage.read_storage_class, params["name"])


@pytest.mark.points(2)
def test_fields(k8s, params):
    """The StorageClass has the provisioner, binding mode, reclaim policy and expansion asked for"""
    sc = _sc(k8s, params)
    found = {"provisioner": sc.provisioner, "volumeBindingMode": sc.volume_binding_mode,
             "reclaimPolicy": sc.reclaim_policy, "allowVolumeExpansion": bool(sc.allow_volume_expansion)}
    want = {"provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain", "allowVolumeExpansion": True}
    must_equal(f"StorageClass {params['name']}", found, want)


@pytest.mark.points(2)
def test_only_default(k8s, params):
    """It is the one and only default StorageClass"""
    _sc(k8s, params)
    defaults = sorted(s.metadata.name for s in k8s.storage.list_storage_class().items if _is_default(s))
    assert defaults == [params["name"]], (
        f"default StorageClasses: {show(defaults) if defaults else 'none'}; expected only {params['name']}")


def test_claim_gets_default(k8s, params):
    """A claim without a storage class is given this class"""
    body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "proctor-default-class-check"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    try:
        pvc = k8s.core.create_namespaced_persistent_volume_claim("default", body, dry_run="All")
    except ApiException as exc:
        raise AssertionError(f"a claim without a storage class is rejected ({exc.reason}); expected admitted")
    found = pvc.spec.storage_class_name
    assert found == params["name"], f"a claim without a storage class gets {show(found)}; expected {params['name']!r}"
