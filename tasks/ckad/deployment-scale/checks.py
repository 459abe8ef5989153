"""Checks for deployment-scale: replica counts, readiness, and no new rollout."""

import pytest

from grader.checks import must_be_ready, must_get, pods_of, show


@pytest.mark.points(2)
def test_api_scaled(k8s, params):
    """Deployment api has the required number of replicas, all ready, same template"""
    want = int(params["replicas"])
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", params["namespace"],
                   expected="it to still exist")
    must_be_ready(dep, replicas=want)
    images = [c.image for c in dep.spec.template.spec.containers]
    assert images == ["nginx:1.27"], f"Deployment api runs {show(images)}; expected nginx:1.27 unchanged"


def test_queue_scaled(k8s, params):
    """StatefulSet queue runs exactly 1 ready replica, queue-0"""
    sts = must_get(k8s.apps.read_namespaced_stateful_set, "queue", params["namespace"],
                   expected="it to still exist")
    assert sts.spec.replicas == 1, f"StatefulSet queue wants {sts.spec.replicas} replicas; expected 1"
    pods = sorted(p.metadata.name for p in pods_of(k8s, sts))
    assert pods == ["queue-0"], f"StatefulSet queue has Pods {show(pods)}; expected only queue-0"
    # Not must_be_ready: a Pod that is shutting down still counts in status.replicas.
    assert (sts.status.ready_replicas or 0) == 1, (
        f"StatefulSet queue has {sts.status.ready_replicas or 0} ready replicas; expected 1")
