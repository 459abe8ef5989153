"""Checks for ephemeral-volume-scratch: the in-memory emptyDir both containers
share, the generic ephemeral volume and the claim it made (owned by the Pod,
bound), and the Pod as asked, running.

Volumes are found by where they are mounted, not by their names, which the
statement leaves to the candidate."""

import pytest

from grader.checks import (mounted, must_container, must_equal, must_get, owned_by, same_command,
                           same_image, same_quantity, show)


def _pod(k8s, ns):
    return must_get(k8s.core.read_namespaced_pod, "renderer", ns)


def _volume_at(pod, container, path):
    """The volume ``container`` mounts at ``path``; a failed check when none."""
    ns = pod.metadata.namespace
    mount, volume = mounted(pod, must_container(pod, container), path)
    assert volume is not None, f"Pod {ns}/renderer mounts nothing at {path} in container {container}; expected the scratch volume there"
    return volume


@pytest.mark.points(2)
def test_memory_scratch_shared(k8s, params):
    """Both containers mount one in-memory emptyDir of the size limit at /work"""
    ns = params["namespace"]
    pod = _pod(k8s, ns)
    render, upload = _volume_at(pod, "render", "/work"), _volume_at(pod, "upload", "/work")
    assert render.name == upload.name, (
        f"Pod {ns}/renderer mounts volume {show(render.name)} in render and {show(upload.name)} in upload "
        "at /work; expected one volume shared by both")
    empty = render.empty_dir
    assert empty is not None, f"Pod {ns}/renderer has volume {show(render.name)} at /work that is not an emptyDir; expected an emptyDir"
    must_equal(f"Pod {ns}/renderer volume {render.name}", {"medium": empty.medium, "sizeLimit": empty.size_limit},
               {"medium": "Memory", "sizeLimit": params["limit"]}, same={"sizeLimit": same_quantity})


def _ephemeral_spec(k8s, params):
    ns = params["namespace"]
    pod = _pod(k8s, ns)
    volume = _volume_at(pod, "render", "/cache")
    eph = volume.ephemeral
    kind = ("persistentVolumeClaim " + show(volume.persistent_volume_claim.claim_name)
            if volume.persistent_volume_claim else "not an ephemeral volume")
    assert eph is not None and eph.volume_claim_template is not None, (
        f"Pod {ns}/renderer mounts volume {show(volume.name)} at /cache, {kind}; "
        "expected a generic ephemeral volume (ephemeral.volumeClaimTemplate)")
    return pod, volume, eph.volume_claim_template.spec


@pytest.mark.points(2)
def test_ephemeral_claim_template(k8s, params):
    """Container render mounts a generic ephemeral volume at /cache: ReadWriteOnce, the class and size"""
    ns = params["namespace"]
    pod, volume, spec = _ephemeral_spec(k8s, params)
    found = {"accessModes": spec.access_modes, "storageClassName": spec.storage_class_name,
             "storage": ((spec.resources.requests if spec.resources else None) or {}).get("storage")}
    want = {"accessModes": ["ReadWriteOnce"], "storageClassName": params["class"],
            "storage": params["claim_size"]}
    must_equal(f"Pod {ns}/renderer volume {volume.name}", found, want, same={"storage": same_quantity})


def test_claim_made_and_bound(k8s, params):
    """The ephemeral volume's claim exists, belongs to the Pod, and is bound"""
    ns = params["namespace"]
    pod, volume, _ = _ephemeral_spec(k8s, params)
    name = f"renderer-{volume.name}"
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, name, ns,
                   expected="the claim of the Pod's ephemeral volume")
    assert owned_by(pvc, pod), (f"PersistentVolumeClaim {ns}/{name} is not owned by Pod renderer; "
                                "expected the claim the ephemeral volume made")
    phase = pvc.status.phase if pvc.status else None
    assert phase == "Bound", f"PersistentVolumeClaim {ns}/{name} is {show(phase)}; expected Bound"


def test_pod_running(k8s, params):
    """Pod renderer runs render and upload (busybox:1.36, sleep 3600) and is Running"""
    ns = params["namespace"]
    pod = _pod(k8s, ns)
    names = [c.name for c in pod.spec.containers or []]
    assert sorted(names) == ["render", "upload"], (
        f"Pod {ns}/renderer has containers {show(names)}; expected render and upload")
    for c in pod.spec.containers:
        assert same_image(c.image, "busybox:1.36") and same_command(c, "sleep 3600"), (
            f"Pod {ns}/renderer container {c.name} runs {show(c.image)} with {show(c.command)} "
            f"{show(c.args)}; expected busybox:1.36 with sleep 3600")
    phase = pod.status.phase if pod.status else None
    assert phase == "Running", f"Pod {ns}/renderer is {show(phase)}; expected Running"
