"""Checks for init-container: init container fetch of Deployment site, and the rollout."""

import pytest

from grader.checks import (command_line, is_ready, mount_paths, must_container, must_get, pods_of,
                           same_command, same_image, show)


def _deploy(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "site", params["namespace"],
                    expected="it to still exist")


@pytest.mark.points(2)
def test_init_container(k8s, params):
    """Init container fetch runs busybox:1.36 with the download command and finishes before nginx"""
    dep = _deploy(k8s, params)
    spec = dep.spec.template.spec
    c = must_container(dep, "fetch", init=True)
    assert same_image(c.image, "busybox:1.36"), f"init container fetch runs {show(c.image)}; expected busybox:1.36"
    # kwok runs no container, so the command is judged by its words: a wget that
    # saves to a file (no -O-) would leave tar an empty pipe on a real node.
    url = params["url"]
    wanted = (f"wget -O- {url} | tar -x -C /work", f"wget -O - {url} | tar -x -C /work")
    assert any(same_command(c, w) for w in wanted), (
        f"init container fetch runs {show(command_line(c))}; expected sh -c 'wget -O- {url} | tar -x -C /work'")
    assert c.restart_policy != "Always", (
        "fetch is a sidecar (restartPolicy Always), which nginx does not wait for; expected a plain init container")
    names = [x.name for x in spec.containers or []]
    assert "fetch" not in names, "fetch is also an app container; expected it only as an init container"


def test_shared_volume(k8s, params):
    """fetch mounts volume html at /work; nginx is unchanged (nginx:1.27, port 80, html at /usr/share/nginx/html)"""
    dep = _deploy(k8s, params)
    spec = dep.spec.template.spec
    at = mount_paths(must_container(dep, "fetch", init=True))
    assert at.get("/work") == "html", f"fetch mounts {show(at) if at else 'nothing'}; expected volume html at /work"
    nginx = next((x for x in spec.containers or [] if x.name == "nginx"), None)
    assert nginx is not None and same_image(nginx.image, "nginx:1.27"), (
        f"Deployment site has containers {show([x.name for x in spec.containers or []])}"
        + (f", nginx with image {show(nginx.image)}" if nginx else "")
        + "; expected container nginx with image nginx:1.27 kept as it was")
    ports = sorted((p.container_port, p.protocol or "TCP") for p in nginx.ports or [])
    assert ports == [(80, "TCP")], (
        f"container nginx has ports {show([f'{n}/{proto}' for n, proto in ports]) if ports else 'none'}; "
        "expected containerPort 80 kept as it was")
    n_at = mount_paths(nginx)
    assert n_at.get("/usr/share/nginx/html") == "html", (
        f"nginx mounts {show(n_at) if n_at else 'nothing'}; expected volume html at /usr/share/nginx/html unchanged")
    vols = {v.name: v for v in spec.volumes or []}
    assert "html" in vols and vols["html"].empty_dir is not None, "volume html is no longer an emptyDir"


def test_rolled_out(k8s, params):
    """Both replicas run the template with the init container and are ready"""
    dep = _deploy(k8s, params)
    pods = pods_of(k8s, dep)
    with_init = [p for p in pods if is_ready(p)
                 and any(c.name == "fetch" for c in p.spec.init_containers or [])]
    assert len(with_init) == 2 == len(pods) and (dep.status.updated_replicas or 0) == 2, (
        f"{len(with_init)} of {len(pods)} site Pods are ready with init container fetch; expected 2 of 2")
