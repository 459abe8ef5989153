"""The room a task's code runs in against one sandbox: a private folder, the
sandbox's grader identity, and the confinement (``confinement.confine``) that
shows that code only what it needs.

    with Room(sb, [task]) as room:                      # doctest: +SKIP
        (room.dir / "spec.json").write_text(...)
        room.seal()                                     # the folder now belongs to the grader uid
        run(["python", CONFINE_PY, room.spec_file(...), "--", ...])

What a room exposes, read-only unless said otherwise:

* the system (``/usr`` …), the Python running Proctor, the ``grader`` and
  ``sandbox`` packages (not ``web``, not the task bank), the toolchain
  (with its assets, e.g. the Gateway API CRDs);
* its own folder (writable): the grading spec and results, a copy of the
  sandbox's kubeconfig with its certificates inlined, HOME and TMPDIR;
* the sandbox's answers folder (writable for scripts, read-only for checks);
* each task's folder for scripts (with ``checks.py`` hidden, and the
  ``solution``, ``alternatives/`` and ``near-misses/`` hidden while setup
  runs), or only its ``checks.py`` for grading;
* for sandboxes with real nodes, the socket of a ``NodeRelay``.

It runs in a cgroup of its own (``GRADE_LIMITS``: memory and processes), so
task code fed a candidate's worst (a huge answer file, a cluster full of
big objects) slows only its own grading; what is left in the cgroup when the
room closes is killed.

When Proctor does not run as root there is nothing to drop: the room is then
just the private folder and the code runs as the caller.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from confinement import confine
from confinement.cgroup import Cgroup, CgroupError, Limits
from confinement.identity import grader_uid
from sandbox import Sandbox

from .noderelay import NodeRelay
from .task import VARIANT_DIRS

REPO = Path(__file__).resolve().parent.parent
CONFINE_PY = str(Path(confine.__file__).resolve())
RELAY_PY = str((Path(__file__).resolve().parent / "noderelay.py"))
# A grading is pytest with the kubernetes client (about 150 MB) or a script
# running kubectl and helm; a few times that, and never the host's memory.
GRADE_LIMITS = Limits(memory_bytes=768 * 1024**2, pids=256)


def _python_paths() -> list[str]:
    """The interpreter's own trees (a venv and the Python it was made from)."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths |= {sys.prefix}  # the venv's own path, where its bin/python link lives
    return sorted(paths)


def flatten_kubeconfig(src: Path) -> str:
    """The kubeconfig at ``src`` with every file it names (CA, client certificate
    and key, token file) inlined, so the copy works where those files are absent."""
    cfg = yaml.safe_load(src.read_text()) or {}
    base = src.parent

    def inline(entry: dict, key: str, data_key: str, token: bool = False) -> None:
        value = entry.pop(key, None)
        if value:
            content = (base / value).read_bytes()
            entry[data_key] = content.decode().strip() if token else base64.b64encode(content).decode()

    for c in cfg.get("clusters") or []:
        inline(c.get("cluster") or {}, "certificate-authority", "certificate-authority-data")
    for u in cfg.get("users") or []:
        user = u.get("user") or {}
        inline(user, "client-certificate", "client-certificate-data")
        inline(user, "client-key", "client-key-data")
        inline(user, "tokenFile", "token", token=True)
    return yaml.safe_dump(cfg)


