"""Checks for pdb-disruption-budget: the budget as the disruption controller
computes it (so maxUnavailable and minAvailable, counts and set-based
selectors all count alike), and the Pods it selects."""

import pytest

from grader.checks import eventually, live_pods, must_get, selector_text, show


def _budget(k8s, ns):
    """PodDisruptionBudget api, once the disruption controller has counted it."""
    def counted():
        pdb = must_get(k8s.policy.read_namespaced_pod_disruption_budget, "api", ns)
        status = pdb.status
        assert status is not None and (status.observed_generation or 0) >= pdb.metadata.generation, (
            f"PodDisruptionBudget {ns}/api has not been counted by the disruption controller yet")
        return pdb
    return eventually(counted, timeout=8)


def _deployments_unchanged(k8s, ns, replicas):
    for name, want, track in (("api", replicas, "stable"), ("api-canary", 1, "canary")):
        dep = must_get(k8s.apps.read_namespaced_deployment, name, ns, expected="it to still exist")
        labels = dep.spec.template.metadata.labels or {}
        assert dep.spec.replicas == want and labels == {"app": "api", "track": track}, (
            f"Deployment {ns}/{name} has {dep.spec.replicas} replicas and Pod labels {show(labels)}; "
            f"expected {want} and {{app: 'api', track: '{track}'}} as before")


@pytest.mark.points(2)
def test_protects_only_the_stable_pods(k8s, params):
    """PodDisruptionBudget api selects the Pods of api and no other; both Deployments are unchanged"""
    ns, replicas = params["namespace"], params["replicas"]
    pdb = _budget(k8s, ns)
    _deployments_unchanged(k8s, ns, replicas)
    # policy/v1: a budget without a selector selects no Pod (live_pods(None) would list all)
    selected = ({p.metadata.name for p in live_pods(k8s, ns, pdb.spec.selector)}
                if pdb.spec.selector is not None else set())
    stable = {p.metadata.name for p in live_pods(k8s, ns, {"app": "api", "track": "stable"})}
    canary = {p.metadata.name for p in live_pods(k8s, ns, {"app": "api", "track": "canary"})}
    assert selected == stable and len(stable) == replicas, (
        f"PodDisruptionBudget {ns}/api selects {len(selected)} Pods with "
        f"{selector_text(pdb.spec.selector)}"
        + (" (the canary's too)" if selected & canary else "")
        + f"; expected the {replicas} Pods of Deployment api and no other")


@pytest.mark.points(2)
def test_one_eviction_at_a_time(k8s, params):
    """PodDisruptionBudget api allows one disruption and keeps replicas - 1 Pods running"""
    ns, replicas = params["namespace"], params["replicas"]
    pdb = _budget(k8s, ns)
    st = pdb.status
    assert (st.desired_healthy, st.disruptions_allowed) == (replicas - 1, 1), (
        f"PodDisruptionBudget {ns}/api (minAvailable {show(pdb.spec.min_available)}, maxUnavailable "
        f"{show(pdb.spec.max_unavailable)}) needs {st.desired_healthy} healthy Pods and allows "
        f"{st.disruptions_allowed} disruption(s); expected {replicas - 1} and 1")

