"""``proctor validate``: prove every task can be failed and can be passed.

For each task: lint; then, per param seed, on a fresh sandbox: run setup,
grade (**every** check must fail: a check that passes is free points), run
the solution, grade (**every** check must pass). Then each of its other
correct ways (``alternatives/``: every check must pass) and each of its
plausible mistakes (``near-misses/``: at least one check must fail, and the
report names the checks that caught it), each on the cluster as it was
right after setup: where the provider rewinds (kwok, ``Provider.rewinds``)
the seed's own sandbox is rewound to that moment before each, on every
seed; elsewhere each gets a fresh sandbox and setup again, with the first
seed. Where the provider rewinds, ``validate`` hands a sandbox on from unit
to unit rewound to as it was made (``grader.reuse``) instead of making one
per seed; every other sandbox is destroyed after its unit whatever happens.
Units (task × seed, task × variant where nothing rewinds) run in parallel
with ``jobs``.

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

from sandbox import Provider, SandboxError, choose, get_provider

from .errors import Problem
from . import proofs, records
from .lint import LintResult, lint_paths, lint_task
from .reuse import SandboxPool
from .runner import ScriptResult, TaskResult, grade, run_script
from .task import ALTERNATIVES, NEAR_MISSES, VARIANT_DIRS, Task

FREE_POINTS = "passes right after setup: free points"
CRASH_AFTER_SETUP = "errors right after setup: the checker crashed instead of failing"
FAILS_AFTER_SOLUTION = "fails after the reference solution"
CRASH_AFTER_SOLUTION = "errors after the reference solution: the checker crashed"
SETUP_FAILED = "setup script failed"
SOLUTION_FAILED = "solution script failed"
NO_SANDBOX = "no sandbox to validate on"
ALTERNATIVE_FAILS = "another correct way fails"
ALTERNATIVE_CRASH = "errors after another correct way: the checker crashed"
NEAR_MISS_PASSES = "a plausible mistake gets full marks"
NEAR_MISS_CRASH = "errors after a plausible mistake: the checker crashed instead of failing"
VARIANT_FAILED = "script failed"


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
    variants: list["VariantRun"] = field(default_factory=list)  # run on this sandbox, rewound


@dataclass
class VariantRun:
    """One other way (``alternatives/``) or mistake (``near-misses/``), run on the
    cluster as it was right after setup (a fresh sandbox, or one rewound)."""

    kind: str                    # ALTERNATIVES or NEAR_MISSES
    name: str
    summary: str                 # the script's first comment line
    seed: int
    sandbox: str = ""
    result: TaskResult | None = None
    violations: list[Violation] = field(default_factory=list)
    duration: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def caught_by(self) -> list[str]:
        """The checks that did not pass (what caught a near miss)."""
        return [c.id for c in (self.result.checks if self.result else []) if c.outcome != "passed"]


@dataclass
class TaskReport:
    path: Path
    task_id: str
    task: Task | None
    lint: list[Problem] = field(default_factory=list)
    runs: list[SeedRun] = field(default_factory=list)
    variants: list[VariantRun] = field(default_factory=list)
    skipped: str = ""          # why it was not run live (e.g. needs nodes)
    proven: dict | None = None  # the kept proof it held with (grader.proofs), not run again

    @property
    def all_variants(self) -> list[VariantRun]:
        """Every variant run: on sandboxes of their own, and on the seeds' rewound ones."""
        return [*self.variants, *(v for r in self.runs for v in r.variants)]

    @property
    def variant_counts(self) -> tuple[int, int]:
        """How many other ways and near misses ran (each counted once, whatever its seeds)."""
        names = {(v.kind, v.name) for v in self.all_variants}
        return (sum(k == ALTERNATIVES for k, _ in names), sum(k == NEAR_MISSES for k, _ in names))

    @property
    def violations(self) -> list[Violation]:
        return [v for r in (*self.runs, *self.all_variants) for v in r.violations]

    @property
    def ok(self) -> bool:
        return not self.lint and not self.violations

    @property
    def blocked(self) -> bool:
        """A lint problem keeps the task off a live sandbox (too few variants does not)."""
        return any(p.blocking for p in self.lint)

    @property
    def duration(self) -> float:
        return round(sum(r.duration for r in (*self.runs, *self.variants)), 2)


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


