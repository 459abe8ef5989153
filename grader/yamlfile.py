"""YAML of task and exam files, and of files a candidate wrote, read without
aliases.

Task and exam files come from instructors, imports and the browser's editor,
and the portal lints them as they are typed. YAML anchors and aliases let a
few hundred bytes stand for millions of nodes ("billion laughs"): six levels
of nine aliases took the lint of one task.yaml 14 s, and a seventh two
minutes. Task files have no use for them, so they are refused with their
line, like any other YAML error.

    >>> try:
    ...     load("a: &x [1]\\nb: *x\\n")
    ... except yaml.YAMLError as exc:
    ...     print(exc.problem, "(line", exc.problem_mark.line + 1, end=")")
    task and exam files may not use YAML aliases (*name) (line 2)
"""

from __future__ import annotations

import yaml


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "task and exam files may not use YAML aliases (*name)",
                event.start_mark)
        return super().compose_node(parent, index)


def load(text: str):
    """``yaml.safe_load`` without aliases."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader


def load_all(text: str) -> list:
    """Every document of ``text`` (``yaml.safe_load_all``) without aliases,
    empty documents left out: a candidate's multi-document manifest."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]  # noqa: S506


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` with the safe loader, without aliases."""
    return yaml.compose(text, Loader=_Loader)
