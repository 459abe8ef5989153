"""Lines that wrapped, and rewrapping them at another width, as xterm.js does.

A row that a long line wrapped onto carries ``wrapped = True`` (pyte's rows
are dicts, which take an attribute); ``screen.Screen`` sets it where xterm.js
sets ``isWrapped``: on the row a character wraps onto, and clears it where a
line feed or an erase of the whole row starts a row afresh.

When the width changes, xterm.js in the browser joins wrapped rows back into
their lines and wraps them again at the new width (``reflow``); the server's
screen must do the same, or what a browser is painted when it reattaches
differs from what it showed, and a narrower terminal cuts the lines' ends for
good (issue 17: changing the font size did that).
"""

from __future__ import annotations


def is_wrapped(line) -> bool:
    """Whether ``line`` (a row, or None for a row never written) continues the row above."""
    return getattr(line, "wrapped", False)


def unwrap(buffer, rows) -> None:
    """The rows ``rows`` of ``buffer`` start afresh (those never written already do)."""
    for y in rows:
        line = buffer.get(y)
        if line is not None:
            line.wrapped = False


def rewrap(buffer, lines: int, columns: int, new_columns: int, cursor, blank):
    """The rows ``0 .. lines-1`` of ``buffer`` (``columns`` wide) as rows
    ``new_columns`` wide: ``(rows, y, x)``, each row ``(cells, wrapped)``,
    with the cursor's new place. Every line up to the last one with content or the
    cursor is kept whole; the first row is not joined to the scrollback above.
    A wide character (pyte puts an empty stub cell after it) that would
    straddle the edge moves to the next row."""
    logical: list[list] = []
    at = None  # the cursor as (logical line, offset)
    for y in range(lines):
        row = buffer.get(y)
        cells = [row[x] for x in range(columns)] if row is not None else []
        if y and is_wrapped(row) and logical:
            offset = len(logical[-1])
            logical[-1].extend(cells)
        else:
            offset = 0
            logical.append(cells)
        if y == cursor.y:
            at = (len(logical) - 1, offset + min(cursor.x, columns))
    for i, cells in enumerate(logical):
        keep = at[1] if i == at[0] else 0
        while len(cells) > keep and _blank(cells[-1], blank):
            cells.pop()
        cells.extend([blank] * (keep - len(cells)))
    last = max([i for i, cells in enumerate(logical) if cells] + [at[0]])
    rows: list[tuple[list, bool]] = []
    y = x = 0
    for i, cells in enumerate(logical[:last + 1]):
        row: list = []
        rows.append((row, False))
        for n, cell in enumerate(cells + [None]):
            if i == at[0] and n == at[1]:
                y, x = len(rows) - 1, len(row)
            if cell is None:
                break
            wide = n + 1 < len(cells) and cells[n + 1].data == ""  # pyte's stub follows
            if len(row) == new_columns or (wide and len(row) == new_columns - 1):
                row = []
                rows.append((row, True))
                if i == at[0] and n == at[1]:
                    y, x = len(rows) - 1, 0
            row.append(cell)
    return rows, y, x


def _blank(cell, blank) -> bool:
    return cell is blank or cell == blank
