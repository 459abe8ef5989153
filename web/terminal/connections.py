"""Who is connected to which terminal tab: one connection per tab, a few per user.

Every connection costs the portal three threads (the handler, the pump of
the shell's output, simple-websocket's reader) and up to ``MAX_BEHIND`` of
queued output, so their number is bounded. A browser that reloads, switches
task or comes back after a Wi-Fi drop opens a new websocket while its old one
may still look open to the server (a dead TCP connection is noticed at the
next write, or never), so the bound must never lock a candidate out:

- a tab is shown by one connection: a new one for the same tab *replaces*
  the older, which closes with ``REPLACED`` (4001); its page says that the
  terminal is open elsewhere and waits for a key instead of reconnecting, so
  two windows on one attempt do not take the tab from each other in a loop;
- a user holds at most ``PER_USER`` connections, those still closing
  included: past that, a new one is refused before the upgrade (HTTP 429,
  which the browser's reconnect retries) and the user's oldest live one is
  asked to close, so the retry gets in.

Two attempts with four tabs each (a practice in its review window and the
next attempt) fit in ``PER_USER``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

REPLACED = 4001  # websocket close code: the tab was opened by a newer connection
PER_USER = 8


@dataclass(eq=False)
class Ticket:
    """One admitted connection; ``replaced`` is set when it must close."""

    user: int
    attempt: int
    tab: int
    replaced: threading.Event = field(default_factory=threading.Event)


class Connections:
    """The terminal connections of this portal process."""

    def __init__(self, per_user: int = PER_USER):
        self.per_user = per_user
        self._lock = threading.Lock()
        self._open: list[Ticket] = []  # oldest first

    def admit(self, user: int, attempt: int, tab: int) -> Ticket | None:
        """A ticket for a new connection (the tab's older one is told to
        close), or None when the user has ``per_user`` already."""
        with self._lock:
            mine = [t for t in self._open if t.user == user]
            live = [t for t in mine if not t.replaced.is_set()]
            for t in live:
                if (t.attempt, t.tab) == (attempt, tab):
                    t.replaced.set()
            if len(mine) >= self.per_user:
                if live:
                    live[0].replaced.set()
                return None
            ticket = Ticket(user, attempt, tab)
            self._open.append(ticket)
            return ticket

    def release(self, ticket: Ticket) -> None:
        """The connection has closed."""
        with self._lock:
            self._open.remove(ticket)
