"""Checks for deprecated-api-migrate: the file names only current API versions
(anywhere, the HPA's scaleTargetRef included), and each object, applied in
the namespace, keeps the legacy manifest's meaning in its current shape."""

import pytest
import yaml

from grader.checks import (must_be_ready, must_container, must_equal, must_get, same_image,
                           selects, show)

FILE = "legacy/shop.yaml"
CURRENT = {"Deployment": "apps/v1", "Service": "v1", "Ingress": "networking.k8s.io/v1",
           "PodDisruptionBudget": "policy/v1", "CronJob": "batch/v1",
           "HorizontalPodAutoscaler": "autoscaling/v2"}
NAMES = {("Deployment", "shop"), ("Service", "shop"), ("Ingress", "shop"),
         ("PodDisruptionBudget", "shop"), ("CronJob", "shop-report"), ("HorizontalPodAutoscaler", "shop")}
REMOVED = {"extensions/v1beta1", "policy/v1beta1", "batch/v1beta1", "autoscaling/v2beta1",
           "autoscaling/v2beta2", "apps/v1beta1", "apps/v1beta2", "networking.k8s.io/v1beta1"}


def _strings(node, depth=0):
    """Every string value of a parsed document (bounded depth: hostile input)."""
    if depth > 40:
        return
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, depth + 1)


@pytest.mark.points(2)
def test_file_uses_current_versions(answers):
    """shop.yaml holds the six objects, each in its current API version, and names no removed version"""
    where = f"/opt/answers/{FILE}"
    f = answers / FILE
    assert f.exists(), f"{where} does not exist; expected the migrated manifest there"
    try:
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d is not None]
    except yaml.YAMLError:
        raise AssertionError(f"{where} is not valid YAML; expected the migrated manifest") from None
    found, wrong = set(), []
    for d in docs:
        if not isinstance(d, dict):
            raise AssertionError(f"{where} holds a document that is not an object; expected Kubernetes objects")
        kind, meta = d.get("kind"), d.get("metadata")
        found.add((kind, meta.get("name") if isinstance(meta, dict) else None))
        if kind in CURRENT and d.get("apiVersion") != CURRENT[kind]:
            wrong.append(f"{kind} {show(d.get('apiVersion'))}")
    assert not wrong, f"{where} has {', '.join(wrong)}; expected " + ", ".join(
        f"{k} {v}" for k, v in CURRENT.items() if any(w.startswith(k + " ") for w in wrong))
    missing = sorted(f"{k}/{n}" for k, n in NAMES - found)
    assert not missing, f"{where} lacks {', '.join(missing)}; expected every object of the legacy file, same names"
    stale = sorted({s for d in docs for s in _strings(d) if s in REMOVED})
    assert not stale, f"{where} still names {', '.join(stale)}; expected only versions this cluster serves"


def test_deployment(k8s, params):
    """Deployment shop: 3 replicas of nginx:1.27, a selector of its Pods' labels, rolled out"""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "shop", ns)
    labels = dep.spec.template.metadata.labels or {}
    assert labels.get("app") == "shop" and selects(dep.spec.selector, labels), (
        f"Deployment {ns}/shop has Pod labels {show(labels)}; expected app=shop, selected by its selector")
    web = must_container(dep, "web")
    assert same_image(web.image, "nginx:1.27"), f"Deployment {ns}/shop runs {show(web.image)}; expected nginx:1.27"
    must_be_ready(dep, replicas=3)


def _port(backend):
    svc = backend.service if backend else None
    if svc is None or svc.port is None:
        return None, None
    return svc.name, svc.port.name or svc.port.number


