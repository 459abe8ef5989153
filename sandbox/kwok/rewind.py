"""Rewind a kwok sandbox to a moment it was at: its etcd keys and its workspace.

``proctor validate`` proves a task's solution, its other correct ways and
its near misses each on "a fresh copy of the task's post-setup cluster"
(issue 19). A new kwok sandbox costs about 6 s of a core and setup runs
again on it; rewinding one costs a few hundred milliseconds.

How. ``save_checkpoint`` reads every key under ``/registry/`` through
etcd's JSON gateway, with the sandbox's own client certificate (its etcd
asks for one, ``pki``), and copies the workspace (the answers folder)
beside the sandbox's record. ``restore_checkpoint`` writes back the
difference: keys made since are deleted, keys changed or deleted are put
back as they were. The API server sees ordinary watch events and revisions
only move forward, so it keeps running. (An ``etcdutl snapshot restore``
takes the revision backwards: every component must then restart, as
``kwokctl snapshot restore`` does, which costs about as much as a create.)
Objects come back with their UIDs, as a snapshot would bring them.

The components that remember more than etcd holds (the controller-manager's
and the scheduler's caches and trackers, kwok's pool of Pod IPs) are stopped
while it writes and started again after (``KwokProvider.rewind``): kept
running, the Deployment controller numbered a restored ReplicaSet's revision
after ReplicaSets the rewind had deleted, the EndpointSlice controller waited
forever for a generation it had written before, and kwok gave a new Pod the
IP of a restored one. ``settle`` then waits until their first writes are done.

Left alone: what the components renew themselves (events, the leases of
leader election and of node heartbeats, the API server's own leases);
rewinding those would only confuse the elections.

Only for sandboxes whose whole state is in etcd and the workspace: kwok's
simulated nodes, not a gvisor box's or a kind node's containers and files.

    >>> cp = save_checkpoint(sandbox, record_dir / "checkpoints")  # doctest: +SKIP
    >>> restore_checkpoint(sandbox, cp)                            # doctest: +SKIP
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..base import ETCD_CLIENT_FILES, Sandbox, SandboxError

PREFIX = b"/registry/"
# What the components renew on their own (see the module's docstring).
NODE_LEASES = b"/registry/leases/kube-node-lease/"
VOLATILE = (b"/registry/events/", b"/registry/leases/kube-system/", NODE_LEASES,
            b"/registry/masterleases/", b"/registry/peerserverleases/")
# etcd refuses a transaction of more than 128 operations (--max-txn-ops).
TXN_OPS = 100
# After a rewind: how long the keys must stay unchanged to count as settled, and
# how long to wait for that at most.
QUIET, SETTLE = 0.5, 10.0
TIMEOUT = 30.0


class RewindFailed(SandboxError):
    """The sandbox could not be brought back to its checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    """A sandbox's keys (``{key: value}``, volatile ones left out) and a copy of
    its workspace, as they were at ``taken_at``."""

    sandbox: str
    keys: dict[bytes, bytes]
    workspace: Path
    taken_at: float


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _range_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


