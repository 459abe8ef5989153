"""Checks for configmap-secret-env-volume: objects' data and how Pod app consumes them."""

import base64

import pytest


def _pod_container(k8s, params):
    ns = params["namespace"]
    pod = k8s.get(k8s.core.read_namespaced_pod, "app", ns)
    assert pod is not None, f"Pod {ns}/app not found; expected it to exist"
    for c in pod.spec.containers:
        if c.name == "app":
            return pod, c
    raise AssertionError(f"Pod app has containers {[c.name for c in pod.spec.containers]}; "
                         "expected one named app")


def _env_source(k8s, ns, container, var):
    """Where env var `var` comes from: ("configmap"|"secret", name, key), ("value", v) or None.

    Later entries win, and `env` wins over `envFrom`, as the kubelet resolves them.
    """
    for e in reversed(container.env or []):
        if e.name == var:
            if e.value_from and e.value_from.config_map_key_ref:
                r = e.value_from.config_map_key_ref
                return ("configmap", r.name, r.key)
            if e.value_from and e.value_from.secret_key_ref:
                r = e.value_from.secret_key_ref
                return ("secret", r.name, r.key)
            return ("value", e.value)
    for src in reversed(container.env_from or []):
        prefix = src.prefix or ""
        if not var.startswith(prefix):
            continue
        key = var[len(prefix):]
        if src.config_map_ref:
            cm = k8s.get(k8s.core.read_namespaced_config_map, src.config_map_ref.name, ns)
            if cm and key in (cm.data or {}):
                return ("configmap", src.config_map_ref.name, key)
        if src.secret_ref:
            sec = k8s.get(k8s.core.read_namespaced_secret, src.secret_ref.name, ns)
            if sec and key in (sec.data or {}):
                return ("secret", src.secret_ref.name, key)
    return None


def _mounted(pod, container, path):
    """The volume mounted at `path` (trailing slash ignored), or None."""
    for m in container.volume_mounts or []:
        if m.mount_path.rstrip("/") == path:
            for v in pod.spec.volumes or []:
                if v.name == m.name:
                    return v
    return None


def _projects(volume, kind, name):
    if volume is None:
        return False
    if kind == "configmap" and volume.config_map is not None:
        return volume.config_map.name == name
    if kind == "secret" and volume.secret is not None:
        return volume.secret.secret_name == name
    if volume.projected is not None:
        for s in volume.projected.sources or []:
            if kind == "configmap" and s.config_map is not None and s.config_map.name == name:
                return True
            if kind == "secret" and s.secret is not None and s.secret.name == name:
                return True
    return False


def test_configmap(k8s, params):
    """ConfigMap app-config holds APP_ENV=production and the required LOG_LEVEL"""
    ns = params["namespace"]
    cm = k8s.get(k8s.core.read_namespaced_config_map, "app-config", ns)
    assert cm is not None, f"ConfigMap {ns}/app-config not found; expected it to exist"
    data = cm.data or {}
    want = {"APP_ENV": "production", "LOG_LEVEL": params["log_level"]}
    found = {k: data.get(k) for k in want}
    assert found == want, f"ConfigMap app-config has {found}; expected {want}"


def test_secret(k8s, params):
    """Secret db-credentials holds username=app and the required password"""
    ns = params["namespace"]
    sec = k8s.get(k8s.core.read_namespaced_secret, "db-credentials", ns)
    assert sec is not None, f"Secret {ns}/db-credentials not found; expected it to exist"
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (sec.data or {}).items()}
    assert data.get("username") == "app", (
        f"Secret db-credentials has username={data.get('username')!r}; expected 'app'")
    assert data.get("password") == params["password"], (
        "Secret db-credentials has a different password from the one required")


def test_env_from_configmap(k8s, params):
    """LOG_LEVEL in container app comes from the ConfigMap entry LOG_LEVEL"""
    pod, c = _pod_container(k8s, params)
    found = _env_source(k8s, params["namespace"], c, "LOG_LEVEL")
    assert found == ("configmap", "app-config", "LOG_LEVEL"), (
        f"LOG_LEVEL comes from {found}; expected ConfigMap app-config entry LOG_LEVEL")


@pytest.mark.points(2)
def test_env_from_secret(k8s, params):
    """DB_USER and DB_PASSWORD come from the Secret entries username and password"""
    pod, c = _pod_container(k8s, params)
    ns = params["namespace"]
    for var, key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
        found = _env_source(k8s, ns, c, var)
        assert found == ("secret", "db-credentials", key), (
            f"{var} comes from {found}; expected Secret db-credentials entry {key}")


def test_configmap_volume(k8s, params):
    """ConfigMap app-config is mounted as files under /etc/app-config"""
    pod, c = _pod_container(k8s, params)
    vol = _mounted(pod, c, "/etc/app-config")
    assert vol is not None, "nothing is mounted at /etc/app-config in container app"
    assert _projects(vol, "configmap", "app-config"), (
        f"/etc/app-config is mounted from volume {vol.name}, which is not ConfigMap app-config")


def test_secret_volume(k8s, params):
    """Secret db-credentials is mounted as files under /etc/db"""
    pod, c = _pod_container(k8s, params)
    vol = _mounted(pod, c, "/etc/db")
    assert vol is not None, "nothing is mounted at /etc/db in container app"
    assert _projects(vol, "secret", "db-credentials"), (
        f"/etc/db is mounted from volume {vol.name}, which is not Secret db-credentials")


def test_pod_running(k8s, params):
    """Pod app runs image nginx:1.27 and is Running"""
    pod, c = _pod_container(k8s, params)
    assert c.image == "nginx:1.27", f"container app uses image {c.image}; expected nginx:1.27"
    assert pod.status.phase == "Running", f"Pod app is {pod.status.phase}; expected Running"
