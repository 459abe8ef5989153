"""Checks for cri-cni-inspect: four facts about node01, graded against node01 as it is now.

The answer file is the candidate's; every expected value is read live, from
node01 (its CNI directory, the kubelet's configuration, crictl) and the API.
"""

import json
import posixpath
import re
import shlex

import pytest
import yaml

from grader.checks import must_get, show

ANSWER = "node01-runtime.txt"
CNI_DIR = "/etc/cni/net.d"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
KEYS = ("cni-config", "cni-plugin", "runtime-endpoint", "container-id")


def _answer(answers, key: str) -> str:
    f = answers / ANSWER
    assert f.exists(), f"/opt/answers/{ANSWER} does not exist; expected the four key: value lines in it"
    found = {}
    for line in f.lines():
        k, sep, v = line.partition(":")
        if sep and k.strip() in KEYS:
            found.setdefault(k.strip(), v.strip())
    assert key in found, (f"/opt/answers/{ANSWER} has no line {key}: …; expected one "
                          f"(it has {show(sorted(found)) if found else 'no known keys'})")
    assert found[key], f"/opt/answers/{ANSWER} has an empty {key}: line; expected a value"
    return found[key]


def _cni_config(host) -> tuple[str, dict]:
    """The file the runtime uses (first by name) and its parsed content."""
    listing = host.run(f"ls -1 {CNI_DIR}").stdout.split()
    confs = sorted(n for n in listing if n.endswith((".conf", ".conflist", ".json")))
    assert confs, f"{CNI_DIR} on node01 holds no CNI configuration; expected the node's network configuration"
    try:
        data = json.loads(host.file(posixpath.join(CNI_DIR, confs[0])).content_string)
    except ValueError:
        data = {}
    return confs[0], data if isinstance(data, dict) else {}


def _endpoint(value: str) -> str:
    """unix:///var/run/x, /var/run/x and unix:///run/x name the same socket."""
    path = value.removeprefix("unix://")
    return "/run/" + path.removeprefix("/var/run/") if path.startswith("/var/run/") else path


def test_cni_config(answers, nodes):
    """cni-config names the CNI configuration file node01's runtime uses"""
    found = _answer(answers, "cni-config")
    want, _ = _cni_config(nodes["node01"])
    assert found == want, f"/opt/answers/{ANSWER} has cni-config: {show(found)}; expected the file name in {CNI_DIR} the runtime uses"


def test_cni_plugin(answers, nodes):
    """cni-plugin is the type of the first plugin of that configuration"""
    found = _answer(answers, "cni-plugin")
    name, conf = _cni_config(nodes["node01"])
    plugins = conf.get("plugins")
    first = plugins[0] if isinstance(plugins, list) and plugins else conf
    want = first.get("type") if isinstance(first, dict) else None
    assert isinstance(want, str) and want, f"{CNI_DIR}/{name} on node01 names no plugin type; expected a valid CNI configuration"
    assert found == want, f"/opt/answers/{ANSWER} has cni-plugin: {show(found)}; expected the type of the first plugin in {name}"


def test_runtime_endpoint(answers, nodes):
    """runtime-endpoint is the container runtime endpoint node01's kubelet is configured with"""
    found = _answer(answers, "runtime-endpoint")
    host = nodes["node01"]
    try:
        config = yaml.safe_load(host.file(KUBELET_CONFIG).content_string) or {}
    except yaml.YAMLError:
        config = {}
    want = config.get("containerRuntimeEndpoint") if isinstance(config, dict) else None
    flags = host.run("cat /var/lib/kubelet/kubeadm-flags.env /etc/default/kubelet 2>/dev/null").stdout
    flag = re.search(r"--container-runtime-endpoint[= ]([^\s\"']+)", flags)
    want = flag.group(1) if flag else want  # a flag overrides the configuration file
    assert isinstance(want, str) and want, "node01's kubelet names no container runtime endpoint; expected one"
    assert _endpoint(found) == _endpoint(want), (
        f"/opt/answers/{ANSWER} has runtime-endpoint: {show(found)}; expected the kubelet's "
        "container runtime endpoint")


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_container_id(answers, nodes, k8s, params):
    """container-id is the full ID of the container in the Pod"""
    name, container = params["name"], params["container"]
    found = _answer(answers, "container-id")
    assert re.fullmatch(r"[0-9a-f]{64}", found), (
        f"/opt/answers/{ANSWER} has container-id: {show(found)}; expected a full container ID, "
        "64 hexadecimal digits without a prefix")
    pod = must_get(k8s.core.read_namespaced_pod, name, "default", expected="it running on node01")
    status = next((s for s in (pod.status.container_statuses if pod.status else None) or []
                   if s.name == container), None)
    assert status is not None and status.container_id, (
        f"Pod default/{name} has no running container {container}; expected it as setup left it")
    want = status.container_id.partition("://")[2]
    res = nodes["node01"].run(f"crictl inspect -o go-template --template "
                              f"'{{{{index .status.labels \"io.kubernetes.pod.name\"}}}}' {shlex.quote(found)}")
    owner = res.stdout.strip() if res.rc == 0 else None
    if owner is None and nodes["node01"].run(f"crictl inspectp {shlex.quote(found)}").rc == 0:
        what = "the ID of a Pod sandbox, not of a container"
    elif owner is None:
        what = "which is no container on node01"
    else:
        what = f"a container of Pod {show(owner)}" if owner != name else f"another container of {name}"
    assert found == want, (f"/opt/answers/{ANSWER} has container-id: {show(found)}, {what}; "
                           f"expected the ID of container {container} of Pod {name}")
