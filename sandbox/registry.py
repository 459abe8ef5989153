"""Providers by name, imported on first use (like testinfra's backends).

An outside provider is one ``register("vm", "mypkg.vm:VMProvider")`` away;
nothing here imports a provider module until someone asks for it.
"""

from __future__ import annotations

import importlib
from urllib.parse import parse_qsl, urlsplit

from .base import Provider, SandboxError, UnknownProvider, check_name, check_nodes

PROVIDERS: dict[str, str] = {
    "kwok": "sandbox.kwok:KwokProvider",
    "gvisor": "sandbox.gvisor:GvisorProvider",
    "kind": "sandbox.kind:KindProvider",
    "vm": "sandbox.vm:VMProvider",
}
_instances: dict[str, Provider] = {}


def register(name: str, target: str) -> None:
    """Make a provider available as ``name``; ``target`` is ``module:Class``."""
    PROVIDERS[name] = target
    _instances.pop(name, None)


def get_provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise UnknownProvider(name, sorted(PROVIDERS))
    if name not in _instances:
        module, _, cls = PROVIDERS[name].partition(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


def choose(requires, candidates) -> Provider | None:
    """The first of ``candidates`` (provider names or providers, most preferred
    first) that offers every capability in ``requires``; None when none does.

    The one place that picks a provider for a task or a paper: ``proctor
    validate`` passes the cheapest-first order, the portal the providers its
    operator enabled.

        >>> choose(["api", "nodes"], ["kwok", "kind"]).name      # doctest: +SKIP
        'kind'
    """
    want = set(requires or ())
    for cand in candidates:
        if isinstance(cand, str):
            if cand not in PROVIDERS:
                continue
            cand = get_provider(cand)
        if want <= set(cand.capabilities):
            return cand
    return None


def parse_url(url: str) -> tuple[str, str, dict]:
    """``kwok://exam-42?nodes=3`` -> ``("kwok", "exam-42", {"nodes": 3})``.

    Validates the provider, the name and known options, so a bad URL fails
    here with a message naming the part that is wrong.
    """
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise SandboxError(f"sandbox URL {url!r} is not of the form provider://name?nodes=N")
    if parts.scheme not in PROVIDERS:
        raise UnknownProvider(parts.scheme, sorted(PROVIDERS))
    check_name(parts.netloc)
    options: dict = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "nodes":
            options["nodes"] = check_nodes(value)
        else:
            options[key] = value
    return parts.scheme, parts.netloc, options


def format_url(provider: str, name: str, **options) -> str:
    query = "&".join(f"{k}={v}" for k, v in sorted(options.items()))
    return f"{provider}://{name}" + (f"?{query}" if query else "")
