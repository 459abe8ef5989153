"""Checks for deployment-rollout-undo: strategy, the 1.28 rollout, and the rollback."""

import pytest

from grader.checks import must_be_ready, must_get, replica_sets_of, show

REV_IMAGES = {1: "nginx:1.25", 2: "nginx:1.26", 3: "nginx:1.27"}
REVISION = "deployment.kubernetes.io/revision"


def _deploy(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "frontend", params["namespace"],
                    expected="it to still exist")


def _image(obj):
    """The image of container nginx in a Deployment's or ReplicaSet's Pod template."""
    return next((c.image for c in obj.spec.template.spec.containers if c.name == "nginx"), None)


def test_strategy(k8s, params):
    """Rolling updates surge by at most 1 Pod and never go below the desired count"""
    dep = _deploy(k8s, params)
    st = dep.spec.strategy
    ru = st.rolling_update if st else None
    found = (st.type if st else None, ru.max_surge if ru else None,
             ru.max_unavailable if ru else None)
    replicas = dep.spec.replicas or 1

    def _abs(v, round_up):
        if isinstance(v, str) and v.endswith("%"):
            frac = replicas * int(v[:-1]) / 100
            return int(-(-frac // 1)) if round_up else int(frac)
        return int(v) if v is not None else None

    assert found[0] == "RollingUpdate", f"Deployment frontend uses strategy {found[0]}; expected RollingUpdate"
    assert _abs(found[1], True) == 1 and _abs(found[2], False) == 0, (
        f"Deployment frontend has maxSurge {found[1]}, maxUnavailable {found[2]}; expected 1 and 0")


@pytest.mark.points(2)
def test_updated_to_128(k8s, params):
    """frontend was rolled out with image nginx:1.28"""
    dep = _deploy(k8s, params)
    images = {_image(rs) for rs in replica_sets_of(k8s, dep)}
    assert "nginx:1.28" in images, (
        f"the rollout history of frontend has images {show(sorted(i for i in images if i))}; "
        "expected a revision with nginx:1.28")


@pytest.mark.points(2)
def test_rolled_back(k8s, params):
    """frontend was rolled back, after the 1.28 update, to the requested revision"""
    dep = _deploy(k8s, params)
    want = REV_IMAGES[int(params["revision"])]
    found = _image(dep)
    assert found == want, (
        f"Deployment frontend runs {show(found)}; expected {want}, the image of revision {params['revision']}")
    revs = {_image(rs): int((rs.metadata.annotations or {}).get(REVISION, "0"))
            for rs in replica_sets_of(k8s, dep)}
    assert revs.get(want, 0) > revs.get("nginx:1.28", 10**9), (
        f"revision history is {show(revs)}; expected the rollback to come after the nginx:1.28 rollout")
    must_be_ready(dep)  # the rollback is complete
