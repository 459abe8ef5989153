"""Checks for configmap-update-rollout: a ConfigMap's new values reach the
Pods that read them as environment variables only through new Pods, and the
statement asks for those Pods to come from a new rollout.

When did the ConfigMap last change? Every write records its time in the
object's managedFields (per field manager, for kubectl edit, patch, apply or
replace alike); a ConfigMap created anew has its creationTimestamp. Pods (and
the ReplicaSet that owns them) created before that time started with the old
values. Timestamps have one-second resolution, so "created at or after" is
the test.
"""

import pytest

from grader.checks import (eventually, must_be_original, must_be_ready, must_container, must_get,
                           owned_by, pods_of, replica_sets_of, same_image, show)

BRANDING = {"title.txt": "Proctor Shop", "theme.css": "body { background: #fafafa; }"}
REPLICAS = 3


def _want(params):
    return {"LOG_LEVEL": params["level"], "CACHE_TTL": str(params["ttl"])}


def _config(k8s, ns):
    return must_get(k8s.core.read_namespaced_config_map, "web-config", ns)


def _changed_at(cm):
    """The last time anything wrote the ConfigMap (None: no record at all)."""
    times = [m.time for m in cm.metadata.managed_fields or [] if getattr(m, "time", None)]
    if cm.metadata.creation_timestamp:
        times.append(cm.metadata.creation_timestamp)
    return max(times) if times else None


def test_config_values(k8s, params):
    """ConfigMap web-config has the new LOG_LEVEL and CACHE_TTL and keeps its other keys"""
    ns = params["namespace"]
    data = _config(k8s, ns).data or {}
    want = dict(_want(params), UPSTREAM_URL=f"http://catalog.{ns}.svc:8080")
    wrong = {k: data.get(k) for k in want if data.get(k) != want[k]}
    extra = sorted(set(data) - set(want))
    assert not wrong and not extra, (
        f"ConfigMap {ns}/web-config has {show(wrong) if wrong else 'extra keys ' + show(extra)}; "
        f"expected {show(want)} and nothing else")


@pytest.mark.points(3)
def test_pods_rolled_out_with_new_values(k8s, params):
    """Deployment web, the original, rolled out new Pods after the ConfigMap change, otherwise unchanged"""
    ns = params["namespace"]
    cm = _config(k8s, ns)
    data = cm.data or {}
    stale = {k: data.get(k) for k, v in _want(params).items() if data.get(k) != v}
    assert not stale, (f"ConfigMap {ns}/web-config has {show(stale)}; expected {show(_want(params))} "
                       "before the Pods can pick them up")
    dep = must_get(k8s.apps.read_namespaced_deployment, "web", ns, expected="it to still exist")
    must_be_original(k8s, dep, f"web-{ns}-original")
    web = must_container(dep, "web")
    assert same_image(web.image, "nginx:1.27"), (
        f"Deployment {ns}/web has image {show(web.image)}; expected nginx:1.27, unchanged")
    sources = [e.config_map_ref.name for e in web.env_from or [] if e.config_map_ref]
    overridden = [e.name for e in web.env or [] if e.name]
    assert sources == ["web-config"] and not overridden, (
        f"Deployment {ns}/web takes its environment from ConfigMaps {show(sources)} and sets variables "
        f"{show(overridden)}; expected envFrom web-config alone, as before")
    must_be_ready(dep, REPLICAS)
    changed = _changed_at(cm)
    assert changed is not None, f"ConfigMap {ns}/web-config carries no time of its last change"

    def all_new():
        pods, sets = pods_of(k8s, dep), replica_sets_of(k8s, dep)
        old = sorted(p.metadata.name for p in pods if p.metadata.creation_timestamp < changed)
        assert not old, (f"Deployment {ns}/web has Pods {show(old)} started before ConfigMap web-config "
                         f"last changed ({changed.isoformat()}); expected them replaced by a rollout after it")
        owners = {rs.metadata.name: rs for rs in sets if any(owned_by(p, rs) for p in pods)}
        reused = sorted(n for n, rs in owners.items() if rs.metadata.creation_timestamp < changed)
        assert owners and not reused, (
            f"Deployment {ns}/web's Pods belong to ReplicaSet {show(reused or sorted(owners))}, made before "
            f"ConfigMap web-config last changed; expected a new rollout (a new ReplicaSet), "
            "not Pods deleted by hand")
    eventually(all_new, timeout=5)


def test_branding_immutable(k8s, params):
    """ConfigMap web-branding is immutable and keeps its data"""
    ns = params["namespace"]
    cm = must_get(k8s.core.read_namespaced_config_map, "web-branding", ns)
    assert cm.immutable is True, f"ConfigMap {ns}/web-branding has immutable: {show(cm.immutable)}; expected true"
    assert (cm.data or {}) == BRANDING and not cm.binary_data, (
        f"ConfigMap {ns}/web-branding has data {show(sorted((cm.data or {}).items()))}; "
        f"expected its data unchanged: {show(sorted(BRANDING.items()))}")
