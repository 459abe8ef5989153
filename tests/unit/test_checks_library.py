"""grader.checks and grader.matching without a cluster, on the client's model objects.

The matching cases follow the Kubernetes source (labels.Requirement.Matches,
nodeaffinity.LazyErrorNodeSelector, Toleration.ToleratesTaint); the API calls
of pods_of and friends go to a small fake that answers like the API server.
"""

from __future__ import annotations

import datetime

import pytest
from kubernetes.client import (
    ApiException, V1Affinity, V1Container, V1DaemonSet, V1DaemonSetSpec, V1DaemonSetStatus,
    V1Deployment, V1DeploymentSpec, V1DeploymentStatus, V1LabelSelector,
    V1LabelSelectorRequirement, V1Node, V1NodeAffinity, V1NodeCondition, V1NodeSelector,
    V1NodeSelectorRequirement, V1NodeSelectorTerm, V1NodeSpec, V1NodeStatus, V1ObjectMeta,
    V1OwnerReference, V1Pod, V1PodCondition, V1PodSpec, V1PodStatus, V1PodTemplateSpec,
    V1ReplicaSet, V1ReplicaSetSpec, V1StatefulSet, V1StatefulSetSpec, V1StatefulSetStatus,
    V1Taint, V1Toleration, V1Volume, V1VolumeMount, V1EmptyDirVolumeSource)

from grader.checks import (
    command_line, condition, describe, eventually, is_ready, live, live_pods, must_be_ready,
    must_container, must_equal, must_get, mounted, node_admits, owned_by, pod_spec, pods_of,
    replica_sets_of, same_image, same_quantity, selector_query, selector_text, selects, show,
    taint_text, term_matches, terms_match, tolerates, untolerated)

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def sel(match_labels=None, *exprs):
    return V1LabelSelector(match_labels=match_labels, match_expressions=[
        V1LabelSelectorRequirement(key=k, operator=op, values=v) for k, op, v in exprs] or None)


def term(*exprs, fields=()):
    return V1NodeSelectorTerm(
        match_expressions=[V1NodeSelectorRequirement(key=k, operator=op, values=v)
                           for k, op, v in exprs] or None,
        match_fields=[V1NodeSelectorRequirement(key=k, operator=op, values=v)
                      for k, op, v in fields] or None)


def pod(name, labels=None, ready=True, owner=None, deleting=False, node="node01", phase="Running"):
    refs = [V1OwnerReference(api_version="apps/v1", kind=owner[0], name=owner[1], uid=owner[2])
            ] if owner else None
    return V1Pod(
        metadata=V1ObjectMeta(name=name, namespace="shop", labels=labels, owner_references=refs,
                              deletion_timestamp=NOW if deleting else None),
        spec=V1PodSpec(containers=[V1Container(name="app")], node_name=node),
        status=V1PodStatus(phase=phase, conditions=[
            V1PodCondition(type="Ready", status="True" if ready else "False")]))


def deployment(replicas=3, ready=3, updated=3, available=3, total=3, generation=2, observed=2):
    return V1Deployment(
        metadata=V1ObjectMeta(name="web", namespace="shop", uid="dep-uid", generation=generation),
        spec=V1DeploymentSpec(replicas=replicas, selector=sel({"app": "web"}),
                              template=V1PodTemplateSpec(spec=V1PodSpec(containers=[
                                  V1Container(name="web", image="nginx:1.27")]))),
        status=V1DeploymentStatus(ready_replicas=ready, updated_replicas=updated,
                                  available_replicas=available, replicas=total,
                                  observed_generation=observed))


# -- label selectors --------------------------------------------------------------

