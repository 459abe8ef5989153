"""What a set of NetworkPolicies lets through, the way a conforming network plugin decides it.

No sandbox enforces NetworkPolicies (kwok runs no network plugin), so the
checks of the NetworkPolicy tasks work out what the policies allow instead of
trying a connection. The rules, from
https://kubernetes.io/docs/concepts/services-networking/network-policies/ :

* a connection from ``src`` to ``dst`` on a port and protocol passes when the
  policies that isolate ``src`` for Egress let it out AND those that isolate
  ``dst`` for Ingress let it in;
* a policy applies only to the Pods of its own namespace that its
  ``podSelector`` selects (an empty ``podSelector`` selects every Pod there);
  a Pod that no policy selects for a direction is not isolated for it:
  everything passes (default allow);
* ``policyTypes`` omitted means ``Ingress``, plus ``Egress`` when the policy
  has ``egress`` rules (what the API server defaults); a policy with a type
  and no rule of it denies everything of that direction;
* policies add up: one rule of one selecting policy taking the connection is
  enough; a rule takes it when one of its peers (``from``/``to``) matches the
  other end (no peers: every end) and one of its ports takes the port;
* a peer with ``ipBlock`` matches the addresses of ``cidr`` outside every
  ``except``; with ``namespaceSelector`` and ``podSelector`` in ONE peer, the
  selected Pods of the selected namespaces (AND); ``namespaceSelector`` alone,
  every Pod of the selected namespaces; ``podSelector`` alone, the selected
  Pods of the policy's own namespace. An address outside the cluster
  (``Endpoint`` with ``namespace`` None) is matched by ``ipBlock`` only;
* a port entry takes its ``protocol`` (default TCP) only; no ``port``, every
  port of it; a number, that port up to ``endPort``; a name, the number the
  destination Pod's container port of that name has (none: nothing).

Everything accepts the ``kubernetes`` client's model objects with any field
missing, ``None`` or of a wrong type (they come from the candidate's cluster):
a part that cannot be read matches nothing, as the API would have refused it.
"""

from __future__ import annotations

import ipaddress

from grader.matching import selects

__all__ = ["Endpoint", "endpoint_of", "policy_types", "isolates", "admits", "allowed"]

INGRESS, EGRESS = "Ingress", "Egress"


class Endpoint:
    """One end of a connection: a Pod (its namespace, the labels of that
    namespace, its labels, IP and named container ports) or, with
    ``namespace`` None, an address outside the cluster. ``what`` names it in
    messages."""

    def __init__(self, what, namespace, namespace_labels=None, labels=None, ip=None, named_ports=None):
        self.what, self.namespace, self.ip = what, namespace, ip
        self.namespace_labels = namespace_labels if isinstance(namespace_labels, dict) else {}
        if namespace and not self.namespace_labels:
            self.namespace_labels = {"kubernetes.io/metadata.name": namespace}
        self.labels = labels if isinstance(labels, dict) else {}
        self.named_ports = named_ports if isinstance(named_ports, dict) else {}

    def __repr__(self):
        return f"Endpoint({self.what!r})"


def endpoint_of(pod, namespace_labels, what=None) -> Endpoint:
    """The ``Endpoint`` of a live Pod (a ``V1Pod``), its namespace labelled ``namespace_labels``."""
    meta, spec, status = getattr(pod, "metadata", None), getattr(pod, "spec", None), getattr(pod, "status", None)
    ns = getattr(meta, "namespace", None)
    named = {getattr(cp, "name", None): getattr(cp, "container_port", None)
             for c in getattr(spec, "containers", None) or [] for cp in getattr(c, "ports", None) or []
             if getattr(cp, "name", None)}
    return Endpoint(what or f"Pod {ns}/{getattr(meta, 'name', None)}", ns, namespace_labels,
                    getattr(meta, "labels", None), getattr(status, "pod_ip", None), named)


