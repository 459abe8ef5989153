"""Checks for priorityclass: the class and the priority of ledger's running Pods."""

import pytest


def test_priorityclass(k8s, params):
    """PriorityClass business-critical has the value, is not default, may preempt"""
    pc = _read_pc(k8s)
    assert pc is not None, "PriorityClass business-critical not found; expected it to exist"
    want = int(params["value"])
    assert pc.value == want, f"PriorityClass business-critical has value {pc.value}; expected {want}"
    assert not pc.global_default, "PriorityClass business-critical is the global default; expected not"
    policy = pc.preemption_policy or "PreemptLowerPriority"
    assert policy == "PreemptLowerPriority", f"business-critical has preemptionPolicy {policy}; expected PreemptLowerPriority"


def _read_pc(k8s):
    from kubernetes import client
    return k8s.get(client.SchedulingV1Api(k8s.core.api_client).read_priority_class, "business-critical")


@pytest.mark.points(2)
def test_ledger_priority(k8s, params):
    """All ledger replicas run with class business-critical and its priority"""
    ns = params["namespace"]
    want = int(params["value"])
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "ledger", ns)
    assert dep is not None, f"Deployment {ns}/ledger not found; expected it to still exist"
    cls = dep.spec.template.spec.priority_class_name
    assert cls == "business-critical", f"Deployment ledger uses PriorityClass {cls}; expected business-critical"
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=ledger").items
            if p.metadata.deletion_timestamp is None]
    wrong = sorted(f"{p.metadata.name}={p.spec.priority}" for p in pods if p.spec.priority != want)
    ready = [p for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert not wrong and len(ready) == dep.spec.replicas == len(pods), (
        f"ledger Pods have priorities {wrong or 'as required'}, {len(ready)} of {dep.spec.replicas} ready; "
        f"expected all at {want} and ready")
