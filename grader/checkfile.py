"""What a ``checks.py`` declares, read with ``ast`` (never imported).

Lint uses it to find checks without docstrings; the runner uses it to name
every check of a task even when the file cannot be imported, so a broken
checker is reported check by check as ``error`` instead of vanishing.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, problem


@dataclass(frozen=True)
class CheckInfo:
    id: str              # "test_x", or "TestClass::test_x" for methods
    description: str     # the docstring, cleaned ("" when missing)
    points: float        # from @pytest.mark.points(n), default 1
    line: int
    fixtures: tuple[str, ...] = ()   # the check's arguments: k8s, kubectl, nodes, …


def _points(fn: ast.FunctionDef, file: Path, problems: list[Problem]) -> float:
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) \
                and dec.func.attr == "points":
            args = dec.args
            if len(args) == 1 and isinstance(args[0], ast.Constant) \
                    and isinstance(args[0].value, (int, float)) and not isinstance(args[0].value, bool) \
                    and args[0].value > 0:
                return args[0].value
            problems.append(problem(file, f"{fn.name}: @pytest.mark.points takes one positive "
                                          f"number, found {ast.unparse(dec)}", dec.lineno))
    return 1


def scan_checks(path: str | Path) -> tuple[list[CheckInfo], list[Problem]]:
    """``(checks in file order, problems)``; problems name the check and its line."""
    file = Path(path)
    try:
        source = file.read_text()
        tree = ast.parse(source, filename=str(file))
    except OSError as exc:
        return [], [problem(file, f"cannot read: {exc.strerror or exc}")]
    except SyntaxError as exc:
        # Still name the checks, so grading reports each as an error with its points.
        found = [CheckInfo(m.group(1), "", 1, source.count("\n", 0, m.start()) + 1)
                 for m in re.finditer(r"^def (test\w*)", source, re.M)]
        return found, [problem(file, f"not valid Python: {exc.msg}", exc.lineno)]
    checks: list[CheckInfo] = []
    problems: list[Problem] = []

    def add(fn, prefix=""):
        doc = ast.get_docstring(fn)
        if not doc or not doc.strip():
            problems.append(problem(file, f"check {prefix}{fn.name} has no docstring; the "
                                          "docstring is what the candidate sees", fn.lineno))
        checks.append(CheckInfo(prefix + fn.name, inspect.cleandoc(doc or ""),
                                _points(fn, file, problems), fn.lineno,
                                tuple(a.arg for a in fn.args.args if a.arg != "self")))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            add(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name.startswith("test"):
                    add(sub, f"{node.name}::")
    if not checks:
        problems.append(problem(file, "no checks: define test_… functions, one per check"))
    problems += _import_problems(tree, file)
    return checks, problems


# What a checks.py may import from Proctor: these modules, and only the names they offer.
CHECK_MODULES = ("grader.checks", "grader.answers", "grader.kube")


def _import_problems(tree: ast.Module, file: Path) -> list[Problem]:
    """``from grader.checks import must_gett`` fails only at grading, as an import
    error on every check of the task: say so at lint, with the names there are."""
    import importlib
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.module not in CHECK_MODULES:
            continue
        module = importlib.import_module(node.module)
        offered = set(getattr(module, "__all__", None) or
                      (n for n in dir(module) if not n.startswith("_")))
        for alias in node.names:
            if alias.name != "*" and alias.name not in offered:
                close = sorted(n for n in offered if n[:4] == alias.name[:4]) or sorted(offered)[:8]
                out.append(problem(file, f"{node.module} has no {alias.name!r}; it offers "
                                         f"{', '.join(close)}{' …' if len(close) < len(offered) else ''}",
                                   node.lineno))
    return out


def params_used(path: str | Path) -> dict[str, int]:
    """Names read from the ``params`` fixture as ``params["x"]`` or ``params.get("x")``,
    with the first line each is used on."""
    try:
        tree = ast.parse(Path(path).read_text())
    except (OSError, SyntaxError):
        return {}
    used: dict[str, int] = {}
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id == "params" and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "params" and node.args \
                and isinstance(node.args[0], ast.Constant):
            key = node.args[0].value
        if isinstance(key, str):
            used.setdefault(key, node.lineno)
    return used
