"""Waiting on a condition, never on a fixed time: a busy machine gets there
late, not never, and a quiet one does not wait for nothing.

    >>> pod = wait_for("pod web Running", lambda: phase("web") == "Running")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], timeout: float = 120,
             interval: float = 0.25) -> T:
    """``probe()`` until it returns something true; that value. ``timeout`` is a
    cap for a machine that never gets there, not a pause; past it, an
    AssertionError says ``what`` was awaited and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {value!r})")
        time.sleep(interval)
