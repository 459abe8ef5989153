"""The browser terminal: a websocket per attempt, relayed to a jailed shell.

``GET /attempts/<id>/terminal`` upgrades to a websocket when, and only when:
the request carries the logged-in session of the attempt's owner (no token
in the URL), its ``Origin`` is the portal's own, and the attempt is running
with time left. Anything else gets a plain HTTP 403 before the upgrade.

Frames: the browser sends text frames, JSON ``{"i": "keys"}`` for input and
``{"r": [rows, cols]}`` for a resize; the server sends binary frames of raw
terminal output, starting with the recent screen when a connection
(re)attaches to a shell that is already running.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request
from flask_login import current_user
from flask_sock import ConnectionClosed, Sock

from .jail import JailSpec
from .shells import ShellManager

log = logging.getLogger(__name__)
bp = Blueprint("terminal", __name__)
sock = Sock()


def init_terminal(app) -> None:
    sock.init_app(app)
    app.register_blueprint(bp)


def shells() -> ShellManager:
    app = current_app._get_current_object()
    manager = app.extensions.get("proctor.shells")
    if manager is None:
        manager = ShellManager(Path(app.instance_path) / "jails",
                               idle_timeout=float(app.config.get("TERMINAL_IDLE_TIMEOUT", 1800)),
                               status=_status_fn(app),
                               prefix=app.config.get("SANDBOX_PREFIX", ""))
        app.extensions["proctor.shells"] = manager
    return manager


def _status_fn(app):
    """For the shell reaper: is this attempt still running, and until when?"""
    def status(attempt_id: int) -> tuple[bool, float | None]:
        from ..models import Attempt
        with app.extensions["proctor.db"].session() as s:
            a = s.get(Attempt, attempt_id)
            if a is None:
                return False, None
            return a.state == "running", a.deadline_at
    return status


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    o = urlsplit(origin)
    return (o.scheme, o.netloc) == (request.scheme, request.host)


def _load_running_attempt(attempt_id: int):
    from ..db import db_session
    from ..models import Attempt
    if not current_user.is_authenticated:
        abort(403, "log in first")
    attempt = db_session().get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(403, "not your attempt")
    if attempt.state != "running" or not attempt.sandbox:
        abort(403, f"attempt is {attempt.state}, not running")
    if attempt.deadline_at is not None and time.time() >= attempt.deadline_at:
        abort(403, "the time is up")
    return attempt


@bp.before_request
def guard():
    """Refuse before the upgrade: foreign Origin, no session, not yours, over."""
    if not _same_origin():
        abort(403, "cross-origin terminal connections are refused")
    _load_running_attempt(request.view_args["attempt_id"])


def _node_shells(sb: dict) -> dict[str, list[str]]:
    """node -> host command for ``ssh node`` where the sandbox's nodes are real."""
    from sandbox import Sandbox, SandboxError, get_provider
    sandbox = Sandbox.from_dict(sb)
    try:
        provider = get_provider(sandbox.provider)
    except SandboxError:  # a provider this portal does not know has no node shells
        return {}
    shells_ = {n: provider.node_shell(sandbox, n) for n in sandbox.nodes}
    return {n: argv for n, argv in shells_.items() if argv}


def _unmounts_on_destroy(sb: dict) -> bool:
    """Whether the sandbox's provider detaches mounts in its workspace when it
    destroys the sandbox (every ``RecordedProvider`` does): only then does the
    jail loop-mount a disk image there, which would otherwise outlive it."""
    from sandbox import SandboxError, get_provider
    from sandbox.base import RecordedProvider
    try:
        return isinstance(get_provider(sb.get("provider", "")), RecordedProvider)
    except SandboxError:
        return False


@sock.route("/attempts/<int:attempt_id>/terminal", bp=bp)
def terminal(ws, attempt_id: int):
    from ..db import close_session
    attempt = _load_running_attempt(attempt_id)
    sb, attempt_id, deadline = attempt.sandbox, attempt.id, attempt.deadline_at
    cfg = current_app.config
    limits = {"memory_mb": int(cfg.get("TERMINAL_MEMORY_MB", 768)),
              "max_pids": int(cfg.get("TERMINAL_MAX_PIDS", 256)),
              "disk_mb": int(cfg.get("TERMINAL_DISK_MB", 512)),
              "tmp_mb": int(cfg.get("TERMINAL_TMP_MB", 256))}
    prefix = cfg.get("SANDBOX_PREFIX", "")
    # The connection lives as long as the terminal is open: give the database
    # connection back now, or twenty open terminals exhaust the pool.
    close_session()
    spec = lambda: JailSpec(  # noqa: E731 - only built when a new shell starts
        attempt=attempt_id, workspace=Path(sb["workspace"]), kubeconfig=Path(sb["kubeconfig"]),
        etcd_endpoint=sb.get("etcd_endpoint", ""), nodes=list(sb.get("nodes", [])),
        unjoined=list(sb.get("unjoined", [])), node_shells=_node_shells(sb),
        prefix=prefix, sandbox=sb.get("name", ""), disk_image=_unmounts_on_destroy(sb), **limits)
    try:
        shell = shells().get_or_start(attempt_id, spec, deadline)
    except Exception as exc:  # noqa: BLE001 - tell the candidate, log the cause
        log.exception("could not start the shell of attempt %s", attempt_id)
        ws.send(f"\r\n\x1b[31mThe terminal could not start: {exc}\x1b[0m\r\n".encode())
        return
    backlog, q = shell.attach()
    stop = threading.Event()
    send_lock = threading.Lock()

    def pump():
        if backlog:
            with send_lock:
                ws.send(backlog)
        while not stop.is_set():
            data = q.get()
            if data is None:
                break
            # coalesce what is already queued into one frame
            chunks = [data]
            try:
                while len(chunks) < 64:
                    more = q.get_nowait()
                    if more is None:
                        stop.set()
                        break
                    chunks.append(more)
            except Exception:  # noqa: BLE001 - queue.Empty
                pass
            try:
                with send_lock:
                    ws.send(b"".join(chunks))
            except ConnectionClosed:
                break
        if not stop.is_set():
            note = ("[this connection fell behind the output; reconnecting]" if q.lagged
                    else "[the shell has ended]")
            try:
                with send_lock:
                    ws.send(f"\r\n\x1b[33m{note}\x1b[0m\r\n".encode())
                ws.close()
            except Exception:  # noqa: BLE001 - the browser may be gone already
                pass

    t = threading.Thread(target=pump, daemon=True, name=f"ws-pump-{attempt_id}")
    t.start()
    try:
        while True:
            msg = ws.receive(timeout=30)
            if msg is None:
                if not shell.alive:
                    break
                continue
            try:
                data = json.loads(msg)
            except (TypeError, ValueError):
                continue
            if "i" in data and isinstance(data["i"], str):
                shell.write(data["i"].encode())
            elif "r" in data:
                rows, cols = (int(x) for x in data["r"])
                shell.resize(rows, cols)
    except ConnectionClosed:
        pass
    finally:
        stop.set()
        shell.detach(q)
        q.end()
