"""Where an attempt's shells run: the one seam between the terminal (its
websocket, screen, tabs and reaper, in this package) and what confines the
candidate (``confinement``).

A backend is one attempt's place for shells, made from the attempt's
``JailSpec`` (its sandbox's kubeconfig and workspace, its hosts, its
limits); every tab of the attempt is one process entered into it, on a pty
of the portal::

    backend = make(spec, root)   # ShellManager(backend=make); root: its own folder
    backend.start()              # ready to enter; idempotent
    proc = backend.enter(["bash", "-i"], stdin=pty, stdout=pty, stderr=pty, tty=pty)
    backend.running              # False once it ended under the shells (then started anew)
    backend.stop()               # everything in it ends; the workspace stays for grading
    backend.destroy()            # stop, and its own folder goes
    make.sweep(prefix)           # what a crash of the portal with this prefix left

``enter`` returns a ``subprocess.Popen`` whose end is the tab's end: the
shell manager hangs it up, waits for it and reads the pty, whatever runs
behind it. Today's backend is ``confinement.jail.Jail`` (bubblewrap on
this machine: the process is the jailed shell itself). A shell in a pod of
a host cluster fits the same seam: ``enter`` runs the exec stream's client
on the pty (tty and resize travel with it), ``start`` waits for the pod.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

from confinement.jail import JailSpec


class ShellBackend(Protocol):
    spec: JailSpec

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def enter(self, argv: list[str], stdin=None, stdout=None, stderr=None,
              tty: int | None = None) -> subprocess.Popen: ...

    def stop(self) -> None: ...

    def destroy(self) -> None: ...


class BackendFactory(Protocol):
    def __call__(self, spec: JailSpec, root: Path) -> ShellBackend: ...

    def sweep(self, prefix: str) -> list[str]: ...
