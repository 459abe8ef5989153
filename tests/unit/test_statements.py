"""Every task's statement and hints, rendered with the portal's own renderer
(``grader.markdown.render``), read as a candidate would: no entity shown
escaped, no table that loses cells or turns into text, no list run inline."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader import markdown
from grader.task import find_tasks, load_task

REPO = Path(__file__).resolve().parents[2]
TASKS = [load_task(f) for f in find_tasks(REPO / "tasks")]


class Shape(HTMLParser):
    """Tables as lists of rows (cell counts), and the text of each paragraph."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[int]] = []
        self.paragraphs: list[str] = []
        self._in_p = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append(0)
        elif tag in ("td", "th"):
            self.tables[-1][-1] += 1
        elif tag == "p":
            self._in_p = True
            self.paragraphs.append("")

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_p = False

    def handle_data(self, data):
        if self._in_p:
            self.paragraphs[-1] += data


def texts(task):
    for seed in (0, 1):
        shown = task.render(task.draw_params(seed))
        yield f"statement (seed {seed})", shown["statement"]
        for i, hint in enumerate(shown["hints"]):
            yield f"hint {i} (seed {seed})", hint


@pytest.mark.parametrize("task", TASKS, ids=[t.id for t in TASKS])
def test_statement_and_hints_render_as_written(task):
    for what, text in texts(task):
        html = markdown.render(text)
        assert not re.search(r"&amp;(gt|lt|amp|quot);", html), \
            f"{task.id} {what}: an entity shows escaped twice: {html[:300]}"
        shape = Shape()
        shape.feed(html)
        for rows in shape.tables:
            assert len(set(rows)) == 1, f"{task.id} {what}: table rows have {rows} cells"
        tables_in_source = sum(1 for line in text.splitlines() if re.match(r"\s*\|.*-{3}", line))
        assert len(shape.tables) == tables_in_source, \
            f"{task.id} {what}: {tables_in_source} tables written, {len(shape.tables)} rendered"
        for p in shape.paragraphs:
            assert not re.search(r"(^|\n)\s*([-*+]|\d+\.) \S", p), \
                f"{task.id} {what}: a list runs inline in a paragraph: {p[:200]!r}"
        assert markdown.problems(text) == [], f"{task.id} {what}: {markdown.problems(text)}"


def test_the_two_defects_candidates_saw_are_gone():
    """A `>>` in a table cell and bullets nested by two spaces (the
    two-container Pod and ConfigMap/Secret tasks)."""
    table = "| c | command |\n|---|---|\n| app | `date >> /var/log/app.log` |\n"
    assert "<code>date &gt;&gt; /var/log/app.log</code>" in markdown.render(table)
    nested = "1. Create a Pod that\n   - has A;\n   - has B.\n"
    html = markdown.render(nested)
    assert html.count("<li>") == 3 and "<ul>" in html, html


def test_problems_finds_what_renders_wrong():
    assert markdown.problems("Pods:\n- web\n- api\n")[0][0] == 2
    assert "no |---| row" in markdown.problems("| a | b |\n| 1 | 2 |\n")[0][1]
    assert "cut off" in markdown.problems("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n")[0][1]
    assert markdown.problems("| a | b |\n|---|---|\n| `x | y` | 2 |\n") == []
    assert markdown.problems("```\n- not a list\n```\n") == []
