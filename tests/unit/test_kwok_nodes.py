"""Which nodes a create counts as usable (``sandbox.kwok.nodes.ready_nodes``)."""

from sandbox.kwok.nodes import node_manifest, ready_nodes


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
