"""Terminal output parsed into a ``screen.Screen``, off the shells' read paths.

The parser knows the whole ECMA-48 grammar (CSI with private prefixes and
intermediates, OSC, DCS/PM/APC/SOS strings) so that nothing a program sends is
misread as text; of it, it applies what changes the screen and drops the
rest: queries (DA, DSR, DECRQM, XTVERSION, XTGETTCAP, OSC colour queries),
titles, hyperlinks, keyboard-protocol switches. A sequence cut in two by the
pty is kept until its end arrives (at most ``MAX_SEQUENCE`` characters).

``FEEDER`` is the one thread that parses for every shell of the portal; it
rests as long as it worked after each screen, so parsing takes at most about
half of one core whatever the candidates print.
"""

from __future__ import annotations

import codecs
import logging
import re
import threading
import time
from collections import deque

log = logging.getLogger(__name__)
MAX_SEQUENCE = 4096

# one complete sequence at the given position: CSI (parameters, intermediates,
# final) | OSC … BEL or ST | DCS, PM, APC, SOS … ST | ESC (intermediates, a final that
# does not open one of the others)
_SEQ = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])"
                  r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                  r"|\x1b[P^_X][^\x1b]*\x1b\\"
                  r"|\x1b([ -/]*)([0-OQ-WYZ\\`-~])", re.S)
# the start of a sequence whose end has not arrived yet
_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[P^_X][^\x1b]*\x1b?|[ -/]*)\Z",
                      re.S)
_CHUNK = re.compile(r"[^\x00-\x1f\x7f-\x9f]+|[\x00-\x1f\x7f-\x9f]")
_PARAMS = re.compile(r"[0-9;:]*")
_CSI = {"@": "insert_characters", "A": "cursor_up", "B": "cursor_down", "C": "cursor_forward",
        "D": "cursor_back", "E": "cursor_down1", "F": "cursor_up1", "G": "cursor_to_column",
        "`": "cursor_to_column", "H": "cursor_position", "f": "cursor_position",
        "J": "erase_in_display", "K": "erase_in_line", "L": "insert_lines", "M": "delete_lines",
        "P": "delete_characters", "X": "erase_characters", "a": "cursor_forward",
        "d": "cursor_to_line", "e": "cursor_down", "g": "clear_tab_stop", "h": "set_mode",
        "l": "reset_mode", "r": "set_margins", "b": "repeat"}
_CONTROLS = {"\r": "carriage_return", "\n": "linefeed", "\x0b": "linefeed", "\x0c": "linefeed",
             "\x08": "backspace", "\t": "tab"}
_ESC = {"7": "save_cursor", "8": "restore_cursor", "D": "index", "M": "reverse_index",
        "H": "set_tab_stop", "c": "reset"}


class Parser:
    """Feed it bytes; it calls the screen's methods."""

    def __init__(self, screen):
        self.screen = screen
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.carry = ""
        self._controls = {c: getattr(screen, name) for c, name in _CONTROLS.items()}

    def resync(self) -> None:
        """Output was skipped: what was half-parsed is not continued by what follows."""
        self.carry = ""
        self.decoder.reset()

    def feed(self, data: bytes) -> None:
        text = self.carry + self.decoder.decode(data)
        self.carry = ""
        pos, n = 0, len(text)
        while pos < n:
            i = text.find("\x1b", pos)
            end = n if i < 0 else i
            if end > pos:
                self._text(text, pos, end)
            if i < 0:
                break
            m = _SEQ.match(text, i)
            if m:
                self._sequence(m)
                pos = m.end()
            elif _PARTIAL.match(text, i) and n - i < MAX_SEQUENCE:
                self.carry = text[i:]
                break
            else:
                pos = i + 1  # malformed, or a string that never ends: drop its ESC

    def _text(self, text: str, start: int, end: int) -> None:
        draw, controls = self.screen.draw, self._controls
        for m in _CHUNK.finditer(text, start, end):
            t = m.group()
            if len(t) > 1 or not ("\x00" <= t <= "\x1f" or "\x7f" <= t <= "\x9f"):
                draw(t)
            elif t in controls:
                controls[t]()

    def _sequence(self, m: re.Match) -> None:
        if m.group(3) is not None:
            self._csi(m.group(1), m.group(2), m.group(3))
        elif m.group(5) is not None:
            self._esc(m.group(4), m.group(5))
        # OSC and the strings change nothing on the screen

    def _csi(self, params: str, inter: str, final: str) -> None:
        s = self.screen
        if inter:
            if inter == " " and final == "q" and params.isdigit():
                s.cursor_style = params  # DECSCUSR: the cursor's shape
            return  # DECRQM, DECSTR, …
        if params[:1] in ("<", "=", ">"):
            return  # secondary DA, XTVERSION, modifyOtherKeys, keyboard protocols
        private = params[:1] == "?"
        if private:
            params = params[1:]
        if not _PARAMS.fullmatch(params):
            return
        if final == "m":
            if not private:
                s.select_graphic_rendition(*sgr_params(params))
            return
        args = [min(int(p.split(":")[0] or 0), 9999) for p in params.split(";")] or [0]
        if private:
            if final == "h":
                s.set_mode(*args, private=True)
            elif final == "l":
                s.reset_mode(*args, private=True)
            return  # selective erase, XTSAVE/XTRESTORE, DSR, …
        if final in "ST":
            s.scroll(args[0], up=final == "S")
        elif final in "su":
            if not params:  # SCOSC / SCORC (with parameters: left-right margins)
                s.save_cursor() if final == "s" else s.restore_cursor()
        elif final in _CSI:
            getattr(s, _CSI[final])(*args)

    def _esc(self, inter: str, final: str) -> None:
        s = self.screen
        if inter:
            if inter == "#" and final == "8":
                s.alignment_display()
            return  # charset designations: the stream is UTF-8
        if final in _ESC:
            getattr(s, _ESC[final])()
        elif final == "E":  # NEL
            s.carriage_return()
            s.index()
        elif final in "=>":
            s.keypad = final == "="


