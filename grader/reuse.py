"""Sandboxes that ``proctor validate`` uses more than once.

Proving the bank takes a sandbox per task and seed. Where the provider
rewinds (kwok), a sandbox is made once per shape (its nodes and options),
checkpointed as it was made, and handed to the next unit of that shape
rewound to that checkpoint: about a second and a half where a create costs
six on a quiet machine and twenty on a busy one, with setup proving again
on the cluster every candidate starts from. What a rewind does not bring
back (events, the components' own leases) no check reads.

A sandbox whose unit went wrong (no checkpoint, a failed rewind, a script
or check that could not run) is destroyed, never handed on; so is one that
has served ``MAX_USES`` units, before the Pod ranges kwok-controller takes
after each rewind come round again (``sandbox.kwok.pod_cidr_after``).

    pool = SandboxPool(provider)                 # doctest: +SKIP
    sb = pool.take(task, say)                    # new, or rewound to as it was made
    pool.give(sb, reusable=True)
    pool.close()                                 # every sandbox it holds, destroyed
"""

from __future__ import annotations

import secrets
import threading
from typing import Callable

from sandbox import Provider, Sandbox, SandboxError

from .task import Task

MAX_USES = 40


class SandboxPool:
    """Idle sandboxes of one rewinding provider, by shape, with the checkpoint
    each was made with; safe to use from the validator's threads."""

    def __init__(self, provider: Provider):
        if not provider.rewinds:
            raise ValueError(f"{provider.name} sandboxes cannot be rewound: make one per unit")
        self.provider = provider
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[tuple[Sandbox, object, int]]] = {}
        self._busy: dict[str, tuple[tuple, object, int]] = {}

    @staticmethod
    def shape(task: Task) -> tuple:
        return (task.nodes, tuple(sorted(task.sandbox_options().items())))

    def take(self, task: Task, say: Callable[[str], None]) -> Sandbox:
        """A sandbox for ``task`` as a create leaves it; raises SandboxError."""
        shape = self.shape(task)
        while True:
            with self._lock:
                idle = self._idle.get(shape) or []
                entry = idle.pop() if idle else None
            if entry is None:
                return self._create(task, shape, say)
            sb, made, uses = entry
            try:
                self.provider.rewind(sb, made)
            except SandboxError as exc:
                say(f"sandbox {sb.name} could not be rewound ({exc}); another is made")
                self._destroy(sb.name)
                continue
            say(f"sandbox {sb.name} rewound to as it was made (use {uses + 1})")
            with self._lock:
                self._busy[sb.name] = (shape, made, uses + 1)
            return sb

    def _create(self, task: Task, shape: tuple, say: Callable[[str], None]) -> Sandbox:
        name = f"val-{secrets.token_hex(3)}"
        options = task.sandbox_options()
        say(f"creating a {task.nodes}-node {self.provider.name} sandbox {name}"
            + (f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""))
        sb = self.provider.create(name, nodes=task.nodes, **options)
        try:
            made = self.provider.checkpoint(sb)
        except SandboxError:
            self._destroy(name)
            raise
        with self._lock:
            self._busy[name] = (shape, made, 1)
        return sb

    def give(self, sb: Sandbox, reusable: bool) -> None:
        """Done with ``sb``: kept for the next unit of its shape if ``reusable``
        and not worn out, else destroyed."""
        with self._lock:
            shape, made, uses = self._busy.pop(sb.name)
            if reusable and uses < MAX_USES:
                self._idle.setdefault(shape, []).append((sb, made, uses))
                return
        self._destroy(sb.name)

    def close(self) -> None:
        with self._lock:
            names = [sb.name for idle in self._idle.values() for sb, _, _ in idle]
            names += list(self._busy)
            self._idle.clear()
            self._busy.clear()
        for name in names:
            self._destroy(name)

    def _destroy(self, name: str) -> None:
        try:
            self.provider.destroy(name)
        except SandboxError:
            pass  # the reaper's, then; the next unit gets another
