"""Commands on a sandbox's real nodes, for setup, solution and checks that
run without privileges.

On kind a node is reached with ``docker exec`` (the Docker socket is root on
the host); on a VM with an SSH key. Neither belongs in a process that runs
a task's code against a candidate's cluster. So the caller (root) serves a
relay on a Unix socket for the length of one grading or script run, and
runs only one thing for it: the provider's own node shell
(``provider.node_shell(sandbox, node, tty=False)``) with ``sh -c COMMAND``
inside the node. The confined side gets the socket and nothing else:

* checks: the ``nodes`` fixture gives testinfra hosts whose backend is
  ``RelayBackend`` (``host.service("kubelet").is_running`` works as usual);
* scripts: ``on-node NODE [COMMAND…]`` (a shell reading stdin with no command).

One request per connection, one JSON line each way::

    -> {"node": "node01", "command": "systemctl is-active kubelet", "stdin": "<base64>", "timeout": 60}
    <- {"rc": 0, "stdout": "<base64>", "stderr": "<base64>"}

The client half (``call``, ``main``) uses only the standard library: it runs
as ``on-node`` under the system's python3 inside the confinement.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import socketserver
import subprocess
import sys
import threading

MAX_OUTPUT = 16 * 1024 * 1024
MAX_REQUEST = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 170.0       # below run_script's own limit, so the script can report it


# -- client (confined side) -------------------------------------------------------------

def call(sock: str, node: str, command: str, stdin: bytes = b"",
         timeout: float = DEFAULT_TIMEOUT) -> tuple[int, bytes, bytes]:
    """Run ``command`` (a shell command line) as root on ``node``: ``(rc, stdout, stderr)``."""
    req = {"node": node, "command": command, "stdin": base64.b64encode(stdin).decode(),
           "timeout": timeout}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout + 10)
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = bytearray()
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    if not buf:
        raise OSError(f"the node relay closed the connection without an answer ({node})")
    reply = json.loads(buf)
    return (int(reply["rc"]), base64.b64decode(reply["stdout"]),
            base64.b64decode(reply["stderr"]))


def main(argv: list[str]) -> int:
    """``noderelay.py SOCKET NODE [COMMAND…]``: what ``on-node`` runs."""
    if len(argv) < 2:
        print("usage: on-node NODE [COMMAND...]", file=sys.stderr)
        return 2
    sock, node, args = argv[0], argv[1], argv[2:]
    command = shlex.join(args) if args else "bash -s"
    stdin = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    try:
        rc, out, err = call(sock, node, command, stdin, timeout=MAX_TIMEOUT)
    except OSError as exc:
        print(f"on-node: {exc}", file=sys.stderr)
        return 255
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.flush()
    return rc


def relay_host(sock: str, node: str):
    """A testinfra host for ``node`` whose commands go through the relay at ``sock``."""
    import testinfra.host
    return testinfra.host.Host(_backend_class()(sock, node))


def _backend_class():
    from testinfra.backend import base

    class RelayBackend(base.BaseBackend):
        NAME = "proctor-node"

        def __init__(self, sock: str, node: str, *args, **kwargs):
            self.sock = sock
            super().__init__(node, *args, **kwargs)

        def run(self, command: str, *args: str, **kwargs) -> base.CommandResult:
            cmd = self.get_command(command, *args)
            rc, out, err = call(self.sock, self.hostname, cmd)
            return self.result(rc, self.encode(cmd), out, err)

    return RelayBackend


# -- server (the caller, root) ------------------------------------------------------------

class NodeRelay:
    """Serve ``sock`` for ``sandbox``'s nodes while the ``with`` block runs.

        with NodeRelay(provider, sandbox, tmp / "node.sock", uid=grader_uid):
            ...   # the confined process calls call(sock, "node01", "…")
    """

    def __init__(self, provider, sandbox, sock, uid: int | None = None):
        self.provider, self.sandbox, self.sock, self.uid = provider, sandbox, str(sock), uid
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    def __enter__(self) -> "NodeRelay":
        relay = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(MAX_REQUEST)
                try:
                    reply = relay.run(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    reply = {"rc": 255, "stdout": "",
                             "stderr": base64.b64encode(f"node relay: bad request: {exc}\n".encode()).decode()}
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        if os.path.lexists(self.sock):
            os.unlink(self.sock)
        self._server = Server(self.sock, Handler)
        os.chmod(self.sock, 0o600)
        if self.uid is not None:
            os.chown(self.sock, self.uid, self.uid)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"node-relay-{self.sandbox.name}").start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if os.path.lexists(self.sock):
            os.unlink(self.sock)

    def run(self, req: dict) -> dict:
        node, command = req["node"], req["command"]
        if node not in self.sandbox.nodes or not isinstance(command, str):
            msg = f"{self.sandbox.name} has no node {node!r} (nodes: {', '.join(self.sandbox.nodes)})\n"
            return {"rc": 255, "stdout": "", "stderr": base64.b64encode(msg.encode()).decode()}
        argv = self.provider.node_shell(self.sandbox, node, tty=False)
        timeout = min(float(req.get("timeout") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
        stdin = base64.b64decode(req.get("stdin") or "")
        try:
            proc = subprocess.run([*argv, "sh", "-c", command], input=stdin, capture_output=True,
                                  timeout=timeout)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out = 124, exc.stdout or b""
            err = (exc.stderr or b"") + f"\n[killed after {timeout:g}s]\n".encode()
        except OSError as exc:
            rc, out, err = 255, b"", f"node relay: {exc}\n".encode()
        return {"rc": rc, "stdout": base64.b64encode(out[-MAX_OUTPUT:]).decode(),
                "stderr": base64.b64encode(err[-MAX_OUTPUT:]).decode()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
