"""Task text is data: the statement, hints and explanation as bounded templates.

A statement names the attempt's params (``{{ namespace }}``) and may choose
between two wordings by a param (``{% if image.startswith("busybox") %}``).
That is all task text may do. It is written by instructors, imported from
zips and previewed in the editor, and the portal renders it in its own
process, so a template is parsed with Jinja2 and then checked against a
short list of what it may contain before it is ever rendered:

* ``{{ name }}``, a literal, ``~``, ``+`` and ``-`` of params and literals;
* the filters in ``FILTERS`` and the string methods in ``METHODS``;
* ``{% if %}`` / ``{% elif %}`` / ``{% else %}`` with comparisons, ``and``,
  ``or``, ``not`` and inline ``x if c else y``;
* ``{% raw %}`` (the KillerCoda importer keeps foreign ``{{ }}`` literal).

Everything else (loops, ``{% set %}``, macros, includes, attribute access
beyond those methods, calls of anything else, ``*``, ``**``, ``%``) is
refused with the line it is on, so a template can neither reach Python's
objects (``cycler.__init__.__globals__`` has no way in) nor run long: its
output is linear in its own size. It is then rendered by Jinja2's immutable
sandbox with no globals at all, as a second wall.

    >>> render("Scale `{{ name }}` to {{ n + 1 }}.", {"name": "web", "n": 2})
    'Scale `web` to 3.'
    >>> render("{{ cycler.__init__ }}", {})
    Traceback (most recent call last):
    ...
    grader.template.TemplateRefused: line 1: `cycler.__init__` is not allowed in task text; ...
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["FILTERS", "METHODS", "TemplateRefused", "TemplateSyntaxError", "check", "names",
           "render"]

FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "replace", "default",
                     "string", "int", "length", "first", "last"})
METHODS = frozenset({"startswith", "endswith", "upper", "lower", "title", "capitalize",
                     "strip", "split"})
ALLOWED = "{{ param }}, {% if %}, the filters " + ", ".join(sorted(FILTERS)) + \
    " and the string methods " + ", ".join(sorted(METHODS))
# A rendered statement longer than this is refused (the params are short and
# the template has no loop, so only a mistake gets near it).
MAX_OUTPUT = 256 * 1024
_PLAIN = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.If,
          nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
          nodes.CondExpr, nodes.Concat, nodes.Add, nodes.Sub, nodes.List, nodes.Tuple,
          nodes.Keyword)


class TemplateRefused(ValueError):
    """Task text uses something task templates may not: says what and where."""

    def __init__(self, what: str, lineno: int | None):
        self.lineno = lineno or 1
        self.reason = f"{what} is not allowed in task text; it may use only {ALLOWED}"
        super().__init__(f"line {self.lineno}: {self.reason}")


@lru_cache(maxsize=1)
def _env() -> ImmutableSandboxedEnvironment:
    # Statements are markdown, not HTML: no autoescape. StrictUndefined makes a
    # misspelt param an error instead of an empty string in front of a candidate.
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                        keep_trailing_newline=True)
    env.globals.clear()  # no range, cycler, joiner, namespace, lipsum, dict
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.tests = {}
    return env


_OPERATORS = {nodes.Mul: "*", nodes.Pow: "**", nodes.Mod: "%", nodes.Div: "/",
              nodes.FloorDiv: "//", nodes.Getitem: "[…]", nodes.Slice: "[…:…]"}


def _describe(node: nodes.Node) -> str:
    if type(node) in _OPERATORS:
        return f"the operator `{_OPERATORS[type(node)]}`"
    if isinstance(node, nodes.Getattr):
        return f"`{_describe_expr(node)}`"
    if isinstance(node, nodes.Filter):
        return f"the filter `{node.name}`"
    if isinstance(node, nodes.Call):
        return f"the call `{_describe_expr(node.node)}(…)`"
    if isinstance(node, (nodes.For, nodes.Macro, nodes.Assign, nodes.AssignBlock,
                         nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends,
                         nodes.Block, nodes.CallBlock, nodes.FilterBlock, nodes.With)):
        return f"`{{% {type(node).__name__.lower()} %}}`"
    return f"`{type(node).__name__}`"


def _describe_expr(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_describe_expr(node.node)}.{node.attr}"
    if isinstance(node, nodes.Call):
        return f"{_describe_expr(node.node)}(…)"
    return "…"


def _allowed(node: nodes.Node) -> bool:
    if isinstance(node, _PLAIN):
        return True
    if isinstance(node, nodes.Name):
        return node.ctx == "load"
    if isinstance(node, nodes.Filter):
        return node.name in FILTERS and node.node is not None
    if isinstance(node, nodes.Call):
        return (isinstance(node.node, nodes.Getattr) and node.node.attr in METHODS
                and node.dyn_args is None and node.dyn_kwargs is None)
    return False  # Getattr among them: only as the callee of an allowed method call


def check(text: str) -> nodes.Template:
    """Parse ``text`` and refuse what task text may not contain.

    Raises ``jinja2.TemplateSyntaxError`` (it does not parse) or
    ``TemplateRefused`` (it parses, but uses a loop, an attribute, …)."""
    ast = _env().parse(text)
    _walk(ast)
    return ast


def _walk(node: nodes.Node) -> None:
    if isinstance(node, nodes.Call):
        if not _allowed(node):
            raise TemplateRefused(_describe(node), node.lineno)
        _walk(node.node.node)  # the object whose method is called
        for child in list(node.args) + list(node.kwargs):
            _walk(child)
        return
    if not _allowed(node):
        raise TemplateRefused(_describe(node), getattr(node, "lineno", None))
    for child in node.iter_child_nodes():
        _walk(child)


def names(text: str) -> set[str]:
    """The params ``text`` reads (it must pass ``check``)."""
    return meta.find_undeclared_variables(check(text))


@lru_cache(maxsize=512)
def _compiled(text: str):
    return _env().from_string(check(text))


def render(text: str, params: dict) -> str:
    """``text`` with ``params`` filled in; raises what ``check`` raises,
    ``jinja2.UndefinedError`` for a name that is not a param, and
    ``TemplateRefused`` for an output over ``MAX_OUTPUT``."""
    out = _compiled(text).render(**params)
    if len(out) > MAX_OUTPUT:
        raise TemplateRefused(f"a text of {len(out)} characters (at most {MAX_OUTPUT})", 1)
    return out
