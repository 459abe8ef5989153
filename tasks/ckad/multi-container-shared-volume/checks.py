"""Checks for multi-container-shared-volume: two containers, one emptyDir between them."""

import posixpath
import shlex

import pytest

from grader.checks import command_line, mounted, must_get, same_image, show

COMMANDS = {"app": "while true; do date >> /var/log/app/app.log; sleep 5; done",
            "shipper": "tail -F /logs/app.log"}


def _shell_words(script: str) -> list[str] | None:
    """The words and operators of a shell script, ``;`` and line breaks alike
    (both end a command), so a loop written over several lines is the same
    loop; None when it does not parse (unbalanced quotes)."""
    lex = shlex.shlex(script, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        return [w for w in lex if w != ";"]
    except ValueError:
        return None


def _runs(container, want: str) -> bool:
    """Whether ``container`` runs the shell command line ``want``, however
    written: ``sh -c SCRIPT`` (any path to sh or ash, split between command and
    args or not), or, for a plain command, its words (program by any path).
    kwok runs no container, so this is all that tells ``tail -F`` from ``tail -f``."""
    words = [str(w) for w in (container.command or []) + (container.args or [])]
    if len(words) == 3 and posixpath.basename(words[0]) in ("sh", "ash") and words[1] == "-c":
        found = _shell_words(words[2])
    else:
        found = _shell_words(shlex.join(words)) if words else None
    if found and found[0] == "exec":
        found = found[1:]
    if found:
        found = [posixpath.basename(found[0]), *found[1:]]
    return bool(found) and found == _shell_words(want)


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
    for name, want in COMMANDS.items():
        c = cs[name]
        assert same_image(c.image, "busybox:1.36"), (
            f"container {name} uses image {show(c.image)}; expected busybox:1.36")
        assert _runs(c, want), (
            f"container {name} runs {show(command_line(c))}; expected sh -c {show(want)} from the table")


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
