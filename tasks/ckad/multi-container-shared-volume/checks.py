"""Checks for multi-container-shared-volume: two containers, one emptyDir between them."""

import pytest

from grader.checks import command_line, mounted, must_get, show


def _pod_and_containers(k8s, params):
    """Pod log-pipeline and its containers app and shipper: regular containers
    plus native sidecars (init containers that keep running)."""
    pod = must_get(k8s.core.read_namespaced_pod, "log-pipeline", params["namespace"])
    found = {c.name: c for c in pod.spec.containers}
    for c in pod.spec.init_containers or []:
        if c.restart_policy == "Always":
            found.setdefault(c.name, c)
    assert {"app", "shipper"} <= set(found), (
        f"Pod log-pipeline has containers {show(sorted(found))}; expected app and shipper")
    return pod, found


@pytest.mark.points(2)
def test_containers(k8s, params):
    """Pod log-pipeline has containers app and shipper running busybox:1.36 with the given commands"""
    _, cs = _pod_and_containers(k8s, params)
    for name, needle in (("app", "/var/log/app/app.log"), ("shipper", "/logs/app.log")):
        c = cs[name]
        assert c.image == "busybox:1.36", f"container {name} uses image {show(c.image)}; expected busybox:1.36"
        assert needle in command_line(c), (
            f"container {name} runs {show(command_line(c))}; expected the command from the table")


@pytest.mark.points(2)
def test_shared_volume(k8s, params):
    """Both containers mount the same emptyDir volume logs, shipper read-only"""
    pod, cs = _pod_and_containers(k8s, params)
    vols = {v.name: v for v in pod.spec.volumes or []}
    logs = vols.get("logs")
    assert logs is not None and logs.empty_dir is not None, (
        f"Pod log-pipeline has volumes {show(sorted(vols))}; expected an emptyDir named logs")
    a, _ = mounted(pod, cs["app"], "/var/log/app")
    s, _ = mounted(pod, cs["shipper"], "/logs")
    assert a is not None and a.name == "logs", (
        f"container app mounts {show(a.name) if a else 'nothing'} at /var/log/app; expected volume logs")
    assert s is not None and s.name == "logs", (
        f"container shipper mounts {show(s.name) if s else 'nothing'} at /logs; expected volume logs")
    assert s.read_only is True, "container shipper mounts /logs read-write; expected read-only"


def test_running(k8s, params):
    """Pod log-pipeline is Running with both containers ready"""
    pod = must_get(k8s.core.read_namespaced_pod, "log-pipeline", params["namespace"])
    statuses = {s.name: s for s in (pod.status.container_statuses or [])
                + (pod.status.init_container_statuses or [])}
    not_ready = [n for n in ("app", "shipper") if not (statuses.get(n) and statuses[n].ready)]
    assert pod.status.phase == "Running" and not not_ready, (
        f"Pod log-pipeline is {pod.status.phase} with {', '.join(not_ready) or 'no'} container(s) "
        "not ready; expected Running with app and shipper ready")
