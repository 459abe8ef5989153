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
from typing import Any, Callable, Mapping, Protocol

from ..models import Event

log = logging.getLogger(__name__)


class Jobs(Protocol):
    """The worker's jobs, as the steps queue them (``web.queue.Queue``). Each
    returns at once; in immediate mode (tests), after the job ran."""

    def provision(self, attempt_id: int) -> object: ...
    def grade(self, attempt_id: int) -> object: ...
    def check_task(self, attempt_id: int, position: int) -> object: ...
    def reap(self, attempt_id: int) -> object: ...
    def refill(self) -> object: ...
    def maintain(self) -> object: ...


class NoQueue:
    """``Jobs`` when no task queue is attached (a portal process that only
    records, a test): each job is logged and dropped."""

    def provision(self, attempt_id: int) -> None:
        _dropped("provision", attempt_id)

    def grade(self, attempt_id: int) -> None:
        _dropped("grade", attempt_id)

    def check_task(self, attempt_id: int, position: int) -> None:
        _dropped("check_task", attempt_id, position)

    def reap(self, attempt_id: int) -> None:
        _dropped("reap", attempt_id)

    def refill(self) -> None:
        _dropped("refill")

    def maintain(self) -> None:
        _dropped("maintain")


def _dropped(job: str, *args) -> None:
    log.warning("no task queue: %s%r not run", job, args)


@dataclass
class Context:
    db: Any                          # web.db.Database
    services: Any                    # web.services.RealServices, or a test's fake
    bank_getter: Callable[[], Any]   # -> web.bank.Bank
    config: Mapping
    queue: Jobs = field(default_factory=NoQueue)  # set to web.queue.Queue once it exists
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

    def destroy_quietly(self, name: str) -> bool:
        """Destroy sandbox ``name``; a failure is logged (the next ``maintain``
        tries again) and returned as False, never raised."""
        try:
            self.services.destroy_sandbox(name)
            return True
        except Exception:
            log.exception("destroying sandbox %s", name)
            return False
