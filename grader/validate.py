"""``proctor validate``: prove every task can be failed and can be passed.

For each task: lint; then, per param seed, on a fresh sandbox: run setup,
grade (**every** check must fail: a check that passes is free points), run
the solution, grade (**every** check must pass). Sandboxes are destroyed
afterwards whatever happens. Units (task × seed) run in parallel with
``jobs``.

    >>> reports = validate(["tasks/"], jobs=2)                  # doctest: +SKIP
    >>> [r.task_id for r in reports if not r.ok]                # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from xml.etree import ElementTree as ET

from sandbox import Provider, SandboxError, get_provider

from .errors import Problem
from .lint import LintResult, lint_paths
from .runner import ScriptResult, TaskResult, grade, run_script
from .task import Task

FREE_POINTS = "passes right after setup: free points"
CRASH_AFTER_SETUP = "errors right after setup: the checker crashed instead of failing"
FAILS_AFTER_SOLUTION = "fails after the reference solution"
CRASH_AFTER_SOLUTION = "errors after the reference solution: the checker crashed"
SETUP_FAILED = "setup script failed"
SOLUTION_FAILED = "solution script failed"
NO_SANDBOX = "no sandbox to validate on"


@dataclass
class Violation:
    """One broken rule: which check (None for the task as a whole), which rule, and why."""

    task_id: str
    seed: int
    check: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        who = f"{self.check} " if self.check else ""
        return f"{who}{self.rule} (seed {self.seed}): {self.message}".rstrip(": ")


@dataclass
class SeedRun:
    seed: int
    params: dict
    sandbox: str = ""
    setup: ScriptResult | None = None
    after_setup: TaskResult | None = None
    solution: ScriptResult | None = None
    after_solution: TaskResult | None = None
    violations: list[Violation] = field(default_factory=list)
    duration: float = 0.0


@dataclass
class TaskReport:
    path: Path
    task_id: str
    task: Task | None
    lint: list[Problem] = field(default_factory=list)
    runs: list[SeedRun] = field(default_factory=list)
    skipped: str = ""          # why it was not run live (e.g. needs nodes)

    @property
    def violations(self) -> list[Violation]:
        return [v for r in self.runs for v in r.violations]

    @property
    def ok(self) -> bool:
        return not self.lint and not self.violations

    @property
    def duration(self) -> float:
        return round(sum(r.duration for r in self.runs), 2)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def check_rules(task_id: str, seed: int, result: TaskResult, after: str) -> list[Violation]:
    """The rule for one grading: after ``setup`` every check fails, after ``solution`` every
    check passes. A task-level grading error breaks both."""
    out = []
    if result.error and not result.checks:
        rule = CRASH_AFTER_SETUP if after == "setup" else CRASH_AFTER_SOLUTION
        return [Violation(task_id, seed, None, rule, result.error)]
    for c in result.checks:
        if after == "setup" and c.outcome == "passed":
            out.append(Violation(task_id, seed, c.id, FREE_POINTS, c.description))
        elif after == "setup" and c.outcome == "error":
            out.append(Violation(task_id, seed, c.id, CRASH_AFTER_SETUP, c.message))
        elif after == "solution" and c.outcome == "failed":
            out.append(Violation(task_id, seed, c.id, FAILS_AFTER_SOLUTION, c.message))
        elif after == "solution" and c.outcome == "error":
            out.append(Violation(task_id, seed, c.id, CRASH_AFTER_SOLUTION, c.message))
    return out


def validate_seed(task: Task, seed: int, provider: Provider,
                  check_timeout: float | None = None) -> SeedRun:
    """Setup → grade → solution → grade on a fresh sandbox, destroyed afterwards."""
    started = time.monotonic()
    params = task.draw_params(seed)
    run = SeedRun(seed, params, sandbox=f"val-{secrets.token_hex(3)}-{seed}")
    kw = {"check_timeout": check_timeout} if check_timeout else {}
    try:
        try:
            sb = provider.create(run.sandbox, nodes=task.nodes, **task.sandbox_options())
        except SandboxError as exc:
            run.violations.append(Violation(task.id, seed, None, NO_SANDBOX, str(exc)))
            return run
        run.setup = run_script(task, "setup", sb, params)
        if not run.setup.ok:
            run.violations.append(Violation(task.id, seed, None, SETUP_FAILED,
                                            f"exit {run.setup.returncode}: {_tail(run.setup.output)}"))
            return run
        [run.after_setup] = grade(sb, [(task, params)], **kw)
        run.violations += check_rules(task.id, seed, run.after_setup, "setup")
        run.solution = run_script(task, "solution", sb, params)
        if not run.solution.ok:
            run.violations.append(Violation(task.id, seed, None, SOLUTION_FAILED,
                                            f"exit {run.solution.returncode}: "
                                            f"{_tail(run.solution.output)}"))
            return run
        [run.after_solution] = grade(sb, [(task, params)], **kw)
        run.violations += check_rules(task.id, seed, run.after_solution, "solution")
        return run
    finally:
        try:
            provider.destroy(run.sandbox)
        finally:
            run.duration = round(time.monotonic() - started, 2)


ProgressFn = Callable[[str, "TaskReport | None"], None]


# Cheapest first. vm offers what kind offers, so auto never reaches it:
# `-p vm` (or provider="vm") puts node tasks on VMs.
AUTO_ORDER = ("kwok", "kind", "vm")


def pick_provider(requires, order=AUTO_ORDER) -> Provider | None:
    """The cheapest provider offering everything a task requires."""
    from sandbox.registry import PROVIDERS
    for name in order:
        if name in PROVIDERS:
            prov = get_provider(name)
            if set(requires) <= set(prov.capabilities):
                return prov
    return None


def validate(paths: list[str | Path], jobs: int = 1, seeds: int = 2, lint_only: bool = False,
             provider: Provider | str = "auto", check_timeout: float | None = None,
             progress: Callable[[int, int, str], None] | None = None) -> list[TaskReport]:
    """Lint every task under ``paths``, then (unless ``lint_only``) prove each live.

    ``progress(done, total, label)`` is called as units finish. Tasks with lint
    problems are not run live. With ``provider="auto"`` each task runs on the
    cheapest provider that offers what it requires (kwok, else kind). Returns
    one report per task, sorted by id."""
    auto = provider == "auto"
    fixed = None if auto else (get_provider(provider) if isinstance(provider, str) else provider)
    linted: list[LintResult] = lint_paths(list(paths))
    reports = [TaskReport(r.path, r.name, r.task, list(r.problems)) for r in linted]
    if lint_only:
        return sorted(reports, key=lambda r: r.task_id)
    units = []
    for rep in reports:
        if rep.lint or rep.task is None:
            continue
        prov = pick_provider(rep.task.requires) if auto else fixed
        if prov is None:
            rep.skipped = f"no provider offers {', '.join(sorted(rep.task.requires))}"
            continue
        missing = set(rep.task.requires) - set(prov.capabilities)
        if missing:
            rep.skipped = (f"needs {', '.join(sorted(missing))}, which the {prov.name} provider "
                           f"does not offer (it has {', '.join(sorted(prov.capabilities))})")
            continue
        units += [(rep, seed, prov) for seed in range(1, seeds + 1)]
    total = len(units)
    if progress:
        progress(0, total, "")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(validate_seed, rep.task, seed, prov, check_timeout): (rep, seed)
                   for rep, seed, prov in units}
        for done, fut in enumerate(as_completed(futures), 1):
            rep, seed = futures[fut]
            rep.runs.append(fut.result())
            if progress:
                progress(done, total, f"{rep.task_id} (seed {seed})")
    for rep in reports:
        rep.runs.sort(key=lambda r: r.seed)
    return sorted(reports, key=lambda r: r.task_id)


# -- output ---------------------------------------------------------------------------

def table(rep: TaskReport) -> list[str]:
    """Rows ``check | seed N: after setup -> after solution`` for one task."""
    if not rep.runs:
        return []
    ids: list[str] = []
    for run in rep.runs:
        for res in (run.after_setup, run.after_solution):
            for c in (res.checks if res else []):
                if c.id not in ids:
                    ids.append(c.id)
    width = max([len(i) for i in ids] + [5])
    head = f"{'check':<{width}}  " + "  ".join(f"{'seed ' + str(r.seed) + ': setup -> solution':<32}"
                                                 for r in rep.runs)
    rows = [head]
    for cid in ids:
        cells = []
        for run in rep.runs:
            def outcome(res, want):
                c = next((c for c in (res.checks if res else []) if c.id == cid), None)
                if c is None:
                    return "-"
                return c.outcome + ("" if c.outcome == want else " (!)")
            cells.append(f"{outcome(run.after_setup, 'failed') + ' -> ' + outcome(run.after_solution, 'passed'):<32}")
        rows.append(f"{cid:<{width}}  " + "  ".join(cells))
    return rows


def junit_xml(reports: list[TaskReport]) -> str:
    """One ``<testcase>`` per task; lint problems and broken rules are its failure."""
    suite = ET.Element("testsuite", name="proctor validate", tests=str(len(reports)),
                       failures=str(sum(1 for r in reports if not r.ok)),
                       skipped=str(sum(1 for r in reports if r.ok and r.skipped)),
                       time=f"{sum(r.duration for r in reports):.2f}")
    for rep in reports:
        track = rep.task.tracks[0] if rep.task else "unknown"
        case = ET.SubElement(suite, "testcase", classname=f"tasks.{track}", name=rep.task_id,
                             time=f"{rep.duration:.2f}", file=str(rep.path))
        if not rep.ok:
            lines = [str(p) for p in rep.lint] + [str(v) for v in rep.violations]
            fail = ET.SubElement(case, "failure", message=lines[0],
                                 type="lint" if rep.lint else "rule")
            fail.text = "\n".join(lines + [""] + table(rep))
        elif rep.skipped:
            ET.SubElement(case, "skipped", message=rep.skipped)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
