import pytest

from grader.checks import must_equal, must_get, show


def _config(k8s, params):
    """ConfigMap app-config, or a failed check that says it is missing."""
    return must_get(k8s.core.read_namespaced_config_map, "app-config", params["namespace"])


@pytest.mark.points(2)
def test_mode_is_production(k8s, params):
    """ConfigMap app-config says mode: production."""
    mode = (_config(k8s, params).data or {}).get("mode")
    assert mode == "production", \
        f"ConfigMap {params['namespace']}/app-config has mode={show(mode)}; expected 'production'"


def test_labelled_backend(k8s, params):
    """ConfigMap app-config is labelled tier=backend."""
    tier = (_config(k8s, params).metadata.labels or {}).get("tier")
    assert tier == "backend", \
        f"ConfigMap {params['namespace']}/app-config has tier={show(tier)}; expected 'backend'"


def test_other_keys_kept(k8s, params):
    """The other settings of app-config are kept (log_level: info)."""
    data = _config(k8s, params).data or {}
    must_equal(f"ConfigMap {params['namespace']}/app-config", data,
               {"log_level": "info", "mode": "production"})
