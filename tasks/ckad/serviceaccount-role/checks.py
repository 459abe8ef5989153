"""Checks for serviceaccount-role, by SubjectAccessReview: what deployer may and may not do."""

import pytest

from grader.checks import must_get, pods_of, show

ALLOWED = ("get", "list", "watch", "create", "update")
APPS_KINDS = ("deployments", "statefulsets", "daemonsets", "replicasets", "controllerrevisions")


def _user(params):
    return f"system:serviceaccount:{params['namespace']}:deployer"


@pytest.mark.points(3)
def test_allowed_verbs(k8s, params):
    """deployer may get, list, watch, create and update the resource in its namespace"""
    ns, res = params["namespace"], params["resource"]
    denied = [v for v in ALLOWED if not k8s.can(_user(params), v, res, namespace=ns, group="apps")]
    assert not denied, (f"ServiceAccount {ns}/deployer may not {', '.join(denied)} {res}; "
                        f"expected to be allowed {', '.join(ALLOWED)}")


@pytest.mark.points(2)
def test_nothing_more(k8s, params):
    """deployer exists and may not delete or patch the resource, read Secrets, or act elsewhere"""
    ns, res, user = params["namespace"], params["resource"], _user(params)
    must_get(k8s.core.read_namespaced_service_account, "deployer", ns)
    probes = [("delete", res, ns, "apps"), ("patch", res, ns, "apps"),
              ("deletecollection", res, ns, "apps"), ("get", "secrets", ns, ""),
              ("list", "secrets", ns, ""), ("create", "pods", ns, ""),
              ("list", res, "default", "apps"), ("create", res, "kube-system", "apps"),
              ("get", "roles", ns, "rbac.authorization.k8s.io")]
    # the other kinds of the apps group: a Role on resources '*' (or a list of them) grants those too
    probes += [("get", other, ns, "apps") for other in APPS_KINDS if other != res]
    extra = [f"{v} {r} in {n}" for v, r, n, g in probes if k8s.can(user, v, r, namespace=n, group=g)]
    assert not extra, f"ServiceAccount {ns}/deployer may also {'; '.join(extra)}; expected denied"


def test_binding(k8s, params):
    """RoleBinding deployer grants Role deployer to ServiceAccount deployer"""
    ns = params["namespace"]
    rb = must_get(k8s.rbac.read_namespaced_role_binding, "deployer", ns)
    assert (rb.role_ref.kind, rb.role_ref.name) == ("Role", "deployer"), (
        f"RoleBinding deployer refers to {rb.role_ref.kind} {show(rb.role_ref.name)}; expected Role deployer")
    subjects = [(s.kind, s.name, s.namespace or ns) for s in rb.subjects or []]
    # the ServiceAccount, or the user name it authenticates as: RBAC grants both alike
    as_user = f"system:serviceaccount:{ns}:deployer"
    assert ("ServiceAccount", "deployer", ns) in subjects or any(
        kind == "User" and name == as_user for kind, name, _ in subjects), (
        f"RoleBinding deployer binds {show(subjects)}; expected ServiceAccount {ns}/deployer")


def test_runner_uses_sa(k8s, params):
    """Deployment ci-runner runs its Pods as ServiceAccount deployer"""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "ci-runner", ns, expected="it to still exist")
    found = dep.spec.template.spec.service_account_name or "default"
    assert found == "deployer", f"Deployment ci-runner runs as ServiceAccount {show(found)}; expected deployer"
    pods = pods_of(k8s, dep)
    wrong = [p.metadata.name for p in pods if (p.spec.service_account_name or "default") != "deployer"]
    assert pods and not wrong and (dep.status.ready_replicas or 0) >= 1, (
        f"ci-runner Pods {wrong or 'none ready'} do not run as deployer; expected the rollout complete")
