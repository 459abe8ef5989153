"""Clients for one cluster, bound to its kubeconfig and nothing else.

``K8s`` and ``Kubectl`` back the ``k8s`` and ``kubectl`` fixtures of
``grader.plugin``. Nothing here reads ``KUBECONFIG`` or the kubernetes
client's global default configuration: a grader process may serve many
clusters, and a check must never look at the wrong one (kr8s's rule).

    >>> k8s = K8s("/path/to/kubeconfig")                          # doctest: +SKIP
    >>> k8s.get(k8s.core.read_namespaced_service, "web", "shop")  # None when absent
    >>> k8s.endpoints("web", "shop")                              # ['10.0.0.7', ...]
    >>> k8s.can("system:serviceaccount:shop:ci", "list", "pods", "shop")
"""

from __future__ import annotations

import json as _json
import os
import shlex
import subprocess
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from kubernetes import client as _client
from kubernetes import config as _config
from kubernetes.client.exceptions import ApiException

__all__ = ["K8s", "Kubectl", "KubectlError", "KubectlOutput", "ApiException", "selector_string"]


def selector_string(selector: str | dict | None) -> str | None:
    """``{"app": "web", "tier": "fe"}`` -> ``"app=web,tier=fe"``; strings pass through."""
    if selector is None or isinstance(selector, str):
        return selector
    return ",".join(f"{k}={v}" for k, v in selector.items())


class K8s:
    """Kubernetes API clients for one cluster, plus small helpers for checks.

    ``core apps batch rbac networking storage authz policy discovery
    autoscaling custom`` are the typed APIs (``CoreV1Api`` …), created on
    first use and shared by every check of a grading session."""

    def __init__(self, kubeconfig: str | Path, context: str | None = None):
        self.kubeconfig = Path(kubeconfig)
        self.api_client = _config.new_client_from_config(
            config_file=str(self.kubeconfig), context=context, persist_config=False)

    def __repr__(self) -> str:
        return f"K8s({str(self.kubeconfig)!r})"

    @cached_property
    def core(self) -> _client.CoreV1Api: return _client.CoreV1Api(self.api_client)
    @cached_property
    def apps(self) -> _client.AppsV1Api: return _client.AppsV1Api(self.api_client)
    @cached_property
    def batch(self) -> _client.BatchV1Api: return _client.BatchV1Api(self.api_client)
    @cached_property
    def rbac(self) -> _client.RbacAuthorizationV1Api: return _client.RbacAuthorizationV1Api(self.api_client)
    @cached_property
    def networking(self) -> _client.NetworkingV1Api: return _client.NetworkingV1Api(self.api_client)
    @cached_property
    def storage(self) -> _client.StorageV1Api: return _client.StorageV1Api(self.api_client)
    @cached_property
    def authz(self) -> _client.AuthorizationV1Api: return _client.AuthorizationV1Api(self.api_client)
    @cached_property
    def policy(self) -> _client.PolicyV1Api: return _client.PolicyV1Api(self.api_client)
    @cached_property
    def discovery(self) -> _client.DiscoveryV1Api: return _client.DiscoveryV1Api(self.api_client)
    @cached_property
    def autoscaling(self) -> _client.AutoscalingV2Api: return _client.AutoscalingV2Api(self.api_client)
    @cached_property
    def custom(self) -> _client.CustomObjectsApi: return _client.CustomObjectsApi(self.api_client)

    # -- helpers ---------------------------------------------------------------
    @staticmethod
    def get(fn: Callable, *args, **kw) -> Any | None:
        """``fn(*args, **kw)``, or None when the API answers 404 Not Found.

            svc = k8s.get(k8s.core.read_namespaced_service, "web", "shop")
        """
        try:
            return fn(*args, **kw)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    @staticmethod
    def wait_until(fn: Callable[[], Any], timeout: float = 10.0, interval: float = 0.25) -> Any:
        """Call ``fn`` until it returns something truthy, and return that.

        On timeout return the last (falsy) value, so the check's own assertion
        reports what was found. An ``AssertionError`` raised by ``fn`` counts as
        "not yet" and is re-raised if it still fails at the deadline. Keep
        ``timeout`` below the per-check limit (10 s by default)."""
        deadline = time.monotonic() + timeout
        while True:
            error = None
            try:
                value = fn()
            except AssertionError as exc:
                value, error = None, exc
            if value and error is None:
                return value
            if time.monotonic() >= deadline:
                if error is not None:
                    raise error
                return value
            time.sleep(interval)

    def pods(self, namespace: str | None, selector: str | dict | None = None,
             field_selector: str | None = None) -> list:
        """Pods of a namespace (every namespace when None), optionally by label selector."""
        kw = {"label_selector": selector_string(selector), "field_selector": field_selector}
        kw = {k: v for k, v in kw.items() if v}
        if namespace is None:
            return self.core.list_pod_for_all_namespaces(**kw).items
        return self.core.list_namespaced_pod(namespace, **kw).items

    def endpoints(self, service: str, namespace: str) -> list[str]:
        """Sorted addresses of the *ready* endpoints of a Service, from its EndpointSlices.

        An empty list means the Service routes nowhere (no pod matches its
        selector, or none is ready)."""
        slices = self.discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service}").items
        found = set()
        for s in slices:
            for ep in s.endpoints or []:
                # API rule: a nil "ready" condition is to be read as ready.
                if ep.conditions is None or ep.conditions.ready is not False:
                    found.update(ep.addresses or [])
        return sorted(found)

    def can(self, user: str, verb: str, resource: str, namespace: str | None = None,
            group: str = "", subresource: str = "", name: str | None = None,
            groups: list[str] | None = None) -> bool:
        """Whether ``user`` may ``verb`` ``resource``, asked of the API server's
        authorizer with a SubjectAccessReview (so every way of granting counts).

        ``resource`` may carry its group and subresource: ``deployments.apps``,
        ``pods/log``. A ServiceAccount is ``system:serviceaccount:<ns>:<name>``;
        its groups are added automatically, as the API server would."""
        if "/" in resource and not subresource:
            resource, subresource = resource.split("/", 1)
        if "." in resource and not group:
            resource, group = resource.split(".", 1)
        if groups is None and user.startswith("system:serviceaccount:"):
            ns = user.split(":")[2]
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                      "system:authenticated"]
        attrs = _client.V1ResourceAttributes(
            namespace=namespace, verb=verb, resource=resource, group=group,
            subresource=subresource or None, name=name)
        review = _client.V1SubjectAccessReview(spec=_client.V1SubjectAccessReviewSpec(
            user=user, groups=groups, resource_attributes=attrs))
        return bool(self.authz.create_subject_access_review(review).status.allowed)


