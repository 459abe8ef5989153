"""Checks for node-prep-sysctl: node02 prepared for kubeadm (modules, sysctls, containerd's cgroup driver).

Kernel parameters are read from node02's /proc/sys: node02 is a container
with a network namespace of its own, so these are its values, not the host's.
Modules cannot be loaded in it (no /lib/modules: the kernel is the host's),
so for modules only the boot-time list is graded.
"""

import json
import tomllib

import pytest
import yaml

from grader.checks import must_get, show

SYSCTLS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
MODULES = ("overlay", "br_netfilter")
CONTAINERD = "/etc/containerd/config.toml"
# containerd 2 (config version 3), then containerd 1.x (version 2)
CRI_PLUGINS = ("io.containerd.cri.v1.runtime", "io.containerd.grpc.v1.cri")


def _settings(text: str) -> dict:
    """key -> value of a sysctl.d file (later lines win; '-' prefixes ignored)."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        found[key.strip().lstrip("-").replace("/", ".")] = value.strip()
    return found


def _systemd_cgroup_wanted(k8s) -> bool:
    cm = must_get(k8s.core.read_namespaced_config_map, "kubelet-config", "kube-system",
                  expected="kubeadm's kubelet configuration of the cluster")
    try:
        config = yaml.safe_load((cm.data or {}).get("kubelet") or "") or {}
    except yaml.YAMLError:
        config = {}
    driver = config.get("cgroupDriver") if isinstance(config, dict) else None
    return driver == "systemd"


def test_modules_at_boot(nodes, params):
    """/etc/modules-load.d/<file>.conf on node02 lists overlay and br_netfilter"""
    path = f"/etc/modules-load.d/{params['file']}.conf"
    f = nodes["node02"].file(path)
    assert f.exists and f.is_file, f"{path} does not exist on node02; expected the modules to load at boot"
    listed = [w for line in f.content_string.splitlines()
              if (w := line.split("#")[0].strip()) and not w.startswith(";")]
    missing = [m for m in MODULES if m not in listed]
    assert not missing, (f"{path} on node02 lists {show(listed) if listed else 'nothing'}; "
                         f"expected {', '.join(MODULES)} (one per line)")


@pytest.mark.points(2)
@pytest.mark.timeout(20)
def test_sysctls_persistent(nodes, params):
    """/etc/sysctl.d/<file>.conf sets both parameters to 1, and nothing overrides them at boot"""
    host = nodes["node02"]
    path = f"/etc/sysctl.d/{params['file']}.conf"
    f = host.file(path)
    assert f.exists and f.is_file, f"{path} does not exist on node02; expected the kernel parameters in it"
    mine = _settings(f.content_string)
    wrong = {k: mine.get(k) for k in SYSCTLS if mine.get(k) != "1"}
    assert not wrong, f"{path} on node02 has {show(wrong)}; expected both set to 1"
    # What systemd-sysctl applies at boot: every sysctl.d file in order, the last value winning.
    res = host.run("systemd-analyze cat-config sysctl.d")
    assert res.rc == 0, "systemd-analyze cat-config sysctl.d fails on node02; expected the boot-time configuration"
    boot = _settings(res.stdout)
    overridden = {k: boot.get(k) for k in SYSCTLS if boot.get(k) != "1"}
    assert not overridden, (f"at boot node02's sysctl configuration ends with {show(overridden)}; "
                            f"expected no other file to override {path}")


@pytest.mark.points(2)
def test_sysctls_in_effect(nodes):
    """Both kernel parameters are 1 on node02 now"""
    host = nodes["node02"]
    found = {}
    for key in SYSCTLS:
        f = host.file("/proc/sys/" + key.replace(".", "/"))
        found[key] = f.content_string.strip() if f.exists else None
    wrong = {k: v for k, v in found.items() if v != "1"}
    assert not wrong, f"node02 has {show(wrong)} in effect; expected both 1 now, without a reboot"


def _toml(value) -> str:
    """A setting as config.toml spells it: true, false, or the odd value quoted."""
    return str(value).lower() if isinstance(value, bool) else show(value)


def _runc_options(config: dict) -> dict:
    plugins = config.get("plugins") if isinstance(config, dict) else None
    for name in CRI_PLUGINS:
        node = plugins.get(name) if isinstance(plugins, dict) else None
        for key in ("containerd", "runtimes", "runc", "options"):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return {}


def test_containerd_config(k8s, nodes):
    """containerd's config.toml sets runc's SystemdCgroup to match the kubelets' cgroup driver"""
    want = _systemd_cgroup_wanted(k8s)
    f = nodes["node02"].file(CONTAINERD)
    assert f.exists, f"{CONTAINERD} does not exist on node02; expected containerd's configuration"
    try:
        config = tomllib.loads(f.content_string)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{CONTAINERD} on node02 is not valid TOML ({exc}); expected containerd's configuration")
    found = _runc_options(config).get("SystemdCgroup", False)  # containerd's default
    assert found is want, (f"{CONTAINERD} on node02 has SystemdCgroup = {_toml(found)}; expected "
                           f"{str(want).lower()}, matching the kubelets' cgroup driver")


@pytest.mark.timeout(20)
def test_containerd_running_with_it(k8s, nodes):
    """containerd on node02 runs with that cgroup driver now"""
    want = _systemd_cgroup_wanted(k8s)
    host = nodes["node02"]
    res = host.run("crictl info")
    assert res.rc == 0, "crictl info fails on node02; expected containerd running"
    try:
        info = json.loads(res.stdout)
    except ValueError:
        pytest.fail("crictl info on node02 prints no JSON; expected containerd's status")
    options = (((info.get("config") or {}).get("containerd") or {}).get("runtimes") or {}).get("runc") or {}
    found = (options.get("options") or {}).get("SystemdCgroup") if isinstance(options, dict) else None
    assert found is want, (f"containerd on node02 runs with SystemdCgroup = {_toml(found)}; expected "
                           f"{str(want).lower()}: restart it after changing its configuration")
