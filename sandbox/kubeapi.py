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

import json

from .base import Sandbox

TIMEOUT = 3.0


def client(sandbox: Sandbox):
    """An ``ApiClient`` with the sandbox's admin kubeconfig (imported on first
    use: ``proctor sandbox`` commands that never wait do not pay for it)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(sandbox.kubeconfig),
                                         persist_config=False)


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
    failing = [line[3:].split()[0] for line in str(text).splitlines() if line.startswith("[-]")]
    return failing or [f"status {status}"]
