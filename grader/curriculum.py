"""The CKA and CKAD curricula: tracks, their domains and domain weights.

One place for the facts that the task schema, lint, exam draws, the
portal's charts and the coverage table (``docs/coverage.md``) all use. Weights are the curriculum's percentages of the
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


@dataclass(frozen=True)
class Competency:
    id: str                   # "cka-rbac", as used in task.yaml ``competencies``
    track: str
    domain: str
    text: str                 # the curriculum's own words


def _competencies(track: Track, by_domain: dict[str, list[tuple[str, str]]]) -> list[Competency]:
    assert set(by_domain) == set(track.domains), f"{track.id}: every domain, and only those"
    return [Competency(f"{track.id}-{cid}", track.id, domain, text)
            for domain, items in by_domain.items() for cid, text in items]


# The competencies of CKA v1.35 (curriculum of 2026-03-03) and CKAD v1.35
# (2026-02-25), in the curricula's order and words.
COMPETENCIES: dict[str, Competency] = {c.id: c for c in [
    *_competencies(CKA, {
        "Storage": [
            ("storage-classes", "Implement storage classes and dynamic volume provisioning"),
            ("volume-types", "Configure volume types, access modes and reclaim policies"),
            ("pv-pvc", "Manage persistent volumes and persistent volume claims"),
        ],
        "Troubleshooting": [
            ("troubleshoot-nodes", "Troubleshoot clusters and nodes"),
            ("troubleshoot-components", "Troubleshoot cluster components"),
            ("monitor-usage", "Monitor cluster and application resource usage"),
            ("output-streams", "Manage and evaluate container output streams"),
            ("troubleshoot-networking", "Troubleshoot services and networking"),
        ],
        "Workloads and Scheduling": [
            ("rollouts", "Understand application deployments and how to perform rolling update "
                         "and rollbacks"),
            ("configmaps-secrets", "Use ConfigMaps and Secrets to configure applications"),
            ("autoscaling", "Configure workload autoscaling"),
            ("self-healing", "Understand the primitives used to create robust, self-healing, "
                             "application deployments"),
            ("scheduling", "Configure Pod admission and scheduling (limits, node affinity, etc.)"),
        ],
        "Cluster Architecture, Installation and Configuration": [
            ("rbac", "Manage role based access control (RBAC)"),
            ("infrastructure", "Prepare underlying infrastructure for installing a Kubernetes "
                               "cluster"),
            ("kubeadm", "Create and manage Kubernetes clusters using kubeadm"),
            ("lifecycle", "Manage the lifecycle of Kubernetes clusters"),
            ("ha-control-plane", "Implement and configure a highly-available control plane"),
            ("helm-kustomize", "Use Helm and Kustomize to install cluster components"),
            ("extension-interfaces", "Understand extension interfaces (CNI, CSI, CRI, etc.)"),
            ("crds-operators", "Understand CRDs, install and configure operators"),
        ],
        "Services and Networking": [
            ("pod-connectivity", "Understand connectivity between Pods"),
            ("network-policies", "Define and enforce Network Policies"),
            ("service-types", "Use ClusterIP, NodePort, LoadBalancer service types and endpoints"),
            ("gateway-api", "Use the Gateway API to manage Ingress traffic"),
            ("ingress", "Know how to use Ingress controllers and Ingress resources"),
            ("coredns", "Understand and use CoreDNS"),
        ],
    }),
    *_competencies(CKAD, {
        "Application Design and Build": [
            ("images", "Define, build and modify container images"),
            ("workload-resources", "Choose and use the right workload resource (Deployment, "
                                   "DaemonSet, CronJob, etc.)"),
            ("multi-container", "Understand multi-container Pod design patterns (e.g. sidecar, "
                                "init and others)"),
            ("volumes", "Utilize persistent and ephemeral volumes"),
        ],
        "Application Deployment": [
            ("strategies", "Use Kubernetes primitives to implement common deployment strategies "
                           "(e.g. blue/green or canary)"),
            ("rolling-updates", "Understand Deployments and how to perform rolling updates"),
            ("helm", "Use the Helm package manager to deploy existing packages"),
            ("kustomize", "Kustomize"),
        ],
        "Application Observability and Maintenance": [
            ("deprecations", "Understand API deprecations"),
            ("probes", "Implement probes and health checks"),
            ("monitoring", "Use built-in CLI tools to monitor Kubernetes applications"),
            ("logs", "Utilize container logs"),
            ("debugging", "Debugging in Kubernetes"),
        ],
        "Application Environment, Configuration and Security": [
            ("crds", "Discover and use resources that extend Kubernetes (CRD, Operators)"),
            ("authn-authz-admission", "Understand authentication, authorization and admission "
                                      "control"),
            ("requests-limits-quotas", "Understand requests, limits, quotas"),
            ("configmaps", "Understand ConfigMaps"),
            ("secrets", "Create & consume Secrets"),
            ("serviceaccounts", "Understand ServiceAccounts"),
            ("security-contexts", "Understand Application Security (SecurityContexts, "
                                  "Capabilities, etc.)"),
        ],
        "Services and Networking": [
            ("network-policies", "Demonstrate basic understanding of NetworkPolicies"),
            ("services", "Provide and troubleshoot access to applications via services"),
            ("ingress", "Use Ingress rules to expose applications"),
        ],
    }),
]}

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