class Room:
    """A private folder and a confinement for running task code against ``sb``.

    ``scripts``: the tasks whose scripts run here (their folders are shown);
    ``checks``: the tasks whose checks run here (only their checks.py);
    ``solution_visible``: show ``solution`` (a solution run), hidden otherwise.
    """

    def __init__(self, sb: Sandbox, *, scripts=(), checks=(), solution_visible: bool = False,
                 answers_writable: bool = False, prefix: str = "proctor-grade-"):
        self.sb = sb
        self.scripts, self.checks = list(scripts), list(checks)
        self.solution_visible, self.answers_writable = solution_visible, answers_writable
        self.prefix = prefix
        self.confined = confine.available()
        self.uid = grader_uid(sb.name) if self.confined else None
        self.dir = Path()
        self._relay: NodeRelay | None = None
        self._root = ""
        self.cgroup: Cgroup | None = None

    # -- the folder ------------------------------------------------------------------
    def __enter__(self) -> "Room":
        self.dir = Path(tempfile.mkdtemp(prefix=self.prefix))
        (self.dir / "home").mkdir()
        self.kubeconfig = self.dir / "kubeconfig"
        try:
            self.kubeconfig.write_text(flatten_kubeconfig(Path(self.sb.kubeconfig)))
        except (OSError, yaml.YAMLError):  # unreadable: the checks will say so
            self.kubeconfig.write_text("")
        self.kubeconfig.chmod(0o400)
        self.answers = Path(self.sb.workspace) / "answers"
        self._ensure_answers()
        if "nodes" in self.sb.capabilities:
            from sandbox import get_provider
            self.relay_socket = str(self.dir / "node.sock")
            self._relay = NodeRelay(get_provider(self.sb.provider), self.sb, self.relay_socket,
                                    uid=self.uid).__enter__()
        else:
            self.relay_socket = ""
        if self.confined:  # the mount point of the new root: outside the folder it shows
            self._root = tempfile.mkdtemp(prefix="proctor-root-")
            self.cgroup = _grading_cgroup(self.dir.name)
        return self

    def __exit__(self, *exc) -> None:
        if self.cgroup is not None:
            try:
                self.cgroup.destroy()
            except CgroupError:
                pass  # a process that would not die: reaped with the sandbox
        if self._relay is not None:
            self._relay.__exit__(*exc)
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._root:
            shutil.rmtree(self._root, ignore_errors=True)

    def _ensure_answers(self) -> None:
        """The answers folder exists; made here (no jail yet) it belongs to the grader.

        The jail gives it to the candidate with the grader's gid (02770), so the
        checks read it by group; nothing here follows a link in it."""
        try:
            os.mkdir(self.answers, 0o700)
        except FileExistsError:
            return
        if self.uid is not None:
            os.chown(self.answers, self.uid, self.uid, follow_symlinks=False)
        os.chmod(self.answers, 0o2770)

    def sandbox_dict(self) -> dict:
        """The sandbox record as the confined code sees it (the kubeconfig copy)."""
        return {**self.sb.to_dict(), "kubeconfig": str(self.kubeconfig)}

    def seal(self) -> None:
        """Give the folder and what the caller wrote into it to the grader uid."""
        if self.uid is None:
            return
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for name in [*dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), self.uid, self.uid, follow_symlinks=False)
        os.chown(self.dir, self.uid, self.uid)
        os.chmod(self.dir, 0o700)

    # -- the confinement ------------------------------------------------------------------
    def spec(self, cwd: Path | None = None) -> dict | None:
        """What ``confinement.confine.enter`` needs; None when not confining."""
        if not self.confined:
            return None
        from sandbox.toolchain import Toolchain
        ro = _python_paths() + [str(REPO / d) for d in ("confinement", "grader", "sandbox")]
        ro += [str(Toolchain().bin_dir), str(Toolchain().tools_dir)]
        ro += [str(path) for path in Toolchain().assets().values()]  # the CRDs setup installs
        hide = []
        for task in self.scripts:
            ro.append(str(task.path))
            hide.append(str(task.checks_path))
            if not self.solution_visible:  # nor the other ways and the mistakes
                hide += [str(task.solution_path), *(str(task.path / d) for d in VARIANT_DIRS)]
        ro += [str(task.checks_path.resolve()) for task in self.checks]
        rw = [str(self.dir)]
        (rw if self.answers_writable else ro).append(str(self.answers))
        return {"uid": self.uid, "root": self._root, "cwd": str(cwd or self.dir),
                "ro": ro, "rw": rw, "hide": hide,
                "cgroup": [str(d) for d in self.cgroup.dirs] if self.cgroup else []}

    def wrap(self, argv: list[str], cwd: Path | None = None) -> list[str]:
        """``argv`` run confined (``confine.py SPEC -- argv``), or as is when not root."""
        spec = self.spec(cwd)
        if spec is None:
            return argv
        path = self.dir / "confine.json"
        path.write_text(json.dumps(spec))
        return [sys.executable, "-I", CONFINE_PY, str(path), "--", *argv]


def _grading_cgroup(name: str) -> Cgroup | None:
    """A fresh cgroup with ``GRADE_LIMITS``, or None where none can be made
    (an unprivileged container): the rlimits of ``confinement.confine`` remain."""
    cgroup = Cgroup(name)
    try:
        cgroup.create(GRADE_LIMITS)
    except CgroupError:
        return None
    return cgroup
