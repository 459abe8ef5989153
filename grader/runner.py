"""Run a task's scripts and grade its checks against one sandbox.

    >>> res = run_script(task, "setup", sb, params)          # doctest: +SKIP
    >>> results = grade(sb, [(task, params), ...])           # doctest: +SKIP
    >>> results[0].to_dict()["checks"][0]["outcome"]         # doctest: +SKIP
    'failed'

``grade`` runs every task's checks in *one* separate Python process
(``python -m pytest -p grader.plugin``): the kubernetes client is imported
once and API clients are built once for the whole exam, and nothing a check
does can touch the caller. Every check has a time limit, and so does the
process: ``grade`` always returns.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sandbox import Sandbox
from sandbox.base import ETCD_CLIENT_FILES, ETCD_PKI, etcdctl_env
from sandbox.toolchain import Toolchain

from . import isolate
from .checkfile import scan_checks
from .errors import GradeError
from .plugin import DEFAULT_CHECK_TIMEOUT
from .results import CheckResult, TaskResult
from .room import RELAY_PY, Room
from .task import VARIANT_DIRS, Params, Task

SCRIPT_TIMEOUT = 180.0
MAX_OUTPUT = 64 * 1024
STARTUP_ALLOWANCE = 60.0   # interpreter, pytest and kubernetes imports on a busy machine
PYTEST_INI = "[pytest]\naddopts =\npython_files = checks.py\n"


# -- scripts ----------------------------------------------------------------------------

@dataclass
class ScriptResult:
    ok: bool
    returncode: int
    output: str          # stdout and stderr interleaved, the last 64 KB
    duration: float

    def to_dict(self) -> dict:
        return asdict(self)


def script_env(task: Task, sb: Sandbox, params: Params, room: Room) -> dict[str, str]:
    """The environment of setup and solution: nothing of the caller's but, when
    not confined, PATH's tail."""
    tail = "/usr/local/bin:/usr/bin:/bin" if room.confined else os.environ.get("PATH", os.defpath)
    env = {
        "PATH": f"{Toolchain().bin_dir}:{Toolchain().tools_dir}:{tail}",  # kubectl, helm
        "HOME": str(room.dir / "home"),
        "TMPDIR": str(room.dir / "home"),
        "LANG": "C.UTF-8",
        "KUBECONFIG": str(room.kubeconfig),
        "ANSWERS_DIR": str(room.answers),
        "WORKSPACE": str(sb.workspace),
        "TASK_DIR": str(task.path),
        **{var: str(path) for var, path in Toolchain().assets().items()},  # GATEWAY_API_CRDS …
    }
    if getattr(sb, "etcd_endpoint", ""):
        env.update(_etcd_env(sb, room))
    if room.relay_socket:
        env["PATH"] = f"{_node_helper(room)}:{env['PATH']}"
    env.update(task.script_env(params))
    return env


def _etcd_env(sb: Sandbox, room: Room) -> dict[str, str]:
    """``ETCDCTL_ENDPOINTS``, and where this sandbox's etcd asks for a client
    certificate (``Sandbox.etcd_pki``) ``ETCDCTL_CACERT``, ``_CERT`` and
    ``_KEY`` naming copies in the room: a script's ``etcdctl`` reaches this
    sandbox's etcd and no other. Checks get none: they read the cluster
    through its API."""
    pki = getattr(sb, "etcd_pki", None)
    if pki is None:
        return etcdctl_env(sb.etcd_endpoint, None)
    copy = room.dir / ETCD_PKI
    for rel in ETCD_CLIENT_FILES:
        (copy / rel).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        (copy / rel).write_bytes((pki / rel).read_bytes())
        (copy / rel).chmod(0o400)
    return etcdctl_env(sb.etcd_endpoint, copy)


