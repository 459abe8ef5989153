"""Checks for configmap-secret-env-volume: objects' data and how Pod app consumes them."""

import base64

import pytest

from grader.checks import mounted, must_container, must_get, show


def _pod_container(k8s, params):
    pod = must_get(k8s.core.read_namespaced_pod, "app", params["namespace"])
    return pod, must_container(pod, "app")


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


def _mounted_from(k8s, params, path, kind, name):
    """Fail unless container app mounts ConfigMap or Secret ``name`` at ``path``."""
    pod, c = _pod_container(k8s, params)
    _, vol = mounted(pod, c, path)
    assert vol is not None, f"nothing is mounted at {path} in container app"
    assert _projects(vol, kind, name), (
        f"{path} is mounted from volume {show(vol.name)}, which is not "
        f"{'ConfigMap' if kind == 'configmap' else 'Secret'} {name}")


def test_configmap(k8s, params):
    """ConfigMap app-config holds APP_ENV=production and the required LOG_LEVEL"""
    cm = must_get(k8s.core.read_namespaced_config_map, "app-config", params["namespace"])
    data = cm.data or {}
    want = {"APP_ENV": "production", "LOG_LEVEL": params["log_level"]}
    found = {k: data.get(k) for k in want}
    assert found == want, f"ConfigMap app-config has {show(found)}; expected {want}"


def test_secret(k8s, params):
    """Secret db-credentials, of type Opaque, holds username=app and the required password"""
    sec = must_get(k8s.core.read_namespaced_secret, "db-credentials", params["namespace"])
    assert sec.type == "Opaque", (
        f"Secret {params['namespace']}/db-credentials has type {show(sec.type)}; expected Opaque")
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (sec.data or {}).items()}
    assert data.get("username") == "app", (
        f"Secret db-credentials has username={show(data.get('username'))}; expected 'app'")
    assert data.get("password") == params["password"], (
        "Secret db-credentials has a different password from the one required")


def test_env_from_configmap(k8s, params):
    """LOG_LEVEL in container app comes from the ConfigMap entry LOG_LEVEL"""
    pod, c = _pod_container(k8s, params)
    found = _env_source(k8s, params["namespace"], c, "LOG_LEVEL")
    assert found == ("configmap", "app-config", "LOG_LEVEL"), (
        f"LOG_LEVEL comes from {show(found)}; expected ConfigMap app-config entry LOG_LEVEL")


@pytest.mark.points(2)
def test_env_from_secret(k8s, params):
    """DB_USER and DB_PASSWORD come from the Secret entries username and password"""
    pod, c = _pod_container(k8s, params)
    ns = params["namespace"]
    for var, key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
        found = _env_source(k8s, ns, c, var)
        assert found == ("secret", "db-credentials", key), (
            f"{var} comes from {show(found)}; expected Secret db-credentials entry {key}")


def test_configmap_volume(k8s, params):
    """ConfigMap app-config is mounted as files under /etc/app-config"""
    _mounted_from(k8s, params, "/etc/app-config", "configmap", "app-config")


def test_secret_volume(k8s, params):
    """Secret db-credentials is mounted as files under /etc/db"""
    _mounted_from(k8s, params, "/etc/db", "secret", "db-credentials")


def test_pod_running(k8s, params):
    """Pod app runs image nginx:1.27 and is Running"""
    pod, c = _pod_container(k8s, params)
    assert c.image == "nginx:1.27", f"container app uses image {show(c.image)}; expected nginx:1.27"
    assert pod.status.phase == "Running", f"Pod app is {pod.status.phase}; expected Running"
