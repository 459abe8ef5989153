"""Where an Ingress sends a request, as the Ingress API defines it, for checks
on clusters that run no Ingress controller (kwok).

* The rules of the request's host: an exact host first, else a ``*.``
  wildcard of one DNS label, else the rules without a host.
* Among their paths, the longest that matches; ``Exact`` before ``Prefix``
  of the same length. ``Prefix`` (and ``ImplementationSpecific``, as most
  controllers treat it) matches by whole path elements: ``/api`` matches
  ``/api`` and ``/api/v1``, not ``/apix``.
* No match: ``spec.defaultBackend``, else nothing.

A backend's port by name is resolved through its Service, so ``http`` and
``80`` are the same port. Every field may be missing (cluster data is
hostile, ``grader.checks``).
https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types

    >>> target(k8s, "shop", route(ing, "shop.example.com", "/api/v1"))   # doctest: +SKIP
    ('api', 8080)
"""

from __future__ import annotations

from .checks import show


def host_matches(pattern: str | None, host: str) -> bool:
    """Whether an Ingress rule's host (exact, or ``*.`` of one label) matches ``host``."""
    pattern = (pattern or "").lower()
    if pattern.startswith("*."):
        return "." in host and host.partition(".")[2] == pattern[2:]
    return pattern == host


def _elements(path: str | None) -> list[str]:
    return [x for x in (path or "/").split("/") if x]


def route(ing, host: str, path: str):
    """The backend (``V1IngressBackend``) a controller picks for ``host`` + ``path``, or None."""
    spec = getattr(ing, "spec", None)
    rules = [r for r in (getattr(spec, "rules", None) or []) if r is not None]
    exact = [r for r in rules if (r.host or "").lower() == host]
    wild = [r for r in rules if (r.host or "").startswith("*.") and host_matches(r.host, host)]
    chosen = exact or wild or [r for r in rules if not r.host]
    best, best_key = None, None
    for rule in chosen:
        for p in (getattr(rule.http, "paths", None) or []):
            if p is None:
                continue
            rp = p.path or "/"
            if p.path_type == "Exact":
                ok = path == rp
            else:
                want = _elements(rp)
                ok = _elements(path)[:len(want)] == want
            key = (len(rp), p.path_type == "Exact")
            if ok and (best_key is None or key > best_key):
                best, best_key = p.backend, key
    if best_key is not None:
        return best
    return getattr(spec, "default_backend", None)


def target(k8s, namespace: str, backend) -> tuple[str, int | str | None] | None:
    """``(Service, port number)`` of a backend; the port's name where the
    Service has no port of that name; None for a backend that is no Service."""
    ref = getattr(backend, "service", None)
    if ref is None:
        return None
    port = ref.port
    if port is None:
        return (ref.name, None)
    if port.number:
        return (ref.name, port.number)
    svc = k8s.get(k8s.core.read_namespaced_service, ref.name, namespace) if ref.name else None
    for p in (getattr(getattr(svc, "spec", None), "ports", None) or []):
        if p.name and p.name == port.name:
            return (ref.name, p.port)
    return (ref.name, port.name)


def target_text(found) -> str:
    """A ``target`` for a message: "Service 'web' port 80", or why there is none."""
    if found is None:
        return "no backend (no rule or default backend takes it)"
    name, port = found
    shown = port if isinstance(port, int) else f"{show(port)} (no such port of the Service)"
    return f"Service {show(name)} port {shown}"
