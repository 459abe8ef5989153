"""Checks for deployment-api-upgrade: the file holds the exported Deployment and
DaemonSet as apps/v1 objects (the selector the old API defaulted to added,
templateGeneration gone, nothing else changed), and the cluster runs them.

The selector is judged by what it selects, not how it is spelt: matchLabels
or matchExpressions ``In`` with one value each are the same selector, as long
as it requires every label of the Pod template and nothing else. The rest of
each document must equal the export minus templateGeneration; a
``metadata.namespace`` of the task's namespace is forgiven.
"""

from types import SimpleNamespace

import pytest
import yaml
from kubernetes.client import ApiClient

from grader.checks import eventually, must_be_ready, must_get, selects, show
from grader import yamlfile  # safe loading without aliases: the file is the candidate's

FILE = "upgrade/logging.yaml"
WHERE = f"/opt/answers/{FILE}"


def _expected(params) -> dict:
    """The export as apps/v1 wants it, without selectors: (kind, name) -> document."""
    team = params["team"]
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "log-api", "labels": {"app": "log-api"}},
        "spec": {"replicas": params["replicas"], "revisionHistoryLimit": 5, "template": {
            "metadata": {"labels": {"app": "log-api", "team": team}},
            "spec": {"containers": [{
                "name": "api", "image": "httpd:2.4", "ports": [{"containerPort": 80}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}
    ds = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "log-shipper", "labels": {"app": "log-shipper"}},
        "spec": {"updateStrategy": {"type": "OnDelete"}, "template": {
            "metadata": {"labels": {"app": "log-shipper", "team": team}},
            "spec": {"containers": [{
                "name": "shipper", "image": "busybox:1.36",
                "command": ["sh", "-c", "tail -F /var/log/syslog"],
                "volumeMounts": [{"name": "varlog", "mountPath": "/var/log", "readOnly": True}]}],
                "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log"}}]}}}}
    return {("Deployment", "log-api"): dep, ("DaemonSet", "log-shipper"): ds}


def _file_docs(answers) -> dict:
    """(kind, name) -> document of the file; a failed check when it cannot be read."""
    f = answers / FILE
    assert f.exists(), f"{WHERE} does not exist; expected the upgraded manifest there"
    try:
        docs = yamlfile.load_all(f.read_text())
    except (yaml.YAMLError, RecursionError):
        raise AssertionError(f"{WHERE} is not valid YAML; expected the upgraded manifest") from None
    found = {}
    for d in docs:
        meta = d.get("metadata") if isinstance(d, dict) else None
        if not isinstance(meta, dict):
            raise AssertionError(f"{WHERE} holds a document that is not an object with metadata; "
                                 "expected the Deployment and the DaemonSet")
        found[(d.get("kind"), meta.get("name"))] = d
    want = {("Deployment", "log-api"), ("DaemonSet", "log-shipper")}
    assert len(docs) == 2 and set(found) == want, (
        f"{WHERE} holds {show(sorted(f'{k}/{n}' for k, n in found)) if found else 'no objects'}; "
        "expected exactly Deployment/log-api and DaemonSet/log-shipper")
    return found


def _selector(value):
    """A selector of the file (a map) as the API's LabelSelector shape, or None when malformed."""
    if not isinstance(value, dict) or set(value) - {"matchLabels", "matchExpressions"}:
        return None
    labels, exprs = value.get("matchLabels") or {}, value.get("matchExpressions") or []
    if not isinstance(labels, dict) or not isinstance(exprs, list) \
            or not all(isinstance(e, dict) for e in exprs):
        return None
    return SimpleNamespace(match_labels=labels, match_expressions=[
        SimpleNamespace(key=e.get("key"), operator=e.get("operator"), values=e.get("values")) for e in exprs])


def _selects_exactly(selector, labels: dict) -> bool:
    """Whether the selector requires every one of ``labels`` with its value, and nothing else."""
    if selector is None or not selects(selector, labels):
        return False
    for key, value in labels.items():
        without = {k: v for k, v in labels.items() if k != key}
        if selects(selector, without) or selects(selector, {**without, key: f"{value}-other"}):
            return False
    return True


