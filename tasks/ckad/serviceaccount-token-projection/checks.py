"""Checks for serviceaccount-token-projection: Deployment fetcher runs as its own
ServiceAccount, without the automatic API token, with a projected token for an audience."""

import posixpath

import pytest

from grader.checks import must_be_ready, must_container, must_get, pods_of, same_image, show

AUTO_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _dep(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "fetcher", params["namespace"],
                    expected="it kept and changed in place")


def _pods(k8s, dep):
    pods = pods_of(k8s, dep)
    assert pods, f"Deployment {dep.metadata.namespace}/fetcher has no Pods; expected 2"
    return pods


@pytest.mark.points(2)
def test_runs_as_serviceaccount(k8s, params):
    """ServiceAccount exists and every Pod of fetcher (image and 2 replicas kept, rolled out) runs as it"""
    ns, sa = params["namespace"], params["sa"]
    must_get(k8s.core.read_namespaced_service_account, sa, ns)
    dep = _dep(k8s, params)
    spec = dep.spec.template.spec
    found = spec.service_account_name or spec.service_account or "default"
    assert found == sa, f"Deployment {ns}/fetcher runs its Pods as ServiceAccount {show(found)}; expected {sa}"
    c = must_container(dep, "fetcher")
    assert same_image(c.image, "busybox:1.36"), f"container fetcher uses image {show(c.image)}; expected busybox:1.36 kept"
    must_be_ready(dep, replicas=2)
    others = sorted(p.metadata.name for p in _pods(k8s, dep) if p.spec.service_account_name != sa)
    assert not others, f"Pods {', '.join(others)} of fetcher do not run as {sa}; expected every replica on the new template"


def test_no_automatic_token(k8s, params):
    """The Pods of fetcher get no automatically mounted API token"""
    ns, sa = params["namespace"], params["sa"]
    dep = _dep(k8s, params)
    spec = dep.spec.template.spec
    account = k8s.get(k8s.core.read_namespaced_service_account,
                      spec.service_account_name or spec.service_account or "default", ns)
    pod_level = spec.automount_service_account_token
    effective = pod_level if pod_level is not None else (
        account.automount_service_account_token if account is not None else None)
    assert effective is False, (
        f"Deployment {ns}/fetcher has automountServiceAccountToken {show(pod_level)} in its Pod template and "
        f"ServiceAccount {sa} has {show(account.automount_service_account_token if account else None)}; "
        "expected false on either, so that no API token is mounted automatically")
    mounted = sorted(p.metadata.name for p in _pods(k8s, dep) for c in p.spec.containers or []
                     for m in c.volume_mounts or [] if (m.mount_path or "").rstrip("/") == AUTO_TOKEN_DIR)
    assert not mounted, (f"Pods {', '.join(sorted(set(mounted)))} of fetcher have the API token mounted at "
                         f"{AUTO_TOKEN_DIR}; expected none (roll out the new template)")


def _token_files(obj, container):
    """[(file path, serviceAccountToken source)] that ``container`` sees from projected volumes."""
    spec = obj.spec.template.spec
    volumes = {v.name: v for v in spec.volumes or []}
    found = []
    for m in container.volume_mounts or []:
        vol = volumes.get(m.name)
        if vol is None or vol.projected is None:
            continue
        for src in vol.projected.sources or []:
            sat = src.service_account_token
            if sat is None:
                continue
            if m.sub_path:
                if posixpath.normpath(m.sub_path) == posixpath.normpath(sat.path or ""):
                    found.append((posixpath.normpath(m.mount_path or "/"), sat))
            else:
                found.append((posixpath.normpath(posixpath.join(m.mount_path or "/", sat.path or "")), sat))
    return found


@pytest.mark.points(3)
def test_projected_token(k8s, params):
    """Container fetcher finds a token for the audience, valid for the given seconds, at the file path"""
    want = posixpath.join(params["path"], "token")
    dep = _dep(k8s, params)
    files = _token_files(dep, must_container(dep, "fetcher"))
    at = [sat for f, sat in files if f == want]
    assert at, (f"container fetcher has projected ServiceAccount tokens at {show([f for f, _ in files])}; "
                f"expected one at {want}" if files else
                f"container fetcher mounts no projected ServiceAccount token; expected one at {want}")
    sat = at[0]
    found = {"audience": sat.audience, "expirationSeconds": sat.expiration_seconds}
    wanted = {"audience": params["audience"], "expirationSeconds": int(params["expiration"])}
    wrong = [k for k in wanted if found[k] != wanted[k]]
    assert not wrong, (f"the token at {want} has " + ", ".join(f"{k} {show(found[k])}" for k in wrong)
                       + "; expected " + ", ".join(f"{k} {wanted[k]}" for k in wrong))
