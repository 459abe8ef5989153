"""The editor's file helpers: the statement splice keeps the rest of task.yaml."""

import os

import pytest

from web.author.files import Conflict, splice_statement, statement_of, version, write_files

BLOCK = """# comment kept
id: x
statement: |
  Old text
  on two lines.

hints:
  - one
"""


@pytest.mark.parametrize("text", [
    BLOCK,
    "id: x\nstatement: Old text on one line.  # trailing comment\nhints: [a]\n",
    "id: x\nstatement: >\n  folded\n  text\n",
    "id: x\nhints: [a]\n",              # no statement yet: appended
])
def test_splice_keeps_everything_else(text):
    new = "New **text**.\n\n  indented code\nand {{ namespace }}\n"
    out = splice_statement(text, new)
    assert statement_of(out) == new
    for line in text.splitlines():
        if not line.startswith(("statement", "  Old", "  on two", "  folded", "  text")) and line.strip():
            assert line in out or "Old text on one line" in line


def test_splice_a_statement_starting_with_spaces():
    out = splice_statement(BLOCK, "    code first\ntext\n")
    assert statement_of(out) == "    code first\ntext\n"


def test_splice_refuses_broken_yaml():
    with pytest.raises(ValueError):
        splice_statement("id: [x\n", "text")


def test_write_refuses_a_stale_version(tmp_path):
    folder = tmp_path / "t"
    v0 = write_files(folder, {"task.yaml": "id: t\n", "setup": "#!/bin/sh\r\ntrue"}, None, tmp_path / "locks")
    assert (folder / "setup").read_text() == "#!/bin/sh\ntrue\n" and os.access(folder / "setup", os.X_OK)
    v1 = write_files(folder, {"setup": "#!/bin/sh\nfalse\n"}, v0, tmp_path / "locks")
    with pytest.raises(Conflict) as info:
        write_files(folder, {"setup": "#!/bin/sh\necho stale\n"}, v0, tmp_path / "locks")
    assert info.value.version == v1 == version(folder)
    assert info.value.current["setup"] == "#!/bin/sh\nfalse\n"
    os.chmod(folder / "setup", 0o644)          # a mode change is a change too
    assert version(folder) != v1
