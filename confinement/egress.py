"""Where a sandbox's API server may connect: its own kwok-controller, its own
boxes, nowhere else.

A candidate with cluster-admin (and raw etcd access) decides every address
the API server dials for them: a node's address and kubelet port
(``kubectl logs``/``exec``/``port-forward``, ``nodes/…/proxy``), a pod's IP
(``pods/…/proxy``), a Service's endpoints (``services/…/proxy``, APIServices,
webhooks by Service), a webhook or CRD conversion URL. Left alone, each of
those reaches the host's loopback: other candidates' API servers and etcds,
the portal. The API server's own checks (no loopback Endpoints, "address not
allowed" for node and pod proxies) cover some paths and none of them hold
against a direct etcd write.

So the API server gets an EgressSelectorConfiguration that sends both
``cluster`` traffic (proxies, kubelets, aggregated APIs, webhooks and
conversion webhooks by Service) and ``controlplane`` traffic (webhooks and
conversion webhooks by URL, authn/authz webhooks) through an HTTP CONNECT
proxy on a Unix socket in the cluster's directory, and this proxy allows one
destination: the sandbox's kwok-controller, which plays every node's
kubelet (``localhost:<its port>``, the address kwok gives the nodes). It
never resolves a name. The flag and the file are on the host; nothing in the
cluster can change them. If the proxy is not running, every dial fails.

A sandbox with real nodes in gVisor boxes (``sandbox.gvisor``) adds routes:
an address in a box's networks (its node address, its pods, the Services
it proxies) goes to that box's dialer, a Unix socket its proctor-boxd
serves (``--box CIDR=SOCKET``). The connection is made *inside* the box,
which has no network to the host or beyond; an address in no route is
refused as before.

Run as a program (stdlib only, ``python -I -S egress.py``)::

    egress.py --socket /…/clusters/exam-42/egress.sock --allow-port 32763 \\
              --box 10.244.1.0/24=/run/proctor-gvisor/…/node01/host/dial.sock
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import stat
import sys
import threading
from pathlib import Path

SOCKET_NAME = "egress.sock"       # relative: the API server runs in the cluster directory,
                                  # and error messages show no host path
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_CONNECTIONS = 64
REFUSAL = b"HTTP/1.1 403 Proctor sandboxes connect only to their own nodes\r\n" \
          b"Content-Length: 0\r\nConnection: close\r\n\r\n"
BOX_REFUSAL = b"HTTP/1.1 502 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def selector_config(path: Path) -> Path:
    """Write the EgressSelectorConfiguration for ``--egress-selector-config-file``.

    ``etcd`` is not listed, so the API server reaches its etcd directly.
    """
    via_proxy = {"proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": SOCKET_NAME}}}
    text = "\n".join([
        "apiVersion: apiserver.k8s.io/v1beta1",
        "kind: EgressSelectorConfiguration",
        "egressSelections:",
        *(f"- name: {name}\n  connection: {_flow(via_proxy)}" for name in ("cluster", "controlplane")),
        "",
    ])
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def _flow(d) -> str:
    if isinstance(d, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in d.items()) + "}"
    return str(d)


def allowed(target: str, ports: set[int]) -> int | None:
    """The loopback port to connect to for ``CONNECT target``, or None.

    >>> allowed("localhost:32763", {32763}), allowed("127.0.0.1:22", {32763})
    (32763, None)
    """
    host, _, port = target.rpartition(":")
    host = host.strip("[]").lower()
    if host not in LOOPBACK_NAMES or not port.isdigit() or int(port) not in ports:
        return None
    return int(port)


def box_for(target: str, routes: list) -> str | None:
    """The dial socket of the box whose network holds ``target`` (an IP
    address and port), or None: names are never resolved, loopback is never a box.

    >>> routes = [(ipaddress.ip_network("10.244.1.0/24"), "/b1/dial.sock")]
    >>> box_for("10.244.1.7:8080", routes), box_for("10.9.9.9:80", routes)
    ('/b1/dial.sock', None)
    >>> box_for("pod.example:80", routes), box_for("10.244.1.7:x", routes)
    (None, None)
    """
    host, _, port = target.rpartition(":")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if not port.isdigit() or ip.is_loopback:
        return None
    return next((sock for net, sock in routes if ip in net), None)


def connect_nofollow(sock: socket.socket, path: str) -> None:
    """Connect ``sock`` to the Unix socket at ``path`` only if it is one, not
    a link: the box's dial socket is in a folder the box writes (its
    candidate is root there), and a link in its place to another box's socket
    must not lead this host process there."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise OSError(f"{Path(path).name} is not a socket")
        sock.connect(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def dial_box(sock_path: str, target: str) -> socket.socket:
    """A connection to ``target`` made inside the box by its dialer (one line
    out, ``OK`` or ``ERR why`` back); raises OSError with the box's reason."""
    box = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    box.settimeout(15)
    try:
        connect_nofollow(box, sock_path)
        box.sendall(target.encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = box.recv(1)
            if not chunk or len(answer) > 512:
                raise OSError("the box's dialer did not answer")
            answer += chunk
    except OSError:
        box.close()
        raise
    if answer != b"OK\n":
        box.close()
        raise OSError(answer.decode(errors="replace").strip().removeprefix("ERR ").strip())
    box.settimeout(None)
    return box


# -- the proxy ----------------------------------------------------------------
def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy until ``src`` ends, then end ``dst``'s write side (a half-close)."""
    how = socket.SHUT_WR
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        how = socket.SHUT_RDWR  # broken: end both directions
    try:
        dst.shutdown(how)
    except OSError:
        pass


def _handle(conn: socket.socket, ports: set[int], routes: list,
            slots: threading.BoundedSemaphore, log) -> None:
    upstream = None
    try:
        conn.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk or len(head) > 16384:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = line.partition(" ")
        target = rest.split(" ", 1)[0]
        port = allowed(target, ports) if method == "CONNECT" else None
        box = box_for(target, routes) if method == "CONNECT" and port is None else None
        if port is None and box is None:
            log(f"refused {line[:200]!r}")
            conn.sendall(REFUSAL)
            return
        if box is not None:
            try:
                upstream = dial_box(box, target)
            except OSError as exc:
                log(f"box refused {target!r}: {exc}")
                conn.sendall(BOX_REFUSAL % str(exc)[:200].encode("latin-1", "replace"))
                return
        else:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        upstream.settimeout(None)
        conn.settimeout(None)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest_of_head = head.split(b"\r\n\r\n", 1)[1]
        if rest_of_head:
            upstream.sendall(rest_of_head)
        back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
        back.start()
        _pipe(conn, upstream)
        back.join()
    except OSError as exc:
        log(f"connection failed: {exc}")
    finally:
        for s in (conn, upstream):
            if s is not None:
                s.close()
        slots.release()


def serve(sock_path: Path, ports: set[int], routes: list | None = None) -> None:
    """Accept CONNECT requests on ``sock_path`` until killed; ``routes`` are
    ``[(ip_network, box dial socket)]``."""
    routes = routes or []
    def log(msg: str) -> None:
        print(f"egress: {msg}", file=sys.stderr, flush=True)

    # Bind by relative path: a deep state directory can exceed the 107-byte
    # limit of a Unix socket address.
    os.chdir(sock_path.parent)
    os.umask(0o077)
    # Listening before the name appears, so whoever waits for the file finds
    # a socket that already accepts (bind, listen, then rename into place).
    tmp = f".{sock_path.name}.{os.getpid()}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(tmp)
    srv.listen(64)
    os.replace(tmp, sock_path.name)
    log(f"allowing CONNECT to loopback port(s) {sorted(ports)}"
        + (f" and into boxes for {', '.join(str(n) for n, _ in routes)}" if routes else " only"))
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    while True:
        conn, _ = srv.accept()
        if not slots.acquire(blocking=False):
            conn.close()
            continue
        threading.Thread(target=_handle, args=(conn, ports, routes, slots, log),
                         daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="HTTP CONNECT proxy that allows only given loopback ports")
    ap.add_argument("--socket", required=True, type=Path)
    ap.add_argument("--allow-port", type=int, action="append", default=[])
    ap.add_argument("--box", action="append", default=[], metavar="CIDR=SOCKET",
                    help="addresses in CIDR are dialled inside the box whose dialer is SOCKET")
    args = ap.parse_args(argv)
    routes = []
    for spec in args.box:
        cidr, _, sock = spec.partition("=")
        routes.append((ipaddress.ip_network(cidr), sock))
    serve(args.socket.resolve(), set(args.allow_port), routes)


if __name__ == "__main__":
    main()
