"""Checks for pod-security-context: effective security settings of Pod hardened."""

import pytest

from grader.checks import (command_line, mount_paths, must_container, must_get, same_command, same_image,
                           show)


def _pod(k8s, params):
    return must_get(k8s.core.read_namespaced_pod, "hardened", params["namespace"])


def _app(k8s, params):
    pod = _pod(k8s, params)
    return pod, must_container(pod, "app")


def test_pod_running(k8s, params):
    """Pod hardened runs container app, busybox:1.36 with the command sleep 3600, and is Running"""
    pod, c = _app(k8s, params)
    assert same_image(c.image, "busybox:1.36"), (
        f"container app uses image {show(c.image)}; expected busybox:1.36")
    ran = show(command_line(c)) if command_line(c) else "the image's default command"
    assert same_command(c, "sleep 3600"), f"container app runs {ran}; expected the command sleep 3600"
    assert pod.status.phase == "Running", f"Pod hardened is {pod.status.phase}; expected Running"


@pytest.mark.points(2)
def test_run_as_user(k8s, params):
    """The container runs as the required user ID"""
    pod, c = _app(k8s, params)
    want = int(params["uid"])
    pod_sc = pod.spec.security_context
    c_sc = c.security_context
    found = c_sc.run_as_user if c_sc and c_sc.run_as_user is not None else (
        pod_sc.run_as_user if pod_sc else None)
    assert found == want, f"container app runs as user {found}; expected {want}"


def test_fs_group(k8s, params):
    """Volumes are owned by the required filesystem group"""
    pod = _pod(k8s, params)
    want = int(params["gid"])
    sc = pod.spec.security_context
    found = sc.fs_group if sc else None
    assert found == want, f"Pod hardened has fsGroup {found}; expected {want}"


def test_no_privilege_escalation(k8s, params):
    """The container cannot escalate privileges"""
    _, c = _app(k8s, params)
    found = c.security_context.allow_privilege_escalation if c.security_context else None
    assert found is False, f"container app has allowPrivilegeEscalation {found}; expected false"


def test_read_only_root(k8s, params):
    """The container's root filesystem is read-only"""
    _, c = _app(k8s, params)
    found = c.security_context.read_only_root_filesystem if c.security_context else None
    assert found is True, f"container app has readOnlyRootFilesystem {found}; expected true"


def test_tmp_emptydir(k8s, params):
    """An emptyDir volume named tmp is mounted at /tmp"""
    pod, c = _app(k8s, params)
    mounts = mount_paths(c)
    assert "/tmp" in mounts, (
        f"container app mounts {show(sorted(mounts)) if mounts else 'nothing'}; expected a volume at /tmp")
    vols = {v.name: v for v in pod.spec.volumes or []}
    vol = vols.get(mounts["/tmp"])
    assert vol is not None and vol.empty_dir is not None, (
        f"/tmp is mounted from volume {show(mounts['/tmp'])}, which is not an emptyDir; expected emptyDir")
    assert mounts["/tmp"] == "tmp", f"the volume at /tmp is named {show(mounts['/tmp'])}; expected tmp"