@pytest.mark.parametrize("selector, labels, want", [
    (None, {"app": "web"}, False),                                  # nil selects nothing
    (sel(), {"app": "web"}, True),                                  # empty selects everything
    (sel(), None, True),
    ({}, {"app": "web"}, True),                                     # an empty map too
    ({"app": "web"}, {"app": "web", "tier": "fe"}, True),
    ({"app": "web"}, {"app": "db"}, False),
    ({"app": "web"}, None, False),
    (sel({"app": "web"}), {"app": "web"}, True),
    (sel({"app": "web"}), {}, False),
    (sel(None, ("tier", "In", ["fe", "be"])), {"tier": "be"}, True),
    (sel(None, ("tier", "In", ["fe"])), {}, False),
    (sel(None, ("tier", "In", [])), {"tier": ""}, False),           # In without values: invalid
    (sel(None, ("tier", "NotIn", ["fe"])), {}, True),               # absent label is "not in"
    (sel(None, ("tier", "NotIn", ["fe"])), {"tier": "fe"}, False),
    (sel(None, ("tier", "NotIn", ["fe"])), {"tier": "be"}, True),
    (sel(None, ("tier", "Exists", None)), {"tier": ""}, True),
    (sel(None, ("tier", "Exists", ["x"])), {"tier": "x"}, False),   # Exists with values: invalid
    (sel(None, ("debug", "DoesNotExist", None)), {"app": "web"}, True),
    (sel(None, ("debug", "DoesNotExist", None)), {"debug": "1"}, False),
    (sel(None, ("n", "Gt", ["1"])), {"n": "5"}, False),             # no Gt in a LabelSelector
    (sel(None, ("n", "Bogus", ["1"])), {"n": "1"}, False),
    (sel({"app": "web"}, ("tier", "Exists", None)), {"app": "web"}, False),  # ANDed
])
def test_selects(selector, labels, want):
    assert selects(selector, labels) is want


def test_selector_query_and_text():
    assert selector_query(sel({"app": "web"}, ("tier", "In", ["a", "b"]), ("x", "Exists", None),
                              ("debug", "DoesNotExist", None), ("env", "NotIn", ["dev"]))) \
        == "app=web,tier in (a,b),x,!debug,env notin (dev)"
    assert selector_query(sel()) == "" and selector_query(None) is None
    assert selector_query(sel(None, ("tier", "In", []))) is None    # selects nothing
    assert selector_query({"app": "web"}) == "app=web"
    assert selector_text(None) == "nothing" and selector_text(sel()) == "everything"
    assert selector_text({"app": "frontend"}) == "'app=frontend'"
    assert selector_text({"app": "x" * 100}).endswith("…'")


# -- node selector terms -------------------------------------------------------------

@pytest.mark.parametrize("t, labels, name, want", [
    (term(), {"a": "b"}, "n1", False),                                  # empty term: no node
    (V1NodeSelectorTerm(), {}, "n1", False),
    (term(("disk", "In", ["ssd"])), {"disk": "ssd"}, "n1", True),
    (term(("disk", "In", ["ssd"])), {"disk": "hdd"}, "n1", False),
    (term(("disk", "NotIn", ["hdd"])), {}, "n1", True),
    (term(("disk", "Exists", None)), {"disk": "x"}, "n1", True),
    (term(("disk", "DoesNotExist", None)), {"disk": "x"}, "n1", False),
    (term(("gpus", "Gt", ["9"])), {"gpus": "10"}, "n1", True),          # numeric, not "10" < "9"
    (term(("gpus", "Gt", ["10"])), {"gpus": "10"}, "n1", False),
    (term(("gpus", "Lt", ["10"])), {"gpus": "-3"}, "n1", True),
    (term(("gpus", "Lt", ["10"])), {"gpus": "+3"}, "n1", True),
    (term(("gpus", "Gt", ["1"])), {"gpus": "many"}, "n1", False),
    (term(("gpus", "Gt", ["1"])), {"gpus": "1_000"}, "n1", False),      # Go's ParseInt refuses
    (term(("gpus", "Gt", ["1"])), {}, "n1", False),
    (term(("gpus", "Gt", ["1", "2"])), {"gpus": "5"}, "n1", False),    # exactly one value
    (term(("gpus", "Gt", ["x"])), {"gpus": "5"}, "n1", False),
    (term(("disk", "Near", ["ssd"])), {"disk": "ssd"}, "n1", False),
    (term(fields=[("metadata.name", "In", ["n1"])]), {}, "n1", True),
    (term(fields=[("metadata.name", "In", ["n1"])]), {}, "n2", False),
    (term(fields=[("metadata.name", "NotIn", ["n1"])]), {}, "n2", True),
    (term(fields=[("metadata.name", "In", ["n1", "n2"])]), {}, "n1", False),  # one value only
    (term(fields=[("metadata.name", "Exists", None)]), {}, "n1", False),
    (term(fields=[("metadata.name", "In", ["n1"])]), {}, None, True),   # no name: fields skipped
    (term(("disk", "In", ["ssd"]), fields=[("metadata.name", "In", ["n1"])]),
     {"disk": "ssd"}, "n2", False),
])
def test_term_matches(t, labels, name, want):
    assert term_matches(t, labels, name) is want


