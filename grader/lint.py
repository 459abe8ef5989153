"""Lint: everything that can be wrong with a task without a cluster.

Collects every problem of every task and reports them together (like
ctfcli's ``Challenge.lint``), so an author fixes a bank in one pass:

- task.yaml: YAML, schema (with line numbers), curriculum domains;
- files: setup/solution present, executable, with a ``#!``; checks.py present;
- checks.py: parses, has checks, each with a docstring, sane ``points``;
- params: statement, hints and explanation render with every seed; scripts
  and checks only use declared params (``$PARAM_X``, ``params["x"]``);
- markdown: statement, hints and explanation render as written (tables,
  lists, code); the explanation is short (``EXPLANATION_MAX_WORDS``: it is
  read on the results page, the docs it links hold the rest);
- leaks: the statement or a hint quoting a command line of the solution (not
  the explanation: it is shown with the solution, after the attempt);
- proof: ``MIN_VARIANTS`` other correct ways and near misses (not blocking);
- the bank: folder name = id, unique ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2.exceptions import TemplateError

from .checkfile import params_used, scan_checks
from .errors import Problem, problem
from . import template
from .task import (ALTERNATIVES, NEAR_MISSES, Task, find_tasks, inspect_task, line_of,
                   read_task_yaml, substitute)

EXPLANATION_MAX_WORDS = 140
# A checker proven only against its own solution often fails another correct
# way or passes a mistake: each task is solved MIN_VARIANTS more ways and gets
# MIN_VARIANTS near misses. Fewer is a problem that does not block a live run
# (an author's draft is still validated, and fails).
MIN_VARIANTS = 2
LEAK_MIN_WORDS = 4
LEAK_MIN_CHARS = 20
PARAM_REF = re.compile(r"\$\{?(PARAM_[A-Za-z0-9_]+)")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


@dataclass
class LintResult:
    path: Path
    task: Task | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return self.task.id if self.task else self.path.name


def lint_task(path: str | Path) -> LintResult:
    """Every problem of one task folder."""
    task, problems = inspect_task(path)
    folder = Path(path)
    folder = folder.parent if folder.name == "task.yaml" else folder
    checks = folder / "checks.py"
    declared = []
    if checks.is_file():
        declared, found = scan_checks(checks)
        problems += found
    if task is not None:
        problems += requires_problems(task, declared)
        _, lines, _ = read_task_yaml(folder / "task.yaml")
        problems += template_problems(task, lines)
        problems += markdown_problems(task, lines)
        problems += param_use_problems(task)
        problems += leak_problems(task, lines)
        problems += variant_count_problems(task)
        if folder.resolve().name != task.id:
            problems.append(problem(folder / "task.yaml", f"id {task.id!r} differs from the "
                                    f"folder name {folder.resolve().name!r}; expected them equal",
                                    line_of(lines, ["id"])))
    return LintResult(folder, task, sorted(set(problems), key=lambda p: (p.file, p.line or 0)))


def lint_paths(paths: list[str | Path]) -> list[LintResult]:
    """Lint every task found under ``paths``, plus ids duplicated across them."""
    folders: list[Path] = []
    results: list[LintResult] = []
    for p in paths:
        found = find_tasks(p)
        if not found:
            results.append(LintResult(Path(p), None, [problem(p, "no task folders (with a "
                                                                 "task.yaml) found here")]))
        folders += [f for f in found if f.resolve() not in {x.resolve() for x in folders}]
    results += [lint_task(f) for f in folders]
    by_id: dict[str, list[LintResult]] = {}
    for r in results:
        if r.task is not None:
            by_id.setdefault(r.task.id, []).append(r)
    for task_id, same in by_id.items():
        if len(same) > 1:
            for r in same:
                others = ", ".join(str(o.path) for o in same if o is not r)
                r.problems.append(problem(r.path / "task.yaml", f"duplicate id {task_id!r}: also "
                                          f"used by {others}; ids must be unique in the bank"))
    return results


def template_problems(task: Task, lines: dict) -> list[Problem]:
    """The statement, hints and explanation use only declared params, and
    render for two seeds (that they parse and are data is checked when the
    task loads: ``grader.task.template_refusals``)."""
    file = task.path / "task.yaml"
    out = []
    known = set(task.params)
    for what, text, path in task.texts():
        base = line_of(lines, path) or 0
        try:
            used = template.names(text)
        except (template.TemplateSyntaxError, template.TemplateRefused):
            continue  # reported by load_task
        unknown = sorted(used - known)
        if unknown:
            out.append(problem(file, f"{what} uses {', '.join('{{ %s }}' % u for u in unknown)} "
                               f"but the task has no such param; params: "
                               f"{', '.join(sorted(known)) or 'none'}", base))
            continue
        for seed in (0, 1):
            try:
                template.render(text, task.draw_params(seed))
            except TemplateError as exc:
                out.append(problem(file, f"{what} does not render with seed {seed}: {exc}", base))
                break
            except Exception as exc:  # noqa: BLE001 - e.g. a filter on the wrong type: reported
                out.append(problem(file, f"{what} does not render with seed {seed}: "
                                         f"{type(exc).__name__}: {exc}", base))
                break
    return out


BLOCK_SCALAR = re.compile(r"[:-]\s*[|>][-+0-9]*\s*(#.*)?$")


def markdown_problems(task: Task, lines: dict) -> list[Problem]:
    """The statement, hints and explanation render as written: tables, lists,
    code (``grader.markdown.problems``), each reported at its line in task.yaml."""
    from . import markdown
    file = task.path / "task.yaml"
    raw = file.read_text().splitlines()
    out = []
    for what, text, path in task.texts():
        try:
            shown = template.render(text, task.draw_params(0))
        except Exception:  # noqa: BLE001 - template_problems reports it
            continue
        base = line_of(lines, path) or 0
        block = 0 < base <= len(raw) and BLOCK_SCALAR.search(raw[base - 1])
        for n, why in markdown.problems(shown):
            out.append(problem(file, f"{what}: {why}", base + n if block else base))
    words = len(task.explanation.split())
    if words > EXPLANATION_MAX_WORDS:
        out.append(problem(file, f"explanation has {words} words; keep it to "
                                 f"{EXPLANATION_MAX_WORDS} and link the docs for the rest",
                           line_of(lines, ["explanation"])))
    return out


def param_use_problems(task: Task) -> list[Problem]:
    """``$PARAM_X`` in scripts and ``params["x"]`` in checks name declared params."""
    out = []
    envs = {p.env for p in task.params.values()}
    for script in task.script_paths():
        try:
            text = script.read_text()
        except OSError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            for ref in PARAM_REF.findall(line):
                if ref not in envs:
                    out.append(problem(script, f"uses ${ref}, but the task declares no such param "
                                       f"(declared: {', '.join(sorted(envs)) or 'none'})", n))
    for name, n in params_used(task.checks_path).items():
        if name not in task.params:
            out.append(problem(task.checks_path, f"reads params[{name!r}], but the task declares "
                               f"no such param (declared: {', '.join(task.params) or 'none'})", n))
    return out


IMAGE_REF = re.compile(r"(?:\bimage:\s*|--image[= ])[\"']?([A-Za-z0-9][\w.\-/]*(?::[\w.\-]+)?)")


def _preloaded() -> set[str]:
    """Every way a task may write an image that real nodes and boxes hold."""
    from sandbox.nodeimage import WORKLOAD_NAMES
    allowed = set(WORKLOAD_NAMES)
    allowed |= {ref.removeprefix("docker.io/library/") for ref in allowed}
    allowed |= {ref.removeprefix("docker.io/") for ref in allowed}
    allowed |= {ref.removesuffix(":latest") for ref in allowed}   # `--image=busybox`
    return allowed


def _foreign_refs(task: Task) -> list[tuple[Path, int, str]]:
    """``(file, line, image)`` for each image the task writes that no real node
    or box holds (nothing can be pulled there): a name with a tag or a path
    (``nginx:1.27``, ``fluent/fluent-bit``), not in a comment; templated ones
    are left out, and so are bare words, which prose also writes after
    "image:" ("a distroless-style image: its container …")."""
    allowed, out = _preloaded(), []
    for f in (*task.script_paths(), task.checks_path, task.path / "task.yaml"):
        try:
            lines = f.read_text().splitlines()
        except OSError:
            continue
        for n, line in enumerate(lines, 1):
            if line.lstrip().startswith("#"):
                continue
            for ref in IMAGE_REF.findall(line):
                if ref not in allowed and "{" not in ref and "$" not in ref \
                        and (":" in ref or "/" in ref):
                    out.append((f, n, ref))
    return out


def image_problems(task: Task) -> list[Problem]:
    """Tasks on real nodes can only run images the node image preloads."""
    from sandbox.nodeimage import WORKLOAD_IMAGES
    return [problem(f, f"image {ref} is not preloaded on kind nodes (nothing can be pulled); "
                       f"use one of {', '.join(sorted(WORKLOAD_IMAGES.values()))}", n)
            for f, n, ref in _foreign_refs(task)]


# task folder -> (its files' modification times, its foreign images)
_FOREIGN: dict[str, tuple[tuple, tuple[str, ...]]] = {}


def foreign_images(task) -> tuple[str, ...]:
    """The images ``task`` writes that no real-container or real-node cluster
    holds (its Pods would never start there), sorted; () for anything that
    is not a task folder. Kept per folder until one of its files changes."""
    paths = getattr(task, "script_paths", None)
    if paths is None:
        return ()
    files = (*paths(), task.checks_path, task.path / "task.yaml")
    stamp = tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)
    kept = _FOREIGN.get(str(task.path))
    if kept is None or kept[0] != stamp:
        kept = _FOREIGN[str(task.path)] = (stamp, tuple(sorted(
            {ref for _f, _n, ref in _foreign_refs(task)})))
    return kept[1]


def requires_problems(task: Task, checks) -> list[Problem]:
    """What the task uses must be in ``requires``, or it would be given a sandbox without it."""
    out = []
    file = task.path / "task.yaml"
    if "nodes" not in task.requires:
        for c in checks:
            if "nodes" in c.fixtures:
                out.append(problem(task.checks_path, f"check {c.id} uses the nodes fixture, but "
                                   "task.yaml does not require nodes; add `nodes` to requires",
                                   c.line))
    for node in task.unjoined:
        if "nodes" not in task.requires:
            out.append(problem(file, f"unjoined: {node} needs real nodes; add `nodes` to requires"))
        elif not 1 <= int(node[4:]) < task.nodes:
            out.append(problem(file, f"unjoined: {node} is not a worker of a {task.nodes}-node "
                                     f"sandbox (workers: node01..node{task.nodes - 1:02d})"))
    if "nodes" in task.requires:
        out += image_problems(task)
    # etcdctl on a real node (through the node's shell) needs no host-side etcd
    if "etcd" not in task.requires and "nodes" not in task.requires:
        for script in task.script_paths():
            try:
                text = script.read_text()
            except OSError:
                continue
            if re.search(r"\betcdctl\b|ETCDCTL_ENDPOINTS", text):
                out.append(problem(file, f"{script.name} uses etcd (etcdctl), but task.yaml does "
                                         "not require etcd; add `etcd` to requires"))
    return out


def command_lines(script: str) -> list[tuple[int, str]]:
    """The shell commands of a script as ``(line, text)``: comments and heredoc bodies
    (manifests, whose fields a statement may legitimately name) left out,
    continuations joined, ``&&``/``||``/``;``/``|`` chains split."""
    out: list[tuple[int, str]] = []
    terminator = None
    pending, start = "", 0
    for n, raw in enumerate(script.splitlines(), 1):
        if terminator is not None:
            if raw.strip() == terminator:
                terminator = None
            continue
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = n
        m = HEREDOC.search(line)
        if m:
            terminator = m.group(2)
        if line.endswith("\\") and terminator is None:
            pending += line[:-1] + " "
            continue
        full, pending = pending + line, ""
        for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", full):
            if part.strip():
                out.append((start, part.strip()))
    return out


def variant_count_problems(task: Task) -> list[Problem]:
    """``MIN_VARIANTS`` scripts in each of alternatives/ and near-misses/."""
    out = []
    for kind, what in ((ALTERNATIVES, "other correct ways, as candidates would solve it"),
                       (NEAR_MISSES, "plausible mistakes, each caught by a check")):
        found = len(task.variants(kind))
        if found < MIN_VARIANTS:
            out.append(problem(task.path / kind, f"{kind}/ has {found} script"
                               f"{'' if found == 1 else 's'}; every task needs at least "
                               f"{MIN_VARIANTS}: {what} (docs/authoring.md)", blocking=False))
    return out


def _normal(text: str) -> str:
    return " ".join(text.replace('"', "").replace("'", "").replace("`", "").split())


def leak_problems(task: Task, lines: dict) -> list[Problem]:
    """The statement or a hint quoting a non-trivial command line of the solution
    (or of another correct way, ``alternatives/``).

    The explanation may quote it: it is shown with the solution, after the end."""
    ways = []
    for script in (task.solution_path, *task.variants("alternatives")):
        try:
            ways.append((script, script.read_text()))
        except OSError:
            continue
    file = task.path / "task.yaml"
    out = []
    for seed in (0, 1):
        params = task.draw_params(seed)
        try:
            shown = task.render(params)
        except Exception:  # noqa: BLE001 - whatever it is, template_problems reports it
            return out
        values = task.script_env(params)
        texts = [("statement", shown["statement"], ["statement"])]
        texts += [(f"hints[{i}]", h, ["hints", i]) for i, h in enumerate(shown["hints"])]
        for script, solution in ways:
            where = script.relative_to(task.path)
            for n, cmd in command_lines(solution):
                cmd = substitute(cmd, values)
                norm = _normal(cmd)
                if len(norm.split()) < LEAK_MIN_WORDS or len(norm) < LEAK_MIN_CHARS:
                    continue
                for what, text, path in texts:
                    if norm in _normal(text):
                        p = problem(file, f"{what} gives away the solution: it contains the "
                                    f"command `{cmd}` from {where} line {n}; say what to "
                                    "achieve, not how", line_of(lines, path))
                        if p not in out:
                            out.append(p)
        if out:
            break
    return out
