"""A Dockerfile read as Docker's parser reads it, for tasks that grade the file itself.

There is no image builder in the exam shell, so a task about a Dockerfile
grades its text. What is handled, after the Dockerfile reference
(docs.docker.com/reference/dockerfile):

- parser directives: ``# escape=`` (backslash or backtick) in the lines
  before anything else; any other ``# key=value`` there is read and skipped;
- comment lines (``#`` first on the line) are dropped, inside a continued
  instruction too, and so are empty lines inside one;
- the escape character at a line's end continues the instruction on the
  next line; a continuation at the end of the file ends it;
- instruction words are case-insensitive (given upper-cased), their
  arguments with runs of blanks squeezed to one space;
- exec form (``CMD ["a", "b"]``) only when the arguments are a JSON array of
  strings, shell form otherwise (``exec_form`` says which);
- ``ENV`` in its ``k=v …`` form (shell quoting) and its legacy ``k v`` form;
- stages: each ``FROM image [AS name]`` (``--platform=`` flags skipped) and
  the instructions after it; ``COPY``/``ADD`` flags (``--from=build``) and
  paths, in shell or JSON form.

Variables (``$VAR``) are not expanded and heredocs are not read: the tasks'
files do not need them, and a candidate's file using them is graded as written.

    >>> parse("from alpine \\\\\\n  # note\\n  AS base\\nCMD [\\"sh\\"]\\n")
    [('FROM', 'alpine AS base'), ('CMD', '["sh"]')]
"""

from __future__ import annotations

import json
import re
import shlex

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*\Z")


def _instruction(parts: list[str]) -> tuple[str, str] | None:
    joined = " ".join(p for p in parts if p).strip()
    if not joined:
        return None
    word, _, rest = joined.partition(" ")
    return word.upper(), " ".join(rest.split())


def parse(text: str) -> list[tuple[str, str]]:
    """``[(INSTRUCTION, arguments)]`` of a Dockerfile, continuations joined."""
    lines = text.splitlines()
    escape, i = "\\", 0
    while i < len(lines):  # parser directives: only before anything else
        m = _DIRECTIVE.match(lines[i].strip())
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
        i += 1
    out, parts = [], []
    for line in lines[i:]:
        stripped = line.strip()
        if stripped.startswith("#") or (parts and not stripped):
            continue  # a comment, or an empty line inside a continuation
        body = line.rstrip()
        if body.endswith(escape):
            parts.append(body[:-1].strip())
            continue
        parts.append(stripped)
        found, parts = _instruction(parts), []
        if found:
            out.append(found)
    if parts and (found := _instruction(parts)):  # a continuation at the end of the file
        out.append(found)
    return out


def exec_form(args: str) -> list[str] | None:
    """The command of an exec-form CMD/ENTRYPOINT/RUN, or None for shell form."""
    if not args.startswith("["):
        return None
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def env_pairs(args: str) -> dict[str, str]:
    """The variables of one ENV instruction, ``k=v …`` or legacy ``k v``."""
    try:
        words = shlex.split(args)
    except ValueError:
        return {}
    if words and "=" not in words[0]:
        return {words[0]: args.partition(" ")[2].strip()}
    return dict(w.split("=", 1) for w in words if "=" in w)


def stages(found: list[tuple[str, str]]) -> list[dict]:
    """``[{"image", "name", "steps"}]``: each FROM and the instructions after it."""
    out = []
    for k, a in found:
        if k == "FROM":
            words = [w for w in a.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            out.append({"image": words[0] if words else "", "name": name, "steps": []})
        elif out:
            out[-1]["steps"].append((k, a))
    return out


def copy_args(args: str) -> tuple[dict, list[str]]:
    """(flags, paths) of a COPY or ADD: ``--from=build a b`` or its JSON form."""
    words = args.split()
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key.lower()] = value
    rest = " ".join(words)
    paths = exec_form(rest) if rest.startswith("[") else words
    return flags, paths or []
