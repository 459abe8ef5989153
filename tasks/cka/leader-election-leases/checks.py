"""Checks for leader-election-leases: the answer files against the Leases as
they are at grading time (a real control plane may elect another leader
during the attempt; the candidate is graded on what the cluster says now).

An answer file is hostile input: surrounding whitespace and blank lines are
forgiven, anything else beside the identity (a header, a table row, a second
line) is not.
"""

import pytest
from kubernetes import client

from grader.answers import quote
from grader.checks import must_get

COMPONENTS = {"kube-controller-manager": "cm_file", "kube-scheduler": "sched_file"}


def _holder(k8s, name) -> str:
    lease = must_get(client.CoordinationV1Api(k8s.api_client).read_namespaced_lease, name, "kube-system")
    holder = lease.spec.holder_identity if lease.spec else None
    assert isinstance(holder, str) and holder, (
        f"Lease kube-system/{name} has no holderIdentity; expected it held by the elected leader")
    return holder


def _must_name_leader(k8s, params, answers, component):
    path = f"/opt/answers/{params[COMPONENTS[component]]}"
    f = answers / params[COMPONENTS[component]]
    assert f.exists(), f"{path} does not exist; expected the identity of the {component} leader"
    holder = _holder(k8s, component)
    lines = f.lines()
    assert lines, f"{path} is empty; expected the identity of the {component} leader"
    if lines == [holder]:
        return
    others = {c: _holder(k8s, c) for c in COMPONENTS if c != component}
    found = quote(" / ".join(lines))
    for other, identity in others.items():
        if identity in lines:
            raise AssertionError(f"{path} holds {found}, the identity of the {other} leader; "
                                 f"expected the {component} leader")
    if len(lines) > 1:
        raise AssertionError(f"{path} holds {len(lines)} lines ({found}); expected the identity alone, on one line")
    if holder.startswith(lines[0] + "_"):
        raise AssertionError(f"{path} holds {found}, the node name only; expected the whole identity "
                             f"the Lease records for the {component} leader")
    raise AssertionError(f"{path} holds {found}; expected the identity of the {component} leader alone, "
                         "exactly as the cluster records it")


@pytest.mark.points(2)
def test_controller_manager_leader(k8s, params, answers):
    """The kube-controller-manager leader's identity is in its answer file, alone"""
    _must_name_leader(k8s, params, answers, "kube-controller-manager")


@pytest.mark.points(2)
def test_scheduler_leader(k8s, params, answers):
    """The kube-scheduler leader's identity is in its answer file, alone"""
    _must_name_leader(k8s, params, answers, "kube-scheduler")
