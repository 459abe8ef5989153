"""Statistics over the portal's stored results: per task, per check, per exam/cohort.

Only graded attempts count. A task row's *points* are its score
(``AttemptTask.score`` of ``max_score``, as ``grader.score`` counts them: an
errored check scores zero); a task counts as *passed* when it got full marks.
A check's pass rate is over the gradings where it passed or failed (an
``error`` is counted apart, so a checker that often errors stands out).

Review flags (with at least ``MIN_SAMPLES`` graded attempts of the task):

- the pass rate is at most ``EXTREME`` (5 %) or at least 1 - ``EXTREME``:
  the task is trivial, impossible, or its checks do not match its text;
- one check passes ``GAP`` (40 points) less often than the mean of the
  task's other checks: the usual sign of a checker that does not match the
  statement.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from ..models import Attempt, AttemptTask, User

MIN_SAMPLES = 5
EXTREME = 0.05
GAP = 0.40


@dataclass
class CheckStats:
    id: str
    description: str = ""
    passed: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def graded(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None


@dataclass
class TaskStats:
    task_id: str
    title: str = ""
    domain: str = ""
    attempts: int = 0          # graded attempts that had this task
    graded: int = 0            # ... whose task could be graded (max_score > 0)
    passed: int = 0            # ... with full marks
    points: list[float] = field(default_factory=list)
    max_points: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    checks: dict[str, CheckStats] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None

    @property
    def mean_points(self) -> float | None:
        return round(statistics.fmean(self.points), 2) if self.points else None

    @property
    def mean_max_points(self) -> float | None:
        return round(statistics.fmean(self.max_points), 2) if self.max_points else None

    @property
    def mean_seconds(self) -> float | None:
        return round(statistics.fmean(self.seconds), 1) if self.seconds else None


def _short_check(check_id: str) -> str:
    return check_id.rsplit("::", 1)[-1]


def task_stats(session, task_id: str | None = None, mode: str = "exam") -> list[TaskStats]:
    """One ``TaskStats`` per task id seen in graded attempts of ``mode``
    (``""``: both modes), or just ``task_id``."""
    q = (select(AttemptTask).join(Attempt).where(Attempt.state == "graded")
         .order_by(AttemptTask.task_id, AttemptTask.id))
    if mode:
        q = q.where(Attempt.mode == mode)
    if task_id:
        q = q.where(AttemptTask.task_id == task_id)
    out: dict[str, TaskStats] = {}
    for row in session.scalars(q):
        st = out.setdefault(row.task_id, TaskStats(row.task_id, row.title, row.domain))
        st.attempts += 1
        st.seconds.append(float(row.seconds_spent or 0.0))
        if row.max_score:
            st.graded += 1
            st.points.append(float(row.score or 0.0))
            st.max_points.append(float(row.max_score))
            if (row.score or 0.0) >= row.max_score:
                st.passed += 1
        result = row.result
        for c in result.checks if result else []:
            cid = _short_check(c.id)
            cs = st.checks.setdefault(cid, CheckStats(cid, c.description))
            if c.outcome == "passed":
                cs.passed += 1
            elif c.outcome == "failed":
                cs.failed += 1
            else:
                cs.errors += 1
    for st in out.values():
        st.flags = review_flags(st)
    return sorted(out.values(), key=lambda s: s.task_id)


def review_flags(st: TaskStats) -> list[str]:
    """Why a task deserves a look (see the module docstring), or nothing."""
    flags = []
    if st.graded < MIN_SAMPLES:
        return flags
    rate = st.pass_rate or 0.0
    if rate <= EXTREME:
        flags.append(f"pass rate {rate:.0%}: almost nobody passes; is it solvable as written?")
    elif rate >= 1 - EXTREME:
        flags.append(f"pass rate {rate:.0%}: almost everybody passes; do the checks test the task?")
    rates = {cid: c.pass_rate for cid, c in st.checks.items() if c.graded >= MIN_SAMPLES}
    if len(rates) >= 2:
        for cid, r in rates.items():
            others = [v for k, v in rates.items() if k != cid]
            mean_others = statistics.fmean(others)
            if mean_others - r >= GAP:
                flags.append(f"check {cid} passes {r:.0%} of the time, the others {mean_others:.0%}: "
                             "does it match the statement?")
    errors = {cid: c.errors for cid, c in st.checks.items() if c.errors}
    for cid, n in errors.items():
        flags.append(f"check {cid} crashed {n} time{'s' if n != 1 else ''}: the checker is broken")
    return flags


# -- exams and cohorts ----------------------------------------------------------------

@dataclass
class Cohort:
    """Which graded attempts count: an exam, a mode, candidates (names or a name
    prefix), and a period (UNIX seconds)."""

    exam_id: str = ""
    mode: str = ""
    users: tuple[str, ...] = ()
    prefix: str = ""
    since: float | None = None
    until: float | None = None

    def describe(self) -> str:
        parts = [f"exam {self.exam_id}" if self.exam_id else "every exam"]
        if self.mode:
            parts.append(f"{self.mode} mode")
        if self.users:
            parts.append(f"{len(self.users)} named candidates")
        if self.prefix:
            parts.append(f"candidates {self.prefix}*")
        if self.since:
            parts.append("since " + time.strftime("%Y-%m-%d", time.localtime(self.since)))
        if self.until:
            parts.append("until " + time.strftime("%Y-%m-%d", time.localtime(self.until)))
        return ", ".join(parts)


def cohort_attempts(session, cohort: Cohort) -> list[Attempt]:
    q = select(Attempt).join(User).where(Attempt.state == "graded")
    if cohort.exam_id:
        q = q.where(Attempt.exam_id == cohort.exam_id)
    if cohort.mode:
        q = q.where(Attempt.mode == cohort.mode)
    if cohort.users:
        q = q.where(User.username.in_(cohort.users))
    if cohort.prefix:
        q = q.where(User.username.startswith(cohort.prefix, autoescape=True))
    if cohort.since:
        q = q.where(Attempt.graded_at >= cohort.since)
    if cohort.until:
        q = q.where(Attempt.graded_at < cohort.until)
    return list(session.scalars(q.order_by(Attempt.graded_at, Attempt.id)))


def distribution(scores: list[float], width: int = 10) -> list[dict]:
    """Counts per score band ``[0, 10), [10, 20), … [90, 100]``."""
    bands = [{"low": lo, "high": lo + width, "count": 0} for lo in range(0, 100, width)]
    for s in scores:
        i = min(int(max(0.0, s) // width), len(bands) - 1)
        bands[i]["count"] += 1
    return bands


def exam_summary(attempts: list[Attempt]) -> dict:
    scores = [float(a.score or 0.0) for a in attempts]
    passed = sum(1 for a in attempts if a.passed)
    return {
        "attempts": len(attempts),
        "candidates": len({a.user_id for a in attempts}),
        "mean": round(statistics.fmean(scores), 1) if scores else None,
        "median": round(statistics.median(scores), 1) if scores else None,
        "pass_rate": passed / len(attempts) if attempts else None,
        "distribution": distribution(scores),
    }


CSV_FIELDS = ("attempt", "candidate", "exam", "mode", "started", "graded", "minutes",
              "score", "pass_mark", "passed")


def attempts_csv(attempts: list[Attempt]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    iso = lambda ts: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""  # noqa: E731
    for a in attempts:
        minutes = round(((a.submitted_at or 0) - a.ready_at) / 60, 1) if a.ready_at and a.submitted_at else ""
        w.writerow([a.id, a.user.username, a.exam_id, a.mode, iso(a.created_at), iso(a.graded_at),
                    minutes, a.score, a.pass_mark, "yes" if a.passed else "no"])
    return buf.getvalue()


def by_exam(session, mode: str = "exam") -> list[dict]:
    """Per exam id seen in graded attempts of ``mode`` (``""``: both): its summary."""
    groups: dict[str, list[Attempt]] = defaultdict(list)
    for a in cohort_attempts(session, Cohort(mode=mode)):
        groups[a.exam_id].append(a)
    return [{"exam_id": k, "title": v[-1].exam_title, **exam_summary(v)}
            for k, v in sorted(groups.items())]
