"""The browser terminal: websockets per attempt and tab, relayed to jailed shells.

``GET /attempts/<id>/terminal?tab=N`` upgrades to a websocket when, and only
when: the request carries the logged-in session of the attempt's owner (no
token in the URL), its ``Origin`` is the portal's own, ``N`` is a tab number
(0 ≤ N < ``shells.MAX_TABS``, default 0), and the attempt's terminal is open:
running with time left, or a graded practice attempt inside the review window
its candidate asked for (``review.py``). Anything else gets a plain HTTP 403
(400 for a bad tab) before the upgrade, and a user past their connections
gets 429 (``connections.py``: one connection per tab, the newest wins).

Every tab is a bash of its own in the attempt's one jail. Frames: the browser
sends text frames, JSON: ``{"r": [rows, cols]}`` first (the server waits up to
5 s for it and paints the screen at that size), then ``{"i": "keys"}`` for
input, ``{"r": …}`` for a resize and ``{"close": true}`` to end this tab's
shell (tabs other than 0). The server sends one text frame
``{"tab": N, "tabs": [live tabs], "max": MAX_TABS, "size": [rows, cols, cells]}``
(the largest screen it keeps, ``screen.bounded``), then binary frames of
terminal output, starting with the current screen painted from the server's
own terminal state (``screen.py``), never a replay; and, when the shell has
ended, a text frame ``{"ended": true}`` before it closes. When the shell
cannot start, it sends ``{"error": "why"}`` and closes; when a newer
connection takes the tab, it closes with ``connections.REPLACED``.

One thread writes a connection's frames at a time, and the closing handshake
completes before the handler returns: werkzeug writes an HTTP response on the
socket after a websocket handler, and that response, or two frames sent at
once, reached browsers as "Invalid frame header".
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, request
from flask_login import current_user
from flask_sock import ConnectionClosed, Sock

from confinement.jail import JailError, JailSpec
from sandbox import Sandbox
from sandbox.toolchain import Toolchain, ToolchainError

from . import screen
from .channel import Channel
from .connections import REPLACED, Connections, Ticket
from .shells import MAX_TABS, ShellManager

log = logging.getLogger(__name__)
bp = Blueprint("terminal", __name__)
sock = Sock()


def init_terminal(app) -> None:
    from . import review
    sock.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(review.bp)


def shells() -> ShellManager:
    app = current_app._get_current_object()
    manager = app.extensions.get("proctor.shells")
    if manager is None:
        manager = ShellManager(Path(app.instance_path) / "jails",
                               idle_timeout=float(app.config["TERMINAL_IDLE_TIMEOUT"]),
                               status=_status_fn(app),
                               prefix=app.config.get("SANDBOX_PREFIX", ""))
        app.extensions["proctor.shells"] = manager
    return manager


def connections() -> Connections:
    return current_app.extensions.setdefault("proctor.terminal-connections", Connections())


def _until(attempt, now: float) -> float | None:
    """Until when the attempt's terminal is open: its deadline (None: no
    deadline) while it runs, the end of its review window after results;
    0 when it is closed."""
    from .review import is_open
    if attempt.state == "running" and attempt.sandbox:
        if attempt.deadline_at is None or now < attempt.deadline_at:
            return attempt.deadline_at
        return 0
    return attempt.keep_until if is_open(attempt, now) else 0


def _status_fn(app):
    """For the shell reaper: is this attempt's terminal still open, and until when?"""
    def status(attempt_id: int) -> tuple[bool, float | None]:
        from ..models import Attempt
        with app.extensions["proctor.db"].session() as s:
            a = s.get(Attempt, attempt_id)
            until = _until(a, time.time()) if a is not None else 0
            return until != 0, until or None
    return status


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    o = urlsplit(origin)
    return (o.scheme, o.netloc) == (request.scheme, request.host)