def test_terms_are_ored_and_none_admits_nothing():
    ns = V1NodeSelector(node_selector_terms=[term(("disk", "In", ["ssd"])), term(("zone", "Exists", None))])
    assert terms_match(ns, {"zone": "a"}, "n1") and terms_match(ns, {"disk": "ssd"}, "n1")
    assert not terms_match(ns, {"disk": "hdd"}, "n1")
    assert not terms_match(None, {"disk": "ssd"}) and not terms_match(V1NodeSelector(node_selector_terms=[]), {})


def node(name, labels=None, taints=None):
    return V1Node(metadata=V1ObjectMeta(name=name, labels=labels), spec=V1NodeSpec(taints=taints),
                  status=V1NodeStatus(conditions=[V1NodeCondition(type="Ready", status="True")]))


def test_node_admits():
    spec = V1PodSpec(containers=[], node_selector={"disk": "ssd"})
    assert node_admits(spec, node("n1", {"disk": "ssd"})) and not node_admits(spec, node("n1", {}))
    assert node_admits(V1PodSpec(containers=[]), node("n1"))          # no constraint at all
    assert not node_admits(V1PodSpec(containers=[], node_name="n2"), node("n1"))
    req = V1NodeSelector(node_selector_terms=[term(fields=[("metadata.name", "In", ["n1"])])])
    spec = V1PodSpec(containers=[], affinity=V1Affinity(node_affinity=V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=req)))
    assert node_admits(spec, node("n1")) and not node_admits(spec, node("n2"))
    dep = deployment()
    dep.spec.template.spec.affinity = V1Affinity(node_affinity=V1NodeAffinity())  # no required part
    assert node_admits(dep, node("n1"))
    empty = V1Deployment(metadata=V1ObjectMeta(name="x"), spec=V1DeploymentSpec(
        selector=sel(), template=V1PodTemplateSpec()))                      # a template without spec
    assert not node_admits(empty, node("n1"))


# -- tolerations ------------------------------------------------------------------

TAINT = V1Taint(key="dedicated", value="ml", effect="NoSchedule")


@pytest.mark.parametrize("tol, taint, want", [
    (V1Toleration(operator="Exists"), TAINT, True),                          # tolerates everything
    (V1Toleration(operator="Exists"), V1Taint(key="x", effect="NoExecute"), True),
    (V1Toleration(key="dedicated", operator="Exists"), TAINT, True),
    (V1Toleration(key="other", operator="Exists"), TAINT, False),
    (V1Toleration(key="dedicated", operator="Equal", value="ml", effect="NoSchedule"), TAINT, True),
    (V1Toleration(key="dedicated", value="ml"), TAINT, True),                # no operator: Equal
    (V1Toleration(key="dedicated", value="ml", effect=""), TAINT, True),     # empty effect: all
    (V1Toleration(key="dedicated", value="ml", effect="NoExecute"), TAINT, False),
    (V1Toleration(key="dedicated", value="ops"), TAINT, False),
    (V1Toleration(key="dedicated"), TAINT, False),                            # "" is not "ml"
    (V1Toleration(key="k"), V1Taint(key="k", value=None, effect="NoSchedule"), True),
    (V1Toleration(key="dedicated", operator="In", value="ml"), TAINT, False),
    (V1Toleration(key="n", operator="Lt", value="10"), V1Taint(key="n", value="3", effect="NoSchedule"), True),
    (V1Toleration(key="n", operator="Lt", value="3"), V1Taint(key="n", value="3", effect="NoSchedule"), False),
    (V1Toleration(key="n", operator="Gt", value="2"), V1Taint(key="n", value="10", effect="NoSchedule"), True),
    (V1Toleration(key="n", operator="Gt", value="2"), V1Taint(key="n", value="x", effect="NoSchedule"), False),
    (None, TAINT, False),
])
def test_tolerates(tol, taint, want):
    assert tolerates(tol, taint) is want


def test_untolerated():
    soft = V1Taint(key="soft", effect="PreferNoSchedule")
    assert untolerated(None, [TAINT, soft]) == [TAINT]                      # Prefer… does not keep out
    assert untolerated([V1Toleration(key="dedicated", operator="Exists")], [TAINT, soft]) == []
    assert untolerated([], None) == []
    assert taint_text(TAINT) == "dedicated=ml:NoSchedule"
    assert taint_text(V1Taint(key="k", effect="NoExecute")) == "k:NoExecute"


