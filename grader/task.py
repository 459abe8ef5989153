"""The task model: one folder, ``task.yaml`` + ``setup`` + ``solution`` + ``checks.py``.

    >>> task = load_task("tasks/ckad/svc-selector")           # doctest: +SKIP
    >>> params = task.draw_params(seed=42)                     # doctest: +SKIP
    >>> task.render(params)["statement"]                       # doctest: +SKIP

``load_task`` raises ``TaskError`` listing *every* problem it finds in the
folder (YAML, schema with line numbers, curriculum, files); ``grader.lint``
adds the deeper checks that need no cluster either (checks.py, templates,
leaks, duplicate ids).
"""

from __future__ import annotations

import json
import os
import random
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .curriculum import COMPETENCIES, TRACKS
from . import template, yamlfile
from .errors import Problem, TaskError, problem

SCHEMA_PATH = Path(__file__).with_name("task.schema.json")
SCRIPTS = ("setup", "solution")
CHECKS = "checks.py"
# other correct solutions, and plausible mistakes: proof that the checks match
# the statement, not the reference solution (``proctor validate``)
ALTERNATIVES, NEAR_MISSES = "alternatives", "near-misses"
VARIANT_DIRS = (ALTERNATIVES, NEAR_MISSES)
NAME_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_NODES = 3

Params = dict[str, Any]


