"""Checks for sidecar-log-tail: a sidecar of Deployment checkout streams the log file
of container app, shared through an emptyDir, to its own output."""

import posixpath

import pytest

from grader.checks import (command_line, eventually, must_be_ready, must_container, must_get,
                           owned_by, pod_spec, pods_of, replica_sets_of, same_image, show)

IMAGE = "busybox:1.35"
LOG_BYTES = 256 * 1024


def _deployment(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "checkout", params["namespace"],
                    expected="it to still exist")


def _sidecar(obj, name, what="the Pod template of checkout"):
    """The container ``name`` of a Pod or template: a regular container or a native
    sidecar (an init container with restartPolicy Always); a failed check otherwise."""
    spec = pod_spec(obj)
    for c in spec.containers or []:
        if c.name == name:
            return c
    for c in spec.init_containers or []:
        if c.name == name:
            assert c.restart_policy == "Always", (
                f"{name} is a plain init container, which must finish before app starts; "
                "expected a regular container or a sidecar (restartPolicy: Always)")
            return c
    names = [c.name for c in (spec.containers or []) + (spec.init_containers or [])]
    raise AssertionError(f"{what} has containers {show(names)}; "
                         f"expected one named {name}")


def _shared_volume(dep, params):
    """The name of the emptyDir volume that app writes its log into and the sidecar mounts."""
    logfile = posixpath.join(params["logdir"], "app.log")
    app, side = must_container(dep, "app"), _sidecar(dep, params["sidecar"])
    under = [m for m in app.volume_mounts or []
             if logfile.startswith((m.mount_path or "").rstrip("/") + "/")]
    assert under, (f"container app mounts no volume where it writes {logfile}; expected an "
                   "emptyDir there, shared with the sidecar")
    vol = max(under, key=lambda m: len(m.mount_path)).name  # the innermost mount holds the file
    volumes = {v.name: v for v in pod_spec(dep).volumes or []}
    assert vol in volumes and volumes[vol].empty_dir is not None, (
        f"container app writes {logfile} into volume {show(vol)}, which is not an emptyDir; "
        "expected an emptyDir volume")
    mounts = sorted(m.name for m in side.volume_mounts or [])
    assert vol in mounts, (f"container {params['sidecar']} mounts {show(mounts) if mounts else 'no volume'}; "
                           f"expected volume {vol}, where app writes its log")
    return vol


def _current_pods(k8s, dep) -> list:
    """The live Pods of the Deployment's current template (its newest ReplicaSet): while
    a rollout is stuck, the ready Pods of an older template say nothing of the new one."""
    revision = (dep.metadata.annotations or {}).get("deployment.kubernetes.io/revision")
    current = [rs for rs in replica_sets_of(k8s, dep)
               if (rs.metadata.annotations or {}).get("deployment.kubernetes.io/revision") == revision]
    return [p for p in pods_of(k8s, dep) if any(owned_by(p, rs) for rs in current)]


def _state(pod, name):
    """The state of container ``name`` (regular, or init as a native sidecar) of a Pod, or None."""
    st = pod.status
    statuses = (st.container_statuses or []) + (st.init_container_statuses or []) if st else []
    return next((s.state for s in statuses if s.name == name), None)


def _state_text(state) -> str:
    if state is None:
        return "not started"
    if state.waiting is not None:
        return f"waiting: {show(state.waiting.reason)}"
    if state.terminated is not None:
        return f"exited {state.terminated.exit_code}: {show(state.terminated.reason)}"
    return "running"


def test_sidecar_shares_log(k8s, params):
    """Container app is unchanged and shares its log file with the sidecar through an emptyDir volume"""
    dep = _deployment(k8s, params)
    app = must_container(dep, "app")
    assert same_image(app.image, IMAGE) and "app.log" in command_line(app), (
        f"container app runs {show(app.image)} {show(command_line(app))}; expected its image "
        "and command unchanged")
    side = _sidecar(dep, params["sidecar"])
    assert same_image(side.image, IMAGE), (
        f"container {params['sidecar']} uses image {show(side.image)}; expected {IMAGE}")
    _shared_volume(dep, params)


def test_rolled_out(k8s, params):
    """Both replicas of checkout run the new Pod template, with the sidecar running"""
    name = params["sidecar"]
    dep = _deployment(k8s, params)
    must_be_ready(dep, replicas=2)
    pods = pods_of(k8s, dep)
    without = [p.metadata.name for p in pods
               if (state := _state(p, name)) is None or state.running is None]
    assert not without, (f"Pods {', '.join(without)} of checkout have no running container {name}; "
                         "expected it running in every Pod")


@pytest.mark.points(3)
@pytest.mark.timeout(30)
def test_sidecar_streams(k8s, kubectl, params):
    """The logs of the sidecar in every Pod show the application's log lines as they are written"""
    ns, name = params["namespace"], params["sidecar"]
    logfile = posixpath.join(params["logdir"], "app.log")
    dep = _deployment(k8s, params)
    pods = _current_pods(k8s, dep)
    assert pods, "Deployment checkout has no Pod of its current template; expected 2 with the sidecar"
    for p in pods:
        _sidecar(p, name, what=f"Pod {p.metadata.name}")
        state = _state(p, name)
        assert state is not None and state.running is not None, (
            f"container {name} of Pod {p.metadata.name} is not running ({_state_text(state)}); "
            "expected it to keep streaming the file")
        res = kubectl("exec", "-n", ns, p.metadata.name, "-c", "app", "--",
                      "tail", "-n", "1", logfile, check=False, timeout=8)
        written = res.strip().splitlines()[-1:] if res.returncode == 0 else []
        assert written, (f"the log file {logfile} of container app in Pod {p.metadata.name} "
                         "cannot be read or is empty; expected the application writing it")
        line = written[0]

        def shown():
            log = k8s.core.read_namespaced_pod_log(p.metadata.name, ns, container=name,
                                                   limit_bytes=LOG_BYTES, tail_lines=200)
            lines = [x.strip() for x in log.splitlines()]
            assert line.strip() in lines, (
                f"the logs of container {name} in Pod {p.metadata.name} end with "
                f"{show(lines[-2:]) if lines else 'nothing'}; expected the line app just wrote, "
                f"{show(line)}")
        eventually(shown, timeout=8)
