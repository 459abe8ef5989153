"""The grader's commands on the ``proctor`` CLI: validate, lint, grade, task.

``register(cli)`` adds them; ``grader.cli`` calls it. Known errors
(``GraderError``) become one red line there; the commands themselves print
reports and exit 1 when a task or a check does not hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import click
import yaml

from .errors import GraderError
from .task import Task, find_tasks, load_task


def _echo_err(msg: str, **style) -> None:
    click.secho(msg, err=True, **style)


# -- validate / lint -----------------------------------------------------------------

@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, 32),
              help="Tasks validated in parallel (one sandbox each).")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JUnit XML report here.")
@click.option("--lint-only", is_flag=True, help="Lint only, without a cluster (for pre-commit).")
@click.option("--seeds", default=2, show_default=True, type=click.IntRange(1, 10),
              help="Param seeds to prove each task with, each on a sandbox as a create leaves "
                   "it (with its alternatives and near misses where the sandbox rewinds: kwok).")
@click.option("--provider", "-p", default="auto", show_default=True,
              help="Sandbox provider: kwok, kind, vm, or auto (kwok where the task needs only "
                   "the API, kind where it needs real nodes; -p vm puts them on VMs).")
@click.option("--check-timeout", type=float, help="Seconds per check (default 10).")
@click.option("--variants", type=click.Choice(["all", "kwok", "none"]), default="all",
              show_default=True,
              help="Which tasks' alternatives/ and near-misses/ run: all, only those of tasks "
                   "on kwok (a sandbox in seconds; CI's choice), or none.")
@click.option("--variant-seeds", type=click.IntRange(0, 10), default=0, show_default=True,
              help="On how many of the seeds the alternatives and near misses run where the "
                   "sandbox rewinds (kwok): 0 for every seed.")
@click.option("--costly-seeds", type=click.IntRange(1, 10), default=None,
              help="At most this many seeds for tasks on providers that cannot rewind "
                   "(gvisor, kind, vm: a sandbox each, a minute or more on a small machine); "
                   "default: --seeds.")
@click.option("--fresh-sandboxes", "fresh", is_flag=True,
              help="A new sandbox for every seed, even where one could be rewound to as it "
                   "was made and used again (kwok does that by default).")
@click.option("--all", "prove_all", is_flag=True,
              help="Prove every task again, even one that held before on this machine with "
                   "the same files, the same grader and sandbox code and the same options.")
def validate_cmd(paths, jobs, junit, lint_only, seeds, provider, check_timeout, variants,
                 variant_seeds, costly_seeds, fresh, prove_all):
    """Lint tasks, then prove each on a live sandbox: after setup every check
    fails, after the solution every check passes; each of a task's
    alternatives/ passes every check and each of its near-misses/ fails one.
    A task that held before on this machine, unchanged and proven by the same
    code, is not proven again (--all does). PATHS default to tasks/."""
    from .validate import validate
    from .validate_report import junit_xml, proven_text, table, variant_lines
    paths = list(paths) or [Path("tasks")]
    started = time.monotonic()
    bar = None

    def progress(done: int, total: int, label: str) -> None:
        nonlocal bar
        if total == 0:
            return
        if not sys.stderr.isatty():
            # CI logs: a line per step instead of a bar nobody sees until the end
            click.echo(f"[{done}/{total}] {label} ({time.monotonic() - started:.0f}s)",
                       err=True)
            return
        if bar is None:
            bar = click.progressbar(length=total, label=f"validating on {provider}",
                                    file=sys.stderr, show_pos=True, show_eta=True,
                                    item_show_func=lambda s: s)
            bar.__enter__()
        bar.update(done - bar.pos, label)

    try:
        reports = validate(paths, jobs=jobs, seeds=seeds, lint_only=lint_only,
                           provider=provider, check_timeout=check_timeout, progress=progress,
                           variants=variants, reuse=not prove_all,
                           variant_seeds=variant_seeds, fresh=fresh,
                           costly_seeds=costly_seeds)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    failed = [r for r in reports if not r.ok]
    for rep in reports:
        if rep.ok and rep.proven:
            click.secho(f"PASS {rep.task_id}", fg="green", nl=False)
            click.echo(f"  ({proven_text(rep.proven)})")
            continue
        if rep.ok and not rep.skipped:
            n = len(rep.runs[0].after_solution.checks) if rep.runs and rep.runs[0].after_solution else 0
            ways, misses = rep.variant_counts
            what = "lint ok" if lint_only else (
                f"{n} checks, seeds {', '.join(str(r.seed) for r in rep.runs)}"
                + (f", {ways} other ways, {misses} near misses" if ways or misses else "")
                + f", {rep.duration:.1f}s")
            click.secho(f"PASS {rep.task_id}", fg="green", nl=False)
            click.echo(f"  ({what})")
            for line in variant_lines(rep):
                click.echo(f"    {line}")
            continue
        if rep.ok:
            click.secho(f"SKIP {rep.task_id}", fg="yellow", nl=False)
            click.echo(f"  {rep.skipped}")
            continue
        click.secho(f"FAIL {rep.task_id}", fg="red", bold=True, nl=False)
        click.echo(f"  ({rep.path})")
        for p in rep.lint:
            click.echo(f"  lint: {p}")
        for row in table(rep):
            click.echo(f"    {row}")
        for v in rep.violations:
            click.secho(f"  {v}", fg="red")
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(reports))
    kept = sum(1 for r in reports if r.ok and r.proven)
    summary = (f"{len(reports) - len(failed)} of {len(reports)} tasks hold"
               f"{' (lint only)' if lint_only else ''}"
               f"{f' ({kept} unchanged since they last held here; --all proves them again)' if kept else ''}"
               f" in {time.monotonic() - started:.1f}s")
    click.secho(summary, fg="red" if failed else "green", bold=True)
    if not reports:
        raise GraderError(f"no tasks found under {', '.join(map(str, paths))}")
    if failed:
        sys.exit(1)


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def lint_cmd(ctx, paths):
    """Lint tasks without a cluster (the same as `validate --lint-only`)."""
    ctx.invoke(validate_cmd, paths=paths, lint_only=True, jobs=1, junit=None, seeds=2,
               variants="none", prove_all=False,
               provider="kwok", check_timeout=None)


# -- grade a cluster the user brings ---------------------------------------------------------

def resolve_task(ref: str, bank: Path) -> Task:
    """A task by folder path, or by id in the bank."""
    if Path(ref).exists():
        return load_task(ref)
    for folder in find_tasks(bank) if bank.is_dir() else []:
        if folder.name == ref:
            return load_task(folder)
    raise GraderError(f"no task {ref!r}: not a folder, and no task with that id under {bank}")


def external_sandbox(kubeconfig: Path, workspace: Path):
    """A Sandbox record for a cluster Proctor did not make (node names asked of its API)."""
    from sandbox import Sandbox
    from sandbox.toolchain import Toolchain
    try:
        cfg = yaml.safe_load(kubeconfig.read_text()) or {}
        current = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == current)
        server = next(c["cluster"]["server"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    except (OSError, KeyError, StopIteration, TypeError, yaml.YAMLError) as exc:
        raise GraderError(f"{kubeconfig}: not a usable kubeconfig with a current context ({exc})")
    res = subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(kubeconfig),
                          "get", "nodes", "-o", "name", "--request-timeout=10s"],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise GraderError(f"cluster at {server} (from {kubeconfig}) does not answer: "
                          f"{res.stderr.strip()[-300:]}")
    nodes = [line.split("/", 1)[1] for line in res.stdout.split()]
    (workspace / "answers").mkdir(parents=True, exist_ok=True)
    return Sandbox("external", "external", kubeconfig.resolve(), server, nodes,
                   workspace.resolve(), capabilities=frozenset({"api"}))


def _params(task: Task, seed: int, overrides: tuple[str, ...]) -> dict:
    params = task.draw_params(seed)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in task.params:
            raise GraderError(f"--param {item!r}: expected NAME=VALUE with NAME one of "
                              f"{', '.join(task.params) or '(task has no params)'}")
        params[key] = int(value) if task.params[key].kind == "int" else value
    return params


@click.command("grade")
@click.argument("tasks", nargs=-1, required=True)
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Admin kubeconfig of the cluster to grade.")
@click.option("--seed", default=0, show_default=True, help="Seed the params were drawn with.")
@click.option("--param", "overrides", multiple=True, metavar="NAME=VALUE",
              help="Set a param instead of drawing it (repeatable).")
@click.option("--workspace", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory whose answers/ holds the answer files.")
@click.option("--bank", default="tasks", show_default=True, type=click.Path(path_type=Path),
              help="Where to find tasks given by id.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def grade_cmd(tasks, kubeconfig, seed, overrides, workspace, bank, as_json):
    """Grade TASKS (folders or ids) against a cluster you bring. Exits 1 unless every check passes."""
    from .runner import grade
    from .score import score
    loaded = [resolve_task(t, bank) for t in tasks]
    sb = external_sandbox(kubeconfig, workspace)
    results = grade(sb, [(t, _params(t, seed, overrides if len(loaded) == 1 else ())) for t in loaded])
    total = score([(t.weight, r) for t, r in zip(loaded, results)])
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        colours = {"passed": "green", "failed": "red", "error": "yellow"}
        for r in results:
            click.secho(f"{r.task_id}: {r.score:g}/{r.max_score:g}", bold=True)
            if r.error:
                click.secho(f"  grader error: {r.error}", fg="yellow")
            for c in r.checks:
                click.echo("  " + click.style(f"{c.outcome:<6}", fg=colours[c.outcome])
                           + f" {c.points:g}pt  {c.description.splitlines()[0] if c.description else c.id}")
                if c.message:
                    click.echo(f"         {c.message}")
        click.secho(f"score: {total.percent:g}% (tasks weighted as in task.yaml; a check "
                    "that errors scores zero)", bold=True)
        for reason in total.review:
            click.secho(f"  for review: {reason}", fg="yellow")
    if not all(r.passed for r in results):
        sys.exit(1)


# -- a task by hand ---------------------------------------------------------------------------

@click.group("task")
def task_group():
    """Look at one task, or run its scripts against a cluster."""


@task_group.command("show")
@click.argument("task")
@click.option("--seed", default=0, show_default=True)
@click.option("--bank", default="tasks", show_default=True, type=click.Path(path_type=Path))
def task_show(task, seed, bank):
    """Print a task's statement and hints as a candidate sees them for SEED."""
    t = resolve_task(task, bank)
    params = t.draw_params(seed)
    shown = t.render(params)
    click.secho(f"{t.title}  [{', '.join(t.tracks)} · {t.domain} · {t.difficulty} · "
                f"{t.minutes} min · weight {t.weight:g}]", bold=True)
    if params:
        click.echo("params: " + ", ".join(f"{k}={v}" for k, v in params.items()))
    click.echo()
    click.echo(shown["statement"].rstrip())
    for i, h in enumerate(shown["hints"], 1):
        click.echo(f"\nhint {i}: {h}")