@lru_cache(maxsize=1)
def schema() -> dict:
    """The published JSON Schema of task.yaml (``grader/task.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text())


# -- params ---------------------------------------------------------------------

# How far Task.proving_seeds looks for a seed that draws choice values not seen yet.
SEED_SEARCH = 200

@dataclass(frozen=True)
class Param:
    """One param: ``kind`` is ``choice``, ``int`` or ``name``; ``spec`` its value in YAML."""

    name: str
    kind: str
    spec: Any

    def draw(self, seed: int | str, task_id: str) -> str | int:
        """The value for one attempt. Keyed on (seed, task id, param name) so
        adding a param or a task never changes the values drawn for others."""
        rng = random.Random(f"{seed}\x00{task_id}\x00{self.name}")
        if self.kind == "choice":
            return rng.choice(list(self.spec))
        if self.kind == "int":
            lo, hi = self.spec
            return rng.randint(lo, hi)
        return f"{self.spec}-" + "".join(rng.choice(NAME_ALPHABET) for _ in range(5))

    @property
    def env(self) -> str:
        """The environment variable scripts see it as: ``PARAM_NAMESPACE``."""
        return f"PARAM_{self.name.upper()}"


# -- the model --------------------------------------------------------------------

@dataclass
class Task:
    """A loaded, schema-valid task. ``path`` is its folder."""

    id: str
    title: str
    tracks: list[str]
    domains: dict[str, str]          # track -> curriculum domain
    difficulty: str
    minutes: int
    weight: float
    statement: str
    requires: list[str]
    nodes: int
    params: dict[str, Param]
    unjoined: list[str]
    conflicts: list[str]
    hints: list[str]
    docs: list[str]
    path: Path
    explanation: str = ""            # markdown, shown with the solution after the attempt
    competencies: list[str] = field(default_factory=list)  # curriculum.COMPETENCIES ids
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def domain(self) -> str:
        """The domain in the task's first track (see ``domains`` for every track)."""
        return self.domains[self.tracks[0]]

    def domain_for(self, track: str) -> str:
        return self.domains[track]

    @property
    def setup_path(self) -> Path:
        return self.path / "setup"

    @property
    def solution_path(self) -> Path:
        return self.path / "solution"

    @property
    def checks_path(self) -> Path:
        return self.path / CHECKS

    def script_paths(self) -> list[Path]:
        """setup, solution, and every script of alternatives/ and near-misses/."""
        return [self.setup_path, self.solution_path,
                *(f for kind in VARIANT_DIRS for f in self.variants(kind))]

    def variants(self, kind: str) -> list[Path]:
        """The scripts of ``alternatives/`` or ``near-misses/``, by name.

        Each runs like ``solution``, on the state right after ``setup``: an
        alternative is another correct way (every check must pass), a near
        miss a plausible mistake (some check must fail), whose first comment
        line says what the mistake is."""
        if kind not in VARIANT_DIRS:
            raise ValueError(f"kind must be one of {VARIANT_DIRS}, got {kind!r}")
        folder = self.path / kind
        if not folder.is_dir():
            return []
        return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))

    @staticmethod
    def variant_summary(script: Path) -> str:
        """The first comment line of a variant script (after its ``#!``): what it does."""
        try:
            lines = script.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for line in lines[:10]:
            if line.startswith("#!") or not line.strip():
                continue
            return line.lstrip("#").strip() if line.startswith("#") else ""
        return ""

    def sandbox_options(self) -> dict:
        """Provider options beyond ``nodes`` (only those the task sets)."""
        return {"unjoined": list(self.unjoined)} if self.unjoined else {}

    def proving_seeds(self, count: int) -> list[int]:
        """The ``count`` seeds that ``proctor validate`` proves this task with: seed 1,
        then each time the smallest seed that draws the most values of its ``choice``
        params not drawn yet, so that two seeds of ``fault: {choice: [a, b]}`` set up
        both faults (seeds 1 and 2 drew the same one for three tasks). Without choice
        params: 1, 2, … ``count``."""
        choices = [p for p in self.params.values() if p.kind == "choice"]
        seeds: list[int] = []
        drawn: set[tuple[str, object]] = set()
        for _ in range(count):
            best, gain = 0, -1
            for seed in range(1, SEED_SEARCH + 1):
                if seed in seeds:
                    continue
                new = {(p.name, p.draw(seed, self.id)) for p in choices} - drawn
                if len(new) > gain:
                    best, gain = seed, len(new)
                if gain == len(choices):  # every choice new: none can do better
                    break
            seeds.append(best)
            drawn |= {(p.name, p.draw(best, self.id)) for p in choices}
        return seeds

    def draw_params(self, seed: int | str) -> Params:
        """Param values for one attempt; the same seed always gives the same values."""
        return {name: p.draw(seed, self.id) for name, p in self.params.items()}

    def render(self, params: Params) -> dict:
        """``{"statement": markdown, "hints": [markdown, ...]}`` with params filled in.

        Task text is data, rendered by ``grader.template`` (params and
        ``{% if %}`` only). Raises ``jinja2.UndefinedError`` for a name that is
        not a param, ``template.TemplateRefused`` for what task text may not
        do; lint reports both before a candidate could ever see them."""
        return {
            "statement": template.render(self.statement, params),
            "hints": [template.render(h, params) for h in self.hints],
        }

    def explanation_text(self, params: Params) -> str:
        """Why the reference solution works (markdown, params filled in), or "".

        Shown beside the solution and, like it, only once the attempt is over
        (or revealed in practice); never part of ``render``, which is what a
        candidate reads during the attempt."""
        if not self.explanation:
            return ""
        return template.render(self.explanation, params)

    def texts(self) -> list[tuple[str, str, list]]:
        """Its markdown templates: ``authored_texts`` of its fields."""
        return authored_texts({"statement": self.statement, "hints": self.hints,
                               "explanation": self.explanation})

    def script_env(self, params: Params) -> dict[str, str]:
        """``PARAM_<NAME>`` for every param, as setup and solution receive them."""
        return {self.params[k].env: str(v) for k, v in params.items() if k in self.params}

    def solution_text(self, params: Params) -> str:
        """The reference solution with ``$PARAM_X``/``${PARAM_X}`` replaced by this
        attempt's values, for the results page (after the attempt ends only)."""
        return substitute(self.solution_path.read_text(), self.script_env(params))

    def to_dict(self) -> dict:
        """What the portal stores or shows about the task (never the solution)."""
        return {
            "id": self.id, "title": self.title, "tracks": list(self.tracks),
            "domain": self.domain, "domains": dict(self.domains),
            "difficulty": self.difficulty, "minutes": self.minutes, "weight": self.weight,
            "requires": list(self.requires), "nodes": self.nodes, "unjoined": list(self.unjoined),
            "competencies": list(self.competencies),
            "params": sorted(self.params), "docs": list(self.docs), "path": str(self.path),
        }


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace ``$PARAM_X`` and ``${PARAM_X}`` in shell text by their values."""
    def sub(m: re.Match) -> str:
        return values.get(m.group(1) or m.group(2), m.group(0))
    return re.sub(r"\$\{(PARAM_[A-Z0-9_]+)\}|\$(PARAM_[A-Z0-9_]+)\b", sub, text)


# -- reading task.yaml with line numbers ----------------------------------------------------

def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None,
              dup: list | None = None) -> dict[tuple, int]:
    """Map each JSON path (tuple of keys/indexes) to its 1-based line in the file."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            k = key.value
            if dup is not None and k in seen:
                dup.append((k, key.start_mark.line + 1))
            seen.add(k)
            out[path + (k,)] = key.start_mark.line + 1
            _line_map(value, path + (k,), out, dup)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out, dup)
    return out


