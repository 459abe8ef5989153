"""Checks for crashloop-missing-setting: Deployment orders runs its own application,
given the missing setting from ConfigMap orders-config, and its Pods stay up."""

import pytest

from grader.checks import (command_line, is_ready, must_be_ready, must_container, must_get,
                           pods_of, same_image, show)

IMAGE = "busybox:1.35"
# What the application's script says and does, as setup wrote it: a changed
# command or script is not the fix asked for.
SCRIPT_MARKS = ("for key in ORDERS_DB_HOST ORDERS_QUEUE_URL ORDERS_CACHE_ADDR",
                "FATAL config: required setting", "exit 2", "touch /tmp/ready")
LOG_BYTES = 256 * 1024


def _want(params) -> str:
    """The value of the missing setting in orders-config, as setup wrote it."""
    ns = params["namespace"]
    return {"ORDERS_DB_HOST": f"postgres.{ns}.svc.cluster.local:5432",
            "ORDERS_QUEUE_URL": f"amqp://rabbitmq.{ns}.svc.cluster.local:5672/orders",
            "ORDERS_CACHE_ADDR": f"redis.{ns}.svc.cluster.local:6379"}[params["setting"]]


def _deployment(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "orders", params["namespace"],
                    expected="it fixed, not removed")


def _pods(k8s, dep):
    """The Deployment's current Pods (not those on their way out, nor finished ones)."""
    return [p for p in pods_of(k8s, dep) if p.status and p.status.phase not in ("Succeeded", "Failed")]


@pytest.mark.points(2)
def test_replicas_ready(k8s, params):
    """All replicas of orders are running and ready, and none has restarted"""
    want = params["replicas"]
    dep = _deployment(k8s, params)
    must_be_ready(dep, replicas=want)
    pods = _pods(k8s, dep)
    restarts = {p.metadata.name: sum(c.restart_count or 0 for c in p.status.container_statuses or [])
                for p in pods}
    crashing = sorted(f"{name} ({n} restarts)" for name, n in restarts.items() if n)
    assert not crashing, f"Pods of orders have restarted: {', '.join(crashing)}; expected 0 restarts"
    unready = sorted(p.metadata.name for p in pods if not is_ready(p))
    assert len(pods) == want and not unready, (
        f"{len(pods) - len(unready)} of {len(pods)} Pods of orders are ready "
        f"(not ready: {', '.join(unready) or 'none'}); expected {want} ready Pods")


@pytest.mark.points(2)
def test_setting_from_configmap(k8s, params):
    """Container orders takes the missing setting from ConfigMap orders-config"""
    key = params["setting"]
    c = must_container(_deployment(k8s, params), "orders")
    entry = next((e for e in reversed(c.env or []) if e.name == key), None)  # the last one wins
    if entry is not None:  # an env entry overrides envFrom
        ref = entry.value_from.config_map_key_ref if entry.value_from else None
        where = (f"the literal value {show(entry.value)}" if entry.value_from is None else
                 f"ConfigMap {show(ref.name)}, key {show(ref.key)}" if ref else
                 "another source than a ConfigMap")
        assert ref is not None and ref.name == "orders-config" and ref.key == key, (
            f"container orders sets {key} from {where}; expected it from ConfigMap "
            f"orders-config, key {key}")
        return
    prefixes = [s.prefix or "" for s in c.env_from or []
                if s.config_map_ref is not None and s.config_map_ref.name == "orders-config"]
    found = (f"envFrom of orders-config with prefix {show(prefixes)}" if prefixes else
             "no env entry for it and no envFrom of orders-config")
    assert "" in prefixes, (f"container orders has {found}; expected {key} from ConfigMap "
                            "orders-config")


@pytest.mark.points(2)
def test_application_started(k8s, params):
    """Every Pod of orders runs the original application, which started with the setting's value"""
    ns, key, want = params["namespace"], params["setting"], _want(params)
    dep = _deployment(k8s, params)
    c = must_container(dep, "orders")
    assert same_image(c.image, IMAGE), f"container orders runs image {show(c.image)}; expected {IMAGE}"
    script = command_line(c)
    assert (c.command or []) == ["sh", "-c"] and all(m in script for m in SCRIPT_MARKS), (
        f"container orders runs {show(script)}; expected its command and arguments unchanged")
    pods = [p for p in _pods(k8s, dep) if is_ready(p)]
    assert pods, "no Pod of orders is ready; expected the application started in each"
    for p in pods:
        log = k8s.core.read_namespaced_pod_log(p.metadata.name, ns, container="orders",
                                               limit_bytes=LOG_BYTES)
        lines = [line.strip() for line in log.splitlines()]
        said = [line for line in lines if line.startswith(f"config: {key}=")]
        assert said, (f"Pod {p.metadata.name} logged {show(lines[-3:])}; expected the application "
                      f"to report config: {key}=… as it starts")
        assert said[-1] == f"config: {key}={want}", (
            f"Pod {p.metadata.name} started with {show(said[-1])}; expected the value of "
            f"{key} in ConfigMap orders-config")
        assert "orders ready" in lines, (
            f"Pod {p.metadata.name} logged {show(lines[-3:])}; expected the application to report ready")