@task_group.command("run")
@click.argument("which", type=click.Choice(["setup", "solution"]))
@click.argument("task")
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True)
@click.option("--param", "overrides", multiple=True, metavar="NAME=VALUE")
@click.option("--workspace", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--bank", default="tasks", show_default=True, type=click.Path(path_type=Path))
def task_run(which, task, kubeconfig, seed, overrides, workspace, bank):
    """Run a task's setup or solution against a cluster you bring."""
    from .runner import run_script
    t = resolve_task(task, bank)
    sb = external_sandbox(kubeconfig, workspace)
    res = run_script(t, which, sb, _params(t, seed, overrides))
    click.echo(res.output.rstrip())
    if not res.ok:
        raise GraderError(f"{which} of {t.id} failed (exit {res.returncode}) after {res.duration:.1f}s")


@click.command("coverage")
@click.option("--bank", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=Path("tasks"), show_default=True, help="The task bank.")
@click.option("--write", "out", type=click.Path(dir_okay=False, path_type=Path),
              is_flag=False, flag_value=Path("docs/coverage.md"),
              help="Write the table to this file (default docs/coverage.md) instead of printing it.")
def coverage_cmd(bank, out):
    """What the bank covers of the CKA and CKAD curricula, competency by competency."""
    from .coverage import coverage_markdown
    from .task import load_bank
    text = coverage_markdown(load_bank(bank))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}")


def register(cli: click.Group) -> None:
    """Add the grader's commands to the ``proctor`` group."""
    for cmd in (validate_cmd, lint_cmd, grade_cmd, task_group, coverage_cmd):
        cli.add_command(cmd)
