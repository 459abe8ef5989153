"""What grading returns: per task, its checks' outcomes.

Plain records, cheap to import (the portal reads stored results on every
results page without loading the runner), and the one JSON form they take
in the database and the API: ``to_dict``, read back by ``from_dict``.

    >>> r = TaskResult("svc", [CheckResult("svc::test_a", "A", 2, "passed", "", 0.1),
    ...                        CheckResult("svc::test_b", "B", 1, "error", "API 503", 0.2)])
    >>> (r.score, r.max_score, r.passed)
    (2, 3, False)
    >>> TaskResult.from_dict(r.to_dict()) == r
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class CheckResult:
    id: str
    description: str
    points: float
    outcome: str          # "passed" | "failed" | "error"
    message: str
    duration: float

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "CheckResult":
        return cls(id=d.get("id", "?"), description=d.get("description", ""),
                   points=d.get("points", 1), outcome=d.get("outcome", "error"),
                   message=d.get("message") or "", duration=d.get("duration", 0.0))


@dataclass
class TaskResult:
    task_id: str
    checks: list[CheckResult] = field(default_factory=list)
    duration: float = 0.0
    error: str | None = None   # the checker as a whole broke (import error, time limit)
    api_problems: list[str] = field(default_factory=list)  # the API was not whole (apihealth)

    @property
    def score(self) -> float:
        """Points of the checks that passed."""
        return sum(c.points for c in self.checks if c.passed)

    @property
    def max_score(self) -> float:
        """Points of every check, whatever its outcome."""
        return sum(c.points for c in self.checks)

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {"task_id": self.task_id, "score": self.score, "max_score": self.max_score,
                "duration": self.duration, "error": self.error,
                "api_problems": list(self.api_problems),
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, d: dict) -> "TaskResult":
        """The result ``to_dict`` wrote (``score`` and ``max_score`` are computed
        again from the checks, never trusted from the dict)."""
        return cls(task_id=d.get("task_id", "?"),
                   checks=[CheckResult.from_dict(c) for c in d.get("checks") or []],
                   duration=d.get("duration", 0.0), error=d.get("error") or None,
                   api_problems=list(d.get("api_problems") or []))
