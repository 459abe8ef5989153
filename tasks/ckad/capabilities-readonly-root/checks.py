"""Checks for capabilities-readonly-root: container proxy hardened in place, exporter untouched."""

import pytest

from grader.checks import (must_be_original, must_be_ready, must_container, must_get, mounted, pods_of,
                           same_image, show)


def _dep(k8s, params):
    ns, name = params["namespace"], params["deployment"]
    return must_get(k8s.apps.read_namespaced_deployment, name, ns, expected="it changed in place")


def _proxy_sc(k8s, params):
    dep = _dep(k8s, params)
    c = must_container(dep, "proxy")
    return dep, c, c.security_context


def _rolled_out(k8s, params, dep):
    """The original Deployment, proxy's image and 2 replicas kept, every replica on the new template."""
    ns, name = params["namespace"], params["deployment"]
    must_be_original(k8s, dep, f"{name}-{ns}-original")
    c = must_container(dep, "proxy")
    assert same_image(c.image, "nginx:1.22"), f"container proxy uses image {show(c.image)}; expected nginx:1.22 kept"
    must_be_ready(dep, replicas=2)
    assert pods_of(k8s, dep), f"Deployment {ns}/{name} has no Pods; expected 2"


@pytest.mark.points(2)
def test_capabilities(k8s, params):
    """Container proxy drops ALL capabilities and adds back only NET_BIND_SERVICE, rolled out in place"""
    dep, _, sc = _proxy_sc(k8s, params)
    caps = sc.capabilities if sc else None
    drop, add = (caps.drop or []) if caps else [], (caps.add or []) if caps else []
    assert "ALL" in drop, f"container proxy drops capabilities {show(drop)}; expected ALL"
    assert sorted(set(add)) == ["NET_BIND_SERVICE"], (
        f"container proxy adds capabilities {show(add)}; expected only NET_BIND_SERVICE")
    _rolled_out(k8s, params, dep)


@pytest.mark.points(2)
def test_non_root(k8s, params):
    """Container proxy runs as the user ID and must not run as root; exporter's settings are unchanged"""
    dep, c, sc = _proxy_sc(k8s, params)
    pod_sc = dep.spec.template.spec.security_context
    want = int(params["uid"])

    def effective(field):
        own = getattr(sc, field, None) if sc else None
        return own if own is not None else (getattr(pod_sc, field, None) if pod_sc else None)
    assert effective("run_as_user") == want, (
        f"container proxy runs as user {show(effective('run_as_user'))}; expected {want}")
    assert effective("run_as_non_root") is True, (
        f"container proxy has runAsNonRoot {show(effective('run_as_non_root'))}; expected true")
    exp = must_container(dep, "exporter")
    own = exp.security_context.to_dict() if exp.security_context else {}
    own = {k: v for k, v in own.items() if v is not None}
    assert own == {"run_as_user": 0}, (f"container exporter has securityContext {show(own)}; "
                                       "expected it unchanged (runAsUser: 0 only)")
    shared = {k: v for k, v in (pod_sc.to_dict() if pod_sc else {}).items()
              if v not in (None, [], {}) and k != "run_as_user"}
    assert not shared, (f"the Pod's securityContext sets {show(sorted(shared))}, which also applies to "
                        "container exporter; expected proxy's settings in proxy's own securityContext")


def test_no_escalation_read_only_root(k8s, params):
    """Container proxy cannot escalate privileges and has a read-only root filesystem"""
    _, _, sc = _proxy_sc(k8s, params)
    ape = sc.allow_privilege_escalation if sc else None
    ro = sc.read_only_root_filesystem if sc else None
    assert ape is False, f"container proxy has allowPrivilegeEscalation {show(ape)}; expected false"
    assert ro is True, f"container proxy has readOnlyRootFilesystem {show(ro)}; expected true"


def test_writable_dirs(k8s, params):
    """Container proxy has an emptyDir volume at /var/cache/nginx and at /var/run"""
    dep, c, _ = _proxy_sc(k8s, params)
    for path in ("/var/cache/nginx", "/var/run"):
        mount, vol = mounted(dep, c, path)
        assert mount is not None, f"container proxy mounts nothing at {path}; expected an emptyDir volume"
        assert vol is not None and vol.empty_dir is not None and not mount.sub_path, (
            f"container proxy mounts volume {show(mount.name)} at {path}, which is not an emptyDir; expected one")
