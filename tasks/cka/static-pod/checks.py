"""Checks for static-pod: a manifest in node01's static Pod directory and its mirror Pod."""

import pytest
import yaml

from grader.checks import is_ready, must_get, same_image, show

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"


def _static_dir(host) -> str:
    try:
        cfg = yaml.safe_load(host.file(KUBELET_CONFIG).content_string) or {}
    except yaml.YAMLError:
        cfg = {}
    cfg = cfg if isinstance(cfg, dict) else {}
    path = cfg.get("staticPodPath")
    return (path if isinstance(path, str) and path else "/etc/kubernetes/manifests").rstrip("/")


def test_manifest_on_node01(nodes, params):
    """The manifest <name>.yaml is in node01's static Pod directory and defines the Pod"""
    name = params["name"]
    host = nodes["node01"]
    path = f"{_static_dir(host)}/{name}.yaml"
    f = host.file(path)
    assert f.exists, f"{path} does not exist on node01; expected the static Pod's manifest there"
    try:
        docs = [d for d in yaml.safe_load_all(f.content_string) if d]
    except yaml.YAMLError as exc:
        pytest.fail(f"{path} on node01 is not valid YAML ({str(exc).splitlines()[0]}); "
                    f"expected a Pod manifest")
    pods = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Pod"]
    found = [(d.get("metadata") or {}).get("name") for d in pods]
    assert name in found, (f"{path} on node01 defines Pods {show(found) if found else 'none'}; "
                           f"expected a Pod named {name}")


@pytest.mark.points(2)
def test_mirror_pod_running(k8s, params):
    """The kubelet runs the static Pod: <name>-node01 is running and ready with the requested image"""
    name, want = params["name"], params["image"]
    mirror = f"{name}-node01"
    pod = must_get(k8s.core.read_namespaced_pod, mirror, "default",
                   expected=f"the mirror Pod of a static Pod {name} on node01")
    annotations = pod.metadata.annotations or {}
    assert "kubernetes.io/config.mirror" in annotations and pod.spec.node_name == "node01", (
        f"Pod default/{mirror} is an ordinary Pod on {pod.spec.node_name}; expected a static Pod "
        f"started by node01's kubelet")
    images = [c.image for c in pod.spec.containers]
    assert len(images) == 1 and same_image(images[0], want), (
        f"Pod {mirror} runs images {show(images)}; expected exactly [{want!r}]")
    ready = is_ready(pod)
    assert pod.status.phase == "Running" and ready, (
        f"Pod {mirror} is {pod.status.phase}{'' if ready else ', not ready'}; expected it running "
        f"and ready")
