"""Start the grading process fast: forked from a server that has pytest and
the kubernetes client already imported.

``kubernetes`` 37 builds pydantic models for every type CoreV1Api touches:
importing it costs 2-3 s of CPU, more than grading a whole exam. A fresh
``python -m pytest`` pays that on every grading; a child forked from a
server that imported it once pays nothing. The child is still a process of
its own (own session, environment, working directory, output file), started
clean for each grading and killed with everything it started at the time limit.

The server (``python -m grader.isolate``) is started on first use, serves
every thread of its parent, and exits when the parent does (its stdin closes).
``PROCTOR_GRADER_PROCESS=subprocess`` selects plain ``python -m pytest``
instead; the server falls back to that by itself if it cannot start.

Either way, when the caller is root the child confines itself
(``confinement.confine``) before pytest imports a single check: the room
(``grader.room``) says what it may see and which uid it becomes. The server
starts with a minimal environment, since a forked child's
``/proc/self/environ`` is the server's own.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PRELOAD = ["pytest", "_pytest.python", "_pytest.fixtures", "kubernetes.config",
           "kubernetes.client.api.core_v1_api", "grader.kube", "grader.plugin", "confinement.confine",
           "grader.answers"]
EXIT_FILE = "pytest.exit"
SERVER_START_TIMEOUT = 90.0


# -- the server side (python -m grader.isolate) -------------------------------------------

def _child(req: dict) -> None:
    """In a forked child: a session of our own, only ``env``, output to a file, then pytest."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.run must reap its own children
    os.setsid()
    fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    os.environ.clear()
    os.environ.update(req["env"])
    import tempfile
    tempfile.tempdir = req["env"].get("TMPDIR") or None
    if req.get("confine"):
        from confinement import confine
        try:
            confine.enter(req["confine"])
        except OSError as exc:
            print(f"proctor: cannot confine the grading process: {exc}", file=sys.stderr, flush=True)
            os._exit(71)
    os.chdir(req["cwd"])
    import pytest
    code = int(pytest.main(req["argv"]))
    sys.stdout.flush()
    sys.stderr.flush()
    tmp = Path(req["cwd"]) / (EXIT_FILE + ".tmp")
    tmp.write_text(str(code))
    tmp.replace(Path(req["cwd"]) / EXIT_FILE)
    os._exit(code)


def serve() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished children
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                _child(req)
            finally:
                os._exit(70)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


# -- the client side ------------------------------------------------------------------------

def minimal_env() -> dict[str, str]:
    """What a grading process needs of the caller's environment, and nothing else."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "LANG", "LC_ALL", "PROCTOR_TOOLCHAIN_DIR")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


class _Server:
    def __init__(self):
        env = minimal_env()
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.isolate"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     text=True, bufsize=1)

    def spawn(self, req: dict) -> int:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        # The first reply waits for the preload (seconds on a busy machine); a
        # server that never answers must not hang the grader.
        ready, _, _ = select.select([self.proc.stdout], [], [], SERVER_START_TIMEOUT)
        if not ready:
            self.proc.kill()
            raise OSError("grader fork server did not answer")
        reply = self.proc.stdout.readline()
        if not reply:
            raise OSError("grader fork server exited")
        return int(json.loads(reply)["pid"])


_lock = threading.Lock()
_server: _Server | None = None


def _spawn(req: dict) -> int | None:
    """The pid of a child forked for ``req``, or None when no server can be had."""
    global _server
    with _lock:  # one request at a time on the shared pipe
        for _ in range(2):
            try:
                if _server is None or _server.proc.poll() is not None:
                    _server = _Server()
                return _server.spawn(req)
            except (OSError, ValueError):
                _server = None
    return None


def mode() -> str:
    return "subprocess" if os.environ.get("PROCTOR_GRADER_PROCESS") == "subprocess" else "fork"


def run(argv: list[str], env: dict, cwd: Path, timeout: float,
        room=None) -> tuple[int | None, str]:
    """Run ``pytest argv`` in a separate process; ``(exit code, or None if killed; output)``.

    With ``room`` (``grader.room.Room``) the process is confined as the room says."""
    log = cwd / "pytest.log"
    confine = room.spec() if room is not None else None
    pid = _spawn({"argv": argv, "env": env, "cwd": str(cwd), "log": str(log),
                  "confine": confine}) if mode() == "fork" else None
    if pid is None:
        command = [sys.executable, "-m", "pytest", *argv]
        return _run_subprocess(room.wrap(command, cwd) if room is not None else command,
                               env, cwd, timeout)
    deadline = time.monotonic() + timeout
    exit_file = cwd / EXIT_FILE
    code: int | None = None
    while True:
        if exit_file.exists():
            code = int(exit_file.read_text())
            break
        if not _alive(pid):  # died without saying how (killed, crashed)
            code = -1
            break
        if time.monotonic() > deadline:
            _kill(pid)
            break
        time.sleep(0.02)
    output = log.read_text(errors="replace") if log.exists() else ""
    return code, output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _run_subprocess(command, env, cwd: Path, timeout: float) -> tuple[int | None, str]:
    proc = subprocess.Popen(command, cwd=str(cwd), env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        _kill(proc.pid)
        out, _ = proc.communicate()
        return None, out.decode(errors="replace")


def _kill(pid: int) -> None:
    """Kill the process and everything it started (its session's process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


if __name__ == "__main__":
    serve()
