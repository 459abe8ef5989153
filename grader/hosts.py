"""The hosts of an exam paper: in the real CKA and CKAD every task is solved
on a host of its own (the task says ``ssh cka000024``), and only there is
that task's cluster. An exam with ``hosts: true`` gives each task of an
attempt such a name, drawn per attempt so that two attempts do not share
them::

    >>> host_names("cka", seed=7, count=3)   # doctest: +SKIP
    ['cka038112', 'cka061275', 'cka000943']

The rule, stated once: a host name is the track and six digits, unique
within the attempt, the same for the same seed (a warm sandbox and the
attempt that takes it agree; the database keeps them anyway).
"""

from __future__ import annotations

import random
import re

HOST_NAME = re.compile(r"^[a-z]{1,5}[0-9]{6}$")


def host_names(track: str, seed: int, count: int) -> list[str]:
    """``count`` distinct host names for the attempt of ``seed``."""
    prefix = re.sub(r"[^a-z]", "", track.lower())[:5] or "host"
    rng = random.Random(f"hosts:{track}:{seed}")
    numbers = rng.sample(range(1, 100_000), count)
    return [f"{prefix}{n:06d}" for n in numbers]


def is_host_name(name: str) -> bool:
    """Whether ``name`` is one this module makes (the jail names files by it)."""
    return bool(HOST_NAME.match(name))