def sgr_params(params: str) -> list[int]:
    """SGR parameters as integers; colon forms (``38:2::r:g:b``, ``4:3``) made plain."""
    out: list[int] = []
    for part in params.split(";"):
        if ":" not in part:
            out.append(int(part) if part else 0)
            continue
        sub = [int(x) if x else 0 for x in part.split(":")]
        if sub[0] in (38, 48) and len(sub) > 2 and sub[1] == 5:
            out += [sub[0], 5, sub[2]]
        elif sub[0] in (38, 48) and len(sub) >= 5 and sub[1] == 2:
            out += [sub[0], 2] + sub[-3:]
        elif sub[0] == 4:
            out.append(24 if sub[1:2] == [0] else 4)
        else:
            out.append(sub[0])
    return out


# -- a bounded queue -----------------------------------------------------------------

_STATE = re.compile(rb"\x1bc|\x1b\[\?[0-9;]*[hl]|\x1b[=>]|\x1b\[[0-9;]*r|\x1b\[[0-9;:]*m")


def skipped(data: bytes) -> bytes:
    """What survives of output nobody will parse: the last setting of each mode,
    of the keypad, the scroll region and the colours (everything after a RIS)."""
    last: dict[bytes, bytes] = {}
    reset = b""
    for m in _STATE.finditer(data):
        seq = m.group()
        if seq == b"\x1bc":
            last, reset = {}, seq
        elif seq.startswith(b"\x1b[?"):
            for mode in seq[3:-1].split(b";"):
                last[b"?" + mode] = b"\x1b[?" + mode + seq[-1:]
        else:
            key = seq[-1:] if seq[-1:] in b"rm" else b"keypad"
            last[key] = seq
    return reset + b"".join(last.values())


def squeeze(pending: deque, keep: int) -> int:
    """Cut the queued output of one screen to its newest ``keep`` bytes (plus
    the state of what is skipped); returns the bytes queued now."""
    items = list(pending)
    pending.clear()
    skip = sum(len(x) for x in items if isinstance(x, bytes)) - keep
    first = True
    for it in items:
        if not isinstance(it, bytes) or skip <= 0:
            pending.append(it)
            continue
        if first:
            pending.append(("resync",))
            first = False
        cut = min(skip, len(it))
        skip -= cut
        pending.append(skipped(it[:cut]))
        rest = it[cut:]
        if rest:  # start again at a line: not inside a sequence or a character
            nl = rest.find(b"\n", 0, MAX_SEQUENCE)
            pending.append(rest[nl + 1:] if nl >= 0 else rest)
    return sum(len(x) for x in pending if isinstance(x, bytes))


class Feeder:
    """One daemon thread that brings every scheduled screen up to date."""

    def __init__(self):
        self._cond = threading.Condition()
        self._ready: deque = deque()
        self._queued: set[int] = set()
        self._thread: threading.Thread | None = None

    def schedule(self, state) -> None:
        with self._cond:
            if id(state) in self._queued:
                return
            self._queued.add(id(state))
            self._ready.append(state)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="terminal-screens")
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._ready:
                    self._cond.wait()
                state = self._ready.popleft()
                self._queued.discard(id(state))
            started = time.monotonic()
            try:
                state.catch_up()
            except Exception:  # noqa: BLE001 - one screen's bug must not stop the others
                log.exception("parsing a terminal's output")
            spent = time.monotonic() - started
            if spent > 0.01:
                time.sleep(spent)  # leave the portal's other threads at least half


FEEDER = Feeder()
