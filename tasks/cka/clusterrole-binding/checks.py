"""Checks for clusterrole-binding, by SubjectAccessReview for the user."""

import pytest

from grader.checks import must_get, show

READ = ("get", "list", "watch")


@pytest.mark.points(3)
def test_can_read(k8s, params):
    """The user may get, list and watch nodes and persistentvolumes"""
    user = params["user"]
    denied = [f"{v} {r}" for r in ("nodes", "persistentvolumes") for v in READ
              if not k8s.can(user, v, r)]
    assert not denied, f"user {user} may not {', '.join(denied)}; expected allowed"


@pytest.mark.points(2)
def test_nothing_more(k8s, params):
    """The ClusterRole exists and the user may not modify nodes or volumes, nor read Pods or Secrets"""
    user = params["user"]
    must_get(k8s.rbac.read_cluster_role, "capacity-viewer")
    probes = [("delete", "nodes", None), ("update", "nodes", None), ("patch", "nodes", None),
              ("create", "persistentvolumes", None), ("delete", "persistentvolumes", None),
              ("list", "pods", "default"), ("list", "pods", None), ("get", "secrets", "kube-system"),
              ("list", "persistentvolumeclaims", "default")]
    extra = [f"{v} {r}" + (f" in {n}" if n else "") for v, r, n in probes
             if k8s.can(user, v, r, namespace=n)]
    assert not extra, f"user {user} may also {'; '.join(extra)}; expected denied"


def test_binding(k8s, params):
    """ClusterRoleBinding capacity-viewer-<user> grants ClusterRole capacity-viewer to the user"""
    user = params["user"]
    name = f"capacity-viewer-{user}"
    crb = must_get(k8s.rbac.read_cluster_role_binding, name)
    assert (crb.role_ref.kind, crb.role_ref.name) == ("ClusterRole", "capacity-viewer"), (
        f"ClusterRoleBinding {name} refers to {crb.role_ref.kind} {show(crb.role_ref.name)}; "
        "expected ClusterRole capacity-viewer")
    subjects = [(s.kind, s.name) for s in crb.subjects or []]
    assert ("User", user) in subjects, (
        f"ClusterRoleBinding {name} binds {show(subjects)}; expected User {user}")
