"""Checks for rbac-forbidden-fix, by SubjectAccessReview: what the add-on's
ServiceAccount may do in its namespace, what it may not do there or
elsewhere, and that no other identity gained anything. The API server's
authorizer decides, so every name and every way of granting counts."""

import pytest

from grader.checks import must_get, show

SHARED = "shared-credentials"  # another ConfigMap of the namespace, which setup created


def _sa(params) -> str:
    return f"system:serviceaccount:{params['namespace']}:{params['app']}"


def _allowed(params) -> list:
    """(verb, resource, object name) the ServiceAccount needs in its namespace."""
    return [("get", "pods", None), ("list", "pods", None), ("watch", "pods", None),
            ("get", "configmaps", f"{params['app']}-config")]


def _what(verb, resource, name) -> str:
    return f"{verb} {resource}/{name}" if name else f"{verb} {resource}"


def _must_be_fixed(k8s, params) -> None:
    """Fail unless the ServiceAccount may list Pods at all: the checks of what
    it must NOT do are about the fix, not about setup's state (where it may
    do nothing)."""
    ns = params["namespace"]
    assert k8s.can(_sa(params), "list", "pods", namespace=ns), (
        f"ServiceAccount {ns}/{params['app']} may not list pods in {ns}; expected the RBAC fixed first")


@pytest.mark.points(3)
def test_allowed(k8s, params):
    """ServiceAccount <app> may get, list and watch Pods and get ConfigMap <app>-config in the namespace; the Deployment still runs as it"""
    ns, app = params["namespace"], params["app"]
    must_get(k8s.core.read_namespaced_service_account, app, ns, expected="it kept")
    dep = must_get(k8s.apps.read_namespaced_deployment, app, ns, expected="it kept")
    spec = dep.spec.template.spec
    found = spec.service_account_name or "default"
    assert found == app, f"Deployment {ns}/{app} runs as ServiceAccount {show(found)}; expected {app}, unchanged"
    denied = [_what(v, r, n) for v, r, n in _allowed(params)
              if not k8s.can(_sa(params), v, r, namespace=ns, name=n)]
    assert not denied, (f"ServiceAccount {ns}/{app} may not {', '.join(denied)} in {ns}; "
                        "expected allowed")


@pytest.mark.points(2)
def test_nothing_more(k8s, params):
    """The ServiceAccount may do nothing else: no other verb, resource or ConfigMap, nothing outside the namespace"""
    ns, app = params["namespace"], params["app"]
    _must_be_fixed(k8s, params)
    config = f"{app}-config"
    here = [("create", "pods", "", ""), ("update", "pods", "", ""), ("patch", "pods", "", ""),
            ("delete", "pods", "", ""), ("deletecollection", "pods", "", ""),
            ("get", "pods/log", "", ""), ("create", "pods/exec", "", ""),
            ("list", "configmaps", "", ""), ("watch", "configmaps", "", ""),
            ("get", "configmaps", "", SHARED), ("update", "configmaps", "", config),
            ("patch", "configmaps", "", config), ("delete", "configmaps", "", config),
            ("get", "secrets", "", ""), ("list", "services", "", ""),
            ("list", "deployments", "apps", ""), ("get", "events", "", ""),
            ("create", "rolebindings", "rbac.authorization.k8s.io", "")]  # (verb, resource, group, name)
    wanted = [(v, r, "", n) for v, r, n in _allowed(params)]
    pods = [p for p in wanted if p[1] == "pods"]
    extra = []
    for where, probes in ((ns, here), ("default", wanted), ("kube-system", wanted), (None, pods)):
        may = [_what(v, r, n) for v, r, g, n in probes
               if k8s.can(_sa(params), v, r, namespace=where, group=g, name=n or None)]
        if may:
            extra.append(f"{', '.join(may)} in {where or 'every namespace'}")
    assert not extra, f"ServiceAccount {ns}/{app} may also {'; '.join(extra)}; expected denied"


def test_no_one_else(k8s, params):
    """No other ServiceAccount or user may read the Pods or the ConfigMap through what was granted"""
    ns, app = params["namespace"], params["app"]
    _must_be_fixed(k8s, params)
    others = [(f"ServiceAccount default/{app}", f"system:serviceaccount:default:{app}", None),
              (f"ServiceAccount {ns}/default", f"system:serviceaccount:{ns}:default", None),
              (f"another ServiceAccount of {ns}", f"system:serviceaccount:{ns}:proctor-probe", None),
              ("an authenticated user", "proctor-probe-user", ["system:authenticated"])]
    extra = []
    for who, user, groups in others:
        may = [_what(v, r, n) for v, r, n in _allowed(params)
               if k8s.can(user, v, r, namespace=ns, name=n, groups=groups)]
        extra += [f"{who} may {', '.join(may)}"] if may else []
    assert not extra, (f"In {ns}, {'; '.join(extra)}; expected only ServiceAccount {ns}/{app} "
                       "to be allowed")
