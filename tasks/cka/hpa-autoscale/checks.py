"""Checks for hpa-autoscale: the CPU request and the HorizontalPodAutoscaler's spec."""

import pytest

from grader.checks import must_container, must_get, same_quantity, show


def _hpa(k8s, params):
    return must_get(k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler, "web", params["namespace"])


def test_cpu_request(k8s, params):
    """Container web requests 200m CPU and sets no other request or limit"""
    dep = must_get(k8s.apps.read_namespaced_deployment, "web", params["namespace"],
                   expected="it to still exist")
    c = must_container(dep, "web")
    requests = dict((c.resources.requests if c.resources else None) or {})
    cpu = requests.pop("cpu", None)
    assert same_quantity(cpu, "200m"), f"container web requests cpu {show(cpu) if cpu else 'nothing'}; expected 200m"
    assert not requests, (f"container web also requests {show(requests)}; expected a CPU request "
                          "of 200m and no other change")
    limits = (c.resources.limits if c.resources else None) or {}
    assert not limits, (f"container web also has limits {show(limits)}; expected a CPU request "
                        "of 200m and no other change")
    assert c.image == "nginx:1.27", f"container web runs {show(c.image)}; expected nginx:1.27 unchanged"


@pytest.mark.points(2)
def test_hpa_target(k8s, params):
    """HPA web scales Deployment web between 2 and the maximum on average CPU utilisation"""
    hpa = _hpa(k8s, params)
    s = hpa.spec
    ref = (s.scale_target_ref.kind, s.scale_target_ref.name)
    assert ref == ("Deployment", "web"), f"HPA web scales {ref[0]} {show(ref[1])}; expected Deployment web"
    want_max = int(params["max"])
    assert (s.min_replicas or 1, s.max_replicas) == (2, want_max), (
        f"HPA web scales between {s.min_replicas or 1} and {s.max_replicas}; expected 2 and {want_max}")
    want = int(params["target"])
    cpu = [m.resource.target for m in s.metrics or []
           if m.type == "Resource" and m.resource and m.resource.name == "cpu"]
    assert cpu and cpu[0].type == "Utilization" and cpu[0].average_utilization == want, (
        f"HPA web targets CPU {[(t.type, t.average_utilization) for t in cpu] or 'nothing'}; "
        f"expected Utilization {want}%")


def test_scale_down_window(k8s, params):
    """HPA web waits 120 seconds before scaling down"""
    hpa = _hpa(k8s, params)
    b = hpa.spec.behavior
    found = b.scale_down.stabilization_window_seconds if b and b.scale_down else None
    assert found == 120, f"HPA web's scale-down stabilization window is {found if found is not None else 'the default 300'}s; expected 120"
