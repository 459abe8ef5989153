"""The CKA and CKAD curricula: tracks, their domains and domain weights.

One place for the facts that the task schema, lint, exam draws and the
portal's charts all use. Weights are the curriculum's percentages of the
exam score, so each track's weights sum to 100.

    >>> TRACKS["ckad"].domains["Services and Networking"]
    20
    >>> domain_weight("cka", "Troubleshooting")
    30
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Track:
    id: str                   # "cka", as used in task.yaml ``tracks``
    name: str                 # "Certified Kubernetes Administrator"
    minutes: int              # exam length
    pass_mark: int            # percent of the score needed to pass
    domains: dict[str, int] = field(default_factory=dict)  # domain -> weight (%)


CKA = Track("cka", "Certified Kubernetes Administrator", 120, 66, {
    "Storage": 10,
    "Troubleshooting": 30,
    "Workloads and Scheduling": 15,
    "Cluster Architecture, Installation and Configuration": 25,
    "Services and Networking": 20,
})

CKAD = Track("ckad", "Certified Kubernetes Application Developer", 120, 66, {
    "Application Design and Build": 20,
    "Application Deployment": 20,
    "Application Observability and Maintenance": 15,
    "Application Environment, Configuration and Security": 25,
    "Services and Networking": 20,
})

TRACKS: dict[str, Track] = {t.id: t for t in (CKA, CKAD)}

# The plain-data view: track -> {domain: weight}, in curriculum order.
CURRICULA: dict[str, dict[str, int]] = {t.id: dict(t.domains) for t in TRACKS.values()}

# what a task may require of a sandbox: an API server, real nodes (kubeadm,
# kubelets, static pods), a reachable etcd, real containers (logs, exec, probes)
CAPABILITIES = ("api", "nodes", "etcd", "containers")
DIFFICULTIES = ("easy", "medium", "hard")


def all_domains() -> list[str]:
    """Every domain of every track, each once, in curriculum order."""
    seen: dict[str, None] = {}
    for track in TRACKS.values():
        seen.update(dict.fromkeys(track.domains))
    return list(seen)


def slug(domain: str) -> str:
    """A URL/CSS-safe form of a domain: ``"Services and Networking"`` -> ``services-and-networking``."""
    return "-".join("".join(c if c.isalnum() else " " for c in domain.lower()).split())


def domain_weight(track: str, domain: str) -> int:
    """The curriculum weight (%) of ``domain`` in ``track``; KeyError names both."""
    try:
        return TRACKS[track].domains[domain]
    except KeyError:
        raise KeyError(f"{domain!r} is not a domain of track {track!r}") from None