def policy_types(policy) -> list:
    """The directions ``policy`` isolates: its ``policyTypes``, or as the API defaults them."""
    spec = getattr(policy, "spec", None)
    if spec is None:
        return []
    types = getattr(spec, "policy_types", None)
    if types:
        return [t for t in types if t in (INGRESS, EGRESS)] if isinstance(types, list) else []
    return [INGRESS, EGRESS] if getattr(spec, "egress", None) else [INGRESS]


def isolates(policy, pod: Endpoint, direction: str) -> bool:
    """Whether ``policy`` selects ``pod`` for ``direction`` ("Ingress" or "Egress")."""
    spec = getattr(policy, "spec", None)
    return (spec is not None and pod.namespace is not None
            and getattr(getattr(policy, "metadata", None), "namespace", None) == pod.namespace
            and selects(getattr(spec, "pod_selector", None), pod.labels)
            and direction in policy_types(policy))


def _number(value):
    """``value`` as a port number, or None (a name, or not a port at all)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _peer_matches(peer, policy_ns, other: Endpoint) -> bool:
    """Whether one from/to entry of a rule of a policy in ``policy_ns`` matches ``other``."""
    block = getattr(peer, "ip_block", None)
    if block is not None:
        try:
            ip = ipaddress.ip_address(other.ip or "")
            if ip not in ipaddress.ip_network(getattr(block, "cidr", None) or "", strict=False):
                return False
            return not any(ip in ipaddress.ip_network(c, strict=False)
                           for c in getattr(block, "_except", None) or [])
        except (TypeError, ValueError):  # not an address or a CIDR: matches nothing
            return False
    if other.namespace is None:  # outside the cluster: only an ipBlock matches
        return False
    ns_selector = getattr(peer, "namespace_selector", None)
    if ns_selector is not None:
        if not selects(ns_selector, other.namespace_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    pod_selector = getattr(peer, "pod_selector", None)
    return pod_selector is None or selects(pod_selector, other.labels)


def _port_matches(ports, port: int, protocol: str, named: dict) -> bool:
    """Whether a rule's ``ports`` take ``port``/``protocol`` of a destination with named ports ``named``."""
    if not ports:
        return True
    for p in ports if isinstance(ports, list) else []:
        if p is None or (getattr(p, "protocol", None) or "TCP") != protocol:
            continue
        want = getattr(p, "port", None)
        if want is None:
            return True
        first = _number(want)
        if first is None and isinstance(want, str):
            first = _number(named.get(want))
        if first is None:
            continue
        last = _number(getattr(p, "end_port", None)) or first
        if first <= port <= last:
            return True
    return False


def admits(policies, pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str) -> bool:
    """Whether the ``policies`` that isolate ``pod`` for ``direction`` pass the
    connection with ``other`` (Ingress: other connects to pod; Egress: pod
    connects to other); True when none isolates it."""
    applying = [p for p in policies or [] if isolates(p, pod, direction)]
    if not applying:
        return True
    named = (pod if direction == INGRESS else other).named_ports
    for pol in applying:
        spec = pol.spec
        rules = getattr(spec, "ingress" if direction == INGRESS else "egress", None)
        for rule in rules if isinstance(rules, list) else []:
            peers = getattr(rule, "_from" if direction == INGRESS else "to", None)
            if peers and not isinstance(peers, list):  # unreadable: matches nothing
                continue
            if ((not peers or any(_peer_matches(x, pol.metadata.namespace, other) for x in peers))
                    and _port_matches(getattr(rule, "ports", None), port, protocol, named)):
                return True
    return False


def allowed(policies, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """Whether ``src`` may open a ``protocol`` connection to ``dst`` on ``port``
    under ``policies`` (NetworkPolicies of any namespaces: each applies to its own)."""
    return (admits(policies, src, dst, port, protocol, EGRESS)
            and admits(policies, dst, src, port, protocol, INGRESS))