# -- fetching and waiting -------------------------------------------------------------

def read_namespaced_deployment(name, namespace):
    raise ApiException(status=404, reason="Not Found")


def test_must_get():
    with pytest.raises(AssertionError, match=r"^Deployment shop/web not found; expected it to exist$"):
        must_get(read_namespaced_deployment, "web", "shop")
    with pytest.raises(AssertionError, match=r"^Node node02 not found; expected it joined$"):
        must_get(lambda name: None, "node02", what="Node", expected="it joined")

    def read_namespaced_pod_disruption_budget(name, namespace):
        raise ApiException(status=404)
    with pytest.raises(AssertionError, match="^PodDisruptionBudget shop/web not found"):
        must_get(read_namespaced_pod_disruption_budget, "web", "shop")
    dep = deployment()
    assert must_get(lambda name, namespace: dep, "web", "shop") is dep

    def forbidden(name):
        raise ApiException(status=403, reason="Forbidden")
    with pytest.raises(ApiException):                                       # not a failure: an error
        must_get(forbidden, "x")


def test_eventually_keeps_the_last_message():
    tries = []

    def settles():
        tries.append(1)
        assert len(tries) >= 3, f"try {len(tries)}"
        return "done"
    assert eventually(settles, timeout=5, interval=0.01) == "done" and len(tries) == 3

    def never():
        tries.append(1)
        raise AssertionError(f"found {len(tries)}")
    tries.clear()
    with pytest.raises(AssertionError) as err:
        eventually(never, timeout=0.1, interval=0.01)
    assert str(err.value) == f"found {len(tries)}" and len(tries) > 1
    assert eventually(lambda: None) is None                                   # a falsy result is fine


# -- Pods and workloads -------------------------------------------------------------

class FakeK8s:
    """Answers list calls like the API server: by label selector (match labels only) and node."""

    def __init__(self, pods=(), replica_sets=()):
        self._pods, self._rs = list(pods), list(replica_sets)
        self.apps = self

    def pods(self, namespace, selector=None, field_selector=None):
        want = dict(kv.split("=") for kv in selector.split(",")) if selector else {}
        node = field_selector.split("=")[1] if field_selector else None
        return [p for p in self._pods if selects(want, p.metadata.labels)
                and (node is None or p.spec.node_name == node)]

    def list_namespaced_replica_set(self, namespace, label_selector=None):
        return type("List", (), {"items": self._rs})


def test_live_pods_and_pods_of():
    rs = V1ReplicaSet(metadata=V1ObjectMeta(name="web-1", namespace="shop", uid="rs-uid",
                                            owner_references=[V1OwnerReference(
                                                api_version="apps/v1", kind="Deployment",
                                                name="web", uid="dep-uid")]),
                      spec=V1ReplicaSetSpec(selector=sel({"app": "web"})))
    other_rs = V1ReplicaSet(metadata=V1ObjectMeta(name="x", namespace="shop", uid="x-uid"),
                            spec=V1ReplicaSetSpec(selector=sel({"app": "web"})))
    k8s = FakeK8s([pod("web-a", {"app": "web"}, owner=("ReplicaSet", "web-1", "rs-uid")),
                   pod("web-b", {"app": "web"}, owner=("ReplicaSet", "web-1", "rs-uid"), deleting=True),
                   pod("stray", {"app": "web"}, node="node02"),
                   pod("db", {"app": "db"})], [rs, other_rs])
    dep = deployment()
    assert [p.metadata.name for p in live_pods(k8s, "shop", "app=web")] == ["web-a", "stray"]
    assert [p.metadata.name for p in live_pods(k8s, "shop", {"app": "web"}, node="node02")] == ["stray"]
    assert [p.metadata.name for p in live_pods(k8s, "shop", sel({"app": "db"}))] == ["db"]
    assert live_pods(k8s, "shop", sel(None, ("app", "In", []))) == []
    assert replica_sets_of(k8s, dep) == [rs]
    assert [p.metadata.name for p in pods_of(k8s, dep)] == ["web-a"]
    assert [p.metadata.name for p in pods_of(k8s, rs)] == ["web-a"]
    assert len(live(k8s._pods)) == 3 and live(None) == []
    assert owned_by(k8s._pods[0], "ReplicaSet/web-1") and owned_by(k8s._pods[0], rs)
    assert not owned_by(k8s._pods[2], rs) and not owned_by(k8s._pods[0], "DaemonSet/web-1")


