"""A headless terminal per shell: what a browser is shown when it (re)attaches.

Every task is a page load, so the browser's xterm is new on each task switch
and after each dropped connection. Replaying the shell's raw output to it
replays the *queries* programs sent (vim asks for device attributes, the
cursor position, the colours, …): the new xterm answers them again, nobody
is asking any more, and the answers land on the command line
(``2RR0;276;0c10;rgb:e6e6/…``). So the server keeps the screen itself. The
output is parsed into a ``pyte`` screen (main and alternate buffer, cursor,
colours and attributes, scroll region, the modes programs set, a bounded
scrollback), and an attaching browser gets that state painted by a short
sequence of our own making (``render``), which can hold no query because it
is generated, not replayed.

``pyte`` does the screen arithmetic; the parsing is ours (``vt.py``), since
pyte's parser draws the payload of DCS strings and misreads CSI sequences
with ``>``/``=`` prefixes or intermediates, all of which vim sends.

Parsing is pure Python and slow (0.1–1 MB/s), so it never runs on a shell's
read path: ``feed`` only queues, one background thread parses for all shells
(``vt.FEEDER``), and a screen queues at most ``MAX_PENDING`` bytes: past
that, the oldest queued text is skipped and only its mode switches are kept
(a flood's early lines are scrolled away anyway).

The portal is one process for every candidate, so no output and no size a
browser asks for may make a screen big: a screen has at most ``MAX_ROWS`` ×
``MAX_COLUMNS`` and ``MAX_CELLS`` cells (``bounded``), a cell costs a dict
slot (equal cells are one shared ``Cell``, see ``Cell``), the scrollback
keeps ``HISTORY`` lines and ``HISTORY_BYTES``, a cell holds at most
``MAX_CELL_TEXT`` code points (a character and its combining marks), the
cursor is saved once (DECSC), and only the modes a screen acts on are kept.
docs/security.md works out the worst case.

    >>> st = ScreenState(24, 80)
    >>> st.feed(b"\\x1b[?1049h\\x1b[6n~ vim")     # a query on the alternate screen
    >>> b"6n" in st.render(), b"~ vim" in st.render()
    (False, True)
"""

from __future__ import annotations

import copy
import functools
import logging
import sys
import threading
from collections import defaultdict, deque

import pyte
from pyte import modes as mo

from . import reflow, vt

log = logging.getLogger(__name__)

MAX_ROWS, MAX_COLUMNS = 200, 500   # what a browser may ask for, each way …
MAX_CELLS = 20_000                 # … and in all (see docs/security.md)
MIN_ROWS, MIN_COLUMNS = 2, 10
HISTORY = 1000            # lines of scrollback kept per shell (rendered, ~100 bytes each) …
HISTORY_BYTES = 1 << 20   # … and at most this much of them (a line of colours can be 20 KB)
MAX_LINE = 64 * 1024      # characters of one line in the scrollback; a longer one is split
MAX_CELL_TEXT = 4         # code points in one cell: a character and its combining marks
SHARED_CELLS = 4096       # distinct cells shared by every screen of the portal (``Cell``)
MAX_PENDING = 64 * 1024  # unparsed output queued per screen before the oldest is skipped
ALT_MODES = (1049, 1047, 47)
# private modes a program sets and the browser must keep: cursor keys, cursor,
# autowrap, mouse reporting, focus events, bracketed paste
RESTORED_MODES = (1, 7, 12, 25, 1000, 1002, 1003, 1004, 1005, 1006, 1015, 2004)
# the modes a screen keeps (origin mode too); any other is dropped (DECCOLM would
# resize the screen, DECSCNM is a visual bell's flash, and a set of every number
# a program names would grow)
PRIVATE_MODES = frozenset(RESTORED_MODES + (6,))
PUBLIC_MODES = frozenset((4, 20))  # IRM, LNM
_RESET = dict(fg="default", bg="default", bold=False, italics=False, underscore=False,
              strikethrough=False, reverse=False, blink=False)
_FLAGS = ((1, 22, "bold"), (3, 23, "italics"), (4, 24, "underscore"), (21, 24, "underscore"),
          (5, 25, "blink"), (7, 27, "reverse"), (9, 29, "strikethrough"))
_ON = {on: name for on, _, name in _FLAGS}
_OFF = {off: name for _, off, name in _FLAGS}
_SGR_FLAGS = (("bold", "1"), ("italics", "3"), ("underscore", "4"), ("blink", "5"),
              ("reverse", "7"), ("strikethrough", "9"))


