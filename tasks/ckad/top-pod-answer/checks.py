"""Checks for top-pod-answer: the answer against the metrics API (metrics-server)
when graded, with a tolerance for the figures moving between two readings."""

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.utils.quantity import parse_quantity

from grader.answers import quote
from grader.checks import live_pods

# The answer holds when its Pod uses at least this share of what the top Pod
# uses: the loads setup starts differ several times over, so only noise
# between the candidate's reading and the grader's is forgiven.
TOLERANCE = 0.8


def _answer(answers, params):
    name = f"top-{params['resource']}-pod.txt"
    f = answers / name
    assert f.exists(), f"/opt/answers/{name} does not exist; expected the name of the top Pod"
    lines = f.lines()
    assert len(lines) == 1, (f"/opt/answers/{name} has {len(lines)} lines; expected one Pod name"
                             if lines else f"/opt/answers/{name} is empty; expected one Pod name")
    return name, lines[0]


def _usage(k8s, ns, resource) -> dict:
    """{Pod name: usage of ``resource``} of the namespace's Pods, from metrics.k8s.io."""
    try:
        items = k8s.custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", ns, "pods")["items"]
    except ApiException as e:
        raise AssertionError(f"the metrics API answered {e.status} for namespace {ns}; expected Pod metrics "
                             "from metrics-server") from None
    usage = {}
    for item in items or []:
        try:
            usage[item["metadata"]["name"]] = float(sum(parse_quantity(c["usage"][resource])
                                                  for c in item.get("containers") or []))
        except (KeyError, TypeError, ValueError):
            continue
    return usage


def test_names_a_pod_of_the_namespace(k8s, params, answers):
    """The answer file holds the bare name of a Pod of the namespace"""
    ns = params["namespace"]
    file, name = _answer(answers, params)
    pods = {p.metadata.name for p in live_pods(k8s, ns)}
    if name in pods:
        return
    bare = name.removeprefix("pod/").split()[0] if name.split() else name
    if bare in pods:
        raise AssertionError(f"/opt/answers/{file} holds {quote(name)}; expected the bare Pod name {bare}")
    elsewhere = [p.metadata.namespace for p in k8s.pods(None) if p.metadata.name == bare]
    where = f", a Pod of namespace {elsewhere[0]}" if elsewhere else ""
    raise AssertionError(f"/opt/answers/{file} holds {quote(name)}{where}; expected a Pod of {ns}")


@pytest.mark.points(2)
def test_top_pod(k8s, params, answers):
    """The answer is the Pod of the namespace using the most of the resource, per the metrics API"""
    ns, resource = params["namespace"], params["resource"]
    file, name = _answer(answers, params)
    usage = _usage(k8s, ns, resource)
    assert usage, f"the metrics API reports no Pod of {ns}; expected metrics for its Pods (were they deleted?)"
    top = max(usage, key=usage.get)
    unit = (lambda q: f"{int(q * 1000)}m") if resource == "cpu" else (lambda q: f"{int(q / 2 ** 20)}Mi")
    found = usage.get(name)
    assert found is not None, (f"/opt/answers/{file} names {quote(name)}, which the metrics API does not report "
                               f"in {ns}; expected {top} ({unit(usage[top])} {resource})")
    assert found >= usage[top] * TOLERANCE, (
        f"/opt/answers/{file} names {name}, which uses {unit(found)} {resource}; expected {top}, which uses "
        f"{unit(usage[top])}")
