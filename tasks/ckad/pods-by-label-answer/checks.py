"""Checks for pods-by-label-answer: /opt/answers/pods.txt against the live cluster."""

import pytest

from grader.answers import quote
from grader.checks import live_pods


def _expected(k8s, params):
    ns = params["namespace"]
    want = {p.metadata.name for p in live_pods(k8s, ns, {"env": params["env"]}, node=params["node"])}
    assert want, f"no Pod in {ns} has env={params['env']} on {params['node']}; the Pods must not be changed"
    return want


def _lines(answers):
    f = answers / "pods.txt"
    assert f.exists(), "/opt/answers/pods.txt does not exist; expected the list of Pod names"
    # `-o name` output (pod/NAME) is accepted too
    return [line.removeprefix("pod/") for line in f.lines() if line.removeprefix("pod/")]


@pytest.mark.points(2)
def test_all_listed(k8s, params, answers):
    """pods.txt lists every matching Pod"""
    want = _expected(k8s, params)
    found = set(_lines(answers))
    missing = sorted(want - found)
    assert not missing, f"/opt/answers/pods.txt misses {', '.join(missing)}"


@pytest.mark.points(2)
def test_nothing_else(k8s, params, answers):
    """pods.txt lists only matching Pods, one name per line"""
    want = _expected(k8s, params)
    names = _lines(answers)
    extra = sorted(set(names) - want)
    assert names, "/opt/answers/pods.txt is empty; expected the matching Pod names"
    assert not extra, (f"/opt/answers/pods.txt also lists {', '.join(quote(e) for e in extra[:5])}"
                       f"{' …' if len(extra) > 5 else ''}, which do not match")
    assert len(names) == len(set(names)), "/opt/answers/pods.txt lists some names more than once"
