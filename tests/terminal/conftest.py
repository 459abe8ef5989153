"""Fixtures of the terminal tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def jail_prefix() -> str:
    """A SANDBOX_PREFIX of this test run's own. A jail's cgroup and uid come
    from its prefix and attempt: two runs on one machine (a developer's beside
    `make test`) with the same ones shared a cgroup, and one run's start
    emptied the other's jail, its stop removed the other's cgroup (issue 17:
    only on a busy machine, Ctrl-C's prompt never came back, or a shell could
    not join its cgroup)."""
    return f"t{os.getpid()}-"
