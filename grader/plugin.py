"""The pytest plugin that turns a task's ``checks.py`` into graded checks.

Loaded by the runner as ``python -m pytest -p grader.plugin --proctor-spec
SPEC …`` in a process of its own. The spec (JSON) names the sandbox and, per
task, its checks.py and params; the plugin gives checks their fixtures, keeps
each check within its time limit, and writes one JSON line per event to the
spec's ``results`` file as it goes (so a run killed half-way still tells
what it did).

Fixtures for checks:

``k8s``       ``grader.kube.K8s`` bound to the sandbox's kubeconfig (session-wide)
``kubectl``   ``grader.kube.Kubectl``: the toolchain's kubectl, same kubeconfig
``params``    this attempt's param values for the check's task (a dict)
``answers``   ``grader.answers.Answers``: ``(answers / "q3.txt").read_text()`` reads what the
              candidate wrote in /opt/answers, never following a link (a failed check if
              it is not a plain file)
``sandbox``   the ``sandbox.Sandbox`` record
``nodes``     ``{node name: testinfra host}``; an error on sandboxes without real nodes.
              Commands reach the node through the caller's relay (``grader.noderelay``):
              the checks themselves hold no Docker socket or SSH key

Markers: ``@pytest.mark.points(n)`` (default 1), ``@pytest.mark.timeout(s)``
(default: the spec's ``check_timeout``, 10 s).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import signal
import sys
import time
from pathlib import Path

import pytest

DEFAULT_CHECK_TIMEOUT = 10.0
MAX_MESSAGE = 500
WARM_APIS = {"core", "apps", "batch", "rbac", "networking", "storage", "authz", "policy",
             "discovery", "autoscaling", "custom"}


class CheckTimeout(BaseException):
    """Raised in a check that ran out of time. A BaseException, so a check's
    ``except Exception`` (or ``wait_until``) cannot swallow it."""


class NoSpec(Exception):
    pass


def pytest_addoption(parser):
    group = parser.getgroup("proctor", "Proctor grading")
    group.addoption("--proctor-spec", default=None, metavar="FILE",
                    help="JSON grading spec written by grader.runner")


def pytest_configure(config):
    config.addinivalue_line("markers", "points(n): points this check is worth (default 1)")
    config.addinivalue_line("markers", "timeout(seconds): time limit of this check")
    spec_file = config.getoption("proctor_spec", None)
    if spec_file:
        config.pluginmanager.register(
            Grading(json.loads(Path(spec_file).read_text()), Path(str(config.rootpath))),
            "proctor-grading")


# -- fixtures -------------------------------------------------------------------------

def _grading(request) -> "Grading":
    g = request.config.pluginmanager.get_plugin("proctor-grading")
    if g is None:
        raise NoSpec("checks need a sandbox: run them with grader.runner.grade() or "
                     "`proctor grade`, which pass --proctor-spec")
    return g


@pytest.fixture(scope="session")
def sandbox(request):
    """The ``sandbox.Sandbox`` record of the cluster being graded."""
    from sandbox import Sandbox
    return Sandbox.from_dict(_grading(request).spec["sandbox"])


@pytest.fixture(scope="session")
def k8s(request):
    """Kubernetes API clients bound to the sandbox (see ``grader.kube.K8s``)."""
    return _grading(request).k8s()


@pytest.fixture(scope="session")
def kubectl(request, sandbox):
    """kubectl bound to the sandbox's kubeconfig; returns stdout, ``.json(...)`` parses."""
    from .kube import Kubectl
    spec = _grading(request).spec
    binary = spec.get("kubectl")
    if not binary:
        from sandbox.toolchain import Toolchain
        binary = Toolchain().binary("kubectl")
    cache = Path(spec["tmp"]) / "kubectl-cache" if spec.get("tmp") else None
    return Kubectl(binary, sandbox.kubeconfig, cache_dir=cache)


@pytest.fixture
def params(request) -> dict:
    """The attempt's param values for this check's task."""
    return dict(_grading(request).task_of(request.node)["params"])


