"""Checks for pod-security-admission: namespace labels for PodSecurity, and a Pod
that the API server itself admits under the restricted standard."""

import json

import pytest
from kubernetes.client.rest import ApiException

from grader.checks import must_container, must_get, same_image, show

PSA = "pod-security.kubernetes.io/"
COMMAND = ["sh", "-c", "while true; do date; sleep 60; done"]


def _labels(k8s, params):
    ns = must_get(k8s.core.read_namespace, params["namespace"])
    return ns.metadata.labels or {}


def test_enforces_restricted(k8s, params):
    """The namespace enforces the restricted standard at the latest version"""
    labels, ns = _labels(k8s, params), params["namespace"]
    level, version = labels.get(PSA + "enforce"), labels.get(PSA + "enforce-version")
    assert level == "restricted", f"Namespace {ns} has label {PSA}enforce={show(level)}; expected restricted"
    assert version in (None, "latest"), (f"Namespace {ns} has label {PSA}enforce-version={show(version)}; "
                                         "expected latest (or no such label)")


def test_warns_restricted_at_version(k8s, params):
    """The namespace warns against the restricted standard as of the given version"""
    labels, ns, want = _labels(k8s, params), params["namespace"], params["version"]
    level, version = labels.get(PSA + "warn"), labels.get(PSA + "warn-version")
    assert level == "restricted", f"Namespace {ns} has label {PSA}warn={show(level)}; expected restricted"
    assert version == want, f"Namespace {ns} has label {PSA}warn-version={show(version)}; expected {want}"


@pytest.mark.points(3)
def test_pod_admitted_under_restricted(k8s, params):
    """Pod runs, container kept, as user 1000, and the API server admits it under restricted"""
    ns, name = params["namespace"], params["pod"]
    pod = must_get(k8s.core.read_namespaced_pod, name, ns, expected="it created from the fixed manifest")
    names = [c.name for c in pod.spec.containers or []]
    assert names == ["app"], f"Pod {ns}/{name} has containers {show(names)}; expected only app"
    c = must_container(pod, "app")
    assert same_image(c.image, "busybox:1.36"), f"container app uses image {show(c.image)}; expected busybox:1.36"
    ran = [str(w) for w in (c.command or []) + (c.args or [])]
    assert ran == COMMAND, f"container app runs {show(ran)}; expected {show(COMMAND)} kept"
    own = c.security_context.run_as_user if c.security_context else None
    pod_level = pod.spec.security_context.run_as_user if pod.spec.security_context else None
    uid = own if own is not None else pod_level
    assert uid == 1000, f"container app runs as user {show(uid)}; expected 1000"
    phase = pod.status.phase if pod.status else None
    assert phase == "Running", f"Pod {ns}/{name} is {show(phase)}; expected Running"
    level = _labels(k8s, params).get(PSA + "enforce")
    assert level == "restricted", (f"Namespace {ns} does not enforce restricted (enforce={show(level)}), so "
                                   f"nothing proves Pod {name} is admitted under it; expected it enforced")
    # Ask the API server: a server-side dry run of a copy of the Pod goes through
    # PodSecurity admission, which refuses a spec that breaks the standard (a Pod
    # created before the label was set is not re-checked by the namespace).
    spec = k8s.core.api_client.sanitize_for_serialization(pod.spec)
    body = {"apiVersion": "v1", "kind": "Pod", "spec": spec,
            "metadata": {"name": f"{name}-psa-check", "labels": pod.metadata.labels or {}}}
    try:
        k8s.core.create_namespaced_pod(ns, body, dry_run="All")
    except ApiException as e:
        if e.status != 403:
            raise
        try:
            why = json.loads(e.body or "{}").get("message", "")
        except ValueError:
            why = e.body or ""
        why = why.split("violate PodSecurity", 1)[-1].lstrip(' ":')
        raise AssertionError(f"Pod {ns}/{name} breaks the restricted standard ({show(why, 200)}); "
                             "expected a Pod the namespace admits") from None
