""""Validate now": the full validation of one task, run by the worker, with a log
the page streams and a result table.

It is ``proctor validate`` for one task (``grader.validate.validate_task``:
lint; then per seed, on a fresh sandbox with the task's own options: setup ->
every check fails, solution -> every check passes), with every step said to
the log as it happens. The result is recorded where ``proctor validate``
records its own (``grader.records``).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from pathlib import Path

from sqlalchemy import update

from ..lifecycle.lease import claim
from ..models import TaskValidation

log = logging.getLogger(__name__)
SEEDS = 2  # as proctor validate: seed 1 and the one that draws the other choices


class Recorder:
    """Appends log lines to the validation row as they happen."""

    def __init__(self, db, validation_id: int):
        self.db, self.id = db, validation_id

    def __call__(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        text = "".join(f"[{stamp}] {ln}\n" for ln in str(line).rstrip("\n").split("\n"))
        with self.db.session() as s:
            s.execute(update(TaskValidation).where(TaskValidation.id == self.id)
                      .values(log=TaskValidation.log + text))


def result_table(report) -> dict:
    """The page's table: per check, per seed, the outcome after setup and after solution."""
    checks: dict[str, dict] = {}
    for run in report.runs:
        for after, res in (("setup", run.after_setup), ("solution", run.after_solution)):
            for c in (res.checks if res else []):
                row = checks.setdefault(c.id, {"id": c.id, "description": c.description,
                                               "points": c.points, "seeds": {}})
                cell = row["seeds"].setdefault(str(run.seed), {})
                cell[after] = c.outcome
    for row in checks.values():
        for cell in row["seeds"].values():
            cell["ok"] = cell.get("setup") == "failed" and cell.get("solution") == "passed"
    return {
        "ok": _held(report),
        "seeds": [{"seed": r.seed, "params": r.params, "duration": r.duration,
                   "setup_ok": r.setup.ok if r.setup else None,
                   "solution_ok": r.solution.ok if r.solution else None} for r in report.runs],
        "checks": list(checks.values()),
        "lint": [{"file": Path(p.file).name, "line": p.line, "message": p.message}
                 for p in report.lint],
        "violations": [str(v) for v in report.violations],
        "skipped": report.skipped,
    }


def _held(report) -> bool:
    """Validate now passes a task that held live; too few other ways or near
    misses is a lint note there (the bank's ``proctor validate`` refuses it)."""
    return not report.violations and not any(p.blocking for p in report.lint)


def validate_task(path: Path, provider, say) -> dict:
    """Lint, then prove the task live with two seeds (``grader.validate``, the
    same algorithm as ``proctor validate``); returns ``result_table``."""
    from grader.validate import validate_task as validate
    from grader.validate_report import table
    report = validate(path, provider=provider, seeds=SEEDS, say=say, via="Validate now")
    if report.runs:
        for line in table(report):
            say(line)
    for v in report.violations:
        say(f"BROKEN: {v}")
    if report.runs:
        say("PASS: every check fails after setup and passes after the solution, with both seeds"
            if _held(report) else "FAIL: the task breaks the rules above")
    return result_table(report)


def provider_for(config, services=None) -> list:
    """Where "Validate now" may run a task, most preferred first: the author
    provider (``AUTHOR_PROVIDER``, default the portal's own), then the real-node
    providers this portal enabled, as for a paper (``Services.provider_order``)."""
    chosen = config.get("AUTHOR_PROVIDER") or config["PROVIDER"]
    order = list(services.provider_order()) if services is not None else []
    return [chosen] + [p for p in order if p != chosen]


def run_validation(app, validation_id: int) -> str:
    """The worker's job: claim the queued row, validate, store the result."""
    db = app.extensions["proctor.db"]
    with db.session() as s:
        if not claim(s, TaskValidation, TaskValidation.id == validation_id, states=("queued",),
                     to="running", started_at=time.time()):
            return "skipped"
        row = s.get(TaskValidation, validation_id)
        path = Path(row.task_path)
    say = Recorder(db, validation_id)
    say(f"validating {path.name} in {path}")
    try:
        result = validate_task(path, provider_for(app.config, app.extensions.get("proctor.services")),
                               say)
        state = "passed" if result["ok"] and not result["skipped"] else "failed"
    except Exception as exc:
        log.exception("validation %s", validation_id)
        say("".join(traceback.format_exception_only(type(exc), exc)).strip())
        result, state = {"ok": False, "error": str(exc), "checks": [], "seeds": [], "lint": [],
                         "violations": [], "skipped": ""}, "error"
    with db.session() as s:
        s.execute(update(TaskValidation).where(TaskValidation.id == validation_id)
                  .values(state=state, result_json=json.dumps(result), finished_at=time.time()))
    return state
