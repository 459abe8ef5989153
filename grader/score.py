"""How an attempt is scored: one function, used by the portal and ``proctor grade``.

The rule that makes a grade hold against the candidate being graded: **an
error never raises a score.** A check that could not finish (the API answered
503, a time limit, an answer file that is a link) scores zero and stays in
the total. A task whose checks could not run at all scores zero with its full
weight, and the attempt is held for an instructor's review rather than
silently rescored. So a candidate who breaks their cluster's API to make the
other tasks' checks error loses those tasks' points instead of having them
left out.

    >>> from grader.results import CheckResult as C, TaskResult as T
    >>> ok = T("a", [C("a::test_x", "x", 2, "passed", "", 0.1)])
    >>> broken = T("b", [C("b::test_y", "y", 3, "error", "API 503", 0.1)])
    >>> score([(1.0, ok), (1.0, broken)], pass_mark=66).percent
    50.0

Results are ``grader.results.TaskResult``; what was stored as JSON is read
back with ``TaskResult.from_dict`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import TaskResult


@dataclass
class Score:
    percent: float                 # weighted, 0-100, one decimal
    passed: bool | None            # None when no pass mark was given
    review: list[str] = field(default_factory=list)   # why an instructor should look

    @property
    def held(self) -> bool:
        """Should an instructor look before the grade is trusted?"""
        return bool(self.review)


def review_reasons(results: list[TaskResult]) -> list[str]:
    """What in these results an instructor should look at: tasks that could not
    be graded, and an API that was not whole at grading time."""
    reasons = [f"{r.task_id} could not be graded: {r.error}" for r in results if r.error]
    seen: list[str] = []
    for r in results:
        for problem in r.api_problems:
            if problem not in seen:
                seen.append(problem)
    return reasons + seen


def score(weighted: list[tuple[float, TaskResult]], pass_mark: float | None = None) -> Score:
    """The weighted percent of ``[(task weight, task result), …]``.

    Each task weighs what the paper says, whether or not it could be graded:
    a task without a result scores zero of its weight. Within a task every
    check counts in the total, whatever its outcome; only passed checks
    score (``TaskResult.score`` of ``TaskResult.max_score``)."""
    total = sum(max(0.0, float(w)) for w, _ in weighted)
    got = 0.0
    for weight, result in weighted:
        if result.max_score > 0:
            got += max(0.0, float(weight)) * result.score / result.max_score
    percent = round(100.0 * got / total, 1) if total else 0.0
    passed = None if pass_mark is None else bool(total) and percent >= pass_mark
    return Score(percent, passed, review_reasons([r for _, r in weighted]))
