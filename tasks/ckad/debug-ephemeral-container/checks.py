"""Checks for debug-ephemeral-container: an ephemeral container that targets container
app of Pod billing-api, Service billing routed to the port the application really
listens on, and the instance ID only the running container holds."""

import json
import re

import pytest

from grader.checks import eventually, must_get, same_image, show
from grader.kube import ApiException

IMAGE = "busybox:1.35"
POD = "billing-api"
ID_FILE = "/var/lib/billing/instance-id"
PAGE = "billing-api 4.2.0"  # what the application serves at /


def _pod(k8s, params):
    return must_get(k8s.core.read_namespaced_pod, POD, params["namespace"],
                    expected="it running as set up, not re-created")


def _why(exc: ApiException) -> str:
    """The API server's reason for a failed proxied request, for a message: its last
    words ("dial tcp 10.244.1.3:8080: connect: connection refused"), which say more
    than its first."""
    try:
        why = json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        why = exc.body or exc.reason
    why = str(why).strip()
    dial = re.search(r"dial tcp [^ ]+: .*", why)
    return show(dial.group(0) if dial else why, 100)


def _copies(k8s, params) -> list:
    """Other Pods of the namespace with a container of the debugger's name: copies
    that `kubectl debug --copy-to` made, say."""
    name = params["debugger"]
    return sorted(p.metadata.name for p in k8s.pods(params["namespace"])
                  if p.metadata.name != POD and any(c.name == name for c in p.spec.containers or []))


@pytest.mark.points(2)
def test_ephemeral_container(k8s, params):
    """Pod billing-api has an ephemeral container (busybox:1.35) that targets container app, and it started"""
    name, ns = params["debugger"], params["namespace"]
    pod = _pod(k8s, params)
    found = {c.name: c for c in pod.spec.ephemeral_containers or []}
    if name not in found:
        copies = _copies(k8s, params)
        where = (f"; {', '.join(copies)} {'is a copy' if len(copies) == 1 else 'are copies'} of it, "
                 "not the running Pod" if copies else "")
        has = f"ephemeral containers {show(sorted(found))}" if found else "no ephemeral containers"
        raise AssertionError(f"Pod {ns}/{POD} has {has}{where}; expected one named {name}, added "
                             "to the running Pod")
    c = found[name]
    assert same_image(c.image, IMAGE), (
        f"ephemeral container {name} uses image {show(c.image)}; expected {IMAGE}")
    target = c.target_container_name
    assert target == "app", (
        f"ephemeral container {name} "
        + (f"targets container {show(target)}" if target else
           "shares no container's process namespace (it has no target container)")
        + "; expected it to target container app")
    status = next((s for s in pod.status.ephemeral_container_statuses or [] if s.name == name), None)
    state = status.state if status else None
    started = state is not None and (state.running is not None or (
        state.terminated is not None and state.terminated.started_at is not None))
    waiting = state.waiting.reason if state is not None and state.waiting else None
    assert started, (f"ephemeral container {name} has not started"
                     f"{' (' + show(waiting) + ')' if waiting else ''}; expected it to have run")


def _target(svc, pod):
    """Where Service port 80 sends traffic, as a message shows it: the number, or the
    port name and the number it names in the Pod."""
    port = next((p for p in svc.spec.ports or [] if p.port == 80), None)
    if port is None:
        return None, None
    target = port.target_port if port.target_port is not None else 80
    if isinstance(target, str) and not target.isdigit():
        named = next((p.container_port for c in pod.spec.containers or [] for p in c.ports or []
                      if p.name == target), None)
        return named, f"{show(target)} ({named if named else 'no such port'} in Pod {POD})"
    return int(target), str(target)


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_service_routes(k8s, params):
    """Service billing sends its port 80 to the port the application listens on, and the application answers through it"""
    ns = params["namespace"]
    pod = _pod(k8s, params)
    svc = must_get(k8s.core.read_namespaced_service, "billing", ns, expected="it fixed, not removed")
    number, shown = _target(svc, pod)
    ports = [p.port for p in svc.spec.ports or []]
    assert shown is not None, (f"Service billing has ports {show(ports)}; expected it to keep port "
                               "80 and send it to the application's port")
    ip = pod.status.pod_ip if pod.status else None

    def routed():  # EndpointSlices follow a change of the Service a moment later
        found = k8s.endpoints("billing", ns)
        assert ip and found == [ip], (f"Service billing has ready endpoints {show(found)}; expected "
                                      f"Pod {POD} ({show(ip)}) alone")
    eventually(routed, timeout=5)

    def answers():
        try:
            page = k8s.core.connect_get_namespaced_service_proxy_with_path(
                "billing:80", ns, "", _request_timeout=5)
        except ApiException as exc:
            raise AssertionError(f"a request to Service billing on port 80, sent to target port "
                                 f"{shown}, failed: {_why(exc)}; expected the port the application "
                                 "listens on") from None
        assert PAGE in str(page), (f"Service billing port 80 (target port {shown}) answered "
                                   f"{show(str(page))}; expected the billing application's page")
    eventually(answers, timeout=8)


@pytest.mark.points(2)
def test_instance_id(params, answers):
    """The answer file holds the instance ID the application keeps in its container, and nothing else"""
    want = params["instance"]
    f = answers / params["file"]
    assert f.exists(), f"{f} does not exist; expected the instance ID from {ID_FILE} in it"
    lines = f.lines()
    if lines == [want]:
        return
    if any(want in line for line in lines):
        raise AssertionError(f"{f} holds {show(lines)}; expected one line with the instance ID "
                             "alone")
    raise AssertionError(f"{f} holds {show(lines) if lines else 'nothing'}; expected the instance ID "
                         f"the application keeps in {ID_FILE} of container app")
