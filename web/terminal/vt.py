"""Terminal output parsed into a ``screen.Screen``, off the shells' read paths.

The parser knows the whole ECMA-48 grammar (CSI with private prefixes and
intermediates, OSC, DCS/PM/APC/SOS strings) so that nothing a program sends is
misread as text; of it, it applies what changes the screen and drops the
rest: queries (DA, DSR, DECRQM, XTVERSION, XTGETTCAP, OSC colour queries),
titles, hyperlinks, keyboard-protocol switches. A sequence cut in two by the
pty is kept until its end arrives (at most ``MAX_SEQUENCE`` characters).
Numeric parameters are clamped as xterm clamps them (``MAX_PARAM``, at most
``MAX_PARAMS`` of them), and each screen method gets at most the parameters
it takes: hostile output (an SGR parameter of 4300 digits, ``CSI 1;2;3A``)
changes the screen as xterm would, never raises.

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
MAX_PARAM = 65535  # a larger number counts as this (Python's int() refuses 4300+ digits)
MAX_PARAMS = 32    # parameters of one sequence; the rest are ignored (xterm keeps 30)

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
# final -> (screen method, how many parameters it takes)
_CSI = {"@": ("insert_characters", 1), "A": ("cursor_up", 1), "B": ("cursor_down", 1),
        "C": ("cursor_forward", 1), "D": ("cursor_back", 1), "E": ("cursor_down1", 1),
        "F": ("cursor_up1", 1), "G": ("cursor_to_column", 1), "`": ("cursor_to_column", 1),
        "H": ("cursor_position", 2), "f": ("cursor_position", 2),
        "J": ("erase_in_display", 1), "K": ("erase_in_line", 1), "L": ("insert_lines", 1),
        "M": ("delete_lines", 1), "P": ("delete_characters", 1), "X": ("erase_characters", 1),
        "a": ("cursor_forward", 1), "d": ("cursor_to_line", 1), "e": ("cursor_down", 1),
        "g": ("clear_tab_stop", 1), "h": ("set_mode", MAX_PARAMS),
        "l": ("reset_mode", MAX_PARAMS), "r": ("set_margins", 2), "b": ("repeat", 1)}
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
            if inter == " " and final == "q" and params.isdigit() and number(params) <= 6:
                s.cursor_style = str(number(params))  # DECSCUSR: the cursor's shape
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
        args = [number(p.split(":", 1)[0]) for p in params.split(";", MAX_PARAMS)[:MAX_PARAMS]]
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
            name, takes = _CSI[final]
            getattr(s, name)(*args[:takes])

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


def number(digits: str) -> int:
    """A parameter's value, at most ``MAX_PARAM`` (empty: 0)."""
    digits = digits.lstrip("0")
    return MAX_PARAM if len(digits) > 5 else min(int(digits or 0), MAX_PARAM)


def sgr_params(params: str) -> list[int]:
    """SGR parameters as integers; colon forms (``38:2::r:g:b``, ``4:3``) made plain."""
    out: list[int] = []
    for part in params.split(";", MAX_PARAMS)[:MAX_PARAMS]:
        if ":" not in part:
            out.append(number(part))
            continue
        sub = [number(x) for x in part.split(":", MAX_PARAMS)[:MAX_PARAMS]]
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
MAX_STATE_SEQUENCE = 128  # a longer SGR or scroll region is junk, not state worth keeping


def skipped(data: bytes, modes) -> bytes:
    """What survives of output nobody will parse: the last setting of each of
    ``modes`` (private modes the screen keeps), of the keypad, the scroll
    region and the colours (everything after a RIS). Its size is bounded
    whatever ``data`` holds."""
    last: dict[object, bytes] = {}
    reset = b""
    for m in _STATE.finditer(data):
        seq = m.group()
        if seq == b"\x1bc":
            last, reset = {}, seq
        elif seq.startswith(b"\x1b[?"):
            for mode in seq[3:-1].split(b";", MAX_PARAMS)[:MAX_PARAMS]:
                value = number(mode.decode())
                if value in modes:
                    last[value] = b"\x1b[?%d%s" % (value, seq[-1:])
        elif len(seq) <= MAX_STATE_SEQUENCE:
            last[seq[-1:] if seq[-1:] in b"rm" else b"keypad"] = seq
    return reset + b"".join(last.values())


def squeeze(pending: deque, keep: int, modes) -> int:
    """Cut the queued output of one screen to its newest ``keep`` bytes; what
    is cut becomes its state (``skipped``), one piece between two resizes,
    so that states of earlier cuts merge instead of piling up. Returns the
    bytes queued now."""
    items = list(pending)
    pending.clear()
    skip = sum(len(x) for x in items if isinstance(x, bytes)) - keep
    pending.append(("resync",))  # a sequence cut in two is garbage
    cut: list[bytes] = []

    def state() -> None:
        if cut:
            pending.append(skipped(b"".join(cut), modes))
            cut.clear()

    for it in items:
        if skip > 0 and isinstance(it, bytes):
            n = min(skip, len(it))
            skip -= n
            cut.append(it[:n])
            rest = it[n:]
            if rest:  # start again at a line: not inside a sequence or a character
                state()
                nl = rest.find(b"\n", 0, MAX_SEQUENCE)
                pending.append(rest[nl + 1:] if nl >= 0 else rest)
        elif skip > 0 and it[0] == "resync":
            continue  # the one in front stands for it
        else:
            state()
            pending.append(it)
    state()
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
