"""Checks for rbac-role-binding-user, by SubjectAccessReview: the user, and a
member of the group who is not the user, are asked about in the namespace
and elsewhere, so every way of granting counts and so does every excess."""

import pytest

from grader.checks import must_get, show

ALLOWED = [("get", "pods"), ("list", "pods"), ("watch", "pods"), ("create", "deployments.apps")]
DENIED = [("create", "pods"), ("delete", "pods"), ("update", "pods"), ("get", "pods/log"),
          ("get", "deployments.apps"), ("list", "deployments.apps"), ("update", "deployments.apps"),
          ("patch", "deployments.apps"), ("delete", "deployments.apps"), ("get", "secrets"),
          ("create", "rolebindings.rbac.authorization.k8s.io")]
MEMBER = "proctor-group-member"  # someone in the group who is not the user


def _subjects(params):
    """(who, SubjectAccessReview user, groups) for the user and for a group member."""
    return [(f"user {params['user']}", params["user"], ["system:authenticated"]),
            (f"a member of group {params['group']}", MEMBER, [params["group"], "system:authenticated"])]


def _may(k8s, user, groups, verb, resource, ns):
    return k8s.can(user, verb, resource, namespace=ns, groups=groups)


@pytest.mark.points(2)
def test_user_and_group_allowed(k8s, params):
    """The user and the group may get, list and watch pods and create deployments in the namespace"""
    ns = params["namespace"]
    for who, user, groups in _subjects(params):
        denied = [f"{v} {r}" for v, r in ALLOWED if not _may(k8s, user, groups, v, r, ns)]
        assert not denied, f"{who} may not {', '.join(denied)} in {ns}; expected allowed"


@pytest.mark.points(2)
def test_nothing_more(k8s, params):
    """RoleBinding app-deployer exists; neither may do anything else in the namespace, nor anything elsewhere"""
    ns = params["namespace"]
    must_get(k8s.rbac.read_namespaced_role_binding, "app-deployer", ns)
    for who, user, groups in _subjects(params):
        extra = [f"{v} {r} in {ns}" for v, r in DENIED if _may(k8s, user, groups, v, r, ns)]
        extra += [f"{v} {r} in {other}" for other in (f"{ns}-staging", "default")
                  for v, r in ALLOWED if _may(k8s, user, groups, v, r, other)]
        extra += [f"{v} {r} in every namespace" for v, r in ALLOWED[:3]
                  if _may(k8s, user, groups, v, r, None)]
        assert not extra, f"{who} may also {'; '.join(extra)}; expected denied"


def test_role_and_binding(k8s, params):
    """Role app-deployer and RoleBinding app-deployer in the namespace bind the user and the group"""
    ns, user, group = params["namespace"], params["user"], params["group"]
    must_get(k8s.rbac.read_namespaced_role, "app-deployer", ns)
    rb = must_get(k8s.rbac.read_namespaced_role_binding, "app-deployer", ns)
    ref = (rb.role_ref.kind, rb.role_ref.name) if rb.role_ref else (None, None)
    assert ref == ("Role", "app-deployer"), (
        f"RoleBinding {ns}/app-deployer refers to {show(ref[0])} {show(ref[1])}; expected Role app-deployer")
    subjects = [(s.kind, s.name) for s in rb.subjects or []]
    missing = [f"{k} {n}" for k, n in (("User", user), ("Group", group)) if (k, n) not in subjects]
    assert not missing, (f"RoleBinding {ns}/app-deployer binds {show([f'{k} {n}' for k, n in subjects])}; "
                         f"expected {' and '.join(missing)} among its subjects")
