"""What the portal needs from the layers below, in one small object.

The worker makes sandboxes, runs task setup and grades; the pages render
statements and solutions. All of that goes through ``Services`` so the
direction of knowledge stays ``web -> grader -> sandbox`` and unit tests can
swap in a fake (``PROCTOR_SERVICES=module:Class``) while cluster tests use
the real thing. What crosses it is typed: ``sandbox.Sandbox`` and
``grader.results.TaskResult``, never their JSON.
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

from grader.results import TaskResult
from sandbox import Sandbox


class RealServices:
    """Sandboxes from the configured provider, tasks and grading from ``grader``."""

    def __init__(self, config):
        self.provider_name = config["PROVIDER"]
        self.kind_enabled = bool(config.get("KIND_SANDBOXES"))
        self.vm_enabled = bool(config.get("VM_SANDBOXES"))
        self.containers_enabled = bool(config.get("CONTAINER_SANDBOXES"))
        self.tasks_dir = Path(config["TASKS_DIR"])

    @property
    def provider(self):
        from sandbox import get_provider
        return get_provider(self.provider_name)

    # -- the bank ------------------------------------------------------------------
    def load_tasks(self) -> tuple[dict, list[str]]:
        """``({task id: Task}, [problems])``; a broken task is reported, not fatal."""
        from grader.task import load_bank, load_task
        if not self.tasks_dir.is_dir():
            return {}, [f"no task folder at {self.tasks_dir}"]
        try:
            loaded = load_bank(self.tasks_dir)
        except Exception as exc:  # noqa: BLE001 - one bad task must not hide the rest
            tasks, problems = {}, [f"loading {self.tasks_dir}: {exc}"]
            for folder in sorted(self.tasks_dir.glob("*/*/task.yaml")):
                try:
                    t = load_task(folder.parent)
                    tasks[t.id] = t
                except Exception as exc2:  # noqa: BLE001 - reported, as above
                    problems.append(f"{folder.parent}: {exc2}")
            return tasks, problems
        if isinstance(loaded, tuple):
            loaded, problems = loaded[0], [str(p) for p in loaded[1]]
        else:
            problems = []
        if isinstance(loaded, dict):
            return dict(loaded), problems
        return {t.id: t for t in loaded}, problems

    def render(self, task, params: dict) -> dict:
        return task.render(params)

    def solution(self, task, params: dict) -> str:
        return task.solution_text(params)

    def draw_params(self, task, seed: int) -> dict:
        return task.draw_params(seed)

    # -- sandboxes -----------------------------------------------------------------
    # The configured provider (kwok) makes every cluster, except for papers
    # with tasks that need more: real containers get gvisor (on by default,
    # once its box image is built), real nodes vm (PROCTOR_VM_SANDBOXES) or
    # kind (PROCTOR_KIND_SANDBOXES), vm first when both are enabled: a
    # candidate who is root on a VM node is not root on the host.
    NODE_PROVIDERS = ("vm", "kind")

    def provider_order(self) -> list[str]:
        """The providers this portal may use, cheapest first: its own (kwok),
        gvisor where its box image is built, then vm and kind where the
        operator enabled them."""
        names = [self.provider_name]
        for name, enabled in (("gvisor", self.containers_enabled and _gvisor_built()),
                              ("vm", self.vm_enabled), ("kind", self.kind_enabled)):
            if enabled and name not in names:
                names.append(name)
        return names

    def _providers(self) -> list:
        from sandbox import get_provider
        return [get_provider(n) for n in self.provider_order()]

    def capabilities(self, real_nodes: bool = False) -> frozenset[str]:
        """What the clusters can offer: kwok's and gvisor's; with
        ``real_nodes``, also vm's or kind's, if enabled."""
        caps: set[str] = set()
        for prov in self._providers():
            if real_nodes or prov.name not in self.NODE_PROVIDERS:
                caps |= set(prov.capabilities)
        return frozenset(caps)

    def create_sandbox(self, name: str, nodes: int, requires=(), **options) -> Sandbox:
        """A cluster for a paper whose tasks need ``requires``, on the first
        provider of ``provider_order`` that offers them (``sandbox.choose``)."""
        from sandbox import choose
        provider = choose(requires, self.provider_order())
        if provider is None:
            raise RuntimeError(
                f"the paper needs {', '.join(sorted(set(requires) - set(self.capabilities(True))))}"
                ", which no sandbox provider enabled on this portal offers (real containers: "
                "scripts/bootstrap builds gvisor's box image; real nodes: PROCTOR_VM_SANDBOXES=1, "
                "see docs/vm.md, or PROCTOR_KIND_SANDBOXES=1, see docs/kind.md)")
        if "nodes" not in provider.capabilities:  # simulated nodes cannot be left unjoined
            options.pop("unjoined", None)
        return provider.create(name, nodes=nodes, **options)

    def sandbox_healthy(self, name: str) -> bool:
        return any(p.get(name) is not None and p.health(name).ok for p in self._providers())

    def destroy_sandbox(self, name: str) -> None:
        for prov in self._providers():
            prov.destroy(name)

    def list_sandboxes(self) -> list[tuple[str, float]]:
        return [(sb.name, sb.created_at) for prov in self._providers()
                for sb in prov.list(include_creating=True)]

    def namespaces(self, sandbox: Sandbox) -> set[str] | None:
        """The namespaces in ``sandbox`` now, or None when it cannot say. The
        names are the candidate's: compared with a task's, never followed."""
        from sandbox import SandboxError, get_provider
        from sandbox.toolchain import ToolchainError
        try:  # the provider's own kubectl (the toolchain's, never one on PATH)
            res = get_provider(sandbox.provider).kubectl(
                sandbox, "get", "namespaces", "-o", "name", "--request-timeout=10s", timeout=20)
        except (OSError, subprocess.SubprocessError, SandboxError, ToolchainError):
            return None
        if res.returncode != 0:
            return None
        return {line.split("/", 1)[-1] for line in res.stdout.split()}

    # -- setup and grading -------------------------------------------------------
    def run_setup(self, task, sandbox: Sandbox, params: dict) -> tuple[bool, str]:
        from grader.runner import run_script
        res = run_script(task, "setup", sandbox, params)
        return bool(res.ok), res.output or ""

    def grade(self, sandbox: Sandbox, pairs: list) -> list[TaskResult]:
        from grader.runner import grade
        return grade(sandbox, pairs)


def _gvisor_built() -> bool:
    """Is gvisor's box image built here (runsc, the node's root filesystem)?"""
    try:
        from sandbox.gvisor.image import BoxImage
        return BoxImage().exists()
    except Exception:  # noqa: BLE001 - no toolchain, no Docker: not built
        return False


def load_services(config):
    target = config["SERVICES"]
    if not isinstance(target, str):
        return target(config) if isinstance(target, type) else target
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(config)
