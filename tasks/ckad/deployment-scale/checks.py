"""Checks for deployment-scale: replica counts, readiness, and no new rollout.

"Do not change anything else": scaling changes ``spec.replicas`` only. A
changed Pod template (``kubectl rollout restart`` stamps an annotation on it)
starts a new rollout, which leaves a second ReplicaSet (Deployment) or
ControllerRevision (StatefulSet) behind, so each workload must still have
setup's template and only its first revision.
"""

import pytest

from grader.checks import (describe, must_be_ready, must_get, owned_by, pods_of, replica_sets_of,
                           selector_query, show)


REVISION = "deployment.kubernetes.io/revision"


def _must_keep_template(obj, containers: list) -> None:
    """Fail unless ``obj``'s Pod template is still setup's: these containers, no annotations."""
    tmpl = obj.spec.template
    found = [f"{c.name}={c.image}" for c in tmpl.spec.containers]
    want = [f"{n}={i}" for n, i in containers]
    assert found == want, f"{describe(obj)} runs containers {show(found)}; expected {show(want)} unchanged"
    notes = (tmpl.metadata.annotations if tmpl.metadata else None) or {}
    assert not notes, (
        f"{describe(obj)} has Pod template annotations {show(notes)}; expected none, as setup left it: "
        "scaling changes spec.replicas only, a changed template (a rollout restart) replaces every Pod")


def _revisions(items, owner, revision) -> list[str]:
    """``name (revision N)`` of each of ``items`` that ``owner`` owns."""
    return [f"{r.metadata.name} (revision {revision(r)})" for r in items if owned_by(r, owner)]


@pytest.mark.points(2)
def test_api_scaled(k8s, params):
    """Deployment api has the required number of replicas, all ready, with its Pod template unchanged and no new rollout"""
    want = int(params["replicas"])
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", params["namespace"],
                   expected="it to still exist")
    must_be_ready(dep, replicas=want)
    _must_keep_template(dep, [("api", "nginx:1.27")])
    sets = _revisions(replica_sets_of(k8s, dep), dep,
                      lambda rs: (rs.metadata.annotations or {}).get(REVISION, "?"))
    assert len(sets) == 1, (
        f"{describe(dep)} has {len(sets)} ReplicaSets: {', '.join(sets)}; expected its first one only: "
        "scaling starts no new rollout")


def test_queue_scaled(k8s, params):
    """StatefulSet queue runs exactly 1 ready replica, queue-0, with its Pod template unchanged"""
    ns = params["namespace"]
    sts = must_get(k8s.apps.read_namespaced_stateful_set, "queue", ns, expected="it to still exist")
    assert sts.spec.replicas == 1, f"StatefulSet queue wants {sts.spec.replicas} replicas; expected 1"
    pods = sorted(p.metadata.name for p in pods_of(k8s, sts))
    assert pods == ["queue-0"], f"StatefulSet queue has Pods {show(pods)}; expected only queue-0"
    # Not must_be_ready: a Pod that is shutting down still counts in status.replicas.
    assert (sts.status.ready_replicas or 0) == 1, (
        f"StatefulSet queue has {sts.status.ready_replicas or 0} ready replicas; expected 1")
    _must_keep_template(sts, [("rabbitmq", "rabbitmq:3.13")])
    query = selector_query(sts.spec.selector)
    found = k8s.apps.list_namespaced_controller_revision(ns, label_selector=query).items \
        if query is not None else []
    revs = _revisions(found, sts, lambda cr: cr.revision)
    assert len(revs) == 1, (
        f"{describe(sts)} has {len(revs)} revisions: {', '.join(revs)}; expected its first one only: "
        "scaling starts no new rollout")
