"""Checks for crashloop-command: Deployment web runs nginx:1.22 without crashing."""

import pytest

IMAGE = "nginx:1.22"


def _image(name: str) -> str:
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _ready(pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _deployment(k8s, params):
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "web", ns)
    assert dep is not None, f"Deployment {ns}/web not found; expected it fixed, not removed"
    return dep


def _pods(k8s, params, dep):
    """The Deployment's current Pods (not those on their way out)."""
    ns = params["namespace"]
    sel = ",".join(f"{k}={v}" for k, v in (dep.spec.selector.match_labels or {}).items())
    return [p for p in k8s.core.list_namespaced_pod(ns, label_selector=sel).items
            if p.metadata.deletion_timestamp is None and p.status.phase not in ("Succeeded", "Failed")]


@pytest.mark.points(2)
def test_deployment_available(k8s, params):
    """Deployment web has all its replicas ready, still with image nginx:1.22"""
    ns, want = params["namespace"], params["replicas"]
    dep = _deployment(k8s, params)
    images = [_image(c.image) for c in dep.spec.template.spec.containers]
    assert images == [IMAGE], f"Deployment web runs images {images}; expected [{IMAGE!r}]"
    st = dep.status
    ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
    assert dep.spec.replicas == want, (
        f"Deployment {ns}/web has {dep.spec.replicas} replicas; expected {want}, as before")
    assert ready == want and updated == want and not st.unavailable_replicas, (
        f"Deployment {ns}/web has {ready} of {want} replicas ready ({updated} up to date, "
        f"{st.unavailable_replicas or 0} unavailable); expected all {want} ready")


def test_pods_not_restarting(k8s, params):
    """The Pods of web are running and ready and have never restarted"""
    want = params["replicas"]
    pods = _pods(k8s, params, _deployment(k8s, params))
    restarts = {p.metadata.name: sum(c.restart_count for c in p.status.container_statuses or [])
                for p in pods}
    unready = sorted(p.metadata.name for p in pods if not _ready(p))
    crashing = sorted(f"{n} ({r} restarts)" for n, r in restarts.items() if r)
    assert pods, "Deployment web has no Pods; expected its replicas running"
    assert not crashing, f"Pods of web have restarted: {', '.join(crashing)}; expected 0 restarts"
    assert not unready and len(pods) == want, (
        f"{len(pods) - len(unready)} of {len(pods)} Pods of web are ready "
        f"(not ready: {', '.join(unready) or 'none'}); expected {want} ready Pods")


@pytest.mark.timeout(20)
def test_pods_serve_http(k8s, nodes, params):
    """Every Pod of web answers HTTP on port 80"""
    pods = [p for p in _pods(k8s, params, _deployment(k8s, params)) if p.status.pod_ip]
    assert pods, "no Pod of web has an IP address; expected running Pods serving port 80"
    bad = []
    for p in pods:
        host = nodes.get(p.spec.node_name) or nodes["controlplane"]
        res = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -m 3 http://{p.status.pod_ip}:80/")
        code = res.stdout.strip()
        if code != "200":
            code = "no answer" if code in ("", "000") else f"HTTP {code}"
            bad.append(f"{p.metadata.name}: {code}")
    assert not bad, f"Pods of web do not serve HTTP on port 80 ({', '.join(bad)}); expected 200 OK"
