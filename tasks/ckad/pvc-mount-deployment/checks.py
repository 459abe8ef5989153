"""Checks for pvc-mount-deployment: the claim and its binding, each container's
mount of it (read-only as the API applies it: on the mount, or on the volume
for every mount of it), and the same Deployment rolled out with nothing else
changed."""

import pytest

from grader.checks import (mounted, must_be_original, must_be_ready, must_container, must_equal,
                           must_get, same_image, same_quantity, show)

CLAIM = "reports-data"
VIEWER_PATH = "/usr/share/nginx/html"
WRITER_COMMAND = ["sh", "-c", "while true; do date > /tmp/index.html; sleep 30; done"]


def _reports(k8s, ns):
    return must_get(k8s.apps.read_namespaced_deployment, "reports", ns, expected="it to still exist")


def _claim_mount(dep, container, path):
    """(mount, read-only as applied) of the claim at ``path`` in ``container``;
    a failed check when something else, or nothing, is mounted there."""
    ns = dep.metadata.namespace
    c = must_container(dep, container)
    mount, volume = mounted(dep, c, path)
    pvc = volume.persistent_volume_claim if volume is not None else None
    what = (f"volume {show(mount.name)}" if mount is not None else "nothing")
    assert pvc is not None and pvc.claim_name == CLAIM, (
        f"Deployment {ns}/reports mounts {what} at {path} in container {container}; "
        f"expected the PersistentVolumeClaim {CLAIM}")
    return mount, bool(mount.read_only) or bool(pvc.read_only)


@pytest.mark.points(2)
def test_claim_bound(k8s, params):
    """PersistentVolumeClaim reports-data requests the size and access mode from class shared, and is bound"""
    ns = params["namespace"]
    pvc = must_get(k8s.core.read_namespaced_persistent_volume_claim, CLAIM, ns)
    spec = pvc.spec
    found = {"storage": ((spec.resources.requests if spec.resources else None) or {}).get("storage"),
             "accessModes": spec.access_modes, "storageClassName": spec.storage_class_name}
    want = {"storage": params["size"], "accessModes": [params["mode"]], "storageClassName": "shared"}
    must_equal(f"PersistentVolumeClaim {ns}/{CLAIM}", found, want, same={"storage": same_quantity})
    phase = pvc.status.phase if pvc.status else None
    assert phase == "Bound", f"PersistentVolumeClaim {ns}/{CLAIM} is {show(phase)}; expected Bound"


@pytest.mark.points(2)
def test_writer_mount(k8s, params):
    """Container writer mounts reports-data at the path, writable"""
    ns, path = params["namespace"], params["path"]
    _, read_only = _claim_mount(_reports(k8s, ns), "writer", path)
    assert not read_only, (f"Deployment {ns}/reports mounts {CLAIM} read-only in container writer; "
                           "expected writable (readOnly on the volume applies to every mount of it)")


@pytest.mark.points(2)
def test_viewer_mount_read_only(k8s, params):
    """Container viewer mounts reports-data at /usr/share/nginx/html, read-only"""
    ns = params["namespace"]
    _, read_only = _claim_mount(_reports(k8s, ns), "viewer", VIEWER_PATH)
    assert read_only, (f"Deployment {ns}/reports mounts {CLAIM} writable in container viewer; "
                       "expected read-only")


def test_same_deployment_rolled_out(k8s, params):
    """Deployment reports, the original, rolled out with its containers otherwise unchanged"""
    ns = params["namespace"]
    dep = _reports(k8s, ns)
    must_be_original(k8s, dep, f"reports-{ns}-original")
    writer, viewer = must_container(dep, "writer"), must_container(dep, "viewer")
    names = [c.name for c in dep.spec.template.spec.containers or []]
    assert names == ["writer", "viewer"], (
        f"Deployment {ns}/reports has containers {show(names)}; expected writer and viewer only")
    assert same_image(writer.image, "busybox:1.36") and same_image(viewer.image, "nginx:1.27"), (
        f"Deployment {ns}/reports runs images {show([writer.image, viewer.image])}; "
        "expected busybox:1.36 and nginx:1.27 as before")
    assert list(writer.command or []) == WRITER_COMMAND and not writer.args, (
        f"Deployment {ns}/reports changed the command of container writer; expected it unchanged")
    _claim_mount(dep, "writer", params["path"])
    must_be_ready(dep, replicas=1)
