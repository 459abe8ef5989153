""""Validate now": the full validation of one task, run by the worker, with a log
the page streams and a result table.

It is ``proctor validate`` for one task (lint; then per seed, on a fresh
sandbox: setup -> every check fails, solution -> every check passes) built
from ``grader.validate``'s own pieces (``check_rules``, ``SeedRun``,
``table``), stepped here rather than through ``validate_seed`` only so each
step reaches the log as it happens.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import traceback
from pathlib import Path

from sqlalchemy import update

from ..models import TaskValidation

log = logging.getLogger(__name__)
SEEDS = (1, 2)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


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


def validate_seed_logged(task, seed: int, provider, say):
    """``grader.validate.validate_seed`` with every step said as it happens."""
    from grader.runner import grade, run_script
    from grader.validate import (NO_SANDBOX, SETUP_FAILED, SOLUTION_FAILED, SeedRun, Violation,
                                 check_rules)
    from sandbox import SandboxError

    started = time.monotonic()
    params = task.draw_params(seed)
    run = SeedRun(seed, params, sandbox=f"val-{secrets.token_hex(3)}-{seed}")
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "no params"
    say(f"seed {seed}: {shown}")
    try:
        say(f"seed {seed}: creating a {task.nodes}-node {provider.name} sandbox {run.sandbox}")
        try:
            sb = provider.create(run.sandbox, nodes=task.nodes)
        except SandboxError as exc:
            run.violations.append(Violation(task.id, seed, None, NO_SANDBOX, str(exc)))
            say(f"seed {seed}: no sandbox: {exc}")
            return run

        def script(name):
            say(f"seed {seed}: running {name}")
            res = run_script(task, name, sb, params)
            for ln in (res.output or "").strip().splitlines()[-40:]:
                say(f"    {ln}")
            say(f"seed {seed}: {name} exited {res.returncode} in {res.duration:.1f}s")
            return res

        def graded(after, want):
            say(f"seed {seed}: grading after {after} (every check must {want})")
            [res] = grade(sb, [(task, params)])
            if res.error:
                say(f"    error: {res.error}")
            for c in res.checks:
                mark = "ok " if c.outcome == ("failed" if want == "fail" else "passed") else "!! "
                msg = (c.message or "").strip().splitlines()[:1]
                say(f"  {mark}{c.outcome:<7} {c.id}" + (f": {msg[0]}" if msg else ""))
            return res

        run.setup = script("setup")
        if not run.setup.ok:
            run.violations.append(Violation(task.id, seed, None, SETUP_FAILED,
                                            f"exit {run.setup.returncode}: {_tail(run.setup.output)}"))
            return run
        run.after_setup = graded("setup", "fail")
        run.violations += check_rules(task.id, seed, run.after_setup, "setup")
        run.solution = script("solution")
        if not run.solution.ok:
            run.violations.append(Violation(task.id, seed, None, SOLUTION_FAILED,
                                            f"exit {run.solution.returncode}: "
                                            f"{_tail(run.solution.output)}"))
            return run
        run.after_solution = graded("solution", "pass")
        run.violations += check_rules(task.id, seed, run.after_solution, "solution")
        return run
    finally:
        try:
            provider.destroy(run.sandbox)
            say(f"seed {seed}: sandbox {run.sandbox} removed")
        finally:
            run.duration = round(time.monotonic() - started, 2)


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
        "ok": report.ok,
        "seeds": [{"seed": r.seed, "params": r.params, "duration": r.duration,
                   "setup_ok": r.setup.ok if r.setup else None,
                   "solution_ok": r.solution.ok if r.solution else None} for r in report.runs],
        "checks": list(checks.values()),
        "lint": [{"file": Path(p.file).name, "line": p.line, "message": p.message}
                 for p in report.lint],
        "violations": [str(v) for v in report.violations],
        "skipped": report.skipped,
    }


def validate_task(path: Path, provider, say) -> dict:
    """Lint, then prove the task live with two seeds; returns ``result_table``."""
    from grader.lint import lint_task
    from grader.validate import TaskReport, table

    linted = lint_task(path)
    report = TaskReport(linted.path, linted.name, linted.task, list(linted.problems))
    say(f"lint: {len(report.lint)} problem(s)")
    for p in report.lint:
        say(f"  {Path(p.file).name}:{p.line or '-'}: {p.message}")
    if report.lint or report.task is None:
        return result_table(report)
    missing = set(report.task.requires) - set(provider.capabilities)
    if missing:
        report.skipped = (f"needs {', '.join(sorted(missing))}, which the {provider.name} provider "
                          f"does not offer")
        say(f"not run live: {report.skipped}")
        return result_table(report)
    for seed in SEEDS:
        report.runs.append(validate_seed_logged(report.task, seed, provider, say))
    for line in table(report):
        say(line)
    for v in report.violations:
        say(f"BROKEN: {v}")
    say("PASS: every check fails after setup and passes after the solution, with both seeds"
        if report.ok else "FAIL: the task breaks the rules above")
    return result_table(report)


def provider_for(config):
    from sandbox import get_provider
    chosen = config.get("AUTHOR_PROVIDER") or config["PROVIDER"]
    return get_provider(chosen) if isinstance(chosen, str) else chosen


def run_validation(app, validation_id: int) -> str:
    """The worker's job: claim the queued row, validate, store the result."""
    db = app.extensions["proctor.db"]
    with db.session() as s:
        res = s.execute(update(TaskValidation).where(
            TaskValidation.id == validation_id, TaskValidation.state == "queued")
            .values(state="running", started_at=time.time()))
        if res.rowcount != 1:
            return "skipped"
        row = s.get(TaskValidation, validation_id)
        path = Path(row.task_path)
    say = Recorder(db, validation_id)
    say(f"validating {path.name} in {path}")
    try:
        result = validate_task(path, provider_for(app.config), say)
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
