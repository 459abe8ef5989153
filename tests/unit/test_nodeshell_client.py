"""The jail's ``ssh`` (confinement.nodeshell.CLIENT) against a stand-in for
the host's node socket: which node and command it asks for, and how it
ends when its stdin does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from confinement.nodeshell import CLIENT, NODES_DIR


@pytest.fixture
def node01(tmp_path):
    """A node socket that records the client's header and what follows it,
    answers, and hangs up once it has seen the client's ^D."""
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    client = tmp_path / "ssh"
    client.write_text(CLIENT.replace(NODES_DIR, str(nodes)))
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(nodes / "node01.sock"))
    srv.listen(1)
    seen: dict = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            f = conn.makefile("rb")
            line = f.readline()
            if not line:  # a test that never got this far
                return
            seen["header"] = json.loads(line)
            rest = b""
            while not rest.endswith(b"\x04"):
                chunk = f.read1(4096)
                if not chunk:
                    seen["half-closed"] = True
                    break
                rest += chunk
            seen["stdin"] = rest
            conn.sendall(b"answer from node01\n")
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield client, seen
    t.join(timeout=10)
    srv.close()


def ssh(client, *args, stdin=b""):
    return subprocess.run([sys.executable, "-I", str(client), *args], input=stdin,
                          capture_output=True, timeout=30)


def test_options_before_the_node_are_ignored_and_every_word_after_it_is_the_command(node01):
    client, seen = node01
    res = ssh(client, "-p", "22", "-o", "StrictHostKeyChecking=no", "root@node01",
              "sh", "-c", "'echo \"a  b\"'")
    assert res.returncode == 0, res.stderr
    assert seen["header"]["command"] == ["sh", "-c", "'echo \"a  b\"'"]
    assert res.stdout == b"answer from node01\n"


def test_end_of_input_is_a_ctrl_d_and_the_answer_still_arrives(node01):
    client, seen = node01
    res = ssh(client, "node01", "cat", stdin=b"some input\n")
    assert res.stdout == b"answer from node01\n", res.stderr
    assert seen["stdin"] == b"some input\n\x04" and "half-closed" not in seen


def test_an_unknown_node_names_the_nodes_there_are(node01):
    client, _ = node01
    res = ssh(client, "node09", "true")
    assert res.returncode == 1
    assert b"Could not resolve hostname node09: this cluster's nodes are node01" in res.stderr
    with socket.socket(socket.AF_UNIX) as s:  # let the stand-in's accept() return
        s.connect(str(client.parent / "nodes" / "node01.sock"))


def with_hosts(tmp_path, client):
    """``client`` made the client of an exam with task hosts: two hosts'
    kubeconfigs, the base host's home in tmp_path. Returns that home."""
    from confinement.nodeshell import HOSTS_DIR
    hosts, home = tmp_path / "hosts", tmp_path / "home"
    hosts.mkdir()
    home.mkdir()
    for name in ("cka000024", "cka000031"):
        (hosts / name).write_text(f"kubeconfig of {name}\n")
    if not client.exists():
        client.write_text(CLIENT.replace(NODES_DIR, str(tmp_path / "nodes")))
    client.write_text(client.read_text().replace(HOSTS_DIR, str(hosts)).replace(
        "@HOME@", str(home)))
    return home


def test_ssh_to_a_task_host_opens_its_shell_with_its_own_home_and_cluster(tmp_path):
    client = tmp_path / "ssh"
    home = with_hosts(tmp_path, client)
    assert b"usage: ssh HOST [COMMAND...]   (hosts: cka000024, cka000031)" in ssh(client).stderr
    res = ssh(client, "cka000024", 'echo "$PROCTOR_HOST $HOME $KUBECONFIG $PWD"; cat "$KUBECONFIG"')
    assert res.returncode == 0, res.stderr
    host_home = home / ".hosts" / "cka000024"
    assert res.stdout.decode().splitlines() == [
        f"cka000024 {host_home} {host_home}/.kube/config {host_home}", "kubeconfig of cka000024"]
    # a kubeconfig the candidate changed on the host is theirs: never overwritten
    (host_home / ".kube" / "config").write_text("edited\n")
    assert ssh(client, "cka000024", 'cat "$KUBECONFIG"').stdout == b"edited\n"
    assert ssh(client, "candidate@cka000031", 'cat "$KUBECONFIG"').stdout == \
        b"kubeconfig of cka000031\n"


def test_from_the_base_host_the_nodes_are_reached_through_a_task_host(node01, tmp_path,
                                                                      monkeypatch):
    client, seen = node01
    with_hosts(tmp_path, client)
    res = ssh(client, "node01", "true")
    assert res.returncode == 1
    assert (b"Could not resolve hostname node01: this is the base host; the hosts are "
            b"cka000024, cka000031") in res.stderr
    monkeypatch.setenv("PROCTOR_HOST", "cka000024")  # on a task's host
    res = ssh(client, "node01", "hostname")
    assert res.stdout == b"answer from node01\n", res.stderr
    assert seen["header"]["command"] == ["hostname"]
