import pytest


def _config(k8s, ns):
    return k8s.get(k8s.core.read_namespaced_config_map, "app-config", ns)


@pytest.mark.points(2)
def test_mode_is_production(k8s, params):
    """ConfigMap app-config says mode: production."""
    ns = params["namespace"]
    cm = _config(k8s, ns)
    assert cm is not None, f"ConfigMap {ns}/app-config not found; expected it to exist"
    mode = (cm.data or {}).get("mode")
    assert mode == "production", f"ConfigMap {ns}/app-config has mode={mode!r}; expected 'production'"


def test_labelled_backend(k8s, params):
    """ConfigMap app-config is labelled tier=backend."""
    ns = params["namespace"]
    cm = _config(k8s, ns)
    assert cm is not None, f"ConfigMap {ns}/app-config not found; expected it to exist"
    tier = (cm.metadata.labels or {}).get("tier")
    assert tier == "backend", f"ConfigMap {ns}/app-config has tier={tier!r}; expected 'backend'"


def test_other_keys_kept(k8s, params):
    """The other settings of app-config are kept (log_level: info)."""
    ns = params["namespace"]
    cm = _config(k8s, ns)
    assert cm is not None, f"ConfigMap {ns}/app-config not found; expected it to exist"
    data = cm.data or {}
    assert data.get("log_level") == "info" and data.get("mode") == "production", \
        f"ConfigMap {ns}/app-config has {data}; expected log_level=info kept beside mode=production"
