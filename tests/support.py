"""Sandboxes shared by a test session but freed as soon as their last test
is done.

A shared sandbox (a 3-node kind cluster, a gVisor box, a kwok control
plane) costs a share of this 2-core machine for as long as it lives; kept
to the end of the session it slows every later test. ``tests/conftest.py``
runs the users of each shared fixture together (``SHARED``) and, after the
last of them, calls the cleanup registered here.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

# the session fixtures whose tests run together and which are freed early
SHARED = ("shared_gvisor", "kind_cluster", "shared_sandbox")

_cleanups: dict[str, Callable[[], None]] = {}


@contextlib.contextmanager
def freed_after_last_use(fixture: str, cleanup: Callable[[], None]) -> Iterator[None]:
    """Around a session fixture's ``yield``: ``cleanup`` runs once, after the
    last test that uses ``fixture`` (or at the end of the session)."""
    done = False

    def once() -> None:
        nonlocal done
        if not done:
            done = True
            cleanup()

    _cleanups[fixture] = once
    try:
        yield
    finally:
        _cleanups.pop(fixture, None)
        once()


def free(fixture: str) -> None:
    """Run the cleanup of ``fixture`` now, if it is still alive."""
    cleanup = _cleanups.pop(fixture, None)
    if cleanup is not None:
        cleanup()


def group_shared_users(items: list) -> dict[str, str]:
    """Move the tests that use each ``SHARED`` fixture next to the first of
    them (the rest keep their order); return the node id of each fixture's
    last user."""
    last: dict[str, str] = {}
    for name in SHARED:
        users = [i for i in items if name in getattr(i, "fixturenames", ())]
        if not users:
            continue
        first = items.index(users[0])
        rest = [i for i in items if name not in getattr(i, "fixturenames", ())]
        items[:] = rest[:first] + users + rest[first:]
        last[name] = users[-1].nodeid
    return last

