"""The sandbox's private switch (sandbox/vm/hub.py), with real sockets and no
VM: QEMU's stream framing in, every other port out, nothing back to the
sender, and a port that breaks the framing is hung up on."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sandbox.vm.hub as hub


@pytest.fixture
def switch(tmp_path):
    path = tmp_path / "hub.sock"
    proc = subprocess.Popen([sys.executable, "-I", hub.__file__, str(path)])
    deadline = time.monotonic() + 10
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the hub did not start"
        time.sleep(0.02)
    yield path
    proc.terminate()
    proc.wait()


def port(path: Path, *others: socket.socket) -> socket.socket:
    """A new port on the switch, returned once the switch has taken it: its
    hello reached the ``others`` (a port accepted later misses earlier frames)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    s.settimeout(5)
    if others:
        s.sendall(frame(b"hello"))
        for o in others:
            assert recv_frame(o) == b"hello"
    return s


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def recv_frame(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 4:
        head += s.recv(4 - len(head))
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return body


def test_frames_reach_every_other_port_and_not_the_sender(switch):
    a = port(switch)
    b = port(switch, a)
    c = port(switch, a, b)
    eth = b"\xff" * 6 + b"\x52\x54\x00\x10\x00\x0a" + b"\x08\x06" + b"x" * 46
    a.sendall(frame(eth)[:7])          # a frame may arrive in pieces
    a.sendall(frame(eth)[7:] + frame(b"second"))
    assert recv_frame(b) == eth and recv_frame(c) == eth
    assert recv_frame(b) == b"second" and recv_frame(c) == b"second"
    a.settimeout(0.5)
    with pytest.raises(socket.timeout):
        a.recv(1)
    assert oct((switch.stat().st_mode) & 0o777) == "0o600"


def test_a_port_that_breaks_the_framing_is_dropped(switch):
    a = port(switch)
    b = port(switch, a)
    a.sendall(struct.pack(">I", 1 << 30))
    assert a.recv(1) == b""            # hung up on
    c = port(switch, b)
    c.sendall(frame(b"still works"))
    assert recv_frame(b) == b"still works"
