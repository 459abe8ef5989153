"""Checks for rolling-update-strategy: the bounds a rollout really gets (a
count or a percentage of the replicas, rounded as the Deployment controller
rounds them), the image of one container, on the same Deployment."""

import math

import pytest

from grader.checks import (must_be_original, must_be_ready, must_container, must_get, same_image,
                           show)

REPLICAS = 4


def _resolve(value, replicas: int, round_up: bool) -> int | None:
    """An IntOrString of a rolling update as a count of Pods (None: unreadable)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return None


def _web(k8s, ns):
    return must_get(k8s.apps.read_namespaced_deployment, "web", ns, expected="it to still exist")


@pytest.mark.points(2)
def test_rollout_bounds(k8s, params):
    """Deployment web, the original, rolls out with at most one extra Pod and none unavailable"""
    ns = params["namespace"]
    dep = _web(k8s, ns)
    must_be_original(k8s, dep, f"web-{ns}-original")
    strategy = dep.spec.strategy
    assert strategy is not None and strategy.type == "RollingUpdate", (
        f"Deployment {ns}/web has strategy {show(strategy.type if strategy else None)}; expected "
        "RollingUpdate (Recreate stops every Pod before starting new ones)")
    rolling = strategy.rolling_update
    surge = _resolve(rolling.max_surge if rolling else "25%", dep.spec.replicas or 0, True)
    unavailable = _resolve(rolling.max_unavailable if rolling else "25%", dep.spec.replicas or 0, False)
    assert (dep.spec.replicas, surge, unavailable) == (REPLICAS, 1, 0), (
        f"Deployment {ns}/web has {dep.spec.replicas} replicas, maxSurge "
        f"{show(rolling.max_surge if rolling else None)} and maxUnavailable "
        f"{show(rolling.max_unavailable if rolling else None)}: a rollout may run {show(surge)} extra "
        f"Pod(s) and miss {show(unavailable)}; expected {REPLICAS} replicas, 1 extra at most, none missing")


@pytest.mark.points(2)
def test_web_rolled_to_the_image(k8s, params):
    """Container web runs the new image on every Pod, log-shipper is unchanged"""
    ns, image = params["namespace"], params["image"]
    dep = _web(k8s, ns)
    web = must_container(dep, "web")
    shipper = must_container(dep, "log-shipper")
    assert same_image(web.image, image), (
        f"Deployment {ns}/web runs container web with image {show(web.image)}; expected {image}")
    assert same_image(shipper.image, "busybox:1.36"), (
        f"Deployment {ns}/web runs container log-shipper with image {show(shipper.image)}; "
        "expected busybox:1.36 as before (only container web was to change)")
    must_be_ready(dep, REPLICAS)