def _load_open_attempt(attempt_id: int):
    """The attempt, if its owner's terminal is open now, and until when."""
    from ..db import db_session
    from ..models import Attempt
    if not current_user.is_authenticated:
        abort(403, "log in first")
    attempt = db_session().get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(403, "not your attempt")
    until = _until(attempt, time.time())
    if until == 0:
        if attempt.state == "running":
            abort(403, "the time is up")
        abort(403, f"attempt is {attempt.state}, not running")
    return attempt, until


def _tab() -> int:
    raw = request.args.get("tab", "0")
    if not raw.isdigit() or int(raw) >= MAX_TABS:
        abort(400, f"tab must be a number from 0 to {MAX_TABS - 1}")
    return int(raw)


@bp.before_request
def guard():
    """Refuse before the upgrade: foreign Origin, no session, not yours, over,
    no such tab, too many connections."""
    if not _same_origin():
        abort(403, "cross-origin terminal connections are refused")
    attempt, _ = _load_open_attempt(request.view_args["attempt_id"])
    g.terminal_ticket = connections().admit(current_user.id, attempt.id, _tab())
    if g.terminal_ticket is None:
        abort(429, "too many terminal connections; the oldest is closing, try again")


@bp.teardown_request
def release(_exc):
    ticket = g.pop("terminal_ticket", None)
    if ticket is not None:
        connections().release(ticket)


def _node_shells(sandbox: Sandbox) -> dict[str, list[str]]:
    """node -> host command for ``ssh node`` where the sandbox's nodes are real."""
    from sandbox import SandboxError, get_provider
    try:
        provider = get_provider(sandbox.provider)
    except SandboxError:  # a provider this portal does not know has no node shells
        return {}
    shells_ = {n: provider.node_shell(sandbox, n) for n in sandbox.nodes}
    return {n: argv for n, argv in shells_.items() if argv}


def jail_spec(sb: Sandbox, attempt: int, **more) -> JailSpec:
    """The jail of ``attempt`` on sandbox ``sb``: its workspace, kubeconfig,
    etcd and nodes, and the toolchain's shell tools; ``more`` sets JailSpec's
    other fields (hosts, limits, prefix …) or replaces these (a test's
    ``node_shells``)."""
    return JailSpec(**{
        "attempt": attempt, "workspace": sb.workspace, "kubeconfig": sb.kubeconfig,
        "sandbox": sb.name, "tools": Toolchain().shell_tools(), "etcd_endpoint": sb.etcd_endpoint,
        "etcd_pki": sb.etcd_pki,
        "nodes": list(sb.nodes), "unjoined": list(sb.unjoined), "node_shells": _node_shells(sb),
        **more})


def _unmounts_on_destroy(sb: Sandbox) -> bool:
    """Whether the sandbox's provider says it detaches mounts in its workspace
    when it destroys the sandbox (``Provider.unmounts_workspace``): only then
    does the jail loop-mount a disk image there, which would otherwise outlive
    it."""
    from sandbox import SandboxError, get_provider
    try:
        return bool(get_provider(sb.provider).unmounts_workspace)
    except SandboxError:
        return False


@sock.route("/attempts/<int:attempt_id>/terminal", bp=bp)
def terminal(ws, attempt_id: int):
    from ..db import close_session
    attempt, until = _load_open_attempt(attempt_id)
    tab = _tab()
    sb, attempt_id = attempt.sandbox, attempt.id
    hosts = [t.host for t in attempt.tasks if t.host]
    host_clusters = {t.host: t.cluster for t in attempt.tasks if t.host}
    more_kubeconfigs = [m.kubeconfig for m in attempt.more_clusters]
    cfg = current_app.config
    limits = {"memory_mb": int(cfg["TERMINAL_MEMORY_MB"]), "max_pids": int(cfg["TERMINAL_MAX_PIDS"]),
              "disk_mb": int(cfg["TERMINAL_DISK_MB"]), "tmp_mb": int(cfg["TERMINAL_TMP_MB"])}
    prefix = cfg.get("SANDBOX_PREFIX", "")
    # The connection lives as long as the terminal is open: give the database
    # connection back now, or twenty open terminals exhaust the pool.
    close_session()
    spec = lambda: jail_spec(  # noqa: E731 - only built when a new jail starts
        sb, attempt_id, hosts=hosts, host_clusters=host_clusters, more_kubeconfigs=more_kubeconfigs,
        prefix=prefix, disk_image=_unmounts_on_destroy(sb), **limits)
    ch, ticket = Channel(ws), g.terminal_ticket
    try:
        _serve(ch, ws, ticket, lambda: shells().get_or_start(attempt_id, spec, until, tab))
    finally:
        if ticket.replaced.is_set():
            ch.finish(REPLACED, "this terminal was opened in another window")
        else:
            ch.finish()


