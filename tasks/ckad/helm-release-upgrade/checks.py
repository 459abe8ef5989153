"""Checks for helm-release-upgrade: the release's history as Helm records it
(one ``helm.sh/release.v1`` Secret per revision, read by grader.helm as
hostile data) and the objects the release manages. A value's effective
setting is the revision's values as Helm rendered them, compared with the
chart's defaults as setup wrote them.
"""

import pytest

from grader.checks import must_be_ready, must_get, show
from grader.helm import Release, history

CHART = "guestbook"
# the chart's values.yaml as setup wrote it: the defaults a revision is compared with
DEFAULTS = {"replicaCount": 1, "image": {"repository": "nginx", "tag": "1.27"},
            "message": "Hello, guests", "service": {"port": 80}}


def _changed(rel: Release) -> dict:
    """The rendered values that differ from the chart's own defaults (top level)."""
    values = rel.values
    return {k: values.get(k) for k in set(values) | set(DEFAULTS) if values.get(k) != DEFAULTS.get(k)}


@pytest.mark.points(3)
def test_release_history(k8s, params):
    """The release has two revisions: the install with the replicas, the upgrade that adds the message"""
    ns, name, replicas, message = params["namespace"], params["release"], params["replicas"], params["message"]
    revs = history(k8s, ns, name)
    assert sorted(revs) == [1, 2], (f"Helm release {ns}/{name} has revisions {show(sorted(revs))}; "
                                    "expected 1 (the install) and 2 (the upgrade)")
    states = {r: rel.status for r, rel in revs.items()}
    charts = {r: rel.chart for r, rel in revs.items()}
    assert states == {1: "superseded", 2: "deployed"} and set(charts.values()) == {CHART}, (
        f"Helm release {ns}/{name} has revisions {show(states)} of charts {show(charts)}; expected "
        f"revision 1 superseded and 2 deployed, both of chart {CHART}")
    first = _changed(revs[1])
    assert first == {"replicaCount": replicas}, (
        f"Helm release {ns}/{name} revision 1 changed the chart's defaults to {show(first)}; expected "
        f"replicaCount: {replicas} and nothing else")
    second = _changed(revs[2])
    want = {"replicaCount": replicas, "message": message}
    assert second == want, (
        f"Helm release {ns}/{name} revision 2 changed the chart's defaults to {show(second)}; expected "
        f"replicaCount: {replicas} and message: {show(message)}, nothing else")


@pytest.mark.points(2)
def test_objects(k8s, params):
    """The release's Deployment runs the replicas, rolled out, and its ConfigMap holds the message"""
    ns, name, replicas, message = params["namespace"], params["release"], params["replicas"], params["message"]
    full = f"{name}-guestbook"
    dep = must_get(k8s.apps.read_namespaced_deployment, full, ns)
    notes = dep.metadata.annotations or {}
    owner = (notes.get("meta.helm.sh/release-name"), notes.get("meta.helm.sh/release-namespace"))
    assert owner == (name, ns), (f"Deployment {ns}/{full} belongs to Helm release "
                                 f"{show(owner[1])}/{show(owner[0])}; expected {ns}/{name}")
    cm = must_get(k8s.core.read_namespaced_config_map, full, ns)
    found = (cm.data or {}).get("MESSAGE")
    assert found == message, f"ConfigMap {ns}/{full} has MESSAGE {show(found)}; expected {show(message)}"
    must_be_ready(dep, replicas=replicas)