def _node_helper(room: Room) -> Path:
    """A bin dir with ``on-node NODE [COMMAND…]``: run a command as root on a
    real node, through the room's node relay (a shell reading stdin when no
    command is given)."""
    bin_dir = room.dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / "on-node"
    path.write_text(f"#!/bin/sh\n# on-node NODE [COMMAND...]: run COMMAND as root on NODE of "
                    f"{room.sb.name}\nexec {sys.executable} -I {RELAY_PY} {room.relay_socket} \"$@\"\n")
    path.chmod(0o755)
    return bin_dir


def run_script(task: Task, which: str, sb: Sandbox, params: Params,
               timeout: float = SCRIPT_TIMEOUT) -> ScriptResult:
    """Run ``setup`` or ``solution`` of ``task`` against ``sb``, or one of its
    ``alternatives/`` or ``near-misses/`` (``which`` = ``"near-misses/<name>"``),
    which run as the solution does; never raises for the script's own failure
    (``ok`` is False and ``output`` says why).

    The script runs confined (``grader.room``) as the sandbox's grader uid: it
    sees its task's folder (never ``checks.py``; ``solution`` only when it is
    the solution that runs), the answers folder and a kubeconfig copy."""
    if which not in ("setup", "solution") and not _is_variant(task, which):
        raise ValueError(f"which must be 'setup', 'solution' or a script of "
                         f"{' or '.join(VARIANT_DIRS)}/, got {which!r}")
    script = task.path / which
    timeout *= sb.slowdown
    started = time.monotonic()
    with Room(sb, scripts=[task], solution_visible=which != "setup", answers_writable=True,
              prefix="proctor-script-") as room:
        env = script_env(task, sb, params, room)
        home = room.dir / "home"
        argv = room.wrap([str(script)], cwd=home)
        room.seal()
        try:
            proc = subprocess.Popen(argv, cwd=str(home), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as exc:
            return ScriptResult(False, -1, f"cannot run {script}: {exc}", 0.0)
        try:
            out, _ = proc.communicate(timeout=timeout)
            code = proc.returncode
            note = ""
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            code, note = -signal.SIGKILL, f"\n[{which} did not finish within {timeout:g}s and was killed]"
    text = out.decode(errors="replace")[-MAX_OUTPUT:] + note
    return ScriptResult(code == 0, code, text, round(time.monotonic() - started, 3))


def _is_variant(task: Task, which: str) -> bool:
    kind, _, name = which.partition("/")
    return kind in VARIANT_DIRS and (task.path / kind / name) in task.variants(kind)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


# -- grade ------------------------------------------------------------------------------------

def grade(sb: Sandbox, tasks: list[tuple[Task, Params]], check_timeout: float = DEFAULT_CHECK_TIMEOUT,
          timeout: float | None = None) -> list[TaskResult]:
    """Grade the checks of every ``(task, params)`` against ``sb`` in one process.

    Returns one ``TaskResult`` per task, in order. ``check_timeout`` bounds each
    check; ``timeout`` the whole run (default: startup allowance + every check's
    limit). Raises ``GradeError`` only when the grader itself cannot run."""
    if not tasks:
        return []
    ids = [t.id for t, _ in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise GradeError(f"task {', '.join(dupes)} appears more than once in one grading run")
    declared = {t.id: scan_checks(t.checks_path)[0] for t, _ in tasks}
    n_checks = sum(max(len(c), 1) for c in declared.values())
    check_timeout *= sb.slowdown  # an emulated cluster is not the candidate's fault
    timeout = timeout or STARTUP_ALLOWANCE + check_timeout * n_checks
    with Room(sb, checks=[t for t, _ in tasks]) as room:
        results_file = room.dir / "results.jsonl"
        results_file.touch()
        spec = {
            "sandbox": room.sandbox_dict(), "check_timeout": check_timeout,
            "results": str(results_file), "tmp": str(room.dir),
            "kubectl": str(Toolchain().bin_dir / "kubectl"), "node_relay": room.relay_socket,
            "tasks": [{"id": t.id, "checks": str(t.checks_path.resolve()), "params": p}
                      for t, p in tasks],
        }
        (room.dir / "spec.json").write_text(json.dumps(spec, default=str))
        (room.dir / "pytest.ini").write_text(PYTEST_INI)
        room.seal()
        started = time.monotonic()
        run = _run_pytest(room, [str(t.checks_path.resolve()) for t, _ in tasks], timeout)
        elapsed = time.monotonic() - started
        events = [json.loads(line) for line in results_file.read_text().splitlines() if line.strip()]
    return _assemble(tasks, declared, events, run, elapsed, timeout)


@dataclass
class _Run:
    returncode: int | None     # None: killed at the overall time limit
    output: str


def _run_pytest(room: Room, files: list[str], timeout: float) -> _Run:
    tmpdir = room.dir
    argv = ["-p", "grader.plugin",
            "--proctor-spec", str(tmpdir / "spec.json"), "-c", str(tmpdir / "pytest.ini"),
            # rootdir above every checks file, so a file that fails to import is
            # reported as that module (not as the session) and the others still run
            "--rootdir", os.path.commonpath([str(Path(f).parent) for f in files]),
            "--continue-on-collection-errors", "--noconftest", "--import-mode=importlib",
            "-p", "no:cacheprovider", "-p", "no:stepwise", "-q", "--no-header",
            # tracebacks are not shown to anyone, and formatting one costs seconds
            "-o", "console_output_style=classic", "--tb=no", *files]
    # Only what the checks need: never the caller's secrets, settings or KUBECONFIG.
    env = isolate.minimal_env()
    env.update({
        "HOME": str(tmpdir / "home"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # faster, and only our fixtures
        "TMPDIR": str(tmpdir),
    })
    code, output = isolate.run(argv, env, tmpdir, timeout, room=room)
    return _Run(code, output)


def _assemble(tasks, declared, events, run: _Run, elapsed: float, timeout: float) -> list[TaskResult]:
    collected: dict[str, dict[str, dict]] = {t.id: {} for t, _ in tasks}
    done: dict[str, dict[str, dict]] = {t.id: {} for t, _ in tasks}
    collect_errors: dict[str, str] = {}
    api_problems: list[str] = []
    for ev in events:
        if ev["event"] == "collected":
            collected[ev["task"]][ev["check"]] = ev
        elif ev["event"] == "result":
            done[ev["task"]][ev["check"]] = ev
        elif ev["event"] == "collect_error":
            collect_errors[ev["path"]] = ev["message"]
        elif ev["event"] == "api":
            api_problems = list(ev["problems"])
    if not events and run.returncode not in (None, 0, 1):
        tail = "\n".join(run.output.strip().splitlines()[-15:])
        raise GradeError(f"the grading process failed (exit {run.returncode}) before running "
                         f"any check:\n{tail}")
    out = []
    for task, _ in tasks:
        result = TaskResult(task.id, api_problems=api_problems)
        broken = collect_errors.get(str(task.checks_path.resolve()))
        if broken is None and not collected[task.id]:
            # attributed to a directory or the session: find it by the file's path
            broken = next((m for p, m in collect_errors.items()
                           if str(task.checks_path.resolve()).startswith(p)), None)
        if broken:
            result.error = f"checks.py could not be loaded: {broken}"
        elif run.returncode is None:
            result.error = f"grading stopped at its {timeout:g}s time limit"
        checks = collected[task.id] or {c.id: {"description": c.description, "points": c.points}
                                        for c in declared[task.id]}
        for cid, info in checks.items():
            ev = done[task.id].get(cid)
            if ev is not None:
                outcome, message, duration = ev["outcome"], ev["message"], ev["duration"]
            else:
                outcome, duration = "error", 0.0
                message = result.error or "not run: the grading process ended before this check"
                result.error = result.error or message
            result.checks.append(CheckResult(cid, info["description"], info["points"],
                                             outcome, message, duration))
        if not checks and not result.error:
            result.error = "checks.py defines no checks"
        result.duration = round(sum(c.duration for c in result.checks), 4)
        out.append(result)
    return out
