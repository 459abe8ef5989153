"""Import a KillerCoda-style scenario into a draft task.

A scenario is a folder with ``index.json``::

    {"title": "...", "description": "...",
     "details": {"intro": {"text": "intro.md", "background": "setup.sh"},
                 "steps": [{"title": "...", "text": "step1/text.md",
                            "verify": "step1/verify.sh", "background": "..."}],
                 "finish": {"text": "finish.md"}}}

The draft keeps everything: the statement is the intro and the step texts
(KillerCoda's ``{{exec}}``/``{{copy}}`` markers dropped, ``<details>``
solution blocks moved out of the statement into the draft solution), the
background scripts become ``setup``, each verify script is kept under
``verify/`` and becomes one check that runs it with kubectl against the
sandbox and asserts exit 0. The draft lands in the drafts folder for the
instructor to finish (domain, params, the reference solution) and publish.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

MARKERS = re.compile(r"\{\{\s*(exec|execute|copy)(\s+[^}]*)?\}\}")
DETAILS = re.compile(r"<details>(.*?)</details>", re.S | re.I)
FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
MAX_BYTES = 2 << 20      # the upload, and each file in it
# What an upload may unpack to, in all: a scenario is a few texts and
# scripts (the fixture: 6 files, 3 KiB). Compression makes a small upload
# large (an 881 KiB zip of zeroes held about 800 MB in the portal before this).
MAX_UNPACKED = 8 << 20
MAX_FILES = 500


class ImportError_(ValueError):
    """The upload is not a scenario we can read; the message says why."""


@dataclass
class Step:
    title: str
    text: str
    verify: str = ""
    background: str = ""


@dataclass
class Scenario:
    title: str
    description: str = ""
    intro: str = ""
    setup: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


class _Budget:
    """What is left of ``MAX_UNPACKED`` and ``MAX_FILES`` while unpacking."""

    def __init__(self, filename: str):
        self.filename, self.bytes, self.files = filename, MAX_UNPACKED, MAX_FILES

    def count(self) -> None:
        """One more member (a file, a folder, a link) of the archive."""
        self.files -= 1
        if self.files < 0:
            raise ImportError_(f"{self.filename} holds more than {MAX_FILES} files; a scenario "
                               "is a folder of a few texts and scripts")

    def read(self, name: str, declared: int, stream) -> bytes | None:
        """The member's content, read no further than the limits (a size
        its header understates is caught too); None for a file too large to
        be part of a scenario (an image, say), which is skipped."""
        if declared > MAX_BYTES:
            return None
        content = stream.read(min(MAX_BYTES, self.bytes) + 1)
        if len(content) > MAX_BYTES:
            return None
        if len(content) > self.bytes:
            raise ImportError_(f"{self.filename} unpacks to more than {MAX_UNPACKED >> 20} MiB "
                               f"(at {name}); a scenario is a few texts and scripts")
        self.bytes -= len(content)
        return content


def unpack(filename: str, data: bytes) -> dict[str, bytes]:
    """Files of an uploaded .zip / .tar(.gz) or a lone index.json, by relative
    path; at most ``MAX_FILES`` files and ``MAX_UNPACKED`` bytes in all."""
    if len(data) > MAX_BYTES:
        raise ImportError_(f"the upload is {len(data) // 1024} KiB; at most {MAX_BYTES // 1024} KiB")
    files: dict[str, bytes] = {}
    name = filename.lower()
    budget = _Budget(filename)
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    budget.count()
                    if not info.is_dir():
                        with z.open(info) as stream:
                            content = budget.read(info.filename, info.file_size, stream)
                        if content is not None:
                            files[info.filename] = content
        elif name.endswith((".tar", ".tar.gz", ".tgz")):
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                for m in t:  # not getmembers(): that would list them all before counting
                    budget.count()
                    if m.isfile():
                        content = budget.read(m.name, m.size, t.extractfile(m))
                        if content is not None:
                            files[m.name] = content
        elif name.endswith(".json"):
            files["index.json"] = data
        else:
            raise ImportError_("upload a .zip or .tar.gz of the scenario folder (or its index.json)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ImportError_(f"cannot open {filename}: {exc}") from None
    clean = {}
    for path, content in files.items():
        p = PurePosixPath(path)
        if p.is_absolute() or ".." in p.parts:
            continue
        clean[str(p)] = content
    return clean


def read_scenario(files: dict[str, bytes]) -> Scenario:
    indexes = sorted((p for p in files if PurePosixPath(p).name == "index.json"),
                     key=lambda p: len(PurePosixPath(p).parts))
    if not indexes:
        raise ImportError_("no index.json in the upload")
    base = PurePosixPath(indexes[0]).parent
    try:
        index = json.loads(files[indexes[0]].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportError_(f"index.json is not valid JSON: {exc}") from None
    if not isinstance(index, dict) or not isinstance(index.get("details"), dict):
        raise ImportError_("index.json has no 'details' (expected details.steps[])")

    def text(ref) -> str:
        if not ref:
            return ""
        path = str(base / ref) if str(base) != "." else str(ref)
        if path not in files:
            raise ImportError_(f"index.json names {ref}, which is not in the upload")
        return files[path].decode("utf-8", "replace")

    details = index["details"]
    steps = details.get("steps") or []
    if not isinstance(steps, list) or not steps:
        raise ImportError_("index.json has no steps (details.steps is empty)")
    intro = details.get("intro") or {}
    sc = Scenario(title=str(index.get("title") or "Imported scenario").strip(),
                  description=str(index.get("description") or "").strip(),
                  intro=text(intro.get("text")))
    if intro.get("background"):
        sc.setup.append(text(intro["background"]))
    for i, st in enumerate(steps, 1):
        if not isinstance(st, dict):
            raise ImportError_(f"details.steps[{i - 1}] is not an object")
        step = Step(title=str(st.get("title") or f"Step {i}").strip(), text=text(st.get("text")),
                    verify=text(st.get("verify")), background=text(st.get("background")))
        if step.background:
            sc.setup.append(step.background)
        sc.steps.append(step)
    return sc


def _strip_shebang(script: str) -> str:
    lines = script.replace("\r\n", "\n").splitlines()
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    return "\n".join(lines).strip("\n")


def _statement(sc: Scenario) -> tuple[str, list[str]]:
    """The statement markdown and the code taken out of <details> solution blocks."""
    snippets: list[str] = []

    def take(m: re.Match) -> str:
        snippets.extend(code.strip() for code in FENCE.findall(m.group(1)))
        return ""

    parts = []
    if sc.intro.strip():
        parts.append(sc.intro.strip())
    for i, st in enumerate(sc.steps, 1):
        parts.append(f"### {i}. {st.title}\n\n{st.text.strip()}".rstrip())
    text = "\n\n".join(parts)
    text = DETAILS.sub(take, text)
    text = MARKERS.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    if "{{" in text or "{%" in text:  # statements are Jinja templates; keep the text literal
        text = "{% raw %}" + text.rstrip("\n") + "{% endraw %}\n"
    return text, snippets


def _slug(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return (s[:50].rstrip("-") or "imported-task")


CHECK = '''

def test_{n}_{slug}(sandbox):
    """{title}"""
    res = run_verify("{script}", sandbox)
    assert res.returncode == 0, (
        f"verify script of step {n} ({title_py}) exited {{res.returncode}}; expected 0"
        + (f": {{res.tail}}" if res.tail else ""))
'''

CHECKS_HEAD = '''"""Checks imported from a KillerCoda scenario: each runs the step's verify
script (kept in verify/) with kubectl against the sandbox and expects exit 0.
Replace them with checks that say what was expected and what was found."""

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from sandbox.toolchain import Toolchain

VERIFY = Path(__file__).resolve().parent / "verify"


def run_verify(script, sandbox):
    env = {"KUBECONFIG": str(sandbox.kubeconfig), "HOME": os.environ.get("HOME", "/tmp"),
           "PATH": f"{Toolchain().bin_dir}:{os.environ.get('PATH', os.defpath)}"}
    try:
        p = subprocess.run(["bash", str(VERIFY / script)], env=env, capture_output=True,
                           text=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail(f"verify script {script} did not finish in 8s; expected it to exit 0")
    out = (p.stdout + p.stderr).strip().splitlines()
    return SimpleNamespace(returncode=p.returncode, tail=out[-1] if out else "")
'''


def draft_files(sc: Scenario, task_id: str, track: str, domain: str,
                difficulty: str = "medium") -> dict[str, str]:
    """The draft task's files by relative path (task.yaml, setup, solution,
    checks.py, verify/stepN.sh)."""
    import yaml

    statement, snippets = _statement(sc)
    data = {"id": task_id, "title": sc.title[:120], "tracks": [track], "domain": domain,
            "difficulty": difficulty, "minutes": max(2, min(60, 4 * len(sc.steps))),
            "weight": 4, "requires": ["api"], "nodes": 1}
    head = ("# Imported from a KillerCoda scenario: check the domain, difficulty and minutes,\n"
            "# add params where names should differ per attempt, then finish the solution.\n")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    task_yaml = head + body
    block = "statement: |\n" + "".join(("  " + ln if ln.strip() else "") + "\n"
                                       for ln in statement.splitlines())
    task_yaml += block
    setup = "#!/usr/bin/env bash\n# setup: the scenario's background scripts\nset -uo pipefail\n"
    for script in sc.setup:
        setup += "\n" + _strip_shebang(script) + "\n"
    if not sc.setup:
        setup += "# (the scenario had no background script)\ntrue\n"
    solution = ("#!/usr/bin/env bash\n# solution: TODO - the reference solution. The scenario's "
                "solution snippets, if it had any, are below.\nset -euo pipefail\n")
    if snippets:
        solution += "\n" + "\n\n".join(snippets) + "\n"
    else:
        solution += 'echo "TODO: write the reference solution" >&2\nexit 1\n'
    files = {"task.yaml": task_yaml, "setup": setup, "solution": solution}
    checks = CHECKS_HEAD
    for n, st in enumerate(sc.steps, 1):
        if not st.verify.strip():
            continue
        script = f"step{n}.sh"
        files[f"verify/{script}"] = st.verify.replace("\r\n", "\n")
        # into a docstring and an f-string of generated code: one line, and no
        # quote or backslash that could end either early
        title = " ".join(st.title.split()).replace('"', "'").replace("\\", "/")
        checks += CHECK.format(n=n, slug=re.sub(r"[^a-z0-9]+", "_", st.title.lower()).strip("_")[:40] or "step",
                               title=f"Step {n}: {title}", script=script,
                               title_py=title.replace("{", "{{").replace("}", "}}").replace('"', "'"))
    if "def test_" not in checks:
        checks += ('\n\ndef test_todo():\n    """TODO: the scenario had no verify script; '
                   'write the checks."""\n    pytest.fail("no checks yet")\n')
    files["checks.py"] = checks
    return files


def suggested_id(sc: Scenario) -> str:
    return _slug(sc.title)
