"""What every step of the lifecycle shares: the database, the services below,
the bank, the configuration and the queue its steps hand work to.

The steps (``start``, ``provision``, ``grading`` …) are functions of a
``Context``; ``Lifecycle`` (``__init__.py``) is the one object the portal
holds, and it owns one ``Context``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..models import Event

log = logging.getLogger(__name__)


@dataclass
class Context:
    db: Any                          # web.db.Database
    services: Any                    # web.services.RealServices, or a test's fake
    bank_getter: Callable[[], Any]   # -> web.bank.Bank
    config: Mapping
    queue: Any = None                # the task queue (web.queue.Queue); None: jobs are dropped
    # exam id -> no new warm sandbox before this time (a failed prepare backs off)
    pool_backoff: dict[str, float] = field(default_factory=dict)

    @property
    def bank(self):
        return self.bank_getter()

    @property
    def lease(self) -> float:
        """How long a lease lasts unless renewed (``LEASE_SECONDS``)."""
        return float(self.config["LEASE_SECONDS"])

    @property
    def prefix(self) -> str:
        """What every sandbox name of this portal starts with (``SANDBOX_PREFIX``)."""
        return self.config["SANDBOX_PREFIX"]

    def sandbox_name(self, attempt_id: int) -> str:
        return f"{self.prefix}a{attempt_id}"

    def event(self, s, attempt_id, kind: str, detail: str = "") -> None:
        """Record what happened to an attempt, in the caller's transaction."""
        s.add(Event(attempt_id=attempt_id, kind=kind, detail=detail[:4000], at=time.time()))

    def enqueue(self, job: str, *args, **kwargs) -> None:
        if self.queue is None:
            log.warning("no task queue: %s%r not run", job, args)
            return
        getattr(self.queue, job)(*args, **kwargs)

    def destroy_quietly(self, name: str) -> bool:
        """Destroy sandbox ``name``; a failure is logged (the next ``maintain``
        tries again) and returned as False, never raised."""
        try:
            self.services.destroy_sandbox(name)
            return True
        except Exception:
            log.exception("destroying sandbox %s", name)
            return False
