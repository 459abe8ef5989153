"""Checks for crd-operator-install: the CRD served, the controller running
as its ServiceAccount with the permissions the manifests give it (asked of
the authorizer), and the custom resource as the API server stores it."""

import pytest
from kubernetes import client

from grader.checks import (condition, must_be_ready, must_container, must_equal, must_get, same_image,
                           show)

CRD = "caches.platform.proctor.dev"
GROUP, VERSION, PLURAL = "platform.proctor.dev", "v1alpha1", "caches"
SYSTEM = "cache-system"
SA = f"system:serviceaccount:{SYSTEM}:cache-operator"


def _crds(k8s) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(k8s.api_client)


def test_crd_established(k8s):
    """CustomResourceDefinition caches.platform.proctor.dev is Established"""
    crd = must_get(_crds(k8s).read_custom_resource_definition, CRD,
                   what="CustomResourceDefinition")
    state = condition(crd, "Established")
    assert state == "True", f"CustomResourceDefinition {CRD} has Established={state or 'unknown'}; expected True"


@pytest.mark.points(2)
def test_controller_running(k8s):
    """Deployment cache-operator in cache-system is ready and runs as ServiceAccount cache-operator"""
    must_get(k8s.core.read_namespaced_service_account, "cache-operator", SYSTEM)
    dep = must_get(k8s.apps.read_namespaced_deployment, "cache-operator", SYSTEM)
    sa = dep.spec.template.spec.service_account_name
    assert sa == "cache-operator", (
        f"Deployment {SYSTEM}/cache-operator runs as ServiceAccount {show(sa) if sa else 'default'}; "
        "expected cache-operator, as in the manifest")
    c = must_container(dep, "manager")
    assert same_image(c.image, "busybox:1.36"), (
        f"Deployment {SYSTEM}/cache-operator runs {show(c.image)}; expected busybox:1.36, as in the manifest")
    must_be_ready(dep, replicas=1)


@pytest.mark.points(2)
def test_controller_permissions(k8s):
    """ServiceAccount cache-operator may watch Caches in every namespace and update their status"""
    wanted = [("list", "caches", ""), ("watch", "caches", ""), ("update", "caches", "status"),
              ("create", "statefulsets.apps", "")]
    denied = [f"{v} {r}{'/' + sub if sub else ''}" for v, r, sub in wanted
              if not k8s.can(SA, v, r if "." in r else f"{r}.{GROUP}", subresource=sub)]
    assert not denied, (f"ServiceAccount {SYSTEM}/cache-operator may not {', '.join(denied)}; "
                        "expected the permissions of the operator's ClusterRole")


@pytest.mark.points(2)
def test_cache(k8s, params):
    """Cache <name> in the namespace has the engine, size, version 7.2 and persistence"""
    ns, name = params["namespace"], params["name"]
    if k8s.get(_crds(k8s).read_custom_resource_definition, CRD) is None:
        raise AssertionError(f"Cache {ns}/{name} cannot exist: CustomResourceDefinition {CRD} is not installed")
    obj = must_get(k8s.custom.get_namespaced_custom_object, group=GROUP, version=VERSION, namespace=ns,
                   plural=PLURAL, name=name, what="Cache")
    spec = obj.get("spec") if isinstance(obj, dict) else None
    spec = spec if isinstance(spec, dict) else {}
    must_equal(f"Cache {ns}/{name}", spec,
               {"engine": params["engine"], "size": int(params["size"]), "version": "7.2",
                "persistence": True})