@pytest.fixture
def answers(sandbox):
    """The candidate's answer files (``grader.answers.Answers``)."""
    from .answers import Answers
    return Answers(Path(sandbox.workspace) / "answers")


@pytest.fixture(scope="session")
def nodes(request, sandbox) -> dict:
    """A testinfra host per node, where the sandbox has real nodes."""
    if "nodes" not in sandbox.capabilities:
        raise RuntimeError(
            f"this check needs real nodes, but sandbox {sandbox.url} has capabilities "
            f"{', '.join(sorted(sandbox.capabilities))}; declare `requires: [api, nodes]` in "
            "task.yaml so it runs on a provider with real nodes (kind)")
    relay = _grading(request).spec.get("node_relay")
    if relay:
        from .noderelay import relay_host
        return {n: relay_host(relay, n) for n in sandbox.nodes}
    from sandbox import get_provider  # not confined (not root): the provider's own hosts
    prov = get_provider(sandbox.provider)
    return {n: prov.node_host(sandbox, n) for n in sandbox.nodes}


# -- grading --------------------------------------------------------------------------

def check_id(item) -> str:
    return item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.name


def first_line(text: str) -> str:
    """The first non-empty line, at most ``MAX_MESSAGE`` characters, control
    characters escaped: a message may repeat what the candidate's cluster said."""
    for line in str(text).splitlines():
        if line.strip():
            line = line.strip()[:MAX_MESSAGE]
            return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
    return ""


def _where(excinfo, path: Path | None) -> str:
    """``checks.py:12``: the deepest traceback line in the checks file."""
    if path is None:
        return ""
    for entry in reversed(list(excinfo.traceback)):
        if Path(str(entry.path)) == path:
            return f"{path.name}:{entry.lineno + 1}"
    return ""


def classify(excinfo, path: Path | None = None) -> tuple[str, str]:
    """``(outcome, message)`` for an exception raised by a check or its fixtures.

    An assertion (or ``pytest.fail``) is the candidate's state being wrong:
    ``failed`` with the author's message. Anything else is the checker's
    fault: ``error`` with the exception and where it happened."""
    exc = excinfo.value
    where = _where(excinfo, path)
    at = f" ({where})" if where else ""
    if isinstance(exc, AssertionError):
        msg = first_line(str(exc))
        if not msg or msg.startswith("assert "):  # no message from the author: say where
            return "failed", f"assertion failed{at}: {msg or 'assert'}"
        return "failed", msg
    if isinstance(exc, pytest.fail.Exception):
        return "failed", first_line(exc.msg) or f"check failed{at}"
    if isinstance(exc, pytest.skip.Exception):
        return "error", f"check skipped itself{at}: {first_line(exc.msg)}"
    if isinstance(exc, CheckTimeout):
        return "error", f"{exc}{at}"
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if status is not None and reason is not None and hasattr(exc, "body"):  # ApiException
        detail = ""
        try:
            detail = json.loads(exc.body).get("message", "")
        except (TypeError, ValueError, AttributeError):
            pass
        return "error", f"Kubernetes API error {status} {reason}{at}: {detail}".rstrip(": ")
    return "error", f"{type(exc).__name__}{at}: {first_line(str(exc))}"


