"""Reaching a VM node: SSH to its 127.0.0.1 forward, with a pinned host key.

Each sandbox has its own key pair and its own ``known_hosts`` (one
``[127.0.0.1]:PORT ssh-ed25519 …`` line per node). Three users of it:

* the provider itself (``Node``: paramiko, for the few commands a restore
  needs and for the golden build);
* checks, through testinfra's paramiko backend (``PinnedParamikoBackend``:
  testinfra's own backend accepts any host key with a warning, so the client
  is made here, with the sandbox's known_hosts and a policy that rejects
  anything else);
* ``ssh node01`` in the terminal and ``on-node`` in task scripts, through
  ``provider.node_shell``: OpenSSH's client with the same key and file.
"""

from __future__ import annotations

import io
import shlex
import time
from pathlib import Path


def _client(host: str, port: int, key: Path, known_hosts: Path | None, timeout: float):
    import paramiko
    client = paramiko.SSHClient()
    if known_hosts is None:  # the golden build's own, fresh VMs: nothing to pin yet
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    else:
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host, port=port, username="root", key_filename=str(key), timeout=timeout,
                   banner_timeout=timeout, auth_timeout=timeout, look_for_keys=False,
                   allow_agent=False)
    return client


def _banner(host: str, port: int, timeout: float) -> None:
    """Raise unless sshd answers with its banner. While a guest boots, QEMU
    accepts the forwarded connection and then closes it; paramiko would log
    a traceback for each such try."""
    import socket
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        if not s.recv(64).startswith(b"SSH-"):
            raise ConnectionError(f"no SSH banner on {host}:{port}")


class Node:
    """Commands as root on one node, over one SSH connection kept open."""

    def __init__(self, name: str, host: str, port: int, key: Path, known_hosts: Path | None):
        self.name, self.host, self.port, self.key, self.known_hosts = \
            name, host, port, key, known_hosts
        self._client = None

    def connect(self, timeout: float = 20):
        if self._client is None or not self._client.get_transport() or \
                not self._client.get_transport().is_active():
            self._client = _client(self.host, self.port, self.key, self.known_hosts, timeout)
        return self._client

    def wait(self, timeout: float, alive=lambda: True) -> float:
        """Wait until SSH answers a command (the guest booted or was restored);
        returns the seconds it took."""
        from paramiko import SSHException
        started = time.monotonic()
        last: Exception | None = None
        while time.monotonic() - started < timeout:
            if not alive():
                raise TimeoutError(f"the VM of {self.name} exited")
            try:
                if self._client is None:
                    _banner(self.host, self.port, timeout=10)
                self.connect(timeout=10)
                rc, _, _ = self.run("true", timeout=30)
                if rc == 0:
                    return time.monotonic() - started
            except (OSError, EOFError, SSHException) as exc:  # refused, reset, no banner … while it boots
                last = exc
                self.close()
            time.sleep(0.25)
        raise TimeoutError(f"no SSH answer from {self.name} on 127.0.0.1:{self.port} in "
                           f"{timeout:.0f}s (last: {last})")

    def run(self, command: str, timeout: float = 60, stdin: bytes = b"") -> tuple[int, str, str]:
        client = self.connect()
        chan = client.get_transport().open_session(timeout=timeout)
        chan.settimeout(timeout)
        chan.exec_command(command)
        if stdin:
            chan.sendall(stdin)
        chan.shutdown_write()
        out, err = io.BytesIO(), io.BytesIO()
        deadline = time.monotonic() + timeout
        while True:
            if chan.recv_ready():
                out.write(chan.recv(1 << 16))
            elif chan.recv_stderr_ready():
                err.write(chan.recv_stderr(1 << 16))
            elif chan.exit_status_ready() and not chan.recv_ready() and \
                    not chan.recv_stderr_ready():
                break
            elif time.monotonic() > deadline:
                chan.close()
                raise TimeoutError(f"`{command}` on {self.name} took more than {timeout:.0f}s")
            else:
                time.sleep(0.01)
        rc = chan.recv_exit_status()
        chan.close()
        return rc, out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace")

    def write(self, path: str, text: str, mode: str = "600") -> None:
        rc, _, err = self.run(f"umask 077; cat > {shlex.quote(path)} && chmod {mode} "
                              f"{shlex.quote(path)}", stdin=text.encode())
        if rc != 0:
            raise OSError(f"writing {path} on {self.name}: {err.strip()}")

    def read(self, path: str) -> str:
        rc, out, err = self.run(f"cat {shlex.quote(path)}")
        if rc != 0:
            raise OSError(f"reading {path} on {self.name}: {err.strip()}")
        return out

    def set_clock(self) -> None:
        """The host's time, now: a restored (or paused) guest's clock is where
        it was when saved."""
        self.run(f"date -u -s @{time.time():.3f} >/dev/null", timeout=30)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def backend_class():
    """testinfra's paramiko backend, with the host key pinned (see module doc)."""
    import functools

    from testinfra.backend.paramiko import ParamikoBackend

    class PinnedParamikoBackend(ParamikoBackend):
        NAME = "proctor-vm"

        def __init__(self, hostspec: str, key: Path, known_hosts: Path, *args, **kwargs):
            self.key, self.known_hosts = key, known_hosts
            super().__init__(hostspec, *args, **kwargs)

        @functools.cached_property
        def client(self):
            return _client(self.host.name, int(self.host.port), self.key, self.known_hosts,
                           self.timeout)

    return PinnedParamikoBackend