class Cell(pyte.screens.Char):
    """A screen cell whose equals are one object. pyte makes every cell it
    draws or erases with ``_replace`` from the cursor's attributes (a
    ``Cell`` here), so a screen of one character in one colour would hold a
    new 9-tuple per cell (~180 bytes with its dict slot): shared, a cell
    costs its dict slot. The table is one LRU for the portal (``SHARED_CELLS``);
    a cell it has forgotten stays correct, only unshared.

    A cell's text grows with each combining mark drawn after it: past
    ``MAX_CELL_TEXT`` code points further marks are dropped (xterm keeps two)."""

    __slots__ = ()

    def _replace(self, **changes):
        if len(changes.get("data", "")) > MAX_CELL_TEXT:
            return self
        return _shared(super()._replace(**changes))


_shared = functools.lru_cache(maxsize=SHARED_CELLS)(lambda cell: cell)
BLANK = Cell(" ")
DEFAULT_ATTRS = BLANK[1:]


def bounded(rows: int, columns: int) -> tuple[int, int]:
    """The size a screen (and its pty) takes when a browser asks for
    ``rows`` × ``columns``: within ``MAX_ROWS`` × ``MAX_COLUMNS`` and
    ``MAX_CELLS``; a wide screen loses rows first."""
    columns = max(MIN_COLUMNS, min(columns, MAX_COLUMNS))
    return max(MIN_ROWS, min(rows, MAX_ROWS, MAX_CELLS // columns)), columns


class History:
    """The main buffer's scrollback as rendered lines, a line that wrapped
    over several rows being one (the browser wraps it at its own width): at
    most ``lines`` of them and ``size`` bytes of Python strings, the oldest
    dropped first."""

    def __init__(self, lines: int = HISTORY, size: int = HISTORY_BYTES):
        self.max_lines, self.max_size = lines, size
        self._lines: deque[str] = deque()
        self.size = 0

    def append(self, text: str, continued: bool = False) -> None:
        """Add a row's ``text``; ``continued``: it wrapped on from the last row."""
        if continued and self._lines and len(self._lines[-1]) < MAX_LINE:
            last = self._lines.pop()
            self.size -= sys.getsizeof(last)
            text = last + text
        self._lines.append(text)
        self.size += sys.getsizeof(text)
        while len(self._lines) > self.max_lines or self.size > self.max_size:
            self.size -= sys.getsizeof(self._lines.popleft())

    def clear(self) -> None:
        self._lines.clear()
        self.size = 0

    def __iter__(self):
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)


class _Nothing(set):
    """pyte's ``dirty`` set, which nobody here reads: not keeping it saves a
    set update of every row on every scrolled line."""

    def add(self, *_):
        pass

    def update(self, *_):
        pass


class Screen(pyte.Screen):
    """pyte's screen plus what xterm has and pyte lacks: the alternate buffer,
    scrollback of the main buffer, exact SGR colours (kept as their SGR
    parameters, e.g. ``"38;5;208"``), SU/SD, REP, keypad and cursor style;
    and what pyte lacks against hostile output: bounds (module docstring),
    and no exception for a parameter it does not know."""

    def __init__(self, columns: int, lines: int):
        self.history = History()
        self.saved_main = None       # (buffer, cursor) while the alternate buffer shows
        self.keypad = False          # DECKPAM (ESC =)
        self.cursor_style = ""       # DECSCUSR parameter
        self.last_char = ""
        self._drawing = False
        super().__init__(columns, lines)
        self.dirty = _Nothing()

    @property
    def default_char(self):
        return BLANK

    # -- the alternate buffer, and the modes kept ----------------------------------------
    def set_mode(self, *modes, **kwargs):
        if kwargs.get("private"):
            if any(m in ALT_MODES for m in modes) and self.saved_main is None:
                self.saved_main = (self.buffer, copy.copy(self.cursor))
                self.buffer = type(self.buffer)(self.buffer.default_factory)
        super().set_mode(*_kept(modes, kwargs), **kwargs)

    def reset_mode(self, *modes, **kwargs):
        if kwargs.get("private"):
            alt = [m for m in modes if m in ALT_MODES]
            if alt and self.saved_main is not None:
                self.buffer, cursor = self.saved_main
                self.saved_main = None
                if 1049 in alt:  # 1049 restores the cursor it saved; 47 and 1047 do not
                    self.cursor = cursor
                self.ensure_hbounds()
                self.ensure_vbounds()
        super().reset_mode(*_kept(modes, kwargs), **kwargs)

    def reset(self):
        super().reset()
        self.cursor.attrs = BLANK
        if hasattr(self, "history"):
            self.history.clear()
            self.saved_main, self.keypad, self.cursor_style = None, False, ""

    # -- the saved cursor: one, as in xterm (pyte's stack grows with every ESC 7) ----------
    def save_cursor(self):
        self.savepoints.clear()
        super().save_cursor()

    def restore_cursor(self):
        saved = self.savepoints[-1] if self.savepoints else None
        super().restore_cursor()
        if saved is not None:  # DECRC again restores the same place
            self.savepoints.append(saved._replace(cursor=copy.copy(saved.cursor)))

    # -- what pyte fails on: parameters it does not know ---------------------------------
    def erase_in_display(self, how=0, *args, **kwargs):
        if how == 3:
            self.history.clear()
        if how in (0, 1, 2, 3):
            super().erase_in_display(how)
            y = self.cursor.y
            reflow.unwrap(self.buffer, {0: range(y + 1, self.lines), 1: range(y)}
                          .get(how, range(self.lines)))

    def erase_in_line(self, how=0, private=False):
        if how in (0, 1, 2):
            super().erase_in_line(how)
            if how == 2 or (how == 0 and self.cursor.x == 0):
                reflow.unwrap(self.buffer, (self.cursor.y,))

    def cursor_to_line(self, line=None):
        """VPA (pyte asserts that origin mode has a scroll region)."""
        origin = mo.DECOM in self.mode and self.margins is not None
        self.cursor.y = (line or 1) - 1 + (self.margins.top if origin else 0)
        self.ensure_vbounds()

    # -- scrolling ---------------------------------------------------------------
    def index(self):
        top, bottom = self.margins or (0, self.lines - 1)
        if self.cursor.y != bottom:
            self.cursor_down()
            return
        if top == 0 and self.saved_main is None:
            self._push(self.buffer, 0)
        buf = self.buffer
        for y in range(top, bottom):
            if y + 1 in buf:
                buf[y] = buf[y + 1]
            else:
                buf.pop(y, None)
        buf.pop(bottom, None)

    def scroll(self, count: int, up: bool = True):
        """SU (``CSI n S``) and SD (``CSI n T``): scroll the region, cursor stays."""
        top, bottom = self.margins or (0, self.lines - 1)
        saved = (self.cursor.x, self.cursor.y)
        for _ in range(min(max(count, 1), self.lines)):
            self.cursor.y = bottom if up else top
            self.index() if up else self.reverse_index()
        self.cursor.x, self.cursor.y = saved

    def draw(self, data: str):
        self._drawing = True  # a line feed now is a wrap (pyte's draw wraps with one)
        try:
            super().draw(data)
        finally:
            self._drawing = False
        if data:
            self.last_char = data[-1]

    def linefeed(self):
        super().linefeed()
        self.buffer[self.cursor.y].wrapped = self._drawing

    def repeat(self, count: int):
        """REP (``CSI n b``): the last drawn character again."""
        if self.last_char:
            self.draw(self.last_char * min(max(count, 1), self.columns * self.lines))

    def resize(self, lines=None, columns=None):
        """As xterm.js does: at a new width the main buffer's lines are
        wrapped again (``reflow``), the alternate buffer's are cut (its
        program redraws); fewer rows push the rows above the cursor into the
        scrollback rather than cutting off the top."""
        lines, columns = lines or self.lines, columns or self.columns
        if (lines, columns) == (self.lines, self.columns):
            return
        if self.saved_main is None:
            self.buffer = self._refit(self.buffer, self.cursor, lines, columns, main=True)
        else:
            main, cursor = self.saved_main
            self.saved_main = (self._refit(main, cursor, lines, columns, main=True), cursor)
            self.buffer = self._refit(self.buffer, self.cursor, lines, columns, main=False)
        self.lines, self.columns = lines, columns
        self.margins = None
        self.tabstops = set(range(8, columns, 8))
        self.ensure_hbounds()
        self.ensure_vbounds()

    def _refit(self, buffer, cursor, lines: int, columns: int, main: bool):
        """``buffer`` at the new size; the cursor moves with its text."""
        if main and columns != self.columns:
            # a line that began in the scrollback goes there whole: text there
            # cannot be wrapped again with the rest
            top = next(y for y in range(self.lines + 1) if not reflow.is_wrapped(buffer.get(y)))
            if 0 < top <= cursor.y:
                for y in range(top):
                    self._push(buffer, y)
                buffer, cursor.y = _shifted(buffer, top, self.lines), cursor.y - top
            rows, cursor.y, cursor.x = reflow.rewrap(buffer, self.lines, self.columns, columns,
                                                     cursor, BLANK)
            buffer = {}
            for y, (cells, wrapped) in enumerate(rows):
                line = buffer[y] = pyte.screens.StaticDefaultDict(BLANK)
                line.update((x, c) for x, c in enumerate(cells) if c is not BLANK)
                line.wrapped = wrapped
        elif columns < self.columns:
            for line in buffer.values():
                for x in [x for x in line if x >= columns]:
                    del line[x]
        shift = max(0, cursor.y - (lines - 1))
        for y in range(shift if main else 0):
            self._push(buffer, y, columns)
        cursor.y -= shift
        return _shifted(buffer, shift, lines)

    def _push(self, buffer, y: int, columns: int | None = None) -> None:
        """Row ``y`` of the main ``buffer`` scrolls into the history."""
        self.history.append(_row_text(buffer, y, columns or self.columns),
                            continued=reflow.is_wrapped(buffer.get(y)))

    # -- colours, kept exact ----------------------------------------------------------
    def select_graphic_rendition(self, *attrs):
        params, rep, i = list(attrs) or [0], {}, 0
        while i < len(params):
            p = params[i]
            if p == 0:
                rep.update(_RESET)
            elif p in _ON:
                rep[_ON[p]] = True
            elif p in _OFF:
                rep[_OFF[p]] = False
            elif 30 <= p <= 37 or 90 <= p <= 97:
                rep["fg"] = str(p)
            elif 40 <= p <= 47 or 100 <= p <= 107:
                rep["bg"] = str(p)
            elif p in (39, 49):
                rep["fg" if p == 39 else "bg"] = "default"
            elif p in (38, 48):
                key = "fg" if p == 38 else "bg"
                kind = params[i + 1] if i + 1 < len(params) else None
                if kind == 5 and i + 2 < len(params):
                    rep[key] = f"{p};5;{min(params[i + 2], 255)}"
                    i += 2
                elif kind == 2 and i + 4 < len(params):
                    rep[key] = f"{p};2;" + ";".join(str(min(v, 255)) for v in params[i + 2:i + 5])
                    i += 4
                else:
                    break
            i += 1
        self.cursor.attrs = self.cursor.attrs._replace(**rep)


def _kept(modes, kwargs) -> tuple:
    """Of the modes a program sets or resets, those a screen keeps."""
    kept = PRIVATE_MODES if kwargs.get("private") else PUBLIC_MODES
    return tuple(m for m in modes if m in kept)


def _shifted(buffer, shift: int, lines: int):
    """``buffer`` with its first ``shift`` rows gone and at most ``lines`` left."""
    new = defaultdict(lambda: pyte.screens.StaticDefaultDict(BLANK))
    for y, line in buffer.items():
        if shift <= y < shift + lines:
            new[y - shift] = line
    return new


def sgr(char) -> str:
    """The SGR sequence that sets ``char``'s attributes from scratch."""
    parts = ["0"] + [code for name, code in _SGR_FLAGS if getattr(char, name)]
    if char.fg != "default":
        parts.append(char.fg)
    if char.bg != "default":
        parts.append(char.bg)
    return "\x1b[" + ";".join(parts) + "m"


def _blank(char) -> bool:
    """Nothing shows in this cell (a foreground colour or bold on a space do not)."""
    return char.data == " " and char.bg == "default" \
        and not (char.reverse or char.underscore or char.strikethrough)


def line_text(line, columns: int, full: bool = False) -> str:
    """One row as text with SGR sequences, trailing blanks dropped (``full``:
    kept, for a row the next one wraps on from)."""
    last = columns - 1 if full else \
        max((x for x, c in line.items() if x < columns and not _blank(c)), default=-1)
    out, pen = [], DEFAULT_ATTRS
    for x in range(last + 1):
        c = line[x]
        if c.data == "":  # the second cell of a wide character
            continue
        if c[1:] != pen:
            out.append(sgr(c))
            pen = c[1:]
        out.append(c.data)
    if pen != DEFAULT_ATTRS:
        out.append("\x1b[0m")
    return "".join(out)


def _row_text(buffer, y: int, columns: int) -> str:
    """Row ``y`` of ``buffer`` as text, whole if the next row wraps on from it."""
    return line_text(buffer.get(y, _EMPTY), columns,
                     full=reflow.is_wrapped(buffer.get(y + 1)))


_EMPTY = pyte.screens.StaticDefaultDict(BLANK)


class ScreenState:
    """The screen of one shell: ``feed`` it output, ``resize`` it along with
    the pty, ``render`` it for a browser that attaches."""

    def __init__(self, lines: int = 24, columns: int = 80):
        self.screen = Screen(columns, lines)
        self.parser = vt.Parser(self.screen)
        self._lock = threading.Lock()      # the screen and the parser
        self._qlock = threading.Lock()     # the queue
        self._pending: deque = deque()     # bytes, or ("resize", lines, columns)
        self._size = 0
        self._failed = False               # a traceback is logged once per screen

    def feed(self, data: bytes) -> None:
        """Queue output for parsing (cheap; the parsing runs on ``vt.FEEDER``)."""
        self.queue(data)
        vt.FEEDER.schedule(self)

    def queue(self, data: bytes) -> int:
        """Queue output without asking for it to be parsed; returns the bytes
        queued now, at most ``MAX_PENDING``."""
        with self._qlock:
            self._pending.append(data)
            self._size += len(data)
            if self._size > MAX_PENDING:
                self._size = vt.squeeze(self._pending, MAX_PENDING // 2, PRIVATE_MODES)
            return self._size

    def resize(self, lines: int, columns: int) -> None:
        """Resize (in order with the output queued before), within ``bounded``."""
        with self._qlock:
            self._pending.append(("resize", *bounded(lines, columns)))
        vt.FEEDER.schedule(self)

    def catch_up(self) -> None:
        """Parse whatever is queued."""
        with self._lock:
            while True:
                with self._qlock:
                    if not self._pending:
                        return
                    item = self._pending.popleft()
                    if isinstance(item, bytes):
                        self._size -= len(item)
                if isinstance(item, bytes):
                    try:
                        self.parser.feed(item)
                    except Exception:  # noqa: BLE001 - a screen bug must not lose the shell
                        if not self._failed:  # a program that repeats it must not fill the log
                            log.exception("terminal output the screen could not take "
                                          "(logged once per shell)")
                        self._failed = True
                        self.parser.resync()
                elif item[0] == "resize":
                    self.screen.resize(item[1], item[2])
                else:  # "resync": output was skipped, a sequence cut in two is garbage
                    self.parser.resync()

    def text(self) -> list[str]:
        """The visible rows as plain text (for tests and logs)."""
        self.catch_up()
        with self._lock:
            return [row.rstrip() for row in self.screen.display]

    def render(self) -> bytes:
        """A sequence that paints this screen on a fresh or reset xterm of the
        same size: scrollback, the main screen, the alternate one on top if a
        full-screen program runs, then the scroll region, modes, cursor and
        pen. It holds no query and nothing a terminal answers."""
        self.catch_up()
        with self._lock:
            return _render(self.screen).encode("utf-8", "replace")


def _render(s: Screen) -> str:
    main, main_cursor = s.saved_main or (s.buffer, s.cursor)
    out = ["\x1bc\x1b[0m"]  # RIS: a reattaching xterm starts from nothing too
    out.append("\r\n".join(s.history))
    for y in range(s.lines):
        if y or s.history:  # a row that wraps on from the one above follows it unbroken
            out.append("" if reflow.is_wrapped(main.get(y)) else "\r\n")
        out.append(_row_text(main, y, s.columns))
    if s.saved_main is not None:
        out.append(_cursor(s, main, main_cursor, origin=False))
        out.append("\x1b[0m\x1b[?1049h")
        for y in range(s.lines):
            text = line_text(s.buffer[y], s.columns)
            if text:
                out.append(f"\x1b[{y + 1};1H{text}")
    if s.margins and tuple(s.margins) != (0, s.lines - 1):
        out.append(f"\x1b[{s.margins.top + 1};{s.margins.bottom + 1}r")
    for m in RESTORED_MODES:
        on = (m << 5) in s.mode
        if on != (m in (7, 25)):  # autowrap and the cursor are on by default
            out.append(f"\x1b[?{m}{'h' if on else 'l'}")
    for m in (mo.IRM, mo.LNM):
        if m in s.mode:
            out.append(f"\x1b[{m}h")
    if s.keypad:
        out.append("\x1b=")
    if s.cursor_style:
        out.append(f"\x1b[{s.cursor_style} q")
    if mo.DECOM in s.mode:
        out.append("\x1b[?6h")
    out.append(_cursor(s, s.buffer, s.cursor, origin=mo.DECOM in s.mode and bool(s.margins)))
    out.append(sgr(s.cursor.attrs))
    return "".join(out)


def _cursor(s: Screen, buffer, cursor, origin: bool) -> str:
    """Put the cursor where it is; at the right margin with a wrap pending,
    redraw the last cell so the next character wraps as it would have."""
    y = cursor.y - (s.margins.top if origin else 0)
    if cursor.x >= s.columns:
        c = buffer[cursor.y][s.columns - 1]
        return f"\x1b[{y + 1};{s.columns}H{sgr(c)}{c.data or ' '}"
    return f"\x1b[{y + 1};{cursor.x + 1}H"
