"""The server's own terminal state (web/terminal/screen.py, vt.py): what an
attaching browser is painted holds no query and shows what was on the screen.

The vim output here is real: vim runs on a pty of the host (no jail, no
cluster), with nobody answering its queries, as on a server."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import struct
import fcntl
import termios
import time

import pytest

from web.terminal.reflow import is_wrapped
from web.terminal.screen import MAX_PENDING, ScreenState

# what a terminal answers: DA1/DA2/DA3, DSR/CPR, DECRQM, XTVERSION, window reports,
# OSC (colour queries), DCS (XTGETTCAP), APC
QUERIES = re.compile(rb"\x1b\[[0-9;]*[cn]|\x1b\[[>=<]|\x1b\[\?[0-9;]*\$p|\x1b\[[0-9;]*t"
                     rb"|\x1b\]|\x1bP|\x1b_")


def painted(data: bytes, rows: int = 24, cols: int = 80, chunk: int = 0) -> ScreenState:
    st = ScreenState(rows, cols)
    if chunk:
        for i in range(0, len(data), chunk):
            st.feed(data[i:i + chunk])
    else:
        st.feed(data)
    return st


def replay(picture: bytes, rows: int = 24, cols: int = 80) -> list[str]:
    """What a fresh terminal shows after being sent ``picture``."""
    return painted(picture, rows, cols).text()


def run_vim(tmp_path, keys: list[bytes]) -> bytes:
    """Real vim on a 24x80 pty: its whole output, queries included."""
    if not shutil.which("vim"):
        pytest.skip("vim is not installed")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ.update(TERM="xterm-256color", HOME=str(tmp_path), PS1="$ ")
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""

    def until(marker: bytes, since: int = 0, timeout: float = 20) -> None:
        nonlocal out
        deadline = time.monotonic() + timeout
        while marker not in out[since:]:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} never came; got {out[-500:]!r}"
            if select.select([fd], [], [], left)[0]:
                out += os.read(fd, 65536)

    try:
        os.write(fd, b"PS1='$ '\r")
        until(b"$ ")
        for k, marker in keys:  # each marker: in what the keys made the terminal print
            since = len(out)
            os.write(fd, k)
            until(marker, since)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)
    return out


def test_after_vim_the_picture_holds_no_query_and_shows_the_prompt(tmp_path):
    f = tmp_path / "notes.txt"
    out = run_vim(tmp_path, [(f"vim {f}\r".encode(), b"[New]"),
                             (b"ihello from vim\x1b", b"hello from vim"),
                             (b":wq\r", b"$ "),
                             (b"echo DONE-$((40+2))\r", b"DONE-42")])
    assert QUERIES.search(out), "vim sent no query: this test would prove nothing"
    for chunk in (0, 1, 7):  # whole, byte by byte, and cut anywhere
        st = painted(out, chunk=chunk)
        picture = st.render()
        assert not QUERIES.search(picture), f"a query in the picture: {picture!r}"
        rows = [r for r in replay(picture) if r]
        assert "DONE-42" in rows and rows[-1] in ("DONE-42", "$"), rows
        assert not any("hello from vim" in r for r in rows), "vim's screen leaked onto the shell's"
        assert st.screen.saved_main is None


def test_inside_vim_the_picture_is_vims_screen_on_the_alternate_buffer(tmp_path):
    out = run_vim(tmp_path, [(f"vim {tmp_path / 'x.yaml'}\r".encode(), b"[New]"),
                             (b"iapiVersion: v1\rkind: Pod\x1b", b"Pod")])
    st = painted(out)
    picture = st.render()
    assert not QUERIES.search(picture)
    assert b"\x1b[?1049h" in picture, "vim runs on the alternate screen; so must its picture"
    assert b"\x1b[?1h" in picture, "vim's cursor keys mode is restored"
    rows = replay(picture)
    assert rows[:2] == ["apiVersion: v1", "kind: Pod"] and rows[2].startswith("~"), rows
    # leaving vim in the restored terminal shows the shell's screen again
    after = painted(picture + b"\x1b[?1049l")
    assert "$ vim" in "\n".join(after.text())


def test_colours_wide_characters_and_a_pending_wrap_come_back_exactly():
    data = ("\x1b[1;31mred\x1b[0m \x1b[38;5;208morange\x1b[0m \x1b[48;2;1;2;3mrgb\x1b[0m"
            " 漢字\r\n" + "x" * 80).encode()
    st = painted(data)
    picture = st.render()
    assert b"\x1b[0;1;31mred" in picture and b"38;5;208" in picture and b"48;2;1;2;3" in picture
    again = painted(picture)
    assert again.text()[:2] == st.text()[:2] == ["red orange rgb 漢字", "x" * 80]
    assert (again.screen.cursor.x, again.screen.cursor.y) == (80, 1), "the wrap is still pending"
    again.feed(b"y")
    assert again.text()[2] == "y"


def test_scrollback_clear_and_shrinking_keep_what_a_terminal_keeps():
    st = painted(b"".join(b"line %d\r\n" % i for i in range(40)) + b"$ ", rows=10)
    assert st.text()[-1] == "$" and len(st.screen.history) == 31
    picture = st.render()
    assert picture.count(b"\r\n") == 40 and b"line 0\r\n" in picture
    st.resize(5, 80)
    assert st.text() == ["line 36", "line 37", "line 38", "line 39", "$"]
    st.feed(b"\x1b[H\x1b[2J\x1b[3J")  # `clear`
    assert b"line" not in st.render() and not st.screen.history


def test_a_narrower_terminal_wraps_lines_again_and_a_wider_one_unwraps_them():
    """Changing the font size changes the width (issue 17: earlier lines were
    cut for good): as xterm.js does in the browser, the screen wraps its
    lines again at each width, and a browser attaching at any width is
    painted the same lines, whole."""
    long = [f"line {i} " + "x" * (120 if i % 2 else 30) for i in range(12)]
    st = painted(("\r\n".join(long) + "\r\n$ ").encode(), rows=10)
    for cols in (40, 25, 100, 80):
        st.resize(10, cols)
        rows = st.text()
        assert painted(st.render(), 10, cols).text() == rows, f"the picture at {cols} columns"
        assert [r for r in rows if r][-1] == "$", rows
    lines = list(st.screen.history)  # a line wrapped over rows is one there
    for y, row in enumerate(st.text()):
        if is_wrapped(st.screen.buffer.get(y)):
            lines[-1] += row
        else:
            lines.append(row)
    assert [line for line in lines if line] == long + ["$"], "a line was cut or broken"


def test_a_flood_is_bounded_and_keeps_the_modes_of_what_it_skips():
    st = ScreenState(24, 80)
    st.feed(b"\x1b[?1049h\x1b[?2004h")
    for _ in range(64):  # 4 MB of output while nothing parses (the feeder is slow)
        assert st.queue(b"y\r\n" * 21845) <= MAX_PENDING
    st.feed(b"\x1b[?1049lEND")
    rows = st.text()
    assert rows[-1] == "END" or "END" in rows, rows
    assert (2004 << 5) in st.screen.mode and st.screen.saved_main is None


def test_the_state_of_skipped_output_does_not_pile_up():
    """What a squeeze keeps of skipped output is one merged state, whatever
    the output: a flood of mode switches, each to a different number, and of
    long SGR sequences stays within MAX_PENDING."""
    st = ScreenState(24, 80)
    for i in range(200):  # 12 MB while nothing parses
        modes = ";".join(str(i * 10_000 + k) for k in range(6000))
        chunk = f"\x1b[?2004;{modes}h\x1b[{';'.join(['1'] * 3000)}m".encode()
        assert st.queue(chunk) <= MAX_PENDING
    st.catch_up()
    assert (2004 << 5) in st.screen.mode
    assert len(st.screen.mode) < 10, "the screen keeps modes it does not act on"


def test_the_parser_drops_what_pyte_would_draw_as_text():
    junk = (b"\x1bP+q436f\x1b\\\x1b]11;?\x07\x1b[>4;2m\x1b[>c\x1b[?u\x1b[2 q\x1b[!p"
            b"\x1b[?2004$p\x1b_apc\x1b\\\x1b[22;0;0tok")
    st = painted(junk, chunk=3)
    assert st.text()[0] == "ok"
    assert st.screen.cursor_style == "2" and not st.screen.cursor.attrs.underscore


HOSTILE_PARAMS = ("", "0", "1", "2", "3", "4", "7", "65536", "9" * 4400, "0" * 4400 + "5",
                  "1;2;3;4;5;6", ";" * 100, "1:2:3", "38:2::1:2:3", "38;5", "38;2;1", "6;0")


def test_no_sequence_makes_the_parser_raise():
    """Every CSI final with hostile parameters (4400 digits, too many, too few,
    values pyte does not know), after origin mode and on both buffers: the
    screen takes each without an exception (each one was a traceback in the
    portal's log per output chunk)."""
    screen = ScreenState(24, 80)
    parser = screen.parser  # fed directly: ScreenState.catch_up would hide an exception
    for setup in (b"", b"\x1b[?6h", b"\x1b[5;10r\x1b[?6h", b"\x1b[?1049h"):
        for prefix in ("", "?", ">"):
            for inter in ("", " ", "$"):
                for params in HOSTILE_PARAMS:
                    for final in map(chr, range(0x40, 0x7F)):
                        seq = f"\x1b[{prefix}{params}{inter}{final}x".encode()
                        try:
                            parser.feed(setup + seq)
                        except Exception as exc:
                            raise AssertionError(f"{setup + seq[:60]!r} raised {exc!r}") from exc
        for final in map(chr, range(0x30, 0x7F)):
            parser.feed(setup + f"\x1b{final}\x1b#{final}e\u0301".encode())
        parser.feed(b"\x1bc")


def test_hostile_output_keeps_the_screen_small():
    """No output grows one screen past its bounds: DECSC a hundred thousand
    times, a cell with endless combining marks, modes by the thousand."""
    st = ScreenState(24, 80)
    hostile = (b"\x1b7" * 100_000 + b"e" + "\u0301".encode() * 100_000
               + ("\x1b[?" + ";".join(map(str, range(40_000, 40_030))) + "h").encode() * 1000)
    for i in range(0, len(hostile), 16384):  # parsed as it comes, nothing skipped
        st.queue(hostile[i:i + 16384])
        st.catch_up()
    s = st.screen
    assert len(s.savepoints) <= 1, "every ESC 7 kept a saved cursor"
    assert len(s.buffer[0][0].data) <= 4, "a cell kept every combining mark"
    assert len(s.mode) < 10, "the screen kept modes it does not act on"
