"""Checks for runtimeclass-sandboxed: a RuntimeClass for a sandboxed handler
that carries its own scheduling constraint, and a Deployment switched to it in
place.

kwok runs no container runtime, but the API server's RuntimeClass admission
is real: a Pod that names a missing RuntimeClass is refused, and one that
names an existing RuntimeClass gets its ``scheduling.nodeSelector`` merged in,
so the Pods' nodes show whether the constraint lives in the RuntimeClass.
"""

import pytest
from kubernetes import client

from grader.checks import (eventually, must_be_original, must_be_ready, must_container, must_get,
                           pods_of, same_image, selects, show)

LABEL = "sandbox-runtime"
REPLICAS = 3


def _runtime_class(k8s, params):
    return must_get(client.NodeV1Api(k8s.api_client).read_runtime_class, params["runtimeclass"])


def _labelled_nodes(k8s, params) -> set:
    """Nodes that have the handler, by the label setup gave them."""
    return {n.metadata.name for n in k8s.core.list_node().items
            if (n.metadata.labels or {}).get(LABEL) == params["handler"]}


@pytest.mark.points(2)
def test_runtimeclass_handler(k8s, params):
    """RuntimeClass exists and names the sandboxed handler"""
    rc = _runtime_class(k8s, params)
    assert rc.handler == params["handler"], (
        f"RuntimeClass {params['runtimeclass']} has handler {show(rc.handler)}; expected "
        f"{params['handler']} (the handler is the runtime's name in containerd, not the class's name)")


def test_runtimeclass_schedules_onto_handler_nodes(k8s, params):
    """The RuntimeClass itself sends its Pods only to nodes labelled with the handler"""
    rc, want = _runtime_class(k8s, params), f"{LABEL}={params['handler']}"
    selector = rc.scheduling.node_selector if rc.scheduling else None
    assert isinstance(selector, dict) and selector.get(LABEL) == params["handler"], (
        f"RuntimeClass {params['runtimeclass']} has scheduling.nodeSelector {show(selector)}; "
        f"expected it to require {want}")
    labelled = _labelled_nodes(k8s, params)
    missed = sorted(n for n in labelled if not selects(selector, _node_labels(k8s, n)))
    assert labelled and not missed, (
        f"RuntimeClass {params['runtimeclass']} has scheduling.nodeSelector {show(selector)}, which "
        f"leaves out nodes {show(missed or sorted(labelled))}; expected every node labelled {want}")


def _node_labels(k8s, name):
    node = k8s.get(k8s.core.read_node, name)
    return (node.metadata.labels or {}) if node is not None else {}


@pytest.mark.points(2)
def test_deployment_runs_with_runtimeclass(k8s, params):
    """Deployment api, the original and otherwise unchanged, runs all its Pods with the RuntimeClass on labelled nodes"""
    ns, rc_name = params["namespace"], params["runtimeclass"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "api", ns, expected="it to still exist")
    must_be_original(k8s, dep, f"api-{ns}-original")
    spec = dep.spec.template.spec
    assert spec.runtime_class_name == rc_name, (
        f"Deployment {ns}/api has runtimeClassName {show(spec.runtime_class_name)} in its Pod template; "
        f"expected {rc_name}")
    api = must_container(dep, "api")
    assert same_image(api.image, "nginx:1.27") and len(spec.containers or []) == 1, (
        f"Deployment {ns}/api runs containers {show([c.image for c in spec.containers or []])}; "
        "expected only container api with nginx:1.27, as before")
    placed = {k: v for k, v in (("nodeSelector", spec.node_selector), ("affinity", spec.affinity),
                                ("nodeName", spec.node_name), ("tolerations", spec.tolerations)) if v}
    assert not placed, (
        f"Deployment {ns}/api has {', '.join(placed)} in its Pod template; expected no change but "
        "runtimeClassName (the RuntimeClass carries the scheduling constraint)")
    must_be_ready(dep, REPLICAS)
    labelled = _labelled_nodes(k8s, params)

    def pods_moved():
        pods = pods_of(k8s, dep)
        wrong = sorted(p.metadata.name for p in pods
                       if p.spec.runtime_class_name != rc_name or p.spec.node_name not in labelled)
        assert len(pods) == REPLICAS and not wrong, (
            f"Deployment {ns}/api has Pods {show(wrong or [p.metadata.name for p in pods])} without "
            f"RuntimeClass {rc_name} or off the nodes labelled {LABEL}={params['handler']}; expected "
            f"all {REPLICAS} Pods with it, on those nodes")
    eventually(pods_moved, timeout=5)
