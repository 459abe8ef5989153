"""What a kwok create waits on: which nodes count as usable
(``sandbox.kubeapi.ready_nodes``, which kind and vm share through
``usable_state``) and what the API answers (``sandbox.kubeapi``)."""

import json
import subprocess

from sandbox.kubeapi import ready_nodes, usable_state, wait_usable
from sandbox.kwok.nodes import node_manifest


def _node(name, ready="True", taints=()):
    node = node_manifest(name, "v1.36.3", name == "controlplane", tainted=True)
    node["status"]["conditions"] = [{"type": "MemoryPressure", "status": "False"},
                                    {"type": "Ready", "status": ready}]
    node["spec"]["taints"] = node["spec"].get("taints", []) + [
        {"key": k, "effect": "NoSchedule"} for k in taints]
    return node


def test_ready_and_untainted_nodes_count_the_control_plane_taint_does_not_matter():
    nodes = {"items": [_node("controlplane"), _node("node01"), _node("node02")]}
    assert ready_nodes(nodes) == {"controlplane", "node01", "node02"}


def test_a_node_not_ready_or_tainted_not_ready_does_not_count():
    nodes = {"items": [_node("controlplane", ready="Unknown"),
                       _node("node01", taints=["node.kubernetes.io/not-ready"]),
                       _node("node02", taints=["node.kubernetes.io/unreachable"]),
                       _node("node03", ready="False")]}
    assert ready_nodes(nodes) == set()


def test_an_answer_of_another_shape_counts_no_node():
    for answer in ("Internal Server Error", {"kind": "Status", "code": 500}, {"items": None},
                   {"items": [{"metadata": {"name": "x"}, "status": None, "spec": None}]}):
        assert ready_nodes(answer) == set(), answer


class _Answer:
    def __init__(self, status, body):
        self.status, self.body = status, body

    def read(self):
        return self.body


class _Api:
    """What ``sandbox.kubeapi`` uses of an ``ApiClient``: its host and ``call_api``."""

    class configuration:
        host = "https://127.0.0.1:6443"

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def call_api(self, method, url, header_params=None, body=None, _request_timeout=None):
        self.asked.append((method, url, body))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_readyz_names_the_checks_that_fail_and_a_silent_server_is_an_oserror():
    from urllib3.exceptions import MaxRetryError

    from sandbox import kubeapi

    body = (b"[+]ping ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n"
            b"[+]etcd ok\nreadyz check failed")
    assert kubeapi.readyz_failing(_Api(_Answer(500, body))) == ["poststarthook/rbac/bootstrap-roles"]
    assert kubeapi.readyz_failing(_Api(_Answer(200, b"ok"))) == []
    assert kubeapi.readyz_failing(_Api(_Answer(401, b'{"kind":"Status"}'))) == ["status 401"]
    try:
        kubeapi.readyz_failing(_Api(MaxRetryError(None, "/readyz", "connection refused")))
    except OSError as exc:
        assert "127.0.0.1:6443" in str(exc)
    else:
        raise AssertionError("a server that does not answer must raise OSError")


def test_a_request_sends_json_and_decodes_json_answers():
    from sandbox import kubeapi

    api = _Api(_Answer(409, b'{"kind":"Status","reason":"AlreadyExists"}'))
    status, answer = kubeapi.request(api, "POST", "/api/v1/nodes", {"metadata": {"name": "x"}})
    assert status == 409 and answer["reason"] == "AlreadyExists"
    assert api.asked == [("POST", "https://127.0.0.1:6443/api/v1/nodes", {"metadata": {"name": "x"}})]


class _Cluster:
    """What kubectl answers, one question at a time (a kind or vm cluster coming up)."""

    def __init__(self, nodes, coredns="1", default_sa=True, nodes_error=""):
        self.nodes, self.coredns, self.default_sa, self.nodes_error = \
            nodes, coredns, default_sa, nodes_error
        self.asked = []

    def __call__(self, *args):
        self.asked.append(args)
        if args[:2] == ("get", "nodes"):
            if self.nodes_error:
                return subprocess.CompletedProcess(args, 1, "", self.nodes_error)
            return subprocess.CompletedProcess(args, 0, json.dumps({"items": self.nodes}), "")
        if "coredns" in args:
            return subprocess.CompletedProcess(args, 0, self.coredns, "")
        if "serviceaccount" in args:
            return subprocess.CompletedProcess(args, 0 if self.default_sa else 1, "", "")
        raise AssertionError(f"unexpected kubectl {args}")


def test_a_cluster_of_real_nodes_is_usable_with_its_nodes_coredns_and_default_serviceaccount():
    want = {"controlplane", "node01"}
    assert usable_state(_Cluster([_node("controlplane"), _node("node01")]), want) == ""
    assert usable_state(_Cluster([_node("controlplane"),
                                  _node("node01", taints=["node.kubernetes.io/not-ready"])]),
                        want) == "ready nodes ['controlplane'] of ['controlplane', 'node01']"
    both = [_node("controlplane"), _node("node01")]
    assert usable_state(_Cluster(both, coredns="0"), want) == "CoreDNS not available"
    assert usable_state(_Cluster(both, default_sa=False), want) == "no default ServiceAccount"


def test_an_api_server_that_refuses_is_named_and_a_wait_gives_the_last_answer():
    down = _Cluster([], nodes_error="The connection to the server 127.0.0.1:6443 was refused")
    state = wait_usable(down, {"controlplane"}, timeout=0.3, interval=0.1)
    assert state == ("ready nodes [] of ['controlplane'] (kubectl: The connection to the "
                     "server 127.0.0.1:6443 was refused)")
    assert len(down.asked) >= 2, "the wait asked once and gave up"
