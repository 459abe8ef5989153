"""Checks for priorityclass: the class and the priority of ledger's running Pods."""

import pytest
from kubernetes import client

from grader.checks import is_ready, must_get, pods_of, show


def test_priorityclass(k8s, params):
    """PriorityClass business-critical has the value, is not default, may preempt"""
    scheduling = client.SchedulingV1Api(k8s.core.api_client)
    pc = must_get(scheduling.read_priority_class, "business-critical")
    want = int(params["value"])
    assert pc.value == want, f"PriorityClass business-critical has value {pc.value}; expected {want}"
    assert not pc.global_default, "PriorityClass business-critical is the global default; expected not"
    policy = pc.preemption_policy or "PreemptLowerPriority"
    assert policy == "PreemptLowerPriority", f"business-critical has preemptionPolicy {show(policy)}; expected PreemptLowerPriority"


@pytest.mark.points(2)
def test_ledger_priority(k8s, params):
    """All ledger replicas run with class business-critical and its priority"""
    ns = params["namespace"]
    want = int(params["value"])
    dep = must_get(k8s.apps.read_namespaced_deployment, "ledger", ns, expected="it to still exist")
    cls = dep.spec.template.spec.priority_class_name
    assert cls == "business-critical", f"Deployment ledger uses PriorityClass {show(cls)}; expected business-critical"
    pods = pods_of(k8s, dep)
    wrong = sorted(f"{p.metadata.name}={p.spec.priority}" for p in pods if p.spec.priority != want)
    ready = [p for p in pods if is_ready(p)]
    assert not wrong and len(ready) == dep.spec.replicas == len(pods), (
        f"ledger Pods have priorities {wrong or 'as required'}, {len(ready)} of {dep.spec.replicas} ready; "
        f"expected all at {want} and ready")
