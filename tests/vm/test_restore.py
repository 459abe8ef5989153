"""Restoring a saved VM, without Kubernetes: what every vm sandbox is made of.

It needs only the VM image (not the golden clusters), so it runs wherever
the image is built: one VM is booted and saved by the golden builder's own
steps, then restored by the provider's own steps (a layer of its own, QEMU
with -incoming, as the sandbox's uid, chrooted, under seccomp; then the
clock, the sandbox's key, a new host key, pinned) and checked: what it
reaches, how it is confined, and that destroy leaves nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko
import pytest

from sandbox.vm.build import Builder
from sandbox.vm.golden import Golden
from sandbox.vm.image import VMImage
from sandbox.vm.provider import VMProvider, vm_uid
from sandbox.vm.qemu import free_port
from sandbox.vm.ssh import backend_class

pytestmark = pytest.mark.vm
HUB = Path(__file__).resolve().parents[2] / "sandbox" / "vm" / "hub.py"


class _SavedOnce(Golden):
    """A golden folder of one VM saved once, in the test's own folder."""

    def __init__(self, root: Path):
        super().__init__(VMImage(), root=root)
        self._root = root

    @property
    def dir(self) -> Path:
        return self._root / "golden"


@pytest.fixture(scope="module")
def saved():
    image = VMImage()
    if not image.exists():
        message = f"the VM image is not built ({image.dir}); run `scripts/bootstrap --with-vm` (QEMU, the VM image, the golden clusters)"
        if os.environ.get("PROCTOR_VM_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="vmr-", dir="/tmp"))
    golden = _SavedOnce(root)
    b = Builder(golden, lambda s: None)
    try:
        (b.work / "variants").mkdir(parents=True)
        (b.work / "nodes").mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(b.work / "id_ed25519")], check=True)
        b.hub = subprocess.Popen([sys.executable, "-I", str(HUB), str(b.work / "hub.sock")],
                                 start_new_session=True)
        deadline = time.monotonic() + 10
        while not (b.work / "hub.sock").exists():
            assert time.monotonic() < deadline, "the switch did not start"
            time.sleep(0.02)
        cp = b.boot("controlplane")
        cp.run("systemctl stop kubelet", timeout=300)  # no cluster here: keep it quiet
        b.admin = ""
        # saved twice, as a golden build saves its control plane: the second
        # save freezes the layer over the first, and what was written in
        # between is on the restored disk
        b.save("0", ["controlplane"], [])
        cp.run("echo second > /root/between-the-saves; sync", timeout=120)
        b.save("1", ["controlplane"], [])
        b.finish()
    finally:
        b.cleanup()
    yield golden, root
    VMProvider(root=root / "state", golden=golden).destroy_all()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def restored(saved):
    """A node restored the way create() restores one, recorded as a sandbox."""
    golden, root = saved
    p = VMProvider(root=root / "state", golden=golden)
    variant = golden.variant(1, ())
    name = "restored"
    rec, uid = p._record_dir(name), vm_uid(name)
    for sub in ("workspace", "disks", "logs", "run/root"):
        (rec / sub).mkdir(parents=True, exist_ok=True)
    os.chown(rec / "run", uid, uid)
    (rec / "run").chmod(0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(rec / "id_ed25519")],
                   check=True)
    hub = subprocess.Popen([sys.executable, "-I", str(HUB), str(rec / "run" / "hub.sock"),
                            str(uid)], start_new_session=True)
    while not (rec / "run" / "hub.sock").exists():
        assert hub.poll() is None
        time.sleep(0.02)
    ports = {"ssh": free_port(), "api": free_port()}
    record = {"name": name, "provider": "vm", "state": "creating",
              "kubeconfig": str(rec / "kubeconfig"), "api_url": "", "nodes": ["controlplane"],
              "unjoined": [], "workspace": str(rec / "workspace"), "created_at": time.time(),
              "capabilities": ["api", "nodes"], "ports": {"controlplane": ports},
              "pids": {"hub": hub.pid}, "uid": uid}
    p._write(name, record)
    started = time.monotonic()
    vm = p._restore(rec, variant, "controlplane", uid, ports)
    restored_s = time.monotonic() - started
    (rec / "known_hosts").write_text(p._personalise(rec, variant, "controlplane", ports["ssh"]))
    vm.disconnect()
    record["pids"]["controlplane"] = vm.pid
    record["state"] = "ready"
    p._write(name, record)
    print(f"\nrestored in {restored_s:.1f}s, personalised after {time.monotonic() - started:.1f}s")
    return p, p.get(name), golden


