"""Sandboxes with real containers a stranger may own: kwok's control plane
and real nodes in gVisor boxes (``provider.py``, ``box.py``, ``image.py``)."""

from .provider import GvisorProvider

__all__ = ["GvisorProvider"]
