"""Live shells: one jailed bash on a pseudo-terminal per attempt.

A shell outlives the websocket that shows it: a dropped connection (a
laptop's Wi-Fi, a page reload) reattaches to the same shell and gets the
recent screen back from a scrollback buffer. A shell ends at the attempt's
deadline, when the attempt ends, or after ``idle_timeout`` seconds with no
input and nobody attached.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import pty
import queue
import struct
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import cgroups
from .jail import Jail, JailSpec

log = logging.getLogger(__name__)
SCROLLBACK = 64 * 1024
MAX_BEHIND = 2 * 1024 * 1024  # output one connection may have unsent before it is ended


class Subscription:
    """One connection's share of a shell's output: chunks, then None at the end.

    The shell prints as fast as it likes and a client reads as slowly as it
    likes; a connection that falls more than ``MAX_BEHIND`` bytes behind (a
    client that stops reading while ``yes`` runs) is ended with ``lagged``
    set, rather than queueing without bound in the portal. The browser then
    reconnects and gets the recent screen, as after any dropped connection.
    """

    def __init__(self):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.pending = 0
        self.lagged = False

    def put(self, data: bytes) -> bool:
        """Queue output; False (and the end) when the connection is too far behind."""
        with self._lock:
            if self.lagged:
                return False
            if self.pending + len(data) > MAX_BEHIND:
                self.lagged = True
                self._q.put(None)
                return False
            self.pending += len(data)
        self._q.put(data)
        return True

    def end(self) -> None:
        self._q.put(None)

    def get(self, timeout: float | None = None) -> bytes | None:
        return self._taken(self._q.get(timeout=timeout))

    def get_nowait(self) -> bytes | None:
        return self._taken(self._q.get_nowait())

    def _taken(self, data: bytes | None) -> bytes | None:
        if data:
            with self._lock:
                self.pending -= len(data)
        return data


class Shell:
    def __init__(self, jail: Jail, deadline: float | None, idle_timeout: float):
        self.jail = jail
        self.deadline = deadline
        self.idle_timeout = idle_timeout
        self.last_input = time.time()
        self._buffer = bytearray()
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        master, slave = pty.openpty()
        _set_size(slave, 24, 80)
        self.master = master

        try:
            jail.prepare()
            self.proc = jail.spawn(["bash", "-i"], stdin=slave, stdout=slave, stderr=slave,
                                   tty=slave)
        except BaseException:
            os.close(master)
            jail.stop()
            raise
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"shell-{jail.spec.attempt}")
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                self._buffer += data
                if len(self._buffer) > SCROLLBACK:
                    del self._buffer[: len(self._buffer) - SCROLLBACK]
                subs = list(self._subscribers)
            for sub in subs:
                if not sub.put(data):
                    with self._lock:
                        self._subscribers.discard(sub)
        with self._lock:
            subs = list(self._subscribers)
        for sub in subs:
            sub.end()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def attach(self) -> tuple[bytes, Subscription]:
        """The recent screen, and what comes next (None = the end)."""
        sub = Subscription()
        with self._lock:
            self._subscribers.add(sub)
            backlog = bytes(self._buffer)
        if not self.alive:
            sub.end()
        return backlog, sub

    def detach(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def attached(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def write(self, data: bytes) -> None:
        self.last_input = time.time()
        os.write(self.master, data)

    def resize(self, rows: int, cols: int) -> None:
        _set_size(self.master, max(2, min(rows, 500)), max(10, min(cols, 1000)))

    def stop(self) -> None:
        self.jail.stop()
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass
        try:
            os.close(self.master)
        except OSError:
            pass


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ShellManager:
    """All live shells of this portal process, by attempt id."""

    def __init__(self, jail_root: Path, idle_timeout: float = 1800.0,
                 status: Callable[[int], tuple[bool, float | None]] | None = None,
                 prefix: str = ""):
        """``status(attempt) -> (running, deadline)`` lets the reaper end a
        shell as soon as its attempt ends, whoever ended it (the candidate, the
        worker at the deadline, an admin). ``prefix`` is the portal's
        SANDBOX_PREFIX: the empty cgroups a crash of this portal left behind
        are removed now."""
        removed = cgroups.sweep(prefix)
        if removed:
            log.info("removed %d empty cgroups left by a previous run", len(removed))
        self.jail_root = jail_root
        self.idle_timeout = idle_timeout
        self.status = status
        # bwrap runs with --die-with-parent, and the kernel's "parent died"
        # signal fires when the *thread* that forked it ends. Websocket
        # handler threads end with their connection, so shells are forked
        # from this one long-lived thread instead.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shell-spawner")
        self._shells: dict[int, Shell] = {}
        self._lock = threading.Lock()
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True, name="shell-reaper")
        self._reaper.start()
        # the shells die with the portal anyway (bwrap --die-with-parent); stopping
        # them on the way out also removes their cgroups
        atexit.register(self.stop_all)

    def get_or_start(self, attempt: int, spec: Callable[[], JailSpec],
                     deadline: float | None) -> Shell:
        with self._lock:
            shell = self._shells.get(attempt)
            if shell is not None and shell.alive:
                shell.deadline = deadline
                return shell
            if shell is not None:
                shell.stop()
            jail = Jail(spec(), self.jail_root)
            shell = self._spawner.submit(Shell, jail, deadline, self.idle_timeout).result()
            self._shells[attempt] = shell
            return shell

    def stop(self, attempt: int) -> None:
        with self._lock:
            shell = self._shells.pop(attempt, None)
        if shell is not None:
            shell.stop()

    def stop_all(self) -> None:
        for attempt in list(self._shells):
            self.stop(attempt)

    def _reap_loop(self) -> None:
        tick = 0
        while True:
            time.sleep(0.5)
            tick += 1
            now = time.time()
            for attempt, shell in list(self._shells.items()):
                why = None
                if shell.deadline is not None and now >= shell.deadline:
                    why = "deadline"
                elif self.status is not None and tick % 4 == 0:
                    try:
                        running, deadline = self.status(attempt)
                    except Exception:  # noqa: BLE001 - the DB may blink; try next time
                        log.exception("status of attempt %s", attempt)
                        running, deadline = True, shell.deadline
                    shell.deadline = deadline
                    if not running:
                        why = "attempt ended"
                elif not shell.alive:
                    why = "exited"
                elif shell.attached == 0 and now - shell.last_input > shell.idle_timeout:
                    why = "idle"
                if why:
                    log.info("stopping the shell of attempt %s (%s)", attempt, why)
                    self.stop(attempt)
