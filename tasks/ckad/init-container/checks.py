"""Checks for init-container: init container fetch of Deployment site, and the rollout."""

import pytest


def _deploy(k8s, params):
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "site", ns)
    assert dep is not None, f"Deployment {ns}/site not found; expected it to still exist"
    return dep


def _fetch(spec):
    for c in spec.init_containers or []:
        if c.name == "fetch":
            return c
    names = [c.name for c in spec.init_containers or []]
    raise AssertionError(f"Deployment site has init containers {names or 'none'}; expected one named fetch")


@pytest.mark.points(2)
def test_init_container(k8s, params):
    """Init container fetch runs busybox:1.36 with the download command and finishes before nginx"""
    spec = _deploy(k8s, params).spec.template.spec
    c = _fetch(spec)
    assert c.image == "busybox:1.36", f"init container fetch runs {c.image}; expected busybox:1.36"
    cmd = " ".join((c.command or []) + (c.args or []))
    assert params["url"] in cmd and "tar" in cmd and "/work" in cmd, (
        f"init container fetch runs '{cmd}'; expected the wget | tar command from the task")
    assert c.restart_policy != "Always", (
        "fetch is a sidecar (restartPolicy Always), which nginx does not wait for; expected a plain init container")
    names = [x.name for x in spec.containers]
    assert "fetch" not in names, "fetch is also an app container; expected it only as an init container"


def test_shared_volume(k8s, params):
    """fetch mounts volume html at /work; nginx still mounts it at /usr/share/nginx/html"""
    spec = _deploy(k8s, params).spec.template.spec
    c = _fetch(spec)
    at = {m.mount_path.rstrip("/"): m.name for m in c.volume_mounts or []}
    assert at.get("/work") == "html", f"fetch mounts {at or 'nothing'}; expected volume html at /work"
    nginx = next((x for x in spec.containers if x.name == "nginx"), None)
    assert nginx is not None and nginx.image == "nginx:1.27", "container nginx (nginx:1.27) must stay"
    n_at = {m.mount_path.rstrip("/"): m.name for m in nginx.volume_mounts or []}
    assert n_at.get("/usr/share/nginx/html") == "html", (
        f"nginx mounts {n_at or 'nothing'}; expected volume html at /usr/share/nginx/html unchanged")
    vols = {v.name: v for v in spec.volumes or []}
    assert "html" in vols and vols["html"].empty_dir is not None, "volume html is no longer an emptyDir"


def test_rolled_out(k8s, params):
    """Both replicas run the template with the init container and are ready"""
    dep = _deploy(k8s, params)
    ns = params["namespace"]
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=site").items
            if p.metadata.deletion_timestamp is None]
    with_init = [p for p in pods if any(c.name == "fetch" for c in p.spec.init_containers or [])
                 and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(with_init) == 2 == len(pods) and (dep.status.updated_replicas or 0) == 2, (
        f"{len(with_init)} of {len(pods)} site Pods are ready with init container fetch; expected 2 of 2")
