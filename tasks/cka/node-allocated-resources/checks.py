"""Checks for node-allocated-resources: the answer file names the worker whose
non-terminated Pods request the most CPU, computed at grading time as
``kubectl describe node`` sums it (every namespace; a Pod's request is the
larger of its containers' sum and any init container, plus sidecars and
overhead), and that worker, and no other, is cordoned.

The answer is not taken on trust: it is compared with the live Pods. So that
it cannot be made right by changing the Pods instead (deleting or draining
them), the team's Pods must still request on each worker what setup gave
them.
"""

import pytest
from kubernetes.utils.quantity import parse_quantity

from grader.checks import must_get, show

FILE = "cpu-node.txt"
WHERE = f"/opt/answers/{FILE}"
WORKERS = ("node01", "node02")
# What setup placed, per worker: (Pods, requested CPU in millicores).
BUSY, OTHER = (3, 1300), (6, 400)


def _cpu(value) -> int:
    """Millicores of a quantity; 0 for a missing or unparseable one."""
    try:
        return int(parse_quantity(value) * 1000) if value is not None else 0
    except (ValueError, TypeError, ArithmeticError):
        return 0


def _requests(c) -> int:
    return _cpu(((c.resources.requests if c.resources else None) or {}).get("cpu"))


def _pod_cpu(pod) -> int:
    """A Pod's CPU request as the scheduler and ``kubectl describe node`` count it."""
    spec = pod.spec
    total = sum(_requests(c) for c in spec.containers or [])
    sidecars, init_peak = 0, 0
    for c in spec.init_containers or []:
        if c.restart_policy == "Always":  # a sidecar runs beside the containers
            sidecars += _requests(c)
            total += _requests(c)
        else:
            init_peak = max(init_peak, sidecars + _requests(c))
    overhead = _cpu((spec.overhead or {}).get("cpu"))
    return max(total, init_peak) + overhead


def _running(k8s, node: str, namespace=None) -> list:
    """Non-terminated Pods bound to ``node``, as describe node lists them."""
    field = f"spec.nodeName={node},status.phase!=Succeeded,status.phase!=Failed"
    return k8s.pods(namespace, field_selector=field)


def _other(node: str) -> str:
    return WORKERS[1] if node == WORKERS[0] else WORKERS[0]


def _must_be_as_setup(k8s, params) -> None:
    """The team's Pods still request on each worker what setup placed there."""
    ns, busy = params["namespace"], params["busy"]
    for node, (pods, cpu) in ((busy, BUSY), (_other(busy), OTHER)):
        found = _running(k8s, node, ns)
        total = sum(_pod_cpu(p) for p in found)
        assert (len(found), total) == (pods, cpu), (
            f"namespace {ns} has {len(found)} Pods requesting {total}m CPU on {node}; expected the "
            f"{pods} Pods requesting {cpu}m that were there: do not change, move or delete Pods")


def _highest(k8s, params) -> tuple[str, dict]:
    """The worker with the most requested CPU now, and every worker's figure."""
    _must_be_as_setup(k8s, params)
    cpu = {n: sum(_pod_cpu(p) for p in _running(k8s, n)) for n in WORKERS}
    return max(WORKERS, key=lambda n: cpu[n]), cpu


@pytest.mark.points(2)
def test_answer_names_highest_cpu(k8s, params, answers):
    """cpu-node.txt holds just the name of the worker whose Pods request the most CPU"""
    f = answers / FILE
    assert f.exists(), f"{WHERE} does not exist; expected the node's name in it"
    text = f.read_text().strip()
    best, cpu = _highest(k8s, params)
    figures = ", ".join(f"{n} {cpu[n]}m" for n in WORKERS)
    if text in cpu and text != best:
        raise AssertionError(f"{WHERE} names {text}, whose Pods request {cpu[text]}m CPU; expected the "
                             f"worker with the most requested CPU ({figures})")
    assert text == best, (f"{WHERE} holds {show(text)}; expected just the name of the worker whose "
                          f"Pods request the most CPU, nothing else ({figures})")


def test_node_cordoned(k8s, params):
    """The worker with the most requested CPU is cordoned, the other worker is not"""
    best, _ = _highest(k8s, params)
    state = {n: must_get(k8s.core.read_node, n).spec.unschedulable is True for n in WORKERS}
    assert state[best], (f"Node {best} is schedulable; expected it cordoned: its Pods request the most CPU"
                         + (f" (Node {_other(best)} was cordoned instead)" if state[_other(best)] else ""))
    assert not state[_other(best)], f"Node {_other(best)} is cordoned too; expected only {best} cordoned"
