"""Checks for service-dns-lookup: the answer is the Service's real ClusterIP, and Pod
dns-check really looked its name up with the cluster's DNS."""

import json
import re

import pytest

from grader.checks import get_live, must_get, same_image, show
from grader.kube import ApiException

IMAGE = "busybox:1.35"
LOG_BYTES = 64 * 1024  # an nslookup answer is a few hundred bytes


def _log(k8s, pod, ns, container) -> str:
    """A container's log, read through the API as `kubectl logs` reads it; a failed check
    when there is none to read (a container that has not started, say)."""
    try:
        return k8s.core.read_namespaced_pod_log(pod, ns, container=container, limit_bytes=LOG_BYTES)
    except ApiException as exc:
        try:
            why = json.loads(exc.body).get("message") or exc.reason
        except (TypeError, ValueError, AttributeError):
            why = exc.reason
        raise AssertionError(f"the log of container {container} of Pod {ns}/{pod} cannot be read: "
                             f"{show(why)}; expected the lookup's output") from None


def _service_ip(k8s, params) -> str:
    svc = must_get(k8s.core.read_namespaced_service, params["service"], params["backend"],
                   expected="it unchanged")
    return svc.spec.cluster_ip


def _fqdn(params) -> str:
    return f"{params['service']}.{params['backend']}.svc.cluster.local"


@pytest.mark.points(2)
def test_answer_is_service_ip(k8s, params, answers):
    """The answer file holds the address the Service's name resolves to, and nothing else"""
    want = _service_ip(k8s, params)
    f = answers / params["file"]
    assert f.exists(), f"{f} does not exist; expected the address {_fqdn(params)} resolves to"
    lines = f.lines()
    if lines == [want]:
        return
    if any(re.search(rf"(?<![\d.]){re.escape(want)}(?![\d.])", line) for line in lines):
        raise AssertionError(f"{f} holds {show(lines)}; expected one line with the address alone")
    found = lines[0] if len(lines) == 1 else None
    decoy = k8s.get(k8s.core.read_namespaced_service, params["service"], params["namespace"])
    if found and decoy is not None and found == decoy.spec.cluster_ip:
        raise AssertionError(f"{f} holds {show(found)}, the address of Service {params['service']} "
                             f"of namespace {params['namespace']}; expected the one of namespace "
                             f"{params['backend']}")
    pod_ips = {p.status.pod_ip for p in k8s.pods(params["backend"]) if p.status and p.status.pod_ip}
    if found in pod_ips:
        raise AssertionError(f"{f} holds {show(found)}, the address of a Pod behind the Service; "
                             f"expected the address its name resolves to")
    raise AssertionError(f"{f} holds {show(lines) if lines else 'nothing'}; expected one line with "
                         f"the address {_fqdn(params)} resolves to")


@pytest.mark.points(2)
def test_pod_looked_up(k8s, params):
    """Pod dns-check (busybox:1.35) looked the Service's name up and printed the answer"""
    ns, fqdn, want = params["namespace"], _fqdn(params), _service_ip(k8s, params)
    pod = get_live(k8s.core.read_namespaced_pod, "dns-check", ns)
    assert pod is not None, f"Pod {ns}/dns-check not found; expected it kept after the lookup"
    images = [c.image for c in pod.spec.containers]
    assert any(same_image(i, IMAGE) for i in images), (
        f"Pod dns-check runs images {show(images)}; expected {IMAGE}")
    phase = pod.status.phase if pod.status else None
    assert phase in ("Running", "Succeeded", "Failed"), (
        f"Pod dns-check is {show(phase)}; expected it to have run the lookup")
    logs = "\n".join(_log(k8s, "dns-check", ns, c.name) for c in pod.spec.containers
                     if same_image(c.image, IMAGE))
    assert logs.strip(), ("the log of Pod dns-check is empty; expected the lookup's answer in it: "
                          "the container's own command must print it (what kubectl exec runs "
                          "does not reach the Pod's log)")
    # nslookup prints "Name: <fqdn>" then "Address: <ip>"; other tools print both on a line
    named = re.search(rf"(?<![\w.-]){re.escape(fqdn)}\.?(?![\w-])", logs)
    assert named, (f"the log of Pod dns-check does not name {fqdn} (it ends with "
                   f"{show(logs.strip().splitlines()[-2:])}); expected the answer for that name")
    assert re.search(rf"(?<![\d.]){re.escape(want)}(?![\d.])", logs[named.start():]), (
        f"the log of Pod dns-check names {fqdn} but not the address it resolves to; expected "
        "the lookup's answer")
