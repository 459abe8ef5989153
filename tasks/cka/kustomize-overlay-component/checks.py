"""Checks for kustomize-overlay-component: the objects in the cluster, and
the overlay itself, built with kubectl's kustomize (what it builds is what
the statement asks), over the base that setup wrote and recorded."""

import hashlib
import posixpath

import pytest
import yaml

from grader.checks import live_pods, must_be_ready, must_container, must_get, pods_of, same_image, show
from grader.yamlfile import load

BASE = "kustomize/base"
BASE_FILES = ("kustomization.yaml", "deployment.yaml", "service.yaml")


def _overlay(params) -> str:
    return f"kustomize/overlays/{params['env']}"


@pytest.mark.points(2)
def test_deployment(k8s, params):
    """Deployment <env>-catalog in the namespace runs nginx:<tag> with the replicas and the env label"""
    ns, env = params["namespace"], params["env"]
    name = f"{env}-catalog"
    dep = must_get(k8s.apps.read_namespaced_deployment, name, ns)
    c = must_container(dep, "web")
    assert same_image(c.image, f"nginx:{params['tag']}"), (
        f"Deployment {ns}/{name} runs {show(c.image)}; expected nginx:{params['tag']}")
    want = {"app": "catalog", "env": env}
    for where, labels in (("labels", dep.metadata.labels), ("Pod labels", dep.spec.template.metadata.labels),
                          ("selector", dep.spec.selector.match_labels if dep.spec.selector else None)):
        assert dict(labels or {}) == want, (
            f"Deployment {ns}/{name} has {where} {show(labels)}; expected {show(want)}")
    must_be_ready(dep, replicas=int(params["replicas"]))


@pytest.mark.points(2)
def test_service(k8s, params):
    """Service <env>-catalog selects the Pods of <env>-catalog and no others"""
    ns, env = params["namespace"], params["env"]
    name = f"{env}-catalog"
    svc = must_get(k8s.core.read_namespaced_service, name, ns)
    labels = svc.metadata.labels or {}
    assert labels.get("env") == env, f"Service {ns}/{name} has labels {show(labels)}; expected env: {env} among them"
    dep = must_get(k8s.apps.read_namespaced_deployment, name, ns)
    ours = {p.metadata.name for p in pods_of(k8s, dep)}
    sel = svc.spec.selector or {}
    chosen = {p.metadata.name for p in live_pods(k8s, ns, sel)} if sel else set()
    assert ours and chosen == ours, (
        f"Service {ns}/{name} selects {len(chosen)} Pods with {show(sel)}; "
        f"expected exactly the {len(ours)} Pods of Deployment {name}")


def _resources(doc) -> list:
    found = doc.get("resources") if isinstance(doc, dict) else None
    return [r for r in found if isinstance(r, str)] if isinstance(found, list) else []


@pytest.mark.points(2)
def test_overlay(k8s, params, answers, kubectl):
    """The overlay builds on the unchanged base and builds the Deployment asked for"""
    ns, env = params["namespace"], params["env"]
    record = must_get(k8s.core.read_namespaced_config_map, f"catalog-base-{ns}", "kube-system",
                      expected="it untouched: setup recorded there what the base holds")
    for name in BASE_FILES:
        got = hashlib.sha256((answers / f"{BASE}/{name}").read_bytes()).hexdigest()
        assert got == (record.data or {}).get(name), (
            f"/opt/answers/{BASE}/{name} was changed; expected the base unchanged, its changes in the overlay")
    kfile = answers / f"{_overlay(params)}/kustomization.yaml"
    text = kfile.read_text()
    assert "://" not in text and "git@" not in text, (
        f"{kfile} names a remote resource; expected the overlay to build on ../../base only")
    try:
        doc = load(text)
    except yaml.YAMLError as exc:
        raise AssertionError(f"{kfile} is not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'})") from None
    bases = [r for r in _resources(doc) if posixpath.normpath(posixpath.join(_overlay(params), r)) == BASE]
    assert bases, (f"{kfile} has resources {show(_resources(doc))}; expected the base "
                   "(../../base) among them")
    built = kubectl("kustomize", str(answers.root / _overlay(params)), check=False, timeout=8)
    assert built.returncode == 0, (
        f"kubectl kustomize {_overlay(params)} fails: {show((built.stderr or '').strip()[-200:])}")
    deployments = [d for d in yaml.safe_load_all(built) if isinstance(d, dict) and d.get("kind") == "Deployment"]
    meta = [(d.get("metadata") or {}) for d in deployments]
    found = [(m.get("namespace"), m.get("name")) for m in meta]
    assert found == [(ns, f"{env}-catalog")], (
        f"the overlay builds Deployments {show([f'{a}/{b}' for a, b in found])}; expected {ns}/{env}-catalog")
    spec = deployments[0].get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    images = [c.get("image") for c in containers if isinstance(c, dict)]
    assert spec.get("replicas") == int(params["replicas"]) and len(images) == 1 \
        and same_image(images[0], f"nginx:{params['tag']}"), (
        f"the overlay builds {env}-catalog with {show(spec.get('replicas'))} replicas of {show(images)}; "
        f"expected {params['replicas']} of nginx:{params['tag']}")