# -- readiness -----------------------------------------------------------------------

def test_pod_and_node_readiness():
    assert is_ready(pod("a")) and not is_ready(pod("a", ready=False))
    assert not is_ready(V1Pod(metadata=V1ObjectMeta(name="a"), status=None))
    assert not is_ready(V1Pod(metadata=V1ObjectMeta(name="a"), status=V1PodStatus(conditions=None)))
    assert is_ready(node("n1")) and condition(node("n1"), "Ready") == "True"
    assert condition(pod("a"), "Complete") is None
    with pytest.raises(AssertionError, match=r"^Pod shop/a is Pending and not ready; expected it running and ready$"):
        must_be_ready(pod("a", ready=False, phase="Pending"))
    broken = V1Node(metadata=V1ObjectMeta(name="n1"), status=V1NodeStatus(conditions=[
        V1NodeCondition(type="Ready", status="Unknown")]))
    with pytest.raises(AssertionError, match=r"^Node n1 is Ready=Unknown; expected it Ready=True$"):
        must_be_ready(broken)
    must_be_ready(pod("a"))


def test_deployment_readiness():
    assert is_ready(deployment())
    must_be_ready(deployment(), replicas=3)
    assert not is_ready(deployment(ready=2, available=2))
    assert not is_ready(deployment(total=4))                               # an old Pod left over
    assert not is_ready(deployment(observed=1))                            # status not caught up
    assert not is_ready(V1Deployment(metadata=V1ObjectMeta(name="x"), spec=V1DeploymentSpec(
        replicas=1, selector=sel(), template=V1PodTemplateSpec()), status=None))
    with pytest.raises(AssertionError, match=r"^Deployment shop/web has 3 replicas; expected 4$"):
        must_be_ready(deployment(), replicas=4)
    with pytest.raises(AssertionError) as err:
        must_be_ready(deployment(ready=1, available=1))
    assert str(err.value) == ("Deployment shop/web has 1 of 3 replicas ready (3 up to date, "
                              "1 available, 3 in all); expected all 3 ready and up to date")
    with pytest.raises(AssertionError, match="has not seen the latest change"):
        must_be_ready(deployment(observed=1))


def test_daemonset_and_statefulset_readiness():
    ds = V1DaemonSet(metadata=V1ObjectMeta(name="agent", namespace="kube-system", generation=1),
                     spec=V1DaemonSetSpec(selector=sel(), template=V1PodTemplateSpec()),
                     status=V1DaemonSetStatus(desired_number_scheduled=3, number_ready=3,
                                              updated_number_scheduled=3, number_available=3,
                                              current_number_scheduled=3, number_misscheduled=0,
                                              observed_generation=1))
    assert is_ready(ds)
    ds.status.number_ready = 2
    with pytest.raises(AssertionError, match=r"^DaemonSet kube-system/agent has 2 of 3 replicas ready"):
        must_be_ready(ds)
    sts = V1StatefulSet(metadata=V1ObjectMeta(name="queue", namespace="shop"),
                        spec=V1StatefulSetSpec(replicas=1, selector=sel(), service_name="q",
                                               template=V1PodTemplateSpec()),
                        status=V1StatefulSetStatus(replicas=1, ready_replicas=1, updated_replicas=1,
                                                   available_replicas=1))
    assert is_ready(sts)
    sts.status.replicas = 2
    assert not is_ready(sts)


# -- Pod specs and messages ------------------------------------------------------------

