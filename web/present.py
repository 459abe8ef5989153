"""What an attempt looks like to the outside: the same dicts feed the pages'
scripts and the JSON API, so what a candidate can see is decided once, here.

Before an attempt is over, nothing here contains a check, a reference
solution, its explanation or a grading result (practice mode's own "check my
work" feedback and a solution the candidate chose to reveal, with its
explanation, excepted).
"""

from __future__ import annotations

import time

from flask import abort, current_app, url_for

from grader.results import TaskResult

from .formatting import domain_breakdown, domain_name, share


# The exam's time warnings, as the real exam gives them: minutes left -> the
# advice shown once at that point (web/static/proctor.js reads them from the
# exam page; the instructions page lists them).
TIME_WARNINGS = {
    30: "Under 30 minutes left: check which tasks you have not tried yet",
    15: "Under 15 minutes left: time to revisit flagged tasks",
    5: "Under 5 minutes left: the exam submits itself at 0:00",
}


def bank():
    return current_app.extensions["proctor.bank"]()


def exam(exam_id: str):
    """The bank's exam ``exam_id``; 404 when there is none."""
    ex = bank().exam(exam_id)
    if ex is None:
        abort(404)
    return ex


def services():
    return current_app.extensions["proctor.services"]


def rendered(task_row) -> dict:
    """The task's statement and hints with the attempt's params filled in."""
    task = bank().task(task_row.task_id)
    if task is None:
        return {"statement": f"*Task `{task_row.task_id}` is no longer in the bank.*", "hints": []}
    try:
        out = services().render(task, task_row.params)
    except Exception as exc:  # noqa: BLE001 - the bank loads only tasks that render; an
        # attempt's params may predate an edit of the task: say so, never a 500
        current_app.logger.warning("statement of %s does not render: %s", task_row.task_id, exc)
        return {"statement": f"*The statement of task `{task_row.task_id}` cannot be shown "
                             "(it was changed after this attempt began); tell your instructor.*",
                "hints": []}
    return {"statement": out.get("statement", ""), "hints": list(out.get("hints") or [])}


def solution(task_row) -> str:
    task = bank().task(task_row.task_id)
    return services().solution(task, task_row.params) if task is not None else ""


def explanation(task_row) -> str:
    """Why the reference solution works (markdown), or "": shown with the
    solution, so only where the solution is."""
    task = bank().task(task_row.task_id)
    text = getattr(task, "explanation_text", None)
    return text(task_row.params) if text is not None else ""


def status(a) -> dict:
    now = time.time()
    d = {
        "id": a.id, "exam": a.exam_id, "exam_title": a.exam_title, "track": a.track,
        "mode": a.mode, "state": a.state, "progress": a.progress,
        "error": a.error if a.state == "error" else "",
        "server_time": now, "created_at": a.created_at, "ready_at": a.ready_at,
        "deadline_at": a.deadline_at if a.mode == "exam" else None,
        "remaining_seconds": round(a.remaining(now), 1) if a.state == "running" and a.deadline_at else None,
        "submitted_at": a.submitted_at, "auto_submitted": bool(a.auto_submitted),
        "pass_mark": a.pass_mark, "duration_minutes": a.duration_s // 60,
        "clusters": max(1, a.clusters or 1),
        "tasks": [{"position": t.position, "title": t.title, "domain": t.domain,
                   "weight": t.weight, "flagged": bool(t.flagged), "host": t.host or None,
                   "cluster": t.cluster + 1,
                   **({"check_state": t.check_state} if a.mode == "practice" else {})}
                  for t in a.tasks],
        "urls": {"page": url_for("attempts.attempt", attempt_id=a.id, _external=False),
                 "results": url_for("attempts.results", attempt_id=a.id)
                 if a.state == "graded" else None},
    }
    if a.state == "graded":
        d.update(score=a.score, passed=bool(a.passed), graded_at=a.graded_at)
    return d


def results(a) -> dict:
    """Everything, for a graded attempt only."""
    if a.state != "graded":
        abort(409, f"Attempt {a.id} is {a.state}; its results come once it is graded.")
    d = status(a)
    d["time_taken_seconds"] = round((a.submitted_at or 0) - (a.ready_at or 0), 1) if a.ready_at else None
    d["domains"] = domain_breakdown(a)
    d["review"] = [line for line in (a.review or "").splitlines() if line]
    tasks = []
    total = sum(t.weight for t in a.tasks)
    for t in a.tasks:
        r = t.result or TaskResult(t.task_id)  # graded: every task has one; none reads as no checks
        text = rendered(t)
        tasks.append({
            "position": t.position, "task_id": t.task_id, "title": t.title, "domain": t.domain,
            "domain_name": domain_name(t.domain), "weight": t.weight, "host": t.host or None,
            "cluster": t.cluster + 1,
            "share": share(t.weight, total),
            "score": t.score, "max_score": t.max_score,
            "percent": round(100 * t.fraction, 1) if t.max_score else None,
            "error": r.error or "", "api_problems": list(r.api_problems),
            "seconds_spent": round(t.seconds_spent, 1),
            "checks": [{"id": c.id, "description": c.description, "points": c.points,
                        "outcome": c.outcome, "message": c.message} for c in r.checks],
            "statement": text["statement"], "hints": text["hints"], "solution": solution(t),
            "explanation": explanation(t),
        })
    d["tasks"] = tasks
    return d
