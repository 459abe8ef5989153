"""The jail's ``ssh`` (web.terminal.nodeshell.CLIENT) against a stand-in for
the host's node socket: which node and command it asks for, and how it
ends when its stdin does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from web.terminal.nodeshell import CLIENT, NODES_DIR


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