class Gateway:
    """etcd's JSON gateway (``/v3/kv/…``) of one sandbox, over TLS with its client certificate."""

    def __init__(self, sandbox: Sandbox):
        pki = sandbox.etcd_pki
        if not sandbox.etcd_endpoint or pki is None:
            raise RewindFailed(f"sandbox {sandbox.name!r} has no etcd of its own to rewind")
        ca, cert, key = (pki / rel for rel in ETCD_CLIENT_FILES)
        self.context = ssl.create_default_context(cafile=str(ca))
        self.context.load_cert_chain(str(cert), str(key))
        url = urlsplit(sandbox.etcd_endpoint)
        self.host, self.port, self.name = url.hostname, url.port, sandbox.name

    def call(self, path: str, body: dict) -> dict:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=TIMEOUT)
        try:
            conn.request("POST", f"/v3/kv/{path}", json.dumps(body),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            raise RewindFailed(f"etcd of sandbox {self.name!r} did not answer: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200:
            raise RewindFailed(f"etcd of sandbox {self.name!r} refused {path}: "
                               f"{resp.status} {data[:200]!r}")
        return json.loads(data)

    def range(self, prefix: bytes, keys_only: bool = False) -> dict[bytes, bytes]:
        """Every key under ``prefix``, with its value (b"" with ``keys_only``)."""
        got = self.call("range", {"key": _b64(prefix), "range_end": _b64(_range_end(prefix)),
                                  "keys_only": keys_only})
        return {base64.b64decode(kv["key"]): base64.b64decode(kv.get("value", ""))
                for kv in got.get("kvs", [])}

    def keys(self) -> dict[bytes, bytes]:
        """Every key under ``/registry/`` but the volatile ones, with its value."""
        return {k: v for k, v in self.range(PREFIX).items() if not k.startswith(VOLATILE)}

    def delete_prefix(self, prefix: bytes) -> None:
        self.call("deleterange", {"key": _b64(prefix), "range_end": _b64(_range_end(prefix))})

    def apply(self, ops: list[dict]) -> None:
        for i in range(0, len(ops), TXN_OPS):
            self.call("txn", {"success": ops[i:i + TXN_OPS]})


def _puts(then: dict[bytes, bytes], present: set[bytes]) -> list[dict]:
    """Put back every key of ``then`` that is not ``present``."""
    return [{"request_put": {"key": _b64(k), "value": _b64(v)}}
            for k, v in then.items() if k not in present]


def _copy_tree(src: Path, dst: Path) -> None:
    """``src``'s contents into ``dst`` (made if missing), owners, modes and links as
    they are: a link is copied as a link, never followed (the workspace is written by
    task scripts and candidates)."""
    dst.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["cp", "-a", "--no-dereference", f"{src}/.", str(dst)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RewindFailed(f"could not copy {src} to {dst}: {res.stderr.strip()[:200]}")


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def save_checkpoint(sandbox: Sandbox, into: Path) -> Checkpoint:
    """The sandbox as it is now; the workspace's copy is kept below ``into``."""
    keys = Gateway(sandbox).keys()
    copy = into / f"{time.time_ns()}"
    _copy_tree(Path(sandbox.workspace), copy)
    return Checkpoint(sandbox.name, keys, copy, time.time())


def check_owner(sandbox: Sandbox, checkpoint: Checkpoint) -> None:
    """A checkpoint rewinds the sandbox it was taken of, no other."""
    if checkpoint.sandbox != sandbox.name:
        raise RewindFailed(f"checkpoint of sandbox {checkpoint.sandbox!r} cannot rewind "
                           f"{sandbox.name!r}")


def restore_checkpoint(sandbox: Sandbox, checkpoint: Checkpoint) -> None:
    """Bring ``sandbox`` back to ``checkpoint``; its controllers are stopped
    meanwhile (``KwokProvider.rewind``)."""
    check_owner(sandbox, checkpoint)
    etcd = Gateway(sandbox)
    then, now = checkpoint.keys, etcd.keys()
    etcd.apply([{"request_delete_range": {"key": _b64(k)}} for k in now if k not in then]
               + _puts(then, {k for k, v in now.items() if then.get(k) == v}))
    # The nodes' leases name the kwok-controller that held them: a new one would
    # leave the nodes alone until they expire (40 s). It takes them afresh.
    etcd.delete_prefix(NODE_LEASES)
    workspace = Path(sandbox.workspace)
    _empty(workspace)
    _copy_tree(checkpoint.workspace, workspace)


def settle(sandbox: Sandbox) -> None:
    """Until the controllers are done with what came back (their status writes):
    the keys unchanged over ``QUIET`` seconds, as setup leaves a cluster (its
    scripts end waiting on rollouts). A script that reads, edits and replaces an
    object would otherwise meet a conflict no fresh cluster gives it. At most
    ``SETTLE`` seconds: a controller that never rests is the task's own."""
    etcd = Gateway(sandbox)
    deadline = time.monotonic() + SETTLE
    # a new kwok-controller takes the nodes (their leases) before their Pods
    while len(etcd.range(NODE_LEASES, keys_only=True)) < len(sandbox.nodes) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    last = etcd.keys()
    while time.monotonic() < deadline:
        time.sleep(QUIET)
        now = etcd.keys()
        if now == last:
            return
        last = now