def _serve(ch: Channel, ws, ticket: Ticket, start) -> None:
    manager, attempt_id, tab = shells(), ticket.attempt, ticket.tab
    try:
        first = ws.receive(timeout=5)  # the browser's size, to paint the screen at
        shell = start()
    except ConnectionClosed:
        return
    except (JailError, ToolchainError) as exc:  # known: the message says what is missing
        log.warning("the shell of attempt %s, tab %s cannot start: %s", attempt_id, tab, exc)
        _refuse(ch, str(exc))
        return
    except Exception:  # noqa: BLE001 - a bug: the log has it, the candidate is told
        log.exception("could not start the shell of attempt %s, tab %s", attempt_id, tab)
        _refuse(ch, "an unexpected error; it is in the portal's log")
        return
    if ticket.replaced.is_set():
        return
    if first is not None:
        _handle(first, shell, manager, attempt_id, tab)
    ch.send(json.dumps({"tab": tab, "tabs": manager.tabs(attempt_id), "max": MAX_TABS,
                        "size": [screen.MAX_ROWS, screen.MAX_COLUMNS, screen.MAX_CELLS]}))
    picture, q = shell.attach()
    done, leaving = threading.Event(), threading.Event()

    def pump():
        try:
            ch.send(picture)
            ended = False
            while not ended:
                data = q.get()
                if data is None:
                    break
                chunks, size = [data], len(data)
                while size < 256 * 1024:  # what is queued already goes in one frame
                    try:
                        more = q.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        ended = True
                        break
                    chunks.append(more)
                    size += len(more)
                ch.send(b"".join(chunks))
            if not leaving.is_set():
                if q.lagged:
                    ch.send(b"\r\n\x1b[33m[this connection fell behind the output; "
                            b"reconnecting]\x1b[0m\r\n")
                else:
                    ch.send(b"\r\n\x1b[33m[the shell has ended]\x1b[0m\r\n")
                    ch.send(json.dumps({"ended": True}))
        except Channel.Gone:
            pass
        finally:
            done.set()

    t = threading.Thread(target=pump, daemon=True, name=f"ws-pump-{attempt_id}-{tab}")
    t.start()
    try:
        while not done.is_set() and not ticket.replaced.is_set():
            msg = ws.receive(timeout=1)
            if msg is None:
                # simple-websocket 1.1.0 wakes receive() for a message that is too
                # big before it marks the connection closed: look, not just wait
                if not ws.connected:
                    break
                continue
            _handle(msg, shell, manager, attempt_id, tab)
    except ConnectionClosed:
        pass
    finally:
        leaving.set()
        shell.detach(q)
        q.end()
        t.join(10)


def _refuse(ch: Channel, why: str) -> None:
    """The shell cannot start: tell the page why (it shows it in the terminal)."""
    try:
        ch.send(json.dumps({"error": why}))
    except Channel.Gone:
        pass


def _handle(msg, shell, manager: ShellManager, attempt_id: int, tab: int) -> None:
    """One message from the browser: keys, a resize, or closing this tab."""
    try:
        data = json.loads(msg)
    except (TypeError, ValueError):
        return
    if not isinstance(data, dict):
        return
    if isinstance(data.get("i"), str):
        shell.write(data["i"].encode())
    elif "r" in data:
        try:
            rows, cols = (int(x) for x in data["r"])
        except (TypeError, ValueError):
            return
        shell.resize(rows, cols)
    elif data.get("close") is True and tab != 0:
        manager.close_tab(attempt_id, tab)
