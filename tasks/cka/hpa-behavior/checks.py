"""Checks for hpa-behavior: the autoscaler's target, metric and scaling
behaviour as the API server stores them (after its defaulting: a `scaleUp`
left out comes back with the default policies, so it cannot pass)."""

import pytest

from grader.checks import must_container, must_get, same_image, same_quantity, show


def _hpa(k8s, params):
    return must_get(k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler, "worker",
                    params["namespace"])


def _policies(rules) -> list:
    """(type, value, periodSeconds) of each policy of a scaling rule."""
    return [(p.type, p.value, p.period_seconds) for p in (rules.policies if rules else None) or []]


def _rules(hpa, direction):
    behavior = hpa.spec.behavior
    return getattr(behavior, direction, None) if behavior else None


def _must_rate(hpa, ns, direction, window, policy):
    rules = _rules(hpa, direction)
    found_window = rules.stabilization_window_seconds if rules else None
    assert found_window == window, (
        f"HorizontalPodAutoscaler {ns}/worker has {direction} stabilizationWindowSeconds "
        f"{show(found_window) if found_window is not None else 'unset (the default)'}; expected {window}")
    found = _policies(rules)
    assert found == [policy], (
        f"HorizontalPodAutoscaler {ns}/worker has {direction} policies "
        f"{show([f'{t} {v} per {s}s' for t, v, s in found]) if found else 'none'}; "
        f"expected only {policy[0]} {policy[1]} per {policy[2]}s")
    select = rules.select_policy if rules else None
    assert select != "Disabled", (
        f"HorizontalPodAutoscaler {ns}/worker has {direction} selectPolicy Disabled; expected {direction} allowed")


@pytest.mark.points(2)
def test_target_bounds_and_metric(k8s, params):
    """HPA worker scales Deployment worker (unchanged) between min and max on average memory utilisation only"""
    ns = params["namespace"]
    s = _hpa(k8s, params).spec
    _deployment_unchanged(k8s, ns)
    ref = s.scale_target_ref
    assert (ref.kind, ref.name) == ("Deployment", "worker"), (
        f"HorizontalPodAutoscaler {ns}/worker scales {ref.kind} {show(ref.name)}; expected Deployment worker")
    bounds = (s.min_replicas if s.min_replicas is not None else 1, s.max_replicas)
    want = (int(params["min"]), int(params["max"]))
    assert bounds == want, (f"HorizontalPodAutoscaler {ns}/worker scales between {bounds[0]} and "
                            f"{bounds[1]}; expected {want[0]} and {want[1]}")
    metrics = [(m.type, m.resource.name if m.resource else None,
                m.resource.target.type if m.resource and m.resource.target else None,
                m.resource.target.average_utilization if m.resource and m.resource.target else None)
               for m in s.metrics or []]
    wanted = ("Resource", "memory", "Utilization", int(params["memory"]))
    assert metrics == [wanted], (
        f"HorizontalPodAutoscaler {ns}/worker has metrics {show([' '.join(map(str, m)) for m in metrics])}; "
        f"expected only Resource memory Utilization {params['memory']}%")


@pytest.mark.points(2)
def test_scale_down(k8s, params):
    """Scaling down looks back window seconds and removes at most 1 Pod every 60 seconds"""
    _must_rate(_hpa(k8s, params), params["namespace"], "scale_down", int(params["window"]),
               ("Pods", 1, 60))


@pytest.mark.points(2)
def test_scale_up(k8s, params):
    """Scaling up has no stabilization window and adds at most percent% every 30 seconds"""
    _must_rate(_hpa(k8s, params), params["namespace"], "scale_up", 0,
               ("Percent", int(params["percent"]), 30))


def _deployment_unchanged(k8s, ns):
    """Deployment worker still runs redis:7 with its requests and limit (the
    autoscaler may change its replicas: the minimum is above setup's 2)."""
    dep = must_get(k8s.apps.read_namespaced_deployment, "worker", ns, expected="it to still exist")
    c = must_container(dep, "worker")
    res = c.resources
    req, lim = dict((res.requests if res else None) or {}), dict((res.limits if res else None) or {})
    ok = (same_image(c.image, "redis:7") and set(req) == {"cpu", "memory"} and set(lim) == {"memory"}
          and same_quantity(req.get("cpu"), "100m") and same_quantity(req.get("memory"), "128Mi")
          and same_quantity(lim.get("memory"), "256Mi"))
    assert ok, (f"Deployment {ns}/worker runs {show(c.image)} with requests {show(req)} and limits "
                f"{show(lim)}; expected redis:7, requests cpu 100m, memory 128Mi, limit memory 256Mi as before")
