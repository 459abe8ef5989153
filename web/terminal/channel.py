"""One websocket, written by one thread at a time and closed cleanly.

A terminal connection has three writers: the thread that pumps the shell's
output, the handler (its first frames, its close) and simple-websocket's own
reader thread (pongs, the reply to the browser's close). ``Channel`` puts
each frame on the wire whole (``sendall``) under one lock, so two frames never
interleave and none is cut short, and a browser that stops reading blocks a
send for at most ``SEND_TIMEOUT`` seconds before the connection is dropped.

``finish`` closes the connection and waits for the browser's reply; then it
shuts the socket down. werkzeug writes an HTTP response on the socket after
every websocket handler returns (flask-sock answers with an empty 200): on a
connection still open that response reached the browser as frames, and the
browser reported "Invalid frame header".
"""

from __future__ import annotations

import socket
import struct
import threading

from flask_sock import ConnectionClosed
from wsproto.utilities import LocalProtocolError

SEND_TIMEOUT = 30
CLOSE_WAIT = 5  # seconds for the browser's reply to our close


class _Wire:
    """The socket, as simple-websocket sees it: every send whole and alone."""

    def __init__(self, sock, lock: threading.Lock):
        self._sock, self._lock = sock, lock

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Channel:
    class Gone(Exception):
        """The browser is gone (closed, reset, or stopped reading)."""

    def __init__(self, ws):
        self.ws = ws
        self.raw = ws.sock
        self._lock = threading.Lock()   # wsproto's state: one message at a time
        try:
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                struct.pack("ll", SEND_TIMEOUT, 0))
        except (OSError, AttributeError):
            pass
        ws.sock = _Wire(self.raw, threading.Lock())

    def send(self, data: bytes | str) -> None:
        """A binary frame for bytes, a text frame for str; ``Gone`` if it cannot go."""
        with self._lock:
            try:
                self.ws.send(data)
            except (ConnectionClosed, LocalProtocolError, OSError) as exc:
                raise Channel.Gone() from exc

    def finish(self, code: int | None = None, reason: str | None = None) -> None:
        """Close (if still open; with ``code`` and ``reason``, default 1000),
        wait for the browser's reply, shut the socket down."""
        with self._lock:
            if self.ws.connected:
                try:
                    self.ws.close(code, reason)
                except (ConnectionClosed, LocalProtocolError, OSError):
                    pass
        thread = getattr(self.ws, "thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_WAIT)
        try:
            self.raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
