"""Live shells: one jailed bash on a pseudo-terminal per attempt's tab, in
the attempt's shell backend (``backend``: today a bubblewrap jail).

A shell outlives the websocket that shows it: a dropped connection (a
laptop's Wi-Fi, a page reload) reattaches to the same shell and gets the
recent screen back from a scrollback buffer. A shell ends at the attempt's
deadline, when the attempt ends, or after ``idle_timeout`` seconds with no
input and nobody attached.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import pty
import queue
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from confinement.jail import Jail, JailSpec

from .backend import BackendFactory, ShellBackend
from .screen import ScreenState, bounded

log = logging.getLogger(__name__)
MAX_TABS = 4  # shells per attempt, all in the one jail (its limits are shared)
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
    """One bash on its own pty in an attempt's jail (its backend): one terminal tab."""

    def __init__(self, jail: ShellBackend, deadline: float | None, idle_timeout: float, tab: int = 0):
        self.jail = jail
        self.tab = tab
        self.deadline = deadline
        self.idle_timeout = idle_timeout
        self.last_input = time.time()
        self.screen = ScreenState(24, 80)
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        master, slave = pty.openpty()
        _set_size(slave, 24, 80)
        self.master = master
        try:
            jail.start()
            self.proc = jail.enter(["bash", "-i"], stdin=slave, stdout=slave, stderr=slave,
                                   tty=slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name=f"shell-{jail.spec.attempt}-{tab}")
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
                self.screen.feed(data)
                subs = list(self._subscribers)
            for sub in subs:
                if not sub.put(data):
                    with self._lock:
                        self._subscribers.discard(sub)
        with self._lock:
            subs = list(self._subscribers)
            self._subscribers.clear()
        for sub in subs:
            sub.end()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def attach(self) -> tuple[bytes, Subscription]:
        """The screen as it is (painted from the server's own terminal state,
        so it holds no query for the browser to answer), and what comes next
        (None = the end)."""
        sub = Subscription()
        with self._lock:  # nothing printed between the picture and the stream is lost
            self._subscribers.add(sub)
            picture = self.screen.render()
        if not self._reader.is_alive():
            with self._lock:
                self._subscribers.discard(sub)
            sub.end()
        return picture, sub

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
        """Resize the pty and the screen, within ``screen.bounded``."""
        rows, cols = bounded(rows, cols)
        with self._lock:  # in order with the output around it
            self.screen.resize(rows, cols)
            _set_size(self.master, rows, cols)

    def stop(self) -> None:
        """Close this tab: a hangup for the shell, which passes it to its jobs
        (what nohup or setsid started stays until the jail stops)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        try:
            os.close(self.master)
        except OSError:
            pass


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ShellManager:
    """All live shells of this portal process, by (attempt, tab), and the one
    jail per attempt they run in.

    Two locks. ``_lock`` guards the dictionaries and is never held while a
    jail or shell starts or stops. An attempt's start lock (``_start_lock``)
    orders everything that starts or stops that attempt's jail and shells: a
    start, closing a tab, stopping, and the reaper, which leaves an attempt
    whose start lock is taken alone (a jail that is starting is not yet
    running: the reaper used to take it for one that had ended and stopped
    it, so every terminal opened on a busy machine ended at birth)."""

    STRIPES = 64  # start locks, shared by attempt id modulo this

    def __init__(self, jail_root: Path, idle_timeout: float = 1800.0,
                 status: Callable[[int], tuple[bool, float | None]] | None = None,
                 prefix: str = "", backend: BackendFactory = Jail):
        """``status(attempt) -> (open, until)`` lets the reaper end an attempt's
        shells as soon as its terminal closes, whoever closed it (the candidate,
        the worker at the deadline, an admin, the end of a review window).
        ``prefix`` is the portal's SANDBOX_PREFIX: the empty cgroups a crash of
        this portal left behind are removed now. ``backend`` makes each
        attempt's jail (``backend.py``)."""
        removed = backend.sweep(prefix)
        if removed:
            log.info("removed %d empty cgroups left by a previous run", len(removed))
        self.backend = backend
        self.jail_root = jail_root
        self.idle_timeout = idle_timeout
        self.status = status
        # bwrap runs with --die-with-parent, and the kernel's "parent died"
        # signal fires when the *thread* that forked it ends. Websocket
        # handler threads end with their connection, so jails and shells are
        # forked from these long-lived threads instead (a pool's threads live
        # as long as the pool); several, so that one attempt's start does not
        # wait for another's.
        self._spawner = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shell-spawner")
        self._shells: dict[tuple[int, int], Shell] = {}
        self._jails: dict[int, ShellBackend] = {}
        self._deadlines: dict[int, float | None] = {}
        self._started: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(self.STRIPES)]
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True, name="shell-reaper")
        self._reaper.start()
        # the shells die with the portal anyway (bwrap --die-with-parent); stopping
        # them on the way out also removes their cgroups
        atexit.register(self.stop_all)

    def _start_lock(self, attempt: int) -> threading.Lock:
        return self._stripes[attempt % self.STRIPES]

    def get_or_start(self, attempt: int, spec: Callable[[], JailSpec],
                     deadline: float | None, tab: int = 0) -> Shell:
        """The shell of tab ``tab`` (0 ≤ tab < MAX_TABS), started if need be,
        with the attempt's jail (started if need be)."""
        if not 0 <= tab < MAX_TABS:
            raise ValueError(f"tab {tab} is not between 0 and {MAX_TABS - 1}")
        with self._start_lock(attempt):
            with self._lock:
                self._deadlines[attempt] = deadline
                shell = self._shells.get((attempt, tab))
                if shell is not None and shell.alive:
                    shell.deadline = deadline
                    return shell
                self._shells.pop((attempt, tab), None)
                jail = self._jails.get(attempt)
            if shell is not None:
                shell.stop()
            try:
                if jail is not None and not jail.running:  # its leader was killed: start over
                    self._stop(attempt)
                    jail = None
                if jail is None:
                    jail = self.backend(spec(), self.jail_root)
                    with self._lock:
                        self._jails[attempt] = jail
                        self._deadlines[attempt] = deadline
                        self._started[attempt] = time.time()
                shell = self._spawner.submit(Shell, jail, deadline, self.idle_timeout,
                                             tab).result()
            except BaseException:
                if not self.tabs(attempt):
                    self._stop(attempt)
                raise
            with self._lock:
                self._shells[(attempt, tab)] = shell
            return shell

    def tabs(self, attempt: int) -> list[int]:
        """The attempt's tabs whose shell runs."""
        with self._lock:
            shells = [(t, sh) for (a, t), sh in self._shells.items() if a == attempt]
        return sorted(t for t, sh in shells if sh.alive)

    def close_tab(self, attempt: int, tab: int) -> None:
        """End one tab's shell; the jail and the other tabs go on."""
        with self._start_lock(attempt):
            with self._lock:
                shell = self._shells.pop((attempt, tab), None)
            if shell is not None:
                shell.stop()

    def stop(self, attempt: int) -> None:
        """End every shell of the attempt and its jail (processes, tunnels, cgroup)."""
        with self._start_lock(attempt):
            self._stop(attempt)

    def _stop(self, attempt: int) -> None:
        """``stop``, with the attempt's start lock held."""
        with self._lock:
            shells = [self._shells.pop(k) for k in list(self._shells) if k[0] == attempt]
            jail = self._jails.pop(attempt, None)
            self._deadlines.pop(attempt, None)
            self._started.pop(attempt, None)
        if jail is not None:
            jail.stop()  # first: a shell's jobs may ignore the hangup
        for shell in shells:
            shell.stop()

    def stop_all(self) -> None:
        with self._lock:
            attempts = list(self._jails)
        for attempt in attempts:
            self.stop(attempt)

    def _why_stop(self, attempt: int, now: float, status: tuple[bool, float | None] | None
                  ) -> str | None:
        """Why the attempt's shells should stop now, if they should (the
        caller holds ``_lock``; ``status`` is what ``self.status`` said, if
        it was asked)."""
        if status is not None:
            running, until = status
            if not running:
                return "attempt ended"
            self._deadlines[attempt] = until
        deadline = self._deadlines.get(attempt)
        if deadline is not None and now >= deadline:
            return "deadline"
        if not self._jails[attempt].running:
            return "jail ended"
        shells = [sh for (a, _), sh in self._shells.items() if a == attempt]
        last = max([sh.last_input for sh in shells] + [self._started.get(attempt, now)])
        if not any(sh.attached for sh in shells) and now - last > self.idle_timeout:
            return "idle"
        return None

    def _ask(self, attempt: int) -> tuple[bool, float | None] | None:
        """``self.status(attempt)``, or None when it cannot be asked now."""
        try:
            return self.status(attempt)
        except Exception:  # noqa: BLE001 - the DB may blink; try next time
            log.exception("status of attempt %s", attempt)
            return None

    def _reap(self, ask: bool) -> None:
        """One round: forget the tabs whose shell exited, stop the attempts
        that should stop. Each is judged and acted on under the attempt's
        start lock; one whose lock is taken (a shell starting, a tab closing)
        is left for the next round."""
        with self._lock:
            exited = [k for k, sh in self._shells.items() if k[1] != 0 and not sh.alive]
            attempts = list(self._jails)
        for attempt, tab in exited:  # `exit` in a tab closes that tab
            with self._unless_busy(attempt) as free:
                if free:
                    with self._lock:
                        shell = self._shells.get((attempt, tab))
                        if shell is not None and not shell.alive:
                            del self._shells[(attempt, tab)]
                        else:
                            shell = None
                    if shell is not None:
                        log.info("tab %s of attempt %s exited", tab, attempt)
                        shell.stop()
        for attempt in attempts:
            status = self._ask(attempt) if ask and self.status is not None else None
            with self._unless_busy(attempt) as free:
                if free:
                    with self._lock:
                        why = self._why_stop(attempt, time.time(), status) \
                            if attempt in self._jails else None
                    if why:
                        log.info("stopping the shells of attempt %s (%s)", attempt, why)
                        self._stop(attempt)

    @contextlib.contextmanager
    def _unless_busy(self, attempt: int):
        """The attempt's start lock if it is free now: yields whether it was."""
        lock = self._start_lock(attempt)
        free = lock.acquire(blocking=False)
        try:
            yield free
        finally:
            if free:
                lock.release()

    def _reap_loop(self) -> None:
        tick = 0
        while True:
            time.sleep(0.5)
            tick += 1
            try:
                self._reap(ask=tick % 4 == 0)
            except Exception:  # noqa: BLE001 - the reaper must outlive any one attempt
                log.exception("reaping shells")
