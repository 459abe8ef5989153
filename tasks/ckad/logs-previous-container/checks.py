"""Checks for logs-previous-container: the answer against the log the kubelet kept
of the container's previous (crashed) instance, read through the API when graded."""

import re

import pytest
from kubernetes.client.rest import ApiException

from grader.answers import quote
from grader.checks import must_get, show

LOG_BYTES = 256 * 1024
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")


def _answer_lines(answers, params):
    f = answers / params["file"]
    assert f.exists(), f"/opt/answers/{params['file']} does not exist; expected the crashed instance's last line"
    return f.lines()


def _last_lines(k8s, params):
    """(last line of the previous instance, last line of the current one) of the container."""
    ns, pod, c = params["namespace"], params["pod"], params["container"]
    obj = must_get(k8s.core.read_namespaced_pod, pod, ns, expected="it kept, not re-created")
    status = next((s for s in (obj.status.container_statuses if obj.status else None) or [] if s.name == c), None)
    restarts = status.restart_count if status else None
    assert restarts == 1, (f"container {c} of Pod {ns}/{pod} has restarted {show(restarts)} times; expected "
                           "once: was it restarted again, or the Pod re-created?")

    def last(previous):
        try:
            log = k8s.core.read_namespaced_pod_log(pod, ns, container=c, previous=previous, limit_bytes=LOG_BYTES)
        except ApiException as e:
            raise AssertionError(f"the {'previous ' if previous else ''}log of container {c} of Pod {ns}/{pod} "
                                 f"cannot be read ({e.status}); expected it kept") from None
        lines = [line for line in (log or "").splitlines() if line.strip()]
        return lines[-1].strip() if lines else None
    return last(True), last(False)


def test_one_line(params, answers):
    """The answer file holds exactly one line"""
    lines = _answer_lines(answers, params)
    assert len(lines) == 1, (f"/opt/answers/{params['file']} has {len(lines)} lines; expected only the last line "
                             "of the crashed instance" if lines else f"/opt/answers/{params['file']} is empty")


@pytest.mark.points(3)
def test_crashed_instance_last_line(k8s, params, answers):
    """The answer is the last line the previous instance of the container logged"""
    lines = _answer_lines(answers, params)
    assert lines, f"/opt/answers/{params['file']} is empty; expected the crashed instance's last line"
    want, current = _last_lines(k8s, params)
    assert want, f"the previous instance of container {params['container']} logged nothing; the Pod must not change"
    found = lines[-1]
    if found == want:
        return
    why = ""
    if TIMESTAMP.sub("", found) == want:
        why = ", with a timestamp the container did not write"
    elif found == current:
        why = ", the last line of the current instance, not of the crashed one"
    raise AssertionError(f"/opt/answers/{params['file']} ends with {quote(found)}{why}; expected the last line the "
                         f"crashed instance of {params['container']} logged")
