"""The grader's errors: small, named, and carrying what a caller needs.

``GraderError`` is the base the CLI turns into one red line and exit 1.
``TaskError`` carries every ``Problem`` found in a task (or a bank), so an
author sees all of them at once instead of fixing one per run, as ctfcli's
lint does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


class GraderError(Exception):
    """Base of every grader error; ``str()`` is something a user can act on."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a task: where (file, line if known) and what."""

    file: str
    line: int | None
    message: str
    # False for what keeps a task out of the bank but not off a live sandbox (too few
    # other ways or near misses: a draft may still be validated, and fails)
    blocking: bool = field(default=True, compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


def problem(file: str | Path, message: str, line: int | None = None,
            blocking: bool = True) -> Problem:
    """Shorthand that accepts a Path and keeps ``file`` readable (relative to cwd)."""
    return Problem(_display(file), line, message, blocking)


def _display(path: str | Path) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


class TaskError(GraderError):
    """A task (or several) is not valid; ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem], what: str = "task"):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))
        self.what = what
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in {what}:"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class GradeError(GraderError):
    """The grader itself could not run (not a task's or a candidate's fault)."""


class ValidationFailed(GraderError):
    """``proctor validate`` found tasks that break the rules; the report says which."""