class Grading:
    """Per-session state: the spec, time limits, and the results file."""

    def __init__(self, spec: dict, rootpath: Path):
        self.spec = spec
        self.rootpath = rootpath
        self.tasks = {str(Path(t["checks"]).resolve()): t for t in spec["tasks"]}
        self.check_timeout = float(spec.get("check_timeout", DEFAULT_CHECK_TIMEOUT))
        self.out = open(spec["results"], "a", buffering=1)
        self.started: dict[str, float] = {}
        self._k8s = None
        self.outcome: dict[str, tuple[str, str]] = {}

    def k8s(self):
        """The one ``K8s`` of this grading session (built on first use)."""
        if self._k8s is None:
            from .kube import K8s
            self._k8s = K8s(self.spec["sandbox"]["kubeconfig"])
        return self._k8s

    def warm_up(self, items) -> None:
        """Import the API modules the checks use *before* the first check starts.

        ``kubernetes.client`` imports each API lazily and CoreV1Api alone is a
        4 MB module: on a busy machine its import could eat a check's time limit."""
        if not any("k8s" in getattr(item, "fixturenames", ()) for item in items):
            return
        used = {"core"}
        for path in {Path(str(item.path)) for item in items}:
            text = path.read_text(errors="replace")
            used |= set(re.findall(r"\bk8s\.([a-z_]+)", text))
        used |= {"discovery"} if "endpoints" in used else set()
        used |= {"authz"} if "can" in used else set()
        k8s = self.k8s()
        for name in sorted(used & WARM_APIS):
            getattr(k8s, name)

    def api_problems(self) -> list[str]:
        """Whether the API is whole before the checks read it (``grader.apihealth``)."""
        from .apihealth import survey
        try:
            return survey(self.k8s().api_client)
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable kubeconfig
            return [f"the cluster's API could not be reached at grading time ({first_line(exc)}): "
                    "checks that need it failed"]

    def task_of(self, item) -> dict:
        return self.tasks[str(Path(str(item.path)).resolve())]

    def emit(self, **event) -> None:
        self.out.write(json.dumps(event) + "\n")

    # collection
    def pytest_collectreport(self, report):
        if report.failed:
            text = str(report.longrepr)
            lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
            self.emit(event="collect_error", path=str((self.rootpath / report.fspath).resolve()),
                      message=(lines[-1] if lines else first_line(text))[:MAX_MESSAGE])

    def pytest_collection_finish(self, session):
        try:
            self.warm_up(session.items)
        except Exception:  # noqa: BLE001 - e.g. a bad kubeconfig: the checks themselves say so
            pass
        if any({"k8s", "kubectl"} & set(getattr(item, "fixturenames", ())) for item in session.items):
            self.emit(event="api", problems=self.api_problems())
        for item in session.items:
            marker = item.get_closest_marker("points")
            points = marker.args[0] if marker and marker.args else 1
            fn = getattr(item, "function", None)
            self.emit(event="collected", task=self.task_of(item)["id"], check=check_id(item),
                      description=inspect.getdoc(fn) or "" if fn else "", points=points)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_collection(self, session):
        # Importing checks.py must not write __pycache__ into the task bank; the
        # libraries imported later may (and should) keep their bytecode cache.
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
        try:
            yield
        finally:
            sys.dont_write_bytecode = saved

    # time limits
    def _limit(self, item) -> float:
        marker = item.get_closest_marker("timeout")
        if marker and marker.args:  # the task's own limit, stretched like the default
            return float(marker.args[0]) * float(self.spec["sandbox"].get("slowdown", 1.0))
        return self.check_timeout

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.started[item.nodeid] = time.monotonic()
        yield
        signal.setitimer(signal.ITIMER_REAL, 0)

    @contextlib.contextmanager
    def _alarm_for(self, item):
        """SIGALRM at what is left of the check's time limit, for one phase."""
        limit = self._limit(item)
        left = limit - (time.monotonic() - self.started.get(item.nodeid, time.monotonic()))

        def on_alarm(signum, frame):
            raise CheckTimeout(f"check did not finish within its {limit:g}s time limit")
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        with self._alarm_for(item):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        with self._alarm_for(item):
            yield

    # outcomes
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = (yield).get_result()
        key = item.nodeid
        if call.excinfo is not None and key not in self.outcome:
            self.outcome[key] = classify(call.excinfo, Path(str(item.path)))
            if call.when != "call":  # a fixture broke: the checker's fault, never "failed"
                self.outcome[key] = ("error", self.outcome[key][1])
        if report.when == "teardown":
            outcome, message = self.outcome.pop(key, ("passed", ""))
            self.emit(event="result", task=self.task_of(item)["id"], check=check_id(item),
                      outcome=outcome, message=message,
                      duration=round(time.monotonic() - self.started.get(key, time.monotonic()), 4))

    def pytest_unconfigure(self, config):
        self.out.close()