def line_of(lines: dict[tuple, int], path) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    path = tuple(path)
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def read_task_yaml(file: Path) -> tuple[dict | None, dict[tuple, int], list[Problem]]:
    """Parse and schema-check task.yaml: ``(data or None, line map, problems)``."""
    try:
        text = file.read_text()
    except OSError as exc:
        return None, {}, [problem(file, f"cannot read: {exc.strerror or exc}")]
    try:
        node = yamlfile.compose(text)
        data = yamlfile.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, {}, [problem(file, f"not valid YAML: {exc.problem or exc}", line)]
    if not isinstance(data, dict) or node is None:
        return None, {}, [problem(file, f"expected a mapping of fields (id, title, …), "
                                        f"found {type(data).__name__}", 1)]
    dups: list = []
    lines = _line_map(node, dup=dups)
    problems = [problem(file, f"field {k!r} appears twice (YAML keeps only the last)", ln)
                for k, ln in dups]
    problems += schema_problems(file, data, lines)
    if not problems:
        problems += semantic_problems(file, data, lines)
    return data, lines, problems


def schema_problems(file: Path, data: dict, lines: dict[tuple, int]) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema())
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        line = line_of(lines, path)
        if err.validator == "additionalProperties":
            extra = [k for k in (err.instance or {}) if k not in err.schema.get("properties", {})]
            for k in extra:
                where = "task.yaml" if not path else f"{_dotted(path)}"
                known = ", ".join(err.schema.get("properties", {}))
                out.append(problem(file, f"unknown field {k!r} in {where}; known fields: {known}",
                                   line_of(lines, path + [k])))
            continue
        out.append(problem(file, f"{_dotted(path) or 'task.yaml'}: {_message(err)}", line))
    return out


def _dotted(path: list) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s


def _message(err: jsonschema.ValidationError) -> str:
    """jsonschema's message, made shorter and more helpful where it is vague."""
    if err.validator in ("anyOf", "oneOf") and err.context:
        if err.absolute_path and err.absolute_path[-1] == "domain" or \
                (len(err.absolute_path) >= 2 and err.absolute_path[-2] == "domain"):
            return (f"{err.instance!r} is not a curriculum domain; see grader/curriculum.py "
                    "(CKA: " + "; ".join(TRACKS["cka"].domains) + " | CKAD: "
                    + "; ".join(TRACKS["ckad"].domains) + ")")
        return jsonschema.exceptions.best_match(err.context).message
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "pattern":
        return f"{err.instance!r} does not match the pattern {err.validator_value}"
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    return err.message


def authored_texts(data: dict) -> list[tuple[str, str, list]]:
    """The task's markdown templates as ``(name, text, path in task.yaml)``:
    the statement, each hint and the explanation."""
    out = [("statement", data.get("statement") or "", ["statement"])]
    out += [(f"hints[{i}]", h, ["hints", i]) for i, h in enumerate(data.get("hints") or [])]
    if data.get("explanation"):
        out.append(("explanation", data["explanation"], ["explanation"]))
    return out


def template_refusals(file: Path, data: dict, lines: dict[tuple, int]) -> list[Problem]:
    """Task text that does not parse, or that is code rather than data
    (``grader.template``): such a task never loads, so no page renders it."""
    out = []
    for what, text, path in authored_texts(data):
        base = line_of(lines, path) or 0
        try:
            template.check(text)
        except template.TemplateSyntaxError as exc:
            out.append(problem(file, f"{what} is not a valid template: {exc.message}",
                               base + (exc.lineno or 0)))
        except template.TemplateRefused as exc:
            out.append(problem(file, f"{what}: {exc.reason}", base + exc.lineno))
    return out


def semantic_problems(file: Path, data: dict, lines: dict[tuple, int]) -> list[Problem]:
    """Rules a JSON Schema cannot say: the domain fits the tracks, ranges are
    ordered, task text is a template of params and nothing more."""
    out = template_refusals(file, data, lines)
    tracks = data["tracks"]
    domain = data["domain"]
    for cid in data.get("competencies") or []:
        c = COMPETENCIES.get(cid)
        if c is not None and c.track not in tracks:
            out.append(problem(file, f"competency {cid!r} is of the {c.track.upper()} curriculum, "
                                     f"but the task's tracks are {', '.join(tracks)}",
                               line_of(lines, ["competencies"])))
    if isinstance(domain, str):
        for t in tracks:
            if domain not in TRACKS[t].domains:
                out.append(problem(
                    file, f"domain {domain!r} is not a {t.upper()} domain; {t.upper()} domains: "
                          + "; ".join(TRACKS[t].domains)
                          + " (use a mapping track -> domain for a task in several tracks)",
                    line_of(lines, ["domain"])))
    else:
        if set(domain) != set(tracks):
            out.append(problem(file, f"domain gives domains for {sorted(domain)} but tracks are "
                                     f"{sorted(tracks)}; expected one domain per track",
                               line_of(lines, ["domain"])))
    for name, spec in (data.get("params") or {}).items():
        if "int" in spec and spec["int"][0] > spec["int"][1]:
            out.append(problem(file, f"params.{name}: int range {spec['int']} has min > max",
                               line_of(lines, ["params", name])))
    return out


