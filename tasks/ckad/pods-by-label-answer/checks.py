"""Checks for pods-by-label-answer: /opt/answers/pods.txt against the live cluster.

The file must hold bare names, one per line, as the statement asks: `-o name`
output (``pod/NAME``) or a header line is "something else", and is named as
such in the message. Blank lines and surrounding spaces are forgiven.
"""

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
    return f.lines()


def _shown(names) -> str:
    return ", ".join(quote(n) for n in names[:5]) + (" …" if len(names) > 5 else "")


@pytest.mark.points(2)
def test_all_listed(k8s, params, answers):
    """pods.txt lists every matching Pod by its name"""
    want = _expected(k8s, params)
    found = set(_lines(answers))
    missing = sorted(want - found)
    prefixed = any(f"pod/{m}" in found for m in missing)
    assert not missing, (f"/opt/answers/pods.txt misses {', '.join(missing)}"
                         + ("; it lists them as pod/NAME, expected the bare names" if prefixed else ""))


@pytest.mark.points(2)
def test_nothing_else(k8s, params, answers):
    """pods.txt lists only matching Pods, one bare name per line"""
    want = _expected(k8s, params)
    names = _lines(answers)
    assert names, "/opt/answers/pods.txt is empty; expected the matching Pod names"
    prefixed = [n for n in names if n.startswith("pod/") and n.removeprefix("pod/") in want]
    assert not prefixed, (
        f"/opt/answers/pods.txt lists {_shown(prefixed)}, with the pod/ prefix of `-o name`; "
        "expected bare Pod names, one per line and nothing else")
    extra = sorted(set(names) - want)
    assert not extra, (f"/opt/answers/pods.txt also lists {_shown(extra)}, which "
                       f"{'is not a matching Pod name' if len(extra) == 1 else 'are not matching Pod names'}; "
                       "expected bare names of matching Pods, nothing else")
    assert len(names) == len(set(names)), "/opt/answers/pods.txt lists some names more than once"
