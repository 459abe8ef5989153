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
cluster 1 again, so that neighbouring tasks are never on the same cluster::

    >>> placement([["api"]] * 7, clusters=3)
    [0, 1, 2, 0, 1, 2, 0]

A task that needs etcd or real nodes is on cluster 1, where the jail's etcd
tunnel (port 2379, as kubeadm has it) and its ``ssh node01`` lead. And a
task that needs real workloads (containers or nodes) never shares a cluster
with one that needs only the API while the paper has a cluster for each:
API tasks are written for simulated Pods, which run whatever image they
name, where real nodes run only the images they hold. Each kind takes its
share of the clusters (at least one), in turn as above::

    >>> placement([["api"], ["api", "etcd"], ["api", "containers"], ["api"],
    ...            ["api", "containers"], ["api"]], clusters=3)
    [1, 0, 2, 0, 2, 1]
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
REAL = {"containers", "nodes"}         # what runs real workloads (sandbox.choose)


def placement(requires: list, clusters: int) -> list[int]:
    """The cluster (0-based) of each task of a paper spread over ``clusters``
    clusters, given what each ``requires``, in the paper's order."""
    count = max(1, clusters)
    real = [bool(REAL & set(r)) for r in requires]
    first = [bool(ON_FIRST_CLUSTER & set(r)) for r in requires]
    kinds = set(real)
    forced = [r for r, f in zip(real, first) if f]
    if count == 1 or len(kinds) < 2:  # one kind: every cluster is its
        own = {k: list(range(count)) for k in kinds}
        head = real[0] if real else False
    else:
        # cluster 1's kind: real if a task that must be there needs real
        # nodes, else that of the tasks that must be there, else that of
        # task 1; each kind gets clusters by its share of the tasks, at least one
        head = any(forced) if forced else real[0]
        n_real = min(count - 1, sum(real), max(1, round(count * sum(real) / len(real))))
        n_head = n_real if head else count - n_real
        own = {head: list(range(n_head)), not head: list(range(n_head, count))}
    # the tasks that must be on cluster 1 had its turn
    seen = {k: int(bool(forced) and k == head) for k in own}
    out = []
    for is_real, is_first in zip(real, first):
        if is_first:
            out.append(0)
            continue
        mine = own[is_real]
        out.append(mine[seen[is_real] % len(mine)])
        seen[is_real] += 1
    return out


def cluster_names(first: str, count: int) -> list[str]:
    """The sandbox names of an attempt's ``count`` clusters, the first being
    ``first``: ``[first, first-c2, first-c3, …]`` (a warm pool's entry and the
    attempt that takes it name them alike)."""
    return [first] + [f"{first}-c{i}" for i in range(2, count + 1)]
