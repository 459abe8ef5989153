"""Checks for crashloop-command: Deployment web runs nginx:1.22 without crashing."""

import pytest

from grader.checks import is_ready, must_be_ready, must_get, pods_of, same_image, show

IMAGE = "nginx:1.22"


def _deployment(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "web", params["namespace"],
                    expected="it fixed, not removed")


def _pods(k8s, params):
    """The Deployment's current Pods (not those on their way out, nor finished ones)."""
    return [p for p in pods_of(k8s, _deployment(k8s, params))
            if p.status.phase not in ("Succeeded", "Failed")]


@pytest.mark.points(2)
def test_deployment_available(k8s, params):
    """Deployment web has all its replicas ready, still with image nginx:1.22"""
    ns, want = params["namespace"], params["replicas"]
    dep = _deployment(k8s, params)
    images = [c.image for c in dep.spec.template.spec.containers]
    assert len(images) == 1 and same_image(images[0], IMAGE), (
        f"Deployment web runs images {show(images)}; expected [{IMAGE!r}]")
    assert dep.spec.replicas == want, (
        f"Deployment {ns}/web has {dep.spec.replicas} replicas; expected {want}, as before")
    must_be_ready(dep)


def test_pods_not_restarting(k8s, params):
    """The Pods of web are running and ready and have never restarted"""
    want = params["replicas"]
    pods = _pods(k8s, params)
    restarts = {p.metadata.name: sum(c.restart_count or 0 for c in p.status.container_statuses or [])
                for p in pods}
    unready = sorted(p.metadata.name for p in pods if not is_ready(p))
    crashing = sorted(f"{n} ({r} restarts)" for n, r in restarts.items() if r)
    assert pods, "Deployment web has no Pods; expected its replicas running"
    assert not crashing, f"Pods of web have restarted: {', '.join(crashing)}; expected 0 restarts"
    assert not unready and len(pods) == want, (
        f"{len(pods) - len(unready)} of {len(pods)} Pods of web are ready "
        f"(not ready: {', '.join(unready) or 'none'}); expected {want} ready Pods")


@pytest.mark.timeout(20)
def test_pods_serve_http(k8s, nodes, params):
    """Every Pod of web answers HTTP on port 80"""
    pods = [p for p in _pods(k8s, params) if p.status.pod_ip]
    assert pods, "no Pod of web has an IP address; expected running Pods serving port 80"
    bad = []
    for p in pods:
        host = nodes.get(p.spec.node_name) or nodes["controlplane"]
        res = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -m 3 http://{p.status.pod_ip}:80/")
        code = res.stdout.strip()
        if code != "200":
            code = "no answer" if code in ("", "000") else f"HTTP {show(code)}"
            bad.append(f"{p.metadata.name}: {code}")
    assert not bad, f"Pods of web do not serve HTTP on port 80 ({', '.join(bad)}); expected 200 OK"