def test_containers_mounts_images():
    dep = deployment()
    assert must_container(dep, "web").image == "nginx:1.27"
    with pytest.raises(AssertionError, match=r"^Deployment shop/web has containers \['web'\]; expected one named api$"):
        must_container(dep, "api")
    with pytest.raises(AssertionError, match=r"^Deployment shop/web has init containers none; expected one named fetch$"):
        must_container(dep, "fetch", init=True)
    with pytest.raises(AssertionError, match="has containers none"):
        must_container(V1Deployment(metadata=V1ObjectMeta(name="x"), spec=V1DeploymentSpec(
            selector=sel(), template=V1PodTemplateSpec())), "web")
    spec = V1PodSpec(containers=[V1Container(name="app", command=["sh", "-c"], args=["echo hi"],
                                             volume_mounts=[V1VolumeMount(name="tmp", mount_path="/tmp/")])],
                     volumes=[V1Volume(name="tmp", empty_dir=V1EmptyDirVolumeSource())])
    c = must_container(spec, "app")
    assert command_line(c) == "sh -c echo hi" and command_line(V1Container(name="x")) == ""
    m, v = mounted(spec, c, "/tmp")
    assert m.name == "tmp" and v.empty_dir is not None
    assert mounted(spec, c, "/data") == (None, None)
    assert pod_spec(spec) is spec and pod_spec(dep) is dep.spec.template.spec and pod_spec(None) is None
    assert same_image("docker.io/library/nginx:1.27", "nginx:1.27") and not same_image(None, "nginx")
    assert not same_image("nginx:1.26", "nginx:1.27")
    assert same_quantity("0.5", "500m") and same_quantity("1Gi", "1024Mi")
    assert not same_quantity(None, "1") and not same_quantity("lots", "1")


def test_show_and_describe():
    assert show("web-1\x1b[2J") == "'web-1\\x1b[2J'"
    assert show("x" * 100).endswith("…'") and len(show("x" * 100)) < 70
    assert show(None) == "none" and show(3) == "3" and show(True) == "True"
    assert show(["a", None]) == "['a', none]" and show({"mode": "debug"}) == "{mode: 'debug'}"
    assert show({"bad key\n": 1}) == "{'bad key\\n': 1}"
    assert show(list(range(30))).endswith(", …]")
    assert describe(deployment()) == "Deployment shop/web" and describe(node("n1")) == "Node n1"
    with pytest.raises(AssertionError) as err:
        must_equal("PersistentVolume data", {"capacity": "1Gi", "mode": "RWO"},
                   {"capacity": "2Gi", "mode": "RWO"}, same=lambda a, b: a == b)
    assert str(err.value) == "PersistentVolume data has capacity: '1Gi'; expected capacity: 2Gi"
    must_equal("x", {"cpu": "0.5"}, {"cpu": "500m"}, same=same_quantity)


def test_get_live():
    from grader.checks import get_live
    assert get_live(lambda name, namespace: pod(name), "a", "shop").metadata.name == "a"
    assert get_live(lambda name, namespace: pod(name, deleting=True), "a", "shop") is None
    assert get_live(read_namespaced_deployment, "web", "shop") is None


def test_must_equal_per_key():
    must_equal("PV", {"capacity": "1024Mi", "mode": "RWO"}, {"capacity": "1Gi", "mode": "RWO"},
               same={"capacity": same_quantity})
    with pytest.raises(AssertionError, match=r"^PV has mode: 'RWX'; expected mode: RWO$"):
        must_equal("PV", {"capacity": "1Gi", "mode": "RWX"}, {"capacity": "1Gi", "mode": "RWO"},
                   same={"capacity": same_quantity})


def test_mount_paths():
    from grader.checks import mount_paths
    c = V1Container(name="a", volume_mounts=[V1VolumeMount(name="tmp", mount_path="/tmp/"),
                                             V1VolumeMount(name="root", mount_path="/")])
    assert mount_paths(c) == {"/tmp": "tmp", "/": "root"} and mount_paths(V1Container(name="b")) == {}


def test_same_command_however_written():
    from grader.checks import same_command
    for c in (V1Container(name="a", command=["sleep", "3600"]),
              V1Container(name="a", args=["sleep", "3600"]),             # kubectl run … -- sleep 3600
              V1Container(name="a", command=["sleep"], args=["3600"]),
              V1Container(name="a", command=["/bin/sleep", "3600"]),
              V1Container(name="a", command=["sh", "-c", "sleep 3600"]),
              V1Container(name="a", command=["/bin/sh"], args=["-c", "exec sleep 3600"])):
        assert same_command(c, "sleep 3600"), (c.command, c.args)
    for c in (V1Container(name="a"),                                        # the image's default
              V1Container(name="a", command=["sleep", "360"]),
              V1Container(name="a", command=["sleep", "3600", "&"]),
              V1Container(name="a", command=["sh", "-c", "sleep 3600; rm -rf /data"]),
              V1Container(name="a", command=["sh", "-c", "sleep '3600"])):   # unbalanced quote
        assert not same_command(c, "sleep 3600"), (c.command, c.args)