def variant_rules(task_id: str, run: VariantRun) -> list[Violation]:
    """An alternative passes every check; a near miss fails at least one (an
    error counts for neither: a checker must fail a mistake, not crash on it)."""
    res, where = run.result, f"{run.label} ({run.summary})" if run.summary else run.label
    if res.error and not res.checks:
        rule = ALTERNATIVE_CRASH if run.kind == ALTERNATIVES else NEAR_MISS_CRASH
        return [Violation(task_id, run.seed, None, rule, f"{where}: {res.error}")]
    if run.kind == ALTERNATIVES:
        return [Violation(task_id, run.seed, c.id,
                          ALTERNATIVE_FAILS if c.outcome == "failed" else ALTERNATIVE_CRASH,
                          f"{where}: {c.message}")
                for c in res.checks if c.outcome != "passed"]
    if not any(c.outcome == "failed" for c in res.checks):
        crashed = [c.id for c in res.checks if c.outcome == "error"]
        return [Violation(task_id, run.seed, None, NEAR_MISS_CRASH if crashed else NEAR_MISS_PASSES,
                          where + (f": {', '.join(crashed)} errored" if crashed else ""))]
    return []


def _quiet(_line: str) -> None:
    pass


def _create(task: Task, seed: int, provider: Provider, name: str, violations: list[Violation],
            say: Callable[[str], None]):
    """A fresh sandbox for ``task``, or None with the reason in ``violations``."""
    options = task.sandbox_options()
    say(f"seed {seed}: creating a {task.nodes}-node {provider.name} sandbox {name}"
        + (f" ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else ""))
    try:
        return provider.create(name, nodes=task.nodes, **options)
    except SandboxError as exc:
        violations.append(Violation(task.id, seed, None, NO_SANDBOX, str(exc)))
        say(f"seed {seed}: no sandbox: {exc}")
        return None


def _script(task: Task, seed: int, name: str, sb, params: dict,
            say: Callable[[str], None]) -> ScriptResult:
    say(f"seed {seed}: running {name}")
    res = run_script(task, name, sb, params)
    for ln in (res.output or "").strip().splitlines()[-40:]:
        say(f"    {ln}")
    say(f"seed {seed}: {name} exited {res.returncode} in {res.duration:.1f}s")
    return res


def _graded(task: Task, seed: int, sb, params: dict, after: str, want: str,
            say: Callable[[str], None], **kw) -> TaskResult:
    say(f"seed {seed}: grading after {after} (every check must be {want})")
    [res] = grade(sb, [(task, params)], **kw)
    if res.error:
        say(f"    error: {res.error}")
    for c in res.checks:
        msg = (c.message or "").strip().splitlines()[:1]
        say(f"  {'ok ' if c.outcome == want else '!! '}{c.outcome:<7} {c.id}"
            + (f": {msg[0]}" if msg else ""))
    return res


def _destroy(provider: Provider, name: str, seed: int, say: Callable[[str], None]) -> None:
    provider.destroy(name)
    say(f"seed {seed}: sandbox {name} removed")


def validate_seed(task: Task, seed: int, provider: Provider, check_timeout: float | None = None,
                  say: Callable[[str], None] = _quiet,
                  variants: list[tuple[str, Path]] = (),
                  pool: SandboxPool | None = None) -> SeedRun:
    """Setup → grade → solution → grade on a fresh sandbox, destroyed afterwards
    (or one of ``pool``'s, as it was made, given back afterwards); then each of
    ``variants`` (``(kind, script)``) on the same sandbox rewound to the moment
    after setup (``SeedRun.variants``; only where ``provider.rewinds``).

    ``say(line)`` hears every step as it happens (the portal streams it)."""
    if variants and not provider.rewinds:
        raise ValueError(f"{provider.name} sandboxes cannot be rewound: "
                         "run each variant on its own (validate_variant)")
    started = time.monotonic()
    params = task.draw_params(seed)
    run = SeedRun(seed, params, sandbox=f"val-{secrets.token_hex(3)}-{seed}")
    kw = {"check_timeout": check_timeout} if check_timeout else {}
    say(f"seed {seed}: {', '.join(f'{k}={v}' for k, v in params.items()) or 'no params'}")
    sb, finished = None, False
    try:
        if pool is None:
            sb = _create(task, seed, provider, run.sandbox, run.violations, say)
        else:
            sb = _taken(task, seed, pool, run.violations, say)
        if sb is None:
            return run
        run.sandbox = sb.name
        run.setup = _script(task, seed, "setup", sb, params, say)
        if not run.setup.ok:
            run.violations.append(Violation(task.id, seed, None, SETUP_FAILED,
                                            f"exit {run.setup.returncode}: {_tail(run.setup.output)}"))
            return run
        run.after_setup = _graded(task, seed, sb, params, "setup", "failed", say, **kw)
        run.violations += check_rules(task.id, seed, run.after_setup, "setup")
        try:
            after_setup = provider.checkpoint(sb) if variants else None
        except SandboxError as exc:
            run.violations.append(Violation(task.id, seed, None, NO_SANDBOX,
                                            f"no checkpoint after setup for the variants: {exc}"))
            variants = ()
        run.solution = _script(task, seed, "solution", sb, params, say)
        if not run.solution.ok:
            run.violations.append(Violation(task.id, seed, None, SOLUTION_FAILED,
                                            f"exit {run.solution.returncode}: "
                                            f"{_tail(run.solution.output)}"))
        else:
            run.after_solution = _graded(task, seed, sb, params, "solution", "passed", say, **kw)
            run.violations += check_rules(task.id, seed, run.after_solution, "solution")
        for kind, script in variants:
            run.variants.append(_variant_on(task, kind, script, provider, sb, after_setup, seed,
                                            params, say, **kw))
        finished = True
        return run
    finally:
        try:
            if pool is None:
                _destroy(provider, run.sandbox, seed, say)
            elif sb is not None:
                # a unit that went wrong leaves its sandbox to no other
                pool.give(sb, reusable=finished and not any(
                    v.rule == NO_SANDBOX for v in [*run.violations, *(
                        x for r in run.variants for x in r.violations)]))
        finally:
            run.duration = round(time.monotonic() - started, 2)


def _taken(task: Task, seed: int, pool: SandboxPool, violations: list[Violation],
           say: Callable[[str], None]):
    """A sandbox from ``pool`` as a create leaves it, or None with the reason in ``violations``."""
    try:
        return pool.take(task, lambda line: say(f"seed {seed}: {line}"))
    except SandboxError as exc:
        violations.append(Violation(task.id, seed, None, NO_SANDBOX, str(exc)))
        say(f"seed {seed}: no sandbox: {exc}")
        return None


def _variant_on(task: Task, kind: str, script: Path, provider: Provider, sb, after_setup,
                seed: int, params: dict, say: Callable[[str], None], **kw) -> VariantRun:
    """``kind/script`` on ``sb`` rewound to ``after_setup``, then graded."""
    started = time.monotonic()
    run = VariantRun(kind, script.name, task.variant_summary(script), seed, sandbox=sb.name)
    say(f"seed {seed}: {run.label}: {run.summary or '(no summary)'}")
    try:
        provider.rewind(sb, after_setup)
    except SandboxError as exc:
        run.violations.append(Violation(task.id, seed, None, NO_SANDBOX,
                                        f"could not rewind to after setup: {exc}"))
        return run
    say(f"seed {seed}: rewound {sb.name} to right after setup")
    _variant_graded(task, run, sb, params, say, **kw)
    run.duration = round(time.monotonic() - started, 2)
    return run


def _variant_graded(task: Task, run: VariantRun, sb, params: dict,
                    say: Callable[[str], None], **kw) -> None:
    """Run the variant's script on ``sb`` (as it is after setup) and grade it by its rule."""
    which = f"{run.kind}/{run.name}"
    res = _script(task, run.seed, which, sb, params, say)
    if not res.ok:
        run.violations.append(Violation(task.id, run.seed, None, VARIANT_FAILED,
                                        f"{which}: exit {res.returncode}: {_tail(res.output)}"))
        return
    want = "passed" if run.kind == ALTERNATIVES else "failed (at least one)"
    run.result = _graded(task, run.seed, sb, params, run.label, want, say, **kw)
    run.violations += variant_rules(task.id, run)
    if run.kind == NEAR_MISSES and not run.violations:
        say(f"{run.label}: caught by {', '.join(run.caught_by)}")


def validate_variant(task: Task, kind: str, script: Path, provider: Provider, seed: int = 1,
                     check_timeout: float | None = None,
                     say: Callable[[str], None] = _quiet) -> VariantRun:
    """Setup → ``kind/<script>`` → grade on a fresh sandbox, destroyed afterwards."""
    started = time.monotonic()
    params = task.draw_params(seed)
    run = VariantRun(kind, script.name, task.variant_summary(script), seed,
                     sandbox=f"val-{secrets.token_hex(3)}-v{seed}")
    kw = {"check_timeout": check_timeout} if check_timeout else {}
    say(f"{run.label}: {run.summary or '(no summary)'}")
    try:
        sb = _create(task, seed, provider, run.sandbox, run.violations, say)
        if sb is None:
            return run
        res = _script(task, seed, "setup", sb, params, say)
        if not res.ok:
            run.violations.append(Violation(task.id, seed, None, SETUP_FAILED,
                                            f"setup: exit {res.returncode}: {_tail(res.output)}"))
            return run
        _variant_graded(task, run, sb, params, say, **kw)
        return run
    finally:
        try:
            _destroy(provider, run.sandbox, seed, say)
        finally:
            run.duration = round(time.monotonic() - started, 2)


# Cheapest first: simulated nodes, then real containers in gVisor, then real
# nodes. vm offers what kind offers, so auto never reaches it: `-p vm` (or
# provider="vm") puts node tasks on VMs.
AUTO_ORDER = ("kwok", "gvisor", "kind", "vm")


def _candidates(provider) -> list:
    """``"auto"``, a name, a provider, or a list of them (most preferred first)."""
    if provider == "auto":
        return list(AUTO_ORDER)
    cands = list(provider) if isinstance(provider, (list, tuple)) else [provider]
    return [get_provider(c) if isinstance(c, str) else c for c in cands]


def _place(rep: "TaskReport", provider) -> Provider | None:
    """The provider ``rep``'s task runs on, or None with ``rep.skipped`` saying why."""
    cands = _candidates(provider)
    prov = choose(rep.task.requires, cands)
    if prov is None and len(cands) == 1 and not isinstance(cands[0], str):
        missing = set(rep.task.requires) - set(cands[0].capabilities)
        rep.skipped = (f"needs {', '.join(sorted(missing))}, which the {cands[0].name} provider "
                       f"does not offer (it has {', '.join(sorted(cands[0].capabilities))})")
    elif prov is None:
        names = [c if isinstance(c, str) else c.name for c in cands]
        rep.skipped = (f"needs {', '.join(sorted(rep.task.requires))}, which none of the "
                       f"providers here offers ({', '.join(names)})")
    return prov


def _record(rep: "TaskReport", provider: Provider | None, via: str, seeds=None) -> None:
    if rep.task is None or (rep.skipped and not rep.lint):
        return
    try:
        records.write(rep.task.id, rep.path, "passed" if rep.ok else "failed",
                      provider=provider.name if provider else "",
                      seeds=seeds if seeds is not None else [r.seed for r in rep.runs],
                      via=via, problems=[*rep.lint, *rep.violations])
    except OSError:  # a read-only state folder must not fail the validation itself
        pass


def validate_task(path: str | Path, provider="auto", seeds: int = 2, say=_quiet,
                  check_timeout: float | None = None, via: str = "proctor validate") -> "TaskReport":
    """Lint one task, then prove it live seed after seed, saying each step."""
    linted = lint_task(path)
    rep = TaskReport(linted.path, linted.name, linted.task, list(linted.problems))
    say(f"lint: {len(rep.lint)} problem(s)")
    for p in rep.lint:
        say(f"  {Path(p.file).name}:{p.line or '-'}: {p.message}")
    prov = None
    if rep.task is not None and not rep.blocked:
        prov = _place(rep, provider)
        if prov is None:
            say(f"not run live: {rep.skipped}")
        else:
            rewound = _variants(rep.task) if prov.rewinds else []
            chosen = rep.task.proving_seeds(seeds)
            for seed in chosen:
                rep.runs.append(validate_seed(rep.task, seed, prov, check_timeout, say, rewound))
            if not prov.rewinds:
                for kind, script in _variants(rep.task):
                    rep.variants.append(validate_variant(rep.task, kind, script, prov, chosen[0],
                                                         check_timeout, say))
    _record(rep, prov, via)
    return rep


def _variants(task: Task) -> list[tuple[str, Path]]:
    return [(kind, script) for kind in VARIANT_DIRS for script in task.variants(kind)]


def validate(paths: list[str | Path], jobs: int = 1, seeds: int = 2, lint_only: bool = False,
             provider="auto", check_timeout: float | None = None,
             progress: Callable[[int, int, str], None] | None = None,
             variants: str = "all", reuse: bool = False,
             variant_seeds: int = 0, fresh: bool = False,
             costly_seeds: int | None = None) -> list[TaskReport]:
    """Lint every task under ``paths``, then (unless ``lint_only``) prove each live.

    ``progress(done, total, label)`` is called as units finish. Tasks with lint
    problems are not run live (but for too few variants: such a task runs, and
    fails on its lint). With ``provider="auto"`` each task runs on the
    cheapest provider that offers what it requires (kwok, gvisor, kind); a name,
    a provider, or a list of them (most preferred first) chooses otherwise.
    ``variants`` says whose alternatives and near misses run: ``"all"``,
    ``"kwok"`` (only tasks placed on kwok, where a sandbox takes seconds: a
    gvisor one takes a minute on a 2-core machine) or ``"none"``; where the
    sandbox rewinds they run on every seed, or on the first ``variant_seeds``.
    With ``reuse``, a task that held before with the same files, the same
    prover and the same options (``grader.proofs``) is reported as proven
    (``rep.proven``) without a sandbox; every task that holds live is kept
    as a proof either way. ``costly_seeds`` (default: ``seeds``) caps the seeds
    of tasks on a provider that cannot rewind (gvisor, kind, vm: a sandbox
    each, a minute or more here). Unless ``fresh``, the seeds on a provider that
    rewinds share its sandboxes, each rewound to as it was made before the
    next seed (``grader.reuse``).
    Returns one report per task, sorted by id; each live result is recorded
    (``grader.records``) for the authoring pages."""
    linted: list[LintResult] = lint_paths(list(paths))
    reports = [TaskReport(r.path, r.name, r.task, list(r.problems)) for r in linted]
    if lint_only:
        return sorted(reports, key=lambda r: r.task_id)
    units, placed, with_variants, seeds_of = [], {}, {}, {}
    for rep in reports:
        if rep.task is None or rep.blocked:
            continue
        prov = placed[rep.task_id] = _place(rep, provider)
        if prov is None:
            continue
        ways = variants == "all" or (variants == "kwok" and prov.name == "kwok")
        # what a proof says of the variants: none, on every seed (True), on the first N
        ways = with_variants[rep.task_id] = ways and (variant_seeds or True)
        n = seeds_of[rep.task_id] = seeds if prov.rewinds else min(seeds, costly_seeds or seeds)
        if reuse:
            rep.proven = proofs.find(rep.task, prov.name, n, ways)
            if rep.proven is not None:
                continue
        # a unit is a seed (with every variant, where its sandbox rewinds) or a variant
        rewound = _variants(rep.task) if ways and prov.rewinds else []
        chosen = rep.task.proving_seeds(n)
        units += [(rep, seed, prov, rewound if not variant_seeds or i < variant_seeds else [], None)
                  for i, seed in enumerate(chosen)]
        if ways and not prov.rewinds:
            units += [(rep, chosen[0], prov, [], variant) for variant in _variants(rep.task)]
    total = len(units)
    if progress:
        progress(0, total, "")
    sandboxes = {p.name: SandboxPool(p) for p in {u[2] for u in units}
                 if p.rewinds and not fresh}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {}
            for rep, seed, prov, rewound, variant in sorted(units, key=_longest_first):
                if variant is None:
                    fut = pool.submit(validate_seed, rep.task, seed, prov, check_timeout,
                                      _quiet, rewound, sandboxes.get(prov.name))
                else:
                    fut = pool.submit(validate_variant, rep.task, *variant, prov, seed, check_timeout)
                futures[fut] = (rep, seed, rewound, variant)
            for done, fut in enumerate(as_completed(futures), 1):
                rep, seed, rewound, variant = futures[fut]
                (rep.runs if variant is None else rep.variants).append(fut.result())
                if progress:
                    what = (f"seed {seed}" + (f" and {len(rewound)} variants" if rewound else "")
                            if variant is None else f"{variant[0]}/{variant[1].name}")
                    progress(done, total, f"{rep.task_id} ({what})")
    finally:
        for each in sandboxes.values():
            each.close()
    for rep in reports:
        rep.runs.sort(key=lambda r: r.seed)
        rep.variants.sort(key=lambda v: (v.kind, v.name, v.seed))
        if rep.proven is not None:
            _record(rep, placed.get(rep.task_id), "proctor validate (kept proof)",
                    seeds=rep.task.proving_seeds(seeds_of[rep.task_id]))
        else:
            _record(rep, placed.get(rep.task_id), "proctor validate")
            _keep_proof(rep, placed.get(rep.task_id), seeds_of.get(rep.task_id, seeds),
                        with_variants.get(rep.task_id, False))
    return sorted(reports, key=lambda r: r.task_id)


def _longest_first(unit) -> tuple:
    """The order units start in, so that none of the long ones is left to the end:
    first those on a provider that cannot rewind (a sandbox of their own, most
    of a minute here, mostly spent waiting on containers to start, which the
    other workers' kwok units fill), then seeds by how many variants they run."""
    _rep, _seed, prov, rewound, _variant = unit
    return (prov.rewinds, -len(rewound))


def _keep_proof(rep: TaskReport, prov: Provider | None, seeds: int, ways) -> None:
    """Keep the proof of a task that held live on every seed."""
    if prov is None or not rep.ok or len(rep.runs) != seeds:
        return
    first = rep.runs[0].after_solution
    proofs.keep(rep.task, prov.name, seeds, ways, checks=len(first.checks) if first else 0,
                alternatives=rep.variant_counts[0], near_misses=rep.variant_counts[1],
                duration=rep.duration)