def test_restored_node_answers_with_its_own_keys_and_the_clock_set(restored):
    p, sb, golden = restored
    host = p.node_host(sb, "controlplane")
    assert host.check_output("hostname") == "controlplane"
    assert host.file("/root/between-the-saves").content_string == "second\n"
    guest_time = int(host.check_output("date -u +%s"))
    assert abs(guest_time - time.time()) < 30, "the restored clock was not set"
    assert host.service("ssh").is_running
    port = p._read(sb.name)["ports"]["controlplane"]["ssh"]
    with pytest.raises(paramiko.AuthenticationException):  # the golden key is gone
        backend_class()(f"root@127.0.0.1:{port}", key=golden.dir / "id_ed25519",
                        known_hosts=p._record_dir(sb.name) / "known_hosts").client


def test_qemu_runs_as_the_sandbox_uid_without_capabilities_in_an_empty_root(restored):
    p, sb, _ = restored
    rec = p._read(sb.name)
    pid = rec["pids"]["controlplane"]
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines())
    assert set(status["Uid"].split()) == {str(rec["uid"])}
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "1"
    root = p._record_dir(sb.name) / "run" / "root"
    assert os.readlink(f"/proc/{pid}/root") == str(root) and os.listdir(root) == []
    hub = Path(f"/proc/{rec['pids']['hub']}/status").read_text()
    assert f"Uid:\t{rec['uid']}\t" in hub, "the switch does not run as the sandbox's uid"


def test_the_guest_reaches_nothing_outside(restored):
    p, sb, _ = restored
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        conn, _ = srv.accept()   # the listener works from the host
        conn.close()
        host = p.node_host(sb, "controlplane")
        assert "default via 10.0.2.2" in host.check_output("ip route")
        for ip, p_ in (("10.0.2.2", port), ("10.0.2.3", 53), ("10.0.2.3", port)):
            res = host.run(f"timeout 5 bash -c 'echo > /dev/tcp/{ip}/{p_}'")
            assert res.rc != 0, f"the guest connected to {ip}:{p_}"
        with pytest.raises(socket.timeout):
            srv.accept()
    finally:
        srv.close()


def test_node_shell_keeps_the_words_of_a_command(restored):
    p, sb, _ = restored
    argv = p.node_shell(sb, "controlplane", tty=False)
    res = subprocess.run(argv + ["sh", "-c", 'echo "a  b"; id -u; hostname'],
                         capture_output=True, text=True, timeout=120)
    assert (res.returncode, res.stdout) == (0, "a  b\n0\ncontrolplane\n"), res.stderr


def test_destroy_leaves_no_process_socket_or_layer(restored):
    p, sb, golden = restored
    rec = p._read(sb.name)
    d = p._record_dir(sb.name)
    before = {f: f.stat().st_mtime for f in golden.dir.rglob("*") if f.is_file()}
    assert p._processes(sb.name)
    p.destroy(sb.name)
    assert p._processes(sb.name) == [] and not d.exists()
    for port in rec["ports"]["controlplane"].values():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
    assert {f: f.stat().st_mtime for f in golden.dir.rglob("*") if f.is_file()} == before
    p.destroy(sb.name)  # idempotent
