"""Where a sandbox's API server may connect: its own kwok-controller, nowhere else.

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

Run as a program (stdlib only, ``python -I -S egress.py``)::

    egress.py --socket /…/clusters/exam-42/egress.sock --allow-port 32763
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from pathlib import Path

SOCKET_NAME = "egress.sock"       # relative: the API server runs in the cluster directory,
                                  # and error messages show no host path
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_CONNECTIONS = 64
REFUSAL = b"HTTP/1.1 403 Proctor sandboxes connect only to their own kwok-controller\r\n" \
          b"Content-Length: 0\r\nConnection: close\r\n\r\n"


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


def _handle(conn: socket.socket, ports: set[int], slots: threading.BoundedSemaphore,
            log) -> None:
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
        if port is None:
            log(f"refused {line[:200]!r}")
            conn.sendall(REFUSAL)
            return
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


def serve(sock_path: Path, ports: set[int]) -> None:
    """Accept CONNECT requests on ``sock_path`` until killed."""
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
    log(f"allowing CONNECT to loopback port(s) {sorted(ports)} only")
    slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
    while True:
        conn, _ = srv.accept()
        if not slots.acquire(blocking=False):
            conn.close()
            continue
        threading.Thread(target=_handle, args=(conn, ports, slots, log), daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="HTTP CONNECT proxy that allows only given loopback ports")
    ap.add_argument("--socket", required=True, type=Path)
    ap.add_argument("--allow-port", type=int, action="append", default=[])
    args = ap.parse_args(argv)
    serve(args.socket.resolve(), set(args.allow_port))


if __name__ == "__main__":
    main()
