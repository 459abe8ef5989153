"""The hosts of an exam paper: in the real CKA and CKAD every task is solved
on a host of its own (the task says ``ssh cka000024``), and only there is
that task's cluster. An exam with ``hosts: true`` gives each task of an
attempt such a name, drawn per attempt so that two attempts do not share
them::

    >>> host_names("cka", seed=7, count=3)   # doctest: +SKIP
    ['cka038112', 'cka061275', 'cka000943']

The rules, stated once: a host name is the track and six digits, unique
within the attempt, the same for the same seed (a warm sandbox and the
attempt that takes it agree; the database keeps them anyway). With several
clusters (``clusters: N`` in the exam), the tasks take them in turn, in the
paper's order: task 1 on cluster 1, task 2 on cluster 2, …, task N+1 on
cluster 1 again, so that neighbouring tasks are never on the same cluster;
but a task that needs etcd or real nodes is on cluster 1, where the jail's
etcd tunnel (port 2379, as kubeadm has it) and its ``ssh node01`` lead::

    >>> [cluster_of(p, clusters=3) for p in range(1, 8)]
    [0, 1, 2, 0, 1, 2, 0]
    >>> cluster_of(2, clusters=3, requires=["api", "etcd"])
    0
"""

from __future__ import annotations

import random
import re


def host_names(track: str, seed: int, count: int) -> list[str]:
    """``count`` distinct host names for the attempt of ``seed`` (each one
    ``confinement.identity.is_host_name``: the jail names files by them,
    and refuses any other)."""
    prefix = re.sub(r"[^a-z]", "", track.lower())[:5] or "host"
    rng = random.Random(f"hosts:{track}:{seed}")
    numbers = rng.sample(range(1, 100_000), count)
    return [f"{prefix}{n:06d}" for n in numbers]


ON_FIRST_CLUSTER = {"etcd", "nodes"}  # what the jail reaches on cluster 1 only


def cluster_of(position: int, clusters: int, requires=()) -> int:
    """The cluster (0-based) of the task at ``position`` (1-based) of a paper
    spread over ``clusters`` clusters, which ``requires`` what it requires."""
    if ON_FIRST_CLUSTER & set(requires):
        return 0
    return (position - 1) % max(1, clusters)


def cluster_names(first: str, count: int) -> list[str]:
    """The sandbox names of an attempt's ``count`` clusters, the first being
    ``first``: ``[first, first-c2, first-c3, …]`` (a warm pool's entry and the
    attempt that takes it name them alike)."""
    return [first] + [f"{first}-c{i}" for i in range(2, count + 1)]
