"""Task statements and hints: markdown rendered one way everywhere, and lint for
the mistakes that render wrong without an error.

``render`` is what the portal shows (exam page, results, the editor's
preview) and what lint and the tests render, so what an author checks is what
a candidate reads: tables, fenced code, lists nested by two spaces (as YAML
block text is usually indented), sanitized, bare URLs made links (never
inside code).

``problems`` finds what Python-Markdown renders without complaint but wrong:

* a table that does not start after a blank line, or lacks its ``|---|`` row,
  becomes a paragraph of pipes;
* a row with more cells than its header loses the last ones;
* a list that starts right under a paragraph line runs into it ("that - has
  … - has …"), and so does an item nested by four spaces;
* ``&gt;`` shown literally inside code (an entity escaped twice).

    >>> problems("Pods:\\n- web\\n- api\\n")
    [(2, 'this list runs into the paragraph above it; put a blank line before the list')]
"""

from __future__ import annotations

import re

import markdown as md
import nh3

# What a statement may contain once rendered: markdown's own output, and no
# script, style, event handler or foreign scheme (nh3, the maintained
# successor of bleach, drops the rest). Bare URLs become links
# (pymdownx.magiclink; never inside code); every link opens in a new tab and
# tells the other site nothing about the portal.
ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em",
                "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p",
                "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}
ALLOWED_ATTRS = {"a": {"href", "title"}, "code": {"class"}, "span": {"class"},
                 "div": {"class"}, "th": {"align"}, "td": {"align"}, "img": {"src", "alt", "title"},
                 "abbr": {"title"}}
EXTENSIONS = ["fenced_code", "tables", "mdx_truly_sane_lists", "pymdownx.magiclink"]
EXTENSION_CONFIGS = {"mdx_truly_sane_lists": {"nested_indent": 2, "truly_sane": True}}

FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+\S")
TABLE_ROW = re.compile(r"^\s*\|")
DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
DOUBLE_ESCAPED = re.compile(r"&amp;(gt|lt|amp|quot|#\d+);")


def render(text: str) -> str:
    """Sanitized HTML of an authored markdown text."""
    html = md.markdown(text or "", extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer",
                     set_tag_attribute_values={"a": {"target": "_blank"}})


def _cells(row: str) -> int:
    """Cells of a table row as the tables extension splits it: on ``|`` that
    is neither escaped nor inside a code span."""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    count, in_code, i = 1, False, 0
    while i < len(row):
        c = row[i]
        if c == "\\":
            i += 2
            continue
        if c == "`":
            in_code = not in_code
        elif c == "|" and not in_code:
            count += 1
        i += 1
    return count


def _outside_code(lines: list[str]) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines outside fenced code blocks."""
    out, fenced = [], False
    for n, line in enumerate(lines, 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((n, line))
    return out


def problems(text: str) -> list[tuple[int, str]]:
    """``[(line in text, what renders wrong)]``, in line order."""
    lines = (text or "").splitlines()
    found: list[tuple[int, str]] = []
    visible = _outside_code(lines)
    prev = ""
    table: list[tuple[int, str]] = []
    items = 0

    def close_table():
        if not table:
            return
        (first, header) = table[0]
        if len(table) < 2 or not DELIMITER_ROW.match(table[1][1]):
            found.append((first, "this table has no |---| row under its header, so it renders "
                                 "as text; add one"))
        else:
            want = _cells(header)
            for n, row in table[2:]:
                if _cells(row) > want:
                    found.append((n, f"this table row has {_cells(row)} cells but the header has "
                                     f"{want}: the last ones are cut off (a | inside text? "
                                     "write \\| or put it in `code`)"))
        table.clear()

    for n, line in visible:
        if TABLE_ROW.match(line):
            if not table and prev.strip():
                found.append((n, "this table runs into the paragraph above it; put a blank "
                                 "line before the table"))
            table.append((n, line))
            prev = line
            continue
        close_table()
        m = LIST_ITEM.match(line)
        if m:
            items += 1
            above = LIST_ITEM.match(prev)
            if not above and prev.strip() and not prev.startswith((" ", "\t")):
                found.append((n, "this list runs into the paragraph above it; put a blank line "
                                 "before the list"))
            elif above and len(m.group(1)) - len(above.group(1)) >= 4:
                found.append((n, "this item is nested by four spaces and runs into the item "
                                 "above; nest by two spaces per level"))
        prev = line
    close_table()

    html = render(text)
    told = any("nested" in why or "list runs" in why for _, why in found)
    if items and html.count("<li") < items and not told:
        first = next(n for n, line in visible if LIST_ITEM.match(line))
        found.append((first, f"{items} list items are written but {html.count('<li')} render; "
                             "nest items by two spaces per level and put a blank line before "
                             "each list"))
    for m in DOUBLE_ESCAPED.finditer(html):
        entity = m.group(0).replace("&amp;", "&")
        found.append((1, f"{entity} shows literally in the rendered text (escaped twice)"))
        break
    return sorted(set(found))
