"""A sandbox's private network: an Ethernet hub on one Unix socket.

Each node's second NIC is ``-netdev stream`` connected to this socket; QEMU
frames every Ethernet frame with a 4-byte big-endian length. The hub sends
each frame to every other connected node, like a hub (a sandbox has a handful
of nodes, all the same candidate's). Debian's QEMU 7.2 has no VDE backend,
and ``vde_switch`` speaks a different framing, hence these few lines.

A slow reader never stalls the others: each port has a bounded queue, and a
frame that does not fit is dropped, as a busy switch would drop it.

    python3 sandbox/vm/hub.py /path/to/hub.sock [UID]

With a UID (the sandbox's), it binds the socket as root, gives it to that
uid and then runs as it: the interpreter and this file are opened before
the drop, so they need not be readable by that uid.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import sys

MAX_FRAME = 65536 + 18
MAX_QUEUE = 4 << 20


class Port:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.inbuf = bytearray()
        self.out = bytearray()


def serve(path: str, uid: int | None = None) -> None:
    if os.path.lexists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        srv.bind(path)
    finally:
        os.umask(old)
    srv.listen(64)
    srv.setblocking(False)
    if uid is not None:
        os.chown(path, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    ports: dict[socket.socket, Port] = {}

    def drop(port: Port) -> None:
        sel.unregister(port.sock)
        port.sock.close()
        ports.pop(port.sock, None)

    def want(port: Port) -> None:
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if port.out else 0)
        sel.modify(port.sock, events, port)

    while True:
        for key, events in sel.select():
            if key.fileobj is srv:
                try:
                    conn, _ = srv.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                port = Port(conn)
                ports[conn] = port
                sel.register(conn, selectors.EVENT_READ, port)
                continue
            port: Port = key.data
            if events & selectors.EVENT_WRITE and port.out:
                try:
                    sent = port.sock.send(port.out)
                    del port.out[:sent]
                except BlockingIOError:
                    pass
                except OSError:
                    drop(port)
                    continue
                want(port)
            if not events & selectors.EVENT_READ:
                continue
            try:
                data = port.sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(port)
                continue
            port.inbuf += data
            while len(port.inbuf) >= 4:
                (n,) = struct.unpack(">I", port.inbuf[:4])
                if n > MAX_FRAME:        # not QEMU's framing: hang up on it
                    drop(port)
                    break
                if len(port.inbuf) < 4 + n:
                    break
                frame = bytes(port.inbuf[:4 + n])
                del port.inbuf[:4 + n]
                for other in list(ports.values()):
                    if other is port or len(other.out) + len(frame) > MAX_QUEUE:
                        continue
                    was_empty = not other.out
                    other.out += frame
                    if was_empty:
                        want(other)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: hub.py SOCKET [UID]")
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else None)
