"""A fake of what the portal needs from the grader and the sandbox layer.

Unit tests only (the cluster tests use the real thing). Sandboxes are
folders under ``<instance>/fake-sandboxes``, so a separate worker process
sees the same ones; a task counts as solved when the test writes
``<workspace>/solved/<task id>``. Grading can be slowed with
``FAKE_GRADE_SECONDS`` and every grading run is logged to
``<instance>/grade-runs.log`` (``start``/``done`` lines).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.results import CheckResult, TaskResult
from sandbox import Sandbox

SECRET_CHECK = "SECRET-CHECK"
SECRET_SOLUTION = "SECRET-SOLUTION"


@dataclass
class FakeTask:
    id: str
    title: str
    domain: str
    tracks: list = field(default_factory=lambda: ["ckad"])
    difficulty: str = "easy"
    minutes: int = 6
    weight: int = 4
    requires: list = field(default_factory=lambda: ["api"])
    nodes: int = 3  # as real tasks, whose default is 3

    def draw_params(self, seed):
        return {"port": 8000 + seed % 100, "ns": f"ns-{self.id}"}

    def render(self, params):
        return {"statement": f"Fix **{self.id}** in namespace `{params['ns']}` on port {params['port']}.\n\n"
                             "<script>alert('x')</script>",
                "hints": [f"hint for {self.id}: look at the selector"]}

    def solution_text(self, params):
        return f"#!/bin/sh\n# {SECRET_SOLUTION}-{self.id}\nkubectl -n {params['ns']} apply -f fix.yaml\n"


TASKS = [
    FakeTask("svc-selector-fix", "Fix the Service selector", "Services and Networking"),
    FakeTask("pod-security", "Run as a non-root user", "Application Environment, Configuration and Security"),
    FakeTask("deploy-rollout", "Roll out a new image", "Application Deployment"),
    FakeTask("probe", "Add a readiness probe", "Application Observability and Maintenance"),
    FakeTask("multi-container", "Add a sidecar", "Application Design and Build"),
]


class FakeServices:
    def __init__(self, config):
        self.config = config
        root = Path(config.get("FAKE_ROOT") or os.environ.get("FAKE_ROOT") or "/tmp/proctor-fake")
        self.root = root / "fake-sandboxes"
        self.log = root / "grade-runs.log"

    def capabilities(self, real_nodes=False):
        return frozenset({"api"})

    def provider_order(self):
        return []   # fake clusters: "Validate now" uses only AUTHOR_PROVIDER

    def load_tasks(self):
        return {t.id: t for t in TASKS}, []

    def render(self, task, params):
        return task.render(params)

    def namespaces(self, sandbox):
        """The names in a fake sandbox's ``namespaces`` file; None (unknown)
        without one."""
        listed = Path(sandbox.workspace, "namespaces")
        return set(listed.read_text().split()) if listed.exists() else None

    def solution(self, task, params):
        return task.solution_text(params)

    def draw_params(self, task, seed):
        return task.draw_params(seed)

    def create_sandbox(self, name, nodes, requires=(), **options):
        time.sleep(float(os.environ.get("FAKE_CREATE_SECONDS", 0)))
        if self.config.get("FAKE_FAIL_CREATE") or os.environ.get("FAKE_FAIL_CREATE"):
            raise RuntimeError(f"kwok sandbox {name!r} did not become usable in time")
        d = self.root / name
        (d / "workspace" / "solved").mkdir(parents=True, exist_ok=True)
        sb = Sandbox(name=name, provider="fake", kubeconfig=d / "kubeconfig",
                     api_url="https://127.0.0.1:1", nodes=["controlplane"],
                     workspace=d / "workspace", capabilities=frozenset({"api"}))
        (d / "sandbox.json").write_text(json.dumps(sb.to_dict()))
        return sb

    def sandbox_healthy(self, name):
        return (self.root / name / "sandbox.json").exists()

    def destroy_sandbox(self, name):
        shutil.rmtree(self.root / name, ignore_errors=True)

    def list_sandboxes(self):
        if not self.root.is_dir():
            return []
        return [(d.name, json.loads((d / "sandbox.json").read_text())["created_at"])
                for d in self.root.iterdir() if (d / "sandbox.json").exists()]

    def run_setup(self, task, sandbox, params):
        if os.environ.get("FAKE_FAIL_SETUP") == task.id:
            return False, f"error: setup of {task.id} exploded"
        return True, f"namespace/{params['ns']} created"

    def grade(self, sandbox, pairs):
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as fh:
            fh.write(f"start {os.getpid()}\n")
        time.sleep(float(os.environ.get("FAKE_GRADE_SECONDS", self.config.get("FAKE_GRADE_SECONDS", 0))))
        out = []
        solved_dir = sandbox.workspace / "solved"
        # FAKE_API_BROKEN: what a candidate who broke their API gets: the checks
        # of unsolved tasks error, and the survey says why
        broken = os.environ.get("FAKE_API_BROKEN") == "1"
        problems = ["the API group apps/v1 was unavailable at grading time (ServiceNotFound: "
                    "service/nope in \"default\" is not present): checks that need it failed"] if broken else []
        for task, params in pairs:
            ok = (solved_dir / task.id).exists()
            miss = "error" if broken else "failed"
            checks = [
                CheckResult(f"{task.id}::test_one", f"{SECRET_CHECK} one of {task.id}", 2,
                            "passed" if ok else miss,
                            "" if ok else "expected selector app=web, found app=frontend", 0.01),
                CheckResult(f"{task.id}::test_two", f"{SECRET_CHECK} two of {task.id}", 1,
                            "passed" if ok else miss,
                            "" if ok else "expected 3 endpoints, found 0", 0.01),
            ]
            out.append(TaskResult(task.id, checks, duration=0.02, api_problems=list(problems)))
        with self.log.open("a") as fh:
            fh.write(f"done {os.getpid()}\n")
        return out
