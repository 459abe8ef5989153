"""A sandbox's API over one kept connection, for the waits of a create.

A create asks the API server the same few questions many times a second
(are the nodes Ready, does the default ServiceAccount exist, is /readyz
whole) while the API server is still starting. Each ``kubectl`` call costs a
process, about 0.1 s of a core on two cores the API server needs for its own
start; the kubernetes client keeps its connection and answers in
milliseconds. Requests go raw (JSON in, JSON out): the typed methods
validate bodies against models that want fields a Node of kwok's has no use
for (``bootID`` …).

    >>> api = client(sandbox)                                  # doctest: +SKIP
    >>> request(api, "GET", "/api/v1/nodes")[0]                # doctest: +SKIP
    200
    >>> readyz_failing(api)                                    # doctest: +SKIP
    ['poststarthook/rbac/bootstrap-roles']
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import yaml

from .base import Sandbox

TIMEOUT = 3.0


def client(sandbox: Sandbox):
    """An ``ApiClient`` with the sandbox's admin credentials (the kubernetes
    client is imported on first use: ``proctor sandbox`` commands that never
    wait do not pay for it). Its certificates and key are written beside the
    kubeconfig (``client/``, 0600, root's), so they go with the sandbox; the
    client's own kubeconfig loader leaves a temporary copy of each key in
    /tmp until the process ends, three more files for every create of a
    long-running worker."""
    from kubernetes.client import ApiClient, Configuration

    config = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
    context = _named(config, "contexts", config.get("current-context"))
    cluster = _named(config, "clusters", context.get("cluster"))
    user = _named(config, "users", context.get("user"))
    folder = Path(sandbox.kubeconfig).parent / "client"
    folder.mkdir(mode=0o700, exist_ok=True)
    conf = Configuration()
    conf.host = cluster["server"]
    for attr, data, name in (("ssl_ca_cert", cluster.get("certificate-authority-data"), "ca.crt"),
                             ("cert_file", user.get("client-certificate-data"), "client.crt"),
                             ("key_file", user.get("client-key-data"), "client.key")):
        if data:
            path = folder / name
            path.touch(mode=0o600)
            path.write_bytes(base64.b64decode(data))
            setattr(conf, attr, str(path))
    return ApiClient(conf)


def _named(config: dict, section: str, name) -> dict:
    """The entry ``name`` of a kubeconfig's ``section`` (its only one, unnamed)."""
    entries = config.get(section) or []
    entry = next((e for e in entries if e.get("name") == name), entries[0] if entries else {})
    return entry.get(section[:-1]) or {}


def request(api, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """``(status, answer)``: the answer decoded from JSON where it is JSON, else
    its text. Any status comes back; no answer at all raises ``OSError``."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        resp = api.call_api(method, api.configuration.host + path, header_params=headers,
                            body=body, _request_timeout=TIMEOUT)
        raw = resp.read()
    except (ApiException, HTTPError) as exc:
        raise OSError(f"no answer from {api.configuration.host}: {exc}") from None
    text = raw.decode(errors="replace")
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def readyz_failing(api) -> list[str]:
    """The checks of ``/readyz`` that fail (``[]`` once it passes)."""
    status, text = request(api, "GET", "/readyz?verbose")
    if status == 200:
        return []
    return failing_checks(str(text)) or [f"status {status}"]


def failing_checks(verbose: str) -> list[str]:
    """The names of the failing checks (``[-]…``) in a verbose ``/readyz`` answer."""
    return [line[3:].split()[0] for line in verbose.splitlines() if line.startswith("[-]")]


def ready_nodes(node_list) -> set[str]:
    """The names of the nodes of a NodeList (as JSON) that are Ready and carry
    no ``node.kubernetes.io/`` taint (not-ready, unreachable …: admission puts
    one on a node a kubelet registers, the node lifecycle controller takes it off)."""
    items = node_list.get("items") if isinstance(node_list, dict) else None
    ready = set()
    for node in items if isinstance(items, list) else []:
        conditions = (node.get("status") or {}).get("conditions") or []
        taints = (node.get("spec") or {}).get("taints") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions) \
                and not any(str(t.get("key", "")).startswith("node.kubernetes.io/") for t in taints):
            ready.add(node["metadata"]["name"])
    return ready


def usable_state(kubectl, want: set[str]) -> str:
    """What a cluster of real nodes still lacks, asked through ``kubectl(*args)``
    (a CompletedProcess): an empty string once the nodes ``want`` are Ready
    (``ready_nodes``), CoreDNS is available and the default ServiceAccount is
    there."""
    res = kubectl("get", "nodes", "-o", "json", "--request-timeout=20s")
    try:
        ready = ready_nodes(json.loads(res.stdout))
    except ValueError:  # no answer yet
        ready = set()
    if ready != want:
        said = f" (kubectl: {res.stderr.strip()[-200:]})" if res.returncode != 0 else ""
        return f"ready nodes {sorted(ready)} of {sorted(want)}{said}"
    res = kubectl("-n", "kube-system", "get", "deployment", "coredns", "-o",
                  "jsonpath={.status.availableReplicas}", "--request-timeout=20s")
    if res.stdout.strip() in ("", "0"):
        return "CoreDNS not available"
    if kubectl("get", "serviceaccount", "default", "--request-timeout=20s").returncode != 0:
        return "no default ServiceAccount"
    return ""


def wait_usable(kubectl, want: set[str], timeout: float, interval: float) -> str:
    """Ask ``usable_state`` until it is empty or ``timeout`` passes; returns
    the last answer (empty: usable). A kubectl that does not answer in time
    (a busy machine) is asked again."""
    deadline = time.monotonic() + timeout
    state = "nothing checked yet"
    while time.monotonic() < deadline:
        try:
            state = usable_state(kubectl, want)
        except subprocess.TimeoutExpired as exc:
            state = f"kubectl did not answer within {exc.timeout:.0f}s"
        if not state:
            break
        time.sleep(interval)
    return state
