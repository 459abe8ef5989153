"""A candidate's terminal must not fill the portal's memory or threads.

Here a real portal (``proctor serve``) runs real jailed shells for a running
attempt; the attacker, logged in as the candidate, opens the terminal's
websockets by hand.

- One huge message (issue 11): a 200 MB frame, buffered whole, grew the
  portal from 100 to 500 MB. It is streamed three ways: one frame, many small
  fragments of one message, and a compressed frame that inflates to far more
  than it weighs (permessage-deflate). Each time the connection must close
  (1009, message too big) long before the message ends, and the server's
  RSS, sampled while it happens, must not grow by its size.
- Output that the server's screens keep (issue 17): with the terminal sized
  500×1000 by the resize message, 2 KB of REP sequences on the main and the
  alternate screen of each of 4 tabs took the portal from 155 to 864 MB.
  Then the worst case the bounds allow: every cell a different colour.
- Connections (issue 17): 60 websockets to one tab were all accepted (portal
  threads 10 → 190); the newest must win, the rest be closed or refused.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import struct
import threading
import time
import zlib
from urllib.parse import urlsplit

import psutil
import pytest

from tests.waiting import wait_for

MiB = 1 << 20
MESSAGE = 128 * MiB      # what the attacker sends: 2000 times the limit of 64 KiB
INFLATED = 256 * MiB     # what the compressed message inflates to
GROWTH_LIMIT = 32 * MiB  # what the server may grow by while it refuses one

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the terminal's jail is set up by root")


class Closed(Exception):
    """The server closed the websocket; ``code`` is its close code, if it sent one."""

    def __init__(self, code: int | None):
        super().__init__(f"closed with {code}")
        self.code = code


class RawWebsocket:
    """A websocket client that writes frames by hand, as an attacker would:
    any length, any fragmentation, compressed or not."""

    def __init__(self, base: str, path: str, cookies: str, deflate: bool = False):
        parts = urlsplit(base)
        host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\nOrigin: {base}\r\nCookie: {cookies}\r\n"
                   + ("Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else "")
                   + "\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, f"no answer to the websocket upgrade: {head!r}"
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), f"the upgrade was refused: {head[:200]!r}"
        if deflate:
            assert b"permessage-deflate" in head.lower(), "the server did not accept compression"

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(None)
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload); Closed on a close frame."""
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        payload = self._read(length)
        opcode = b0 & 0x0F
        if opcode == 8:
            raise Closed(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
        return opcode, payload

    @staticmethod
    def header(opcode: int, length: int, fin: bool = True, rsv1: bool = False) -> bytes:
        """A client frame's header, masked with the all-zero key (the payload
        goes out as it is)."""
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        if length < 126:
            head = struct.pack("!BB", b0, 0x80 | length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", b0, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, length)
        return head + b"\0\0\0\0"

    def send_json(self, obj) -> None:
        """One text frame, as the browser sends its keys and sizes."""
        data = json.dumps(obj).encode()
        self.sock.sendall(self.header(1, len(data)) + data)

    def until(self, needle: bytes, timeout: float = 120) -> bytes:
        """The frames' payloads up to the one that holds ``needle`` (joined)."""
        seen, deadline = b"", time.monotonic() + timeout
        self.sock.settimeout(timeout)
        while needle not in seen:
            assert time.monotonic() < deadline, f"no {needle!r} in {seen[-500:]!r}"
            seen += self.frame()[1]
        return seen

    def close(self) -> None:
        self.sock.close()


# -- the three ways to send one oversized message ---------------------------------------

def one_frame():
    chunk = b"A" * (256 * 1024)
    yield RawWebsocket.header(1, MESSAGE) + b'{"i": "'
    for _ in range(MESSAGE // len(chunk)):
        yield chunk


def fragments():
    """One message in 4 KiB fragments: each frame is small, the message is not."""
    piece = b"A" * 4096
    yield RawWebsocket.header(1, 7, fin=False) + b'{"i": "'
    for _ in range(MESSAGE // len(piece)):
        yield RawWebsocket.header(0, len(piece), fin=False) + piece


def deflate_bomb():
    """256 KiB on the wire that inflate to 256 MiB."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b"A" * MiB
    body = z.compress(b'{"i": "') + b"".join(z.compress(block) for _ in range(INFLATED // MiB))
    body += z.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]  # RFC 7692: the empty block's 00 00 ff ff is left off
    yield RawWebsocket.header(1, len(body), rsv1=True)
    for i in range(0, len(body), 4096):
        yield body[i:i + 4096]


ATTACKS = {"one frame": (one_frame, False), "fragments": (fragments, False),
           "deflate bomb": (deflate_bomb, True)}


# -- the portal, the attempt and its shell -------------------------------------------------

@pytest.fixture
def terminal(live_portal):
    """alice's running exam with a live jailed shell; yields (portal, http, path)."""
    distinct_attempt_ids(live_portal)
    http = live_portal.login("alice")
    resp = http.post(live_portal.url + "/exams/fake-ckad/start", allow_redirects=False,
                     data={"mode": "exam", "csrf_token": http.csrf})
    assert resp.status_code == 302 and "/attempts/" in resp.headers["Location"], resp.text[:300]
    attempt_id = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    live_portal.give_sandboxes_a_kubeconfig()
    path = f"/attempts/{attempt_id}/terminal"
    ws = connect(live_portal, http, path)
    ws.send_json({"r": [24, 80]})
    first = ws.frame()[1]
    ws.close()
    if b'"error"' in first:
        pytest.skip(f"the jail cannot start a shell here: {first.decode(errors='replace')}")
    yield live_portal, http, path
    # End the shell through the portal: submit, and wait for the jail to go.
    http.post(live_portal.url + f"/attempts/{attempt_id}/submit", data={"csrf_token": http.csrf})
    portal = psutil.Process(live_portal.pid)
    deadline = time.monotonic() + 30
    while jails_of(portal) and time.monotonic() < deadline:
        time.sleep(0.1)


def jails_of(portal: psutil.Process) -> int:
    """How many bwrap jails the portal still has (a child may end while we look)."""
    count = 0
    for child in portal.children(recursive=True):
        try:
            count += child.name() == "bwrap"
        except psutil.NoSuchProcess:
            pass
    return count


def distinct_attempt_ids(portal) -> None:
    """Start this portal's attempt ids at a random height: jail identities are
    derived from them, and other test portals on this machine start at 1."""
    import sqlalchemy
    from web.db import Database
    from web.models import Attempt, User
    db = Database(portal.database_url)
    with db.session() as s:
        ada = s.scalar(sqlalchemy.select(User).where(User.username == "ada"))
        s.add(Attempt(id=random.randint(10**6, 10**7), user_id=ada.id, exam_id="old",
                      exam_title="An old attempt", mode="exam", state="graded", seed=1,
                      duration_s=60, pass_mark=50.0))
    db.dispose()


def connect(portal, http, path: str, deflate: bool = False) -> RawWebsocket:
    cookies = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return RawWebsocket(portal.url, path, cookies, deflate)


class RssPeak(threading.Thread):
    """Samples a process's RSS until stopped; ``peak`` is the highest seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.baseline = self.process.memory_info().rss
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.002):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self.stopped.set()
        self.join()
        return self.peak - self.baseline


class CloseWatcher(threading.Thread):
    """Reads the server's frames while the attacker sends, as a browser would;
    on the server's close frame it stops the sender (shuts our socket)."""

    def __init__(self, ws: RawWebsocket):
        super().__init__(daemon=True)
        self.ws, self.code, self.closed = ws, None, threading.Event()

    def run(self) -> None:
        try:
            while True:
                self.ws.frame()
        except Closed as closed:
            self.code = closed.code
        except OSError:
            pass
        self.closed.set()
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_an_oversized_terminal_message_closes_the_connection_without_buffering_it(terminal, attack):
    portal, http, path = terminal
    frames, deflate = ATTACKS[attack]
    ws = connect(portal, http, path, deflate=deflate)
    ws.frame()  # the recent screen: the handler is attached to the shell
    sampler = RssPeak(portal.pid)
    sampler.start()
    watcher = CloseWatcher(ws)
    watcher.start()
    sent = 0
    try:
        for data in frames():
            ws.sock.sendall(data)
            sent += len(data)
    except OSError:  # the server reset the connection, or the watcher shut it
        pass
    closed = watcher.closed.wait(30)
    growth = sampler.stop()
    ws.close()
    size = INFLATED if deflate else MESSAGE
    assert growth < GROWTH_LIMIT, (
        f"{attack}: the portal's memory grew by {growth / MiB:.0f} MiB while it was sent one "
        f"{size >> 20} MiB websocket message ({sent / MiB:.1f} MiB on the wire); it buffers "
        "what it should refuse")
    assert closed and watcher.code is not None, \
        f"{attack}: the server kept the websocket open through a {size >> 20} MiB message"
    assert watcher.code == 1009, f"{attack}: closed with {watcher.code}, expected 1009 (message too big)"
    if not deflate:
        assert sent < MESSAGE, f"{attack}: the server read the whole {MESSAGE >> 20} MiB message"
    assert http.get(portal.url + "/login").status_code == 200, "the portal stopped answering"


# -- output the server's screens keep -------------------------------------------------------

# REP of one character, 9999 times, sixty times over: 600,000 cells from 500 bytes
REP = r"printf x; for i in $(seq 60); do printf '\033[9999b'; done"
# every cell a character of its own colour (no two cells alike, nothing to share),
# the main screen, its scrollback (past its byte bound) and the alternate screen
# full, row by row so that the screen parses it all rather than skip a flood
UNIQUE = ("python3 -c 'import os,sys,time\n"
          "c,r=os.get_terminal_size();i=0\n"
          "def fill(n):\n"
          " global i\n"
          " for _ in range(n):\n"
          "  s=[]\n"
          "  for _ in range(c):\n"
          "   s.append(\"\\x1b[38;2;%d;%d;%dm%c\"%(i&255,i>>8&255,i>>16&255,33+i%90));i+=1\n"
          "  sys.stdout.write(\"\".join(s));sys.stdout.flush();time.sleep(0.15)\n"
          "fill(r+100);sys.stdout.write(\"\\x1b[?1049h\");fill(r)'")
OUTPUTS = {"one character, REP": f"{REP}; printf '\\033[?1049h'; {REP}",
           "every cell different": UNIQUE}
# docs/security.md: a shell's screens hold at most about 19 MiB (two buffers of
# 20,000 cells of ~340 bytes when no two are alike, 1 MiB of scrollback, the
# queues); four tabs, with the allocator's slack
SCREENS_LIMIT = 96 * MiB


def open_tab(portal, http, path: str, tab: int, size=(24, 80)) -> RawWebsocket:
    """A connection to ``tab`` that has been painted its screen (``ws.picture``)."""
    ws = connect(portal, http, f"{path}?tab={tab}")
    ws.send_json({"r": list(size)})
    hello = json.loads(ws.frame()[1])
    assert hello.get("tab") == tab, f"tab {tab}: {hello}"
    ws.picture = ws.frame()[1]
    return ws


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_no_output_and_no_size_makes_the_portals_screens_big(terminal, output):
    portal, http, path = terminal
    from web.terminal.shells import MAX_TABS
    tabs = [open_tab(portal, http, path, t) for t in range(MAX_TABS)]
    for ws in tabs:
        if b"candidate@exam" not in ws.picture:
            ws.until(b"candidate@exam")
    rss = psutil.Process(portal.pid).memory_info().rss
    for ws in tabs:  # the browser's resize message, then the output, in every tab
        ws.send_json({"r": [500, 1000]})
        ws.send_json({"i": f"{OUTPUTS[output]}; echo; echo DONE-$((6*7))\r"})
    for ws in tabs:
        ws.until(b"DONE-42", timeout=600)
        ws.close()
    # a reattach paints each screen, so each has parsed all it was given
    for t in range(MAX_TABS):
        assert b"DONE-42" in open_tab(portal, http, path, t, (500, 1000)).picture
    growth = psutil.Process(portal.pid).memory_info().rss - rss
    assert growth < SCREENS_LIMIT, (
        f"{output}: the portal grew by {growth / MiB:.0f} MiB for the screens of "
        f"{MAX_TABS} tabs (at most {SCREENS_LIMIT / MiB:.0f} MiB)")


# -- connections -------------------------------------------------------------------------------

def closed_with(ws: RawWebsocket) -> int | None:
    """Read to the server's close frame; its code (None: the socket just ended)."""
    ws.sock.settimeout(60)
    try:
        while True:
            ws.frame()
    except Closed as closed:
        return closed.code
    except OSError:
        return None


def upgrade(portal, http, path: str) -> RawWebsocket | None:
    """A websocket, or None when the portal refused the upgrade with 429."""
    try:
        return connect(portal, http, path)
    except AssertionError as refused:
        assert " 429 " in str(refused), refused
        return None


def test_connections_to_one_tab_are_bounded_and_the_newest_wins(terminal):
    from web.terminal.connections import PER_USER, REPLACED
    portal, http, path = terminal
    process = psutil.Process(portal.pid)
    browser = open_tab(portal, http, path, 0)
    threads = process.num_threads()
    # a reload: the new connection gets the tab, the old one is told why it closes
    reloaded = open_tab(portal, http, path, 0)
    assert closed_with(browser) == REPLACED
    reloaded.send_json({"i": "echo RELOADED-$((6*7))\r"})
    reloaded.until(b"RELOADED-42")
    # sixty more, as fast as the portal takes them, none closed from this side
    peak, opened = process.num_threads(), []
    for _ in range(60):
        ws = upgrade(portal, http, f"{path}?tab=0")
        if ws is not None:
            ws.send_json({"r": [24, 80]})
            opened.append(ws)
        peak = max(peak, process.num_threads())
    assert opened, "every connection was refused: the tab can no longer be reached"
    assert peak <= threads + 3 * PER_USER + 6, \
        f"{len(opened)} of 60 connections kept: the portal went from {threads} to {peak} threads"
    # the portal lets go of all but the newest (the others are replaced or refused)
    for ws in opened[:-1]:
        assert closed_with(ws) in (REPLACED, None)
    wait_for(f"the portal keeps {process.num_threads()} threads (it had {threads} with one "
             "connection)", lambda: process.num_threads() <= threads + 3)
    newest = open_tab(portal, http, path, 0)
    newest.send_json({"i": "echo NEWEST-$((6*7))\r"})
    newest.until(b"NEWEST-42")


# -- sequences the parser could choke on ----------------------------------------------------------

HOSTILE = (r"d=$(printf '9%.0s' $(seq 4400)); for i in $(seq 300); do "
           r"printf '\033[%sm\033[%sA\033[1;2;3A\033[7J\033[3K\033[?6h\033[5d\033[?6l' $d $d; "
           r"done; echo; echo DONE-$((6*7))")


def test_hostile_sequences_neither_raise_nor_fill_the_log(terminal):
    """An SGR parameter of 4400 digits (Python's int() refuses 4300+), more
    parameters than a sequence takes, erase modes pyte does not know, a line
    address in origin mode without a scroll region, 300 times over: before,
    a traceback per output chunk went to the portal's log (830 in 10 s)."""
    portal, http, path = terminal
    ws = open_tab(portal, http, path, 0)
    ws.send_json({"i": HOSTILE + "\r"})
    ws.until(b"DONE-42")
    assert b"DONE-42" in open_tab(portal, http, path, 0).picture  # all of it parsed
    log = portal.log.read_text()
    assert "Traceback" not in log, f"the portal logged a traceback:\n{log[-3000:]}"
