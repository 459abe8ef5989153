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


@pytest.fixture
def open_shell(kwok, tmp_path, jail_prefix):
    """``open_shell(attempt, name, nodes=1, more=(), **spec)``: a shell in a
    jail of its own on a new kwok sandbox ``name`` (and on the sandboxes named
    in ``more``, its further clusters), JailSpec's other fields in ``spec``.
    After the test: the shell stopped, its jail destroyed, then its sandboxes."""
    from confinement.jail import Jail
    from web.terminal import jail_spec
    from web.terminal.shells import Shell
    shells, sandboxes = [], []

    def open_(attempt: int, name: str, nodes: int = 1, more=(), **spec):
        sandboxes.extend([name, *more])
        sb = kwok.create(name, nodes=nodes)
        if more:
            spec["more_kubeconfigs"] = [kwok.create(m, nodes=1).kubeconfig for m in more]
        jail = Jail(jail_spec(sb, attempt, prefix=jail_prefix, **spec), tmp_path / "jails")
        shells.append(Shell(jail, deadline=None, idle_timeout=600))
        return shells[-1]
    yield open_
    for shell in shells:
        shell.stop()
        shell.jail.destroy()
    for name in sandboxes:
        kwok.destroy(name)