def file_problems(folder: Path) -> list[Problem]:
    """setup and solution exist and are executable scripts; checks.py exists;
    each script of alternatives/ and near-misses/ is executable and says in
    its first comment line what it does."""
    out = []
    variants = [f for d in VARIANT_DIRS if (folder / d).is_dir()
                for f in sorted((folder / d).iterdir()) if not f.name.startswith(".")]
    for f in variants:
        if not f.is_file():
            out.append(problem(f, f"{f.parent.name}/ holds scripts only; {f.name} is not a file"))
        elif not Task.variant_summary(f):
            out.append(problem(f, "says nothing of what it does: its first line after #! must "
                                  "be a comment (for a near miss, the mistake it makes)", 2))
    for f in [folder / name for name in SCRIPTS] + [f for f in variants if f.is_file()]:
        name = f.name
        if not f.is_file():
            out.append(problem(f, f"missing: every task needs an executable {name} script"))
            continue
        if not os.access(f, os.X_OK):
            out.append(problem(f, f"not executable; run: chmod +x {f}"))
        try:
            first = f.read_bytes()[:2]
        except OSError as exc:
            out.append(problem(f, f"cannot read: {exc}"))
            continue
        if first != b"#!":
            out.append(problem(f, "has no #! line (e.g. #!/usr/bin/env bash), so it cannot be run", 1))
    if not (folder / CHECKS).is_file():
        out.append(problem(folder / CHECKS, "missing: every task needs pytest checks in checks.py"))
    return out


def build_task(folder: Path, data: dict) -> Task:
    domain = data["domain"]
    domains = {t: domain for t in data["tracks"]} if isinstance(domain, str) else dict(domain)
    params = {}
    for name, spec in (data.get("params") or {}).items():
        (kind, value), = spec.items()
        params[name] = Param(name, kind, value)
    return Task(
        id=data["id"], title=data["title"], tracks=list(data["tracks"]), domains=domains,
        difficulty=data["difficulty"], minutes=data["minutes"], weight=data["weight"],
        statement=data["statement"], requires=list(data.get("requires") or ["api"]),
        nodes=int(data.get("nodes", DEFAULT_NODES)), params=params,
        unjoined=list(data.get("unjoined") or []),
        conflicts=list(data.get("conflicts") or []),
        hints=list(data.get("hints") or []), docs=list(data.get("docs") or []),
        path=folder, explanation=data.get("explanation") or "", raw=data,
        competencies=list(data.get("competencies") or []),
    )


def inspect_task(path: str | Path) -> tuple[Task | None, list[Problem]]:
    """Every problem ``load_task`` knows of, without raising; the Task if the YAML is usable."""
    folder = Path(path)
    if folder.name == "task.yaml":
        folder = folder.parent
    file = folder / "task.yaml"
    if not file.is_file():
        return None, [problem(folder, "not a task: it has no task.yaml")]
    data, _, yaml_problems = read_task_yaml(file)
    problems = yaml_problems + file_problems(folder)
    if data is None or yaml_problems:
        return None, problems
    return build_task(folder.resolve(), data), problems


def load_task(path: str | Path) -> Task:
    """Load one task folder (or its task.yaml); raises ``TaskError`` listing every problem."""
    task, problems = inspect_task(path)
    if problems or task is None:
        raise TaskError(problems, f"task {path}")
    return task


def find_tasks(root: str | Path) -> list[Path]:
    """Task folders under ``root`` (any depth), sorted; ``root`` itself if it is one."""
    root = Path(root)
    if root.name == "task.yaml":
        return [root.parent]
    if (root / "task.yaml").is_file():
        return [root]
    return sorted(p.parent for p in root.rglob("task.yaml") if "__pycache__" not in p.parts)


def load_bank(root: str | Path = "tasks") -> dict[str, Task]:
    """Every task under ``root`` by id (sorted by id). Raises ``TaskError`` listing the
    problems of every broken task, and duplicate ids, all at once."""
    tasks: dict[str, Task] = {}
    problems: list[Problem] = []
    folders = find_tasks(root)
    if not folders:
        raise TaskError([problem(root, "no task folders (with a task.yaml) found")], f"bank {root}")
    for folder in folders:
        task, found = inspect_task(folder)
        problems += found
        if task is None:
            continue
        if task.id in tasks:
            problems.append(problem(folder / "task.yaml", f"id {task.id!r} is already used by "
                                    f"{tasks[task.id].path}; ids must be unique in the bank"))
            continue
        tasks[task.id] = task
    if problems:
        raise TaskError(problems, f"bank {root}")
    return dict(sorted(tasks.items()))