def _differences(want, found, path="") -> list:
    """The paths where ``found`` differs from ``want`` (at most a few)."""
    if isinstance(want, dict) and isinstance(found, dict):
        out = []
        for key in sorted(set(want) | set(found), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in found:
                out.append(f"{where} missing")
            elif key not in want:  # what the export did not have, or apps/v1 lacks
                out.append(f"{where} present")
            else:
                out += _differences(want[key], found[key], where)
        return out
    if isinstance(want, list) and isinstance(found, list) and len(want) == len(found):
        return [d for i, (w, f) in enumerate(zip(want, found)) for d in _differences(w, f, f"{path}[{i}]")]
    return [] if want == found and type(want) is type(found) else [f"{path} changed"]


@pytest.mark.points(2)
def test_file_apps_v1_with_selectors(answers, params):
    """logging.yaml: both objects in apps/v1, each selecting exactly its Pod template's labels"""
    for (kind, name), doc in sorted(_file_docs(answers).items()):
        assert doc.get("apiVersion") == "apps/v1", (
            f"{WHERE} has {kind} {name} in {show(doc.get('apiVersion'))}; expected apps/v1")
        spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
        tmeta = (spec.get("template") or {}).get("metadata") if isinstance(spec.get("template"), dict) else None
        labels = (tmeta or {}).get("labels") if isinstance(tmeta, dict) else None
        labels = labels if isinstance(labels, dict) else {}
        assert "selector" in spec, f"{WHERE} has {kind} {name} without spec.selector; expected one"
        assert _selects_exactly(_selector(spec["selector"]), labels), (
            f"{WHERE} has {kind} {name} with selector {show(spec['selector'])}; expected one that "
            f"requires exactly its Pod template's labels {show(labels)}")


def test_file_nothing_else_changed(answers, params):
    """logging.yaml: apart from the selectors, only what apps/v1 lacks was removed"""
    found, ns = _file_docs(answers), params["namespace"]
    for key, want in sorted(_expected(params).items()):
        doc = {k: v for k, v in found[key].items()}
        doc["apiVersion"] = want["apiVersion"]  # graded by test_file_apps_v1_with_selectors
        if isinstance(doc.get("spec"), dict):
            doc["spec"] = {k: v for k, v in doc["spec"].items() if k != "selector"}
        if isinstance(doc.get("metadata"), dict) and doc["metadata"].get("namespace") == ns:
            doc["metadata"] = {k: v for k, v in doc["metadata"].items() if k != "namespace"}
        diff = _differences(want, doc)
        assert not diff, (f"{WHERE} has {key[0]} {key[1]} with {', '.join(diff[:4])}; expected the "
                          "export unchanged but for apps/v1, the selector and the fields apps/v1 lacks removed")


def _as_dict(obj) -> dict:
    return ApiClient().sanitize_for_serialization(obj)


def _must_run_as_exported(obj, want: dict) -> None:
    """The object's labels, template and (exported) spec fields are the export's;
    fields the API server defaults are not compared."""
    what = f"{want['kind']} {obj.metadata.namespace}/{obj.metadata.name}"
    live = _as_dict(obj)
    labels = ((want["spec"]["template"]["metadata"]) or {}).get("labels")
    assert _selects_exactly(obj.spec.selector, labels) and obj.spec.template.metadata.labels == labels, (
        f"{what} has selector {show(live['spec'].get('selector'))} and Pod labels "
        f"{show(obj.spec.template.metadata.labels)}; expected both {show(labels)}")

    def subset(w, f, path):  # every field of the export, as exported; defaults may be added
        if isinstance(w, dict):
            if not isinstance(f, dict):
                return [path]
            return [d for k, v in w.items() for d in subset(v, f.get(k), f"{path}.{k}")]
        if isinstance(w, list):
            if not isinstance(f, list) or len(f) != len(w):
                return [path]
            return [d for i, (a, b) in enumerate(zip(w, f)) for d in subset(a, b, f"{path}[{i}]")]
        return [] if w == f else [path]

    diff = subset(want["metadata"]["labels"], (live.get("metadata") or {}).get("labels"), "metadata.labels") \
        + subset(want["spec"], live.get("spec"), "spec")
    assert not diff, f"{what} differs from the export at {', '.join(diff[:4])}; expected it as the file says"


@pytest.mark.points(2)
def test_deployment_applied(k8s, params):
    """Deployment log-api runs as the file says (replicas, labels, selector, container), rolled out"""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "log-api", ns, expected="the file applied there")
    _must_run_as_exported(dep, _expected(params)[("Deployment", "log-api")])
    eventually(lambda: must_be_ready(must_get(k8s.apps.read_namespaced_deployment, "log-api", ns),
                                     replicas=params["replicas"]), timeout=8)


@pytest.mark.points(2)
def test_daemonset_applied(k8s, params):
    """DaemonSet log-shipper runs as the file says (labels, selector, OnDelete, container, volume), on every worker"""
    ns = params["namespace"]
    ds = must_get(k8s.apps.read_namespaced_daemon_set, "log-shipper", ns, expected="the file applied there")
    _must_run_as_exported(ds, _expected(params)[("DaemonSet", "log-shipper")])

    def ready():
        now = must_get(k8s.apps.read_namespaced_daemon_set, "log-shipper", ns)
        assert now.status is not None and (now.status.desired_number_scheduled or 0) > 0, (
            f"DaemonSet {ns}/log-shipper has no Pods scheduled; expected one on each worker")
        must_be_ready(now)
    eventually(ready, timeout=8)
