"""Checks for labels-annotations: labels and annotations of the setup's Pods, changed in
place (a deleted and recreated Pod has another uid)."""

import pytest

from grader.checks import live_pods, must_be_original

TARGETS = {"api-1", "api-2", "api-3"}
ALL = {"api-1", "api-2", "api-3", "api-canary", "web-1", "web-2", "batch-1"}


def _pods(k8s, ns):
    pods = {p.metadata.name: p for p in live_pods(k8s, ns)}
    missing = sorted(ALL - set(pods))
    assert not missing, f"Pods {', '.join(missing)} are gone from {ns}; expected them kept"
    for name in sorted(ALL):
        must_be_original(k8s, pods[name], f"{name}-{ns}-original")
    return pods


@pytest.mark.points(2)
def test_tier_label(k8s, params):
    """Exactly the Pods with app=api and env=prod carry tier=backend; no Pod was deleted or recreated"""
    pods = _pods(k8s, params["namespace"])
    have = {n for n, p in pods.items() if (p.metadata.labels or {}).get("tier") == "backend"}
    assert have == TARGETS, (
        f"Pods with tier=backend: {sorted(have) or 'none'}; expected {sorted(TARGETS)}")


def test_owner_annotation(k8s, params):
    """The same Pods carry the annotation owner=<team>"""
    pods = _pods(k8s, params["namespace"])
    team = params["team"]
    have = {n for n, p in pods.items() if (p.metadata.annotations or {}).get("owner") == team}
    assert have == TARGETS, (
        f"Pods annotated owner={team}: {sorted(have) or 'none'}; expected {sorted(TARGETS)}")


def test_debug_removed(k8s, params):
    """No Pod in the namespace carries the label debug"""
    pods = _pods(k8s, params["namespace"])
    have = sorted(n for n, p in pods.items() if "debug" in (p.metadata.labels or {}))
    assert not have, f"Pods still labelled debug: {', '.join(have)}; expected none"