class KubectlError(Exception):
    """kubectl exited non-zero; the message has the command, exit code and stderr."""

    def __init__(self, args: list[str], returncode: int, stderr: str):
        self.args_, self.returncode, self.stderr = args, returncode, stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"kubectl {' '.join(args)} failed (exit {returncode}): {detail}")


class KubectlOutput(str):
    """kubectl's stdout, with ``.returncode`` and ``.stderr`` for ``check=False`` calls."""

    returncode: int = 0
    stderr: str = ""


class Kubectl:
    """The toolchain's kubectl bound to one kubeconfig.

        kubectl("get", "pods", "-n", "shop")        # stdout
        kubectl("get pods -n shop")                 # one string is split like a shell
        kubectl.json("get", "deploy", "web", "-n", "shop")["spec"]["replicas"]
        kubectl("get", "pod", "x", check=False).returncode
    """

    def __init__(self, binary: str | Path, kubeconfig: str | Path, timeout: float = 20.0,
                 cache_dir: str | Path | None = None):
        self.binary, self.kubeconfig, self.timeout = str(binary), str(kubeconfig), timeout
        # A private discovery cache: never the candidate's nor ~/.kube's.
        self.cache_dir = str(cache_dir or tempfile.mkdtemp(prefix="proctor-kubectl-cache-"))

    def __call__(self, *args: str, input: str | None = None, check: bool = True,
                 timeout: float | None = None) -> KubectlOutput:
        argv = shlex.split(args[0]) if len(args) == 1 and " " in args[0] else [str(a) for a in args]
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": self.cache_dir,
               "LANG": "C.UTF-8"}
        res = subprocess.run(
            [self.binary, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir, *argv],
            input=input, capture_output=True, text=True, env=env,
            timeout=timeout or self.timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise KubectlError(argv, res.returncode, res.stderr)
        out = KubectlOutput(res.stdout)
        out.returncode, out.stderr = res.returncode, res.stderr
        return out

    def json(self, *args: str, **kw) -> Any:
        """``kubectl … -o json``, parsed."""
        argv = shlex.split(args[0]) if len(args) == 1 and " " in args[0] else list(args)
        return _json.loads(self(*argv, "-o", "json", **kw))
