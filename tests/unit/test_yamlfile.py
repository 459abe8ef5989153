"""grader/yamlfile.py: YAML without aliases, for task files and for the files
a candidate writes (a checker reads those with load_all)."""

from __future__ import annotations

import pytest
import yaml

from grader import yamlfile

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh"))


def test_load_all_returns_the_documents_without_the_empty_ones():
    text = "---\nkind: Deployment\n---\n---\nkind: DaemonSet\n...\n"
    assert yamlfile.load_all(text) == [{"kind": "Deployment"}, {"kind": "DaemonSet"}]


def test_a_candidates_alias_bomb_is_refused_at_once_by_every_reader():
    for read in (yamlfile.load, yamlfile.load_all, yamlfile.compose):
        with pytest.raises(yaml.YAMLError, match="may not use YAML aliases"):
            read("kind: Deployment\n---\n" + BOMB if read is yamlfile.load_all else BOMB)
