"""Root in a VM node, against the host (docs/vm.md#security-model): the
guest connects nowhere outside its sandbox, and the QEMU that a guest could
break out into is an unprivileged, empty-rooted, seccomp-filtered process.

On a sandbox restored from the golden VM clusters (``one``, tests/vm/fixtures.py); skipped (or failed, with
PROCTOR_VM_TESTS=1) where they are not built, like the rest of tests/vm."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.vm


def test_the_guest_reaches_nothing_outside(vm, one):
    """Not the host's loopback (a listener there), not the host's own
    addresses, not QEMU's DNS: restrict=on leaves only the forwards in."""
    accepted = []
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, peer = srv.accept()
                accepted.append(peer)
                conn.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the listener works from the host itself
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accepted, "the test listener does not accept on the host"
        accepted.clear()
        host_ips = sorted({a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None,
                                                                 socket.AF_INET)
                           if not a[4][0].startswith("127.")})
        targets = ["10.0.2.2", *host_ips]
        host = vm.node_host(one, "controlplane")
        assert "default via 10.0.2.2" in host.check_output("ip route")  # a route exists
        for ip in targets:
            res = host.run(f"timeout 5 bash -c 'echo > /dev/tcp/{ip}/{port}'")
            assert res.rc != 0, f"the guest connected to {ip}:{port}"
        res = host.run("timeout 5 bash -c 'echo > /dev/tcp/10.0.2.3/53'")
        assert res.rc != 0, "the guest reached QEMU's DNS forwarder"
        time.sleep(0.5)
        assert not accepted, f"the host listener accepted connections from the guest: {accepted}"
    finally:
        stop.set()
        t.join()
        srv.close()


def test_qemu_runs_unprivileged_in_an_empty_root_under_seccomp(vm, one):
    rec = vm._read(one.name)
    pid = rec["pids"]["controlplane"]
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines())
    uids = status["Uid"].split()
    assert set(uids) == {str(rec["uid"])}, f"QEMU runs as {uids}"
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "1"
    assert os.readlink(f"/proc/{pid}/root") == str(vm._record_dir(one.name) / "run" / "root")
    assert os.listdir(vm._record_dir(one.name) / "run" / "root") == []
