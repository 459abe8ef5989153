"""Real DNS lookups for checks: busybox's ``nslookup`` run in a Pod of the
candidate's cluster (``kubectl exec``), its output read as hostile text.

    >>> found, why, text = nslookup(kubectl, "apps", "client", "web")   # doctest: +SKIP
    (['10.96.12.7'], 'no answer', '…')
"""

from __future__ import annotations

import re

CLUSTER_DNS = "10.96.0.10"   # kube-dns, the kubelet's clusterDNS
ADDRESS = re.compile(r"^Address:\s*(\S+)\s*$", re.M)
PTR = re.compile(r"name\s*=\s*(\S+)")   # a reverse lookup's answer


def addresses(text: str) -> list[str]:
    """The addresses nslookup answered with: those after its server's own
    lines (the first paragraph), never the server's address."""
    answers = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return [a for a in ADDRESS.findall(answers) if a != CLUSTER_DNS and not a.endswith(":53")]


def why_not(text: str) -> str:
    """nslookup's own reason for no answer ("can't resolve …", a timeout), or "no answer"."""
    return next((line.strip() for line in text.splitlines()
                 if "can't" in line or "error" in line or "timed out" in line), "no answer")


def nslookup(kubectl, namespace: str, pod: str, name: str, server: str | None = None,
             container: str = "client") -> tuple[list[str], str, str]:
    """``(addresses, why, output)`` of ``nslookup name [server]`` in ``pod``,
    one try of 2 s (a broken DNS must fail a check, not hang it)."""
    res = kubectl("exec", "-n", namespace, pod, "-c", container, "--", "nslookup",
                  "-timeout=2", "-retry=1", name, *([server] if server else []),
                  check=False, timeout=8)
    text = f"{res}\n{res.stderr or ''}"
    return addresses(text), why_not(text), text
