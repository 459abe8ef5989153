#!/usr/bin/env python3
"""How fast the grader grades, and whether any check is flaky.

On one kwok sandbox (a temporary state dir, destroyed afterwards): run every
task's setup and solution, then
  per_task_s     grade each task alone, --runs times: median and p95 of the
                 wall time of one grade() call (process start included)
  flaky          checks whose outcome was not "passed" in any of those runs
                 against the solved state (should be empty)
  exam_s         grade up to 16 solved tasks in one grade() call, 5 times:
                 median and max

Prints one JSON object. Usage:
  .venv/bin/python bench/grading.py [tasks/ …] [--runs 20] [--nodes 3]
Tasks needing capabilities kwok lacks (nodes), and tasks that conflict with one
already on the cluster (`conflicts` in task.yaml), are left out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.runner import grade, run_script  # noqa: E402
from grader.task import find_tasks, load_task  # noqa: E402
from sandbox.kwok import KwokProvider  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*", default=["tasks"])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--nodes", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="proctor-bench-grading-"))
    prov = KwokProvider(root=root)
    out: dict = {"runs": args.runs, "skipped": {}, "flaky": {}, "not_solved": {}}
    try:
        sb = prov.create("bench-grading", nodes=args.nodes)
        solved = []
        for folder in [f for p in args.paths for f in find_tasks(p)]:
            task = load_task(folder)
            if set(task.requires) - set(sb.capabilities):
                out["skipped"][task.id] = f"needs {sorted(set(task.requires) - set(sb.capabilities))}"
                continue
            # one cluster for all, as in an exam: tasks that change the same
            # nodes (`conflicts` in task.yaml) never share a paper
            clash = [t.id for t, _ in solved if t.id in task.conflicts or task.id in t.conflicts]
            if clash:
                out["skipped"][task.id] = f"conflicts with {', '.join(clash)}"
                continue
            params = task.draw_params(1)
            for which in ("setup", "solution"):
                res = run_script(task, which, sb, params)
                if not res.ok:
                    out["not_solved"][task.id] = f"{which} failed: {res.output[-200:]}"
                    break
            else:
                solved.append((task, params))
        per_task: list[float] = []
        for task, params in solved:
            for _ in range(args.runs):
                started = time.monotonic()
                [r] = grade(sb, [(task, params)])
                per_task.append(time.monotonic() - started)
                for c in r.checks:
                    if c.outcome != "passed":
                        out["flaky"].setdefault(f"{task.id}::{c.id}", []).append(c.message)
        exam = solved[:16]
        exam_times = []
        for _ in range(5):
            started = time.monotonic()
            grade(sb, exam)
            exam_times.append(time.monotonic() - started)
        out.update({
            "tasks": len(solved),
            "per_task_s": {"median": round(statistics.median(per_task), 3) if per_task else None,
                           "p95": pct(per_task, 0.95) if per_task else None},
            "exam_tasks": len(exam),
            "exam_s": {"median": round(statistics.median(exam_times), 3),
                       "max": round(max(exam_times), 3)},
        })
    finally:
        prov.destroy("bench-grading")
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