def test_must_be_original_compares_the_recorded_uid():
    from kubernetes.client import V1ConfigMap

    from grader.checks import must_be_original
    records = {"web-original": V1ConfigMap(data={"uid": "dep-uid"}),
               "empty": V1ConfigMap(data=None)}

    class Core:
        @staticmethod
        def read_namespaced_config_map(name, namespace):
            assert namespace == "kube-system"
            if name not in records:
                raise ApiException(status=404)
            return records[name]
    k8s = type("K8s", (), {"core": Core})
    dep = deployment()
    must_be_original(k8s, dep, "web-original")
    dep.metadata.uid, dep.metadata.creation_timestamp = "new-uid", NOW
    with pytest.raises(AssertionError, match=r"^Deployment shop/web was deleted and recreated "
                       r"\(the new one created 2025-01-01T00:00:00\+00:00\); expected the original, "
                       r"changed in place$"):
        must_be_original(k8s, dep, "web-original")
    with pytest.raises(AssertionError, match=r"^ConfigMap kube-system/gone not found; expected it "
                       r"untouched: setup recorded there which Deployment shop/web is the original$"):
        must_be_original(k8s, dep, "gone")
    with pytest.raises(AssertionError, match=r"^ConfigMap kube-system/empty holds no uid"):
        must_be_original(k8s, dep, "empty")


# -- the authoring guide's examples stay valid ------------------------------------------

DOCS = __import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "authoring.md"
FIXTURE_CHECKS = DOCS.parent.parent / "tests" / "fixtures" / "tasks" / "svc-endpoints-fixture" / "checks.py"


def _python_blocks():
    import re
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)


def test_docs_examples_import_what_exists_and_lint(tmp_path):
    import ast

    import grader.checks
    from grader.checkfile import scan_checks
    blocks = _python_blocks()
    assert len(blocks) >= 2
    for n, code in enumerate(blocks):
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "grader.checks":
                missing = {a.name for a in node.names} - set(grader.checks.__all__)
                assert not missing, f"docs example {n} imports {missing} from grader.checks"
        (tmp_path / f"checks{n}.py").write_text(code)
        checks, problems = scan_checks(tmp_path / f"checks{n}.py")
        assert checks and not problems, problems
    # every helper the table names exists
    import re
    table = DOCS.read_text().split("### The checks library", 1)[1].split("```", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)\(", cell)}
    assert named and named <= set(grader.checks.__all__), named - set(grader.checks.__all__)


def test_docs_checks_example_is_the_fixture_validated_live():
    """The first example is a runnable copy: tests/cluster/test_validate.py proves the
    fixture task (setup fails every check, solution passes every check) on kwok."""
    import ast
    example, fixture = ast.parse(_python_blocks()[0]), ast.parse(FIXTURE_CHECKS.read_text())
    functions = {f.name: ast.dump(f) for f in fixture.body if isinstance(f, ast.FunctionDef)}
    for f in example.body:
        if isinstance(f, ast.FunctionDef):
            assert functions.get(f.name) == ast.dump(f), f"{f.name} differs from {FIXTURE_CHECKS}"


def test_docs_library_example_runs():
    [code] = [b for b in _python_blocks() if "def test_web_on_node01" in b]
    scope = {}
    exec(compile(code, "authoring.md", "exec"), scope)
    rs = V1ReplicaSet(metadata=V1ObjectMeta(name="web-1", namespace="shop", uid="rs-uid",
                                            owner_references=[V1OwnerReference(
                                                api_version="apps/v1", kind="Deployment",
                                                name="web", uid="dep-uid")]),
                      spec=V1ReplicaSetSpec(selector=sel({"app": "web"})))
    pods = [pod(f"web-{i}", {"app": "web"}, owner=("ReplicaSet", "web-1", "rs-uid")) for i in range(3)]
    k8s = FakeK8s(pods, [rs])
    k8s.read_namespaced_deployment = lambda name, namespace: deployment()
    scope["test_web_on_node01"](k8s, {"namespace": "shop"})
    pods[1].spec.node_name = "node02"
    with pytest.raises(AssertionError, match="^Pods of web run elsewhere: web-1; expected all on node01$"):
        scope["test_web_on_node01"](k8s, {"namespace": "shop"})
    k8s.read_namespaced_deployment = lambda name, namespace: deployment(ready=1, available=1)
    with pytest.raises(AssertionError, match="has 1 of 3 replicas ready"):
        scope["test_web_on_node01"](k8s, {"namespace": "shop"})
