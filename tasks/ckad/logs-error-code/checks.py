"""Checks for logs-error-code: the answer file against what the container really logged."""

import re

import pytest

from grader.checks import must_get, show

CODE = re.compile(r"\bTX-\d{5}\b")
LOG_BYTES = 1024 * 1024  # 200 lines and a heartbeat every 30 s: a few tens of KB


def _logs(k8s, params) -> dict:
    """{container: its log} of Pod ledger, read through the API as `kubectl logs` reads them."""
    ns, name = params["namespace"], params["container"]
    pod = must_get(k8s.core.read_namespaced_pod, "ledger", ns, expected="it unchanged")
    names = [c.name for c in pod.spec.containers]
    assert name in names, (f"Pod {ns}/ledger has containers {show(names)}; expected container "
                           f"{name}, unchanged")
    return {c: k8s.core.read_namespaced_pod_log("ledger", ns, container=c, limit_bytes=LOG_BYTES)
            for c in names}


def _error_code(logs: dict, params) -> str:
    """The code of the one ERROR line of the asked-for container."""
    name = params["container"]
    errors = {code for line in logs[name].splitlines() if "level=ERROR" in line
              for code in CODE.findall(line)}
    assert len(errors) == 1, (
        f"container {name} of Pod ledger logged {len(errors)} ERROR codes {show(errors)}; "
        "expected exactly one: was the Pod re-created or restarted?")
    return errors.pop()


def _answer(answers, params):
    f = answers / params["file"]
    assert f.exists(), f"{f} does not exist; expected the error code in it"
    return f


@pytest.mark.points(2)
def test_error_code(k8s, params, answers):
    """The answer file names the error code of the ERROR line the container logged, and no other code"""
    f = _answer(answers, params)
    logs = _logs(k8s, params)
    want, name = _error_code(logs, params), params["container"]
    found = set(CODE.findall(f.read_text()))
    if want not in found:
        whose = [c for c, log in logs.items() if found & set(CODE.findall(log))]
        where = (f": codes from the log of container {whose[0]}, not of its ERROR line"
                 if whose == [name] else
                 f": codes from the log of container {whose[0]}" if whose else "")
        raise AssertionError(f"{f} holds {show(sorted(found)) if found else 'no TX- code'}{where}; "
                             f"expected the code of the ERROR line of container {name}")
    others = sorted(found - {want})
    assert not others, f"{f} also names {show(others)}; expected only the code of the ERROR line"


def test_only_the_code(k8s, params, answers):
    """The answer file holds the code alone, on one line"""
    f = _answer(answers, params)
    want = _error_code(_logs(k8s, params), params)
    lines = f.lines()
    if len(lines) == 1 and CODE.fullmatch(lines[0]) and lines[0] != want:
        raise AssertionError(f"{f} holds the code {show(lines[0])} alone, but not the code of the "
                             f"ERROR line of container {params['container']}; expected that code "
                             "alone")
    assert lines == [want], (f"{f} holds {show(lines) if lines else 'nothing'}; "
                             "expected one line with the code of the ERROR line alone")
