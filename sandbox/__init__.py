"""Sandboxes: one throwaway Kubernetes cluster per candidate.

    >>> from sandbox import get_provider
    >>> sb = get_provider("kwok").create("demo", nodes=3)   # doctest: +SKIP
    >>> sb.kubeconfig, sb.nodes                             # doctest: +SKIP
    (PosixPath('…/demo/kubeconfig'), ['controlplane', 'node01', 'node02'])
"""

from .base import (CreateFailed, Health, InvalidName, InvalidOption, NameTaken, NotFound,
                   Provider, Sandbox, SandboxError, UnknownProvider, node_names)
from .registry import PROVIDERS, choose, format_url, get_provider, parse_url, register

__all__ = [
    "CreateFailed", "Health", "InvalidName", "InvalidOption", "NameTaken", "NotFound",
    "Provider", "Sandbox", "SandboxError", "UnknownProvider", "node_names",
    "PROVIDERS", "choose", "format_url", "get_provider", "parse_url", "register",
]