@pytest.mark.points(2)
def test_ingress(k8s, params):
    """Ingress shop: class nginx by its field, the host, /static and / by prefix to Service shop port 80"""
    ns, host = params["namespace"], params["host"]
    ing = must_get(k8s.networking.read_namespaced_ingress, "shop", ns)
    annotations = ing.metadata.annotations or {}
    assert ing.spec.ingress_class_name == "nginx" and "kubernetes.io/ingress.class" not in annotations, (
        f"Ingress {ns}/shop has ingressClassName {show(ing.spec.ingress_class_name)} and class annotation "
        f"{show(annotations.get('kubernetes.io/ingress.class'))}; expected the field nginx and no annotation")
    rules = ing.spec.rules or []
    assert len(rules) == 1 and rules[0].host == host and rules[0].http is not None, (
        f"Ingress {ns}/shop has hosts {show([r.host for r in rules])}; expected one rule for {host}")
    paths = {p.path: p for p in rules[0].http.paths or []}
    assert sorted(paths) == ["/", "/static"], (
        f"Ingress {ns}/shop has paths {show(sorted(p or '' for p in paths))}; expected / and /static")
    for path, p in sorted(paths.items()):
        service, port = _port(p.backend)
        assert p.path_type == "Prefix" and service == "shop" and port in ("http", 80), (
            f"Ingress {ns}/shop path {path} is {show(p.path_type)} to service {show(service)} port "
            f"{show(port)}; expected Prefix to service shop port 80 (named http)")
    must_get(k8s.core.read_namespaced_service, "shop", ns)


def test_disruption_budget(k8s, params):
    """PodDisruptionBudget shop keeps 2 Pods of app=shop available"""
    ns = params["namespace"]
    pdb = must_get(k8s.policy.read_namespaced_pod_disruption_budget, "shop", ns)
    assert pdb.spec.min_available == 2 and pdb.spec.max_unavailable is None, (
        f"PodDisruptionBudget {ns}/shop has minAvailable {show(pdb.spec.min_available)}, maxUnavailable "
        f"{show(pdb.spec.max_unavailable)}; expected minAvailable 2")
    assert selects(pdb.spec.selector, {"app": "shop"}) and not selects(pdb.spec.selector, {}), (
        f"PodDisruptionBudget {ns}/shop selects something else than app=shop; expected app=shop")


def test_cronjob(k8s, params):
    """CronJob shop-report runs every 30 minutes, never concurrently, the same report container"""
    ns = params["namespace"]
    cj = must_get(k8s.batch.read_namespaced_cron_job, "shop-report", ns)
    must_equal(f"CronJob {ns}/shop-report", {"schedule": cj.spec.schedule, "concurrencyPolicy": cj.spec.concurrency_policy},
               {"schedule": "*/30 * * * *", "concurrencyPolicy": "Forbid"})
    c = must_container(cj, "report")
    assert same_image(c.image, "busybox:1.36") and list(c.command or []) == ["sh", "-c", "echo sales report"], (
        f"CronJob {ns}/shop-report runs {show(c.image)} {show(c.command)}; expected busybox:1.36 with "
        "sh -c 'echo sales report' as before")


def test_autoscaler(k8s, params):
    """HorizontalPodAutoscaler shop scales apps/v1 Deployment shop from 3 to 6 at the CPU target"""
    ns, cpu = params["namespace"], params["cpu"]
    hpa = must_get(k8s.autoscaling.read_namespaced_horizontal_pod_autoscaler, "shop", ns)
    ref = hpa.spec.scale_target_ref
    assert (ref.api_version, ref.kind, ref.name) == ("apps/v1", "Deployment", "shop"), (
        f"HorizontalPodAutoscaler {ns}/shop targets {show(ref.api_version)} {show(ref.kind)} "
        f"{show(ref.name)}; expected apps/v1 Deployment shop")
    metrics = hpa.spec.metrics or []
    cpu_target = [m.resource.target for m in metrics
                  if m.type == "Resource" and m.resource and m.resource.name == "cpu"]
    found = {"minReplicas": hpa.spec.min_replicas, "maxReplicas": hpa.spec.max_replicas,
             "cpu": (cpu_target[0].type, cpu_target[0].average_utilization) if len(metrics) == 1 and cpu_target else None}
    must_equal(f"HorizontalPodAutoscaler {ns}/shop", found,
               {"minReplicas": 3, "maxReplicas": 6, "cpu": ("Utilization", cpu)})
