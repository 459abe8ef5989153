"""Attacks on the grade, performed for real: a real kwok sandbox, the real
grader, the task bank's own tasks where they fit.

A candidate controls their answers folder and, with cluster-admin, their whole
cluster. Nothing they put there may raise their score, reach the host through
the grader, or come back in their feedback beyond a short, escaped quote.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from grader.runner import grade, run_script
from grader.score import score
from grader.task import load_task

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the grader drops root: run as root")]

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "security"
SECRET = "s3cr3t-key-of-the-portal-0123456789abcdef"


@pytest.fixture(scope="module")
def sb(kwok):
    sandbox = kwok.create("sec-grader", nodes=2)
    yield sandbox
    kwok.destroy("sec-grader")


@pytest.fixture
def instance(tmp_path) -> Path:
    """A portal instance folder as `make run` leaves it: a secret key, 0600 root."""
    d = tmp_path / "instance"
    d.mkdir(mode=0o700)
    (d / "secret_key").write_text(SECRET)
    (d / "secret_key").chmod(0o600)
    return d


@pytest.fixture
def answers(sb) -> Path:
    d = Path(sb.workspace) / "answers"
    d.mkdir(exist_ok=True)
    for child in d.iterdir():
        if child.is_dir() and not child.is_symlink():
            subprocess.run(["rm", "-rf", str(child)], check=True)
        else:
            child.unlink()
    return d


def all_messages(results) -> str:
    return "\n".join(c.message for r in results for c in r.checks) + "".join(
        r.error or "" for r in results)


# -- answer files ------------------------------------------------------------------------

def grade_answers(sb):
    task = load_task(FIXTURES / "answers-reader")
    started = time.monotonic()
    [result] = grade(sb, [(task, {})])
    return {c.id: c for c in result.checks}, time.monotonic() - started


def test_honest_answers_pass(sb, answers):
    (answers / "answer.txt").write_text("42\n")
    (answers / "deep").mkdir()
    (answers / "deep" / "answer.txt").write_text("42\n")
    checks, _ = grade_answers(sb)
    assert [c.outcome for c in checks.values()] == ["passed", "passed"], checks


def test_link_to_the_portal_secret_key_is_not_followed(sb, answers, instance):
    (answers / "answer.txt").symlink_to(instance / "secret_key")
    checks, _ = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed", f"a link to the portal's secret key was {c.outcome}: {c.message}"
    assert "answer.txt is a symbolic link; write the answer into the file itself" in c.message
    assert SECRET not in c.message, "the portal's secret key came back in the candidate's feedback"


def test_link_to_the_graders_environment_is_not_followed(sb, answers):
    (answers / "answer.txt").symlink_to("/proc/self/environ")
    checks, _ = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed" and "symbolic link" in c.message, c
    for leak in ("PATH=", "KUBECONFIG", "HOME="):
        assert leak not in c.message, "the grader's environment came back in the feedback"


def test_a_folder_link_on_the_way_is_not_followed(sb, answers, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "answer.txt").write_text("42\n")  # would pass if the link were followed
    (answers / "deep").symlink_to(elsewhere)
    checks, _ = grade_answers(sb)
    c = checks["test_deep_answer"]
    assert c.outcome == "failed", "a link to a folder outside the answers was followed"
    assert "deep is a symbolic link" in c.message, c.message


def test_a_pipe_does_not_hang_the_grader(sb, answers):
    os.mkfifo(answers / "answer.txt")
    checks, took = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed" and "not a regular file" in c.message, c
    assert took < 60, f"a named pipe as answer held the grader for {took:.0f}s"


def test_a_huge_answer_is_refused_unread(sb, answers):
    with open(answers / "answer.txt", "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: 200 MiB of zeros, no disk used
    checks, _ = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed" and "limited to 1 MiB" in c.message, c


def test_a_large_text_answer_is_refused_before_it_becomes_lines(sb, answers):
    """64 MiB of two-letter lines (real content, not sparse) took the grader to
    1.8 GB for 24 s: a text answer is read only up to 1 MiB."""
    with open(answers / "answer.txt", "wb") as fh:
        line = b"ab\n" * (1 << 20)
        for _ in range(22):
            fh.write(line)
    checks, _ = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed" and "limited to 1 MiB" in c.message, c


def test_grading_runs_in_a_memory_bounded_cgroup(sb):
    """A check that takes a gigabyte (as one reading a huge answer or a cluster
    of big objects would) is stopped by its own cgroup, not by the host."""
    task = load_task(FIXTURES / "memory-hog")
    [result] = grade(sb, [(task, {})])
    outcomes = {c.id: c.outcome for c in result.checks}
    assert outcomes.get("test_where_it_runs") == "passed", result
    assert outcomes.get("test_a_gigabyte") != "passed", \
        "a check took a gigabyte: grading has no memory bound"
    assert score([(1, result)], pass_mark=66).percent < 100


def test_feedback_quotes_candidate_text_short_and_escaped(sb, answers):
    (answers / "answer.txt").write_text("\x1b]0;pwned\x07\x1b[2J" + "A" * 5000)
    checks, _ = grade_answers(sb)
    c = checks["test_answer"]
    assert c.outcome == "failed"
    assert "\x1b" not in c.message and "\x07" not in c.message, \
        "terminal control codes from an answer file reached the feedback"
    assert len(c.message) <= 500, f"the feedback repeats {len(c.message)} characters of an answer"


# -- what task code can reach ----------------------------------------------------------------

@pytest.fixture
def targets(sb, answers, instance, shared_sandbox, kwok_root) -> list[str]:
    # Things with content. (Folders on the way to what a room shows, such as the
    # state folder above this sandbox's answers, exist inside as empty skeletons.)
    paths = [instance / "secret_key", instance, shared_sandbox.kubeconfig,
             Path(shared_sandbox.workspace) / "answers", Path(shared_sandbox.workspace).parent,
             sb.kubeconfig, kwok_root / "kwok", Path(sb.workspace) / "home",
             REPO / "tasks" / "ckad" / "svc-selector-fix" / "solution", REPO / "tasks",
             REPO / "web", REPO / "instance", Path.home() / ".ssh", Path.home() / ".local",
             Path("/proc/1/environ"), Path("/proc/1/root"), Path("/var/run/docker.sock"),
             Path("/etc/shadow")]
    (answers / "targets.txt").write_text("".join(f"{p}\n" for p in paths))
    return [str(p) for p in paths]


def test_setup_runs_unprivileged_and_sees_no_host_secret(sb, targets):
    task = load_task(FIXTURES / "snoop")
    res = run_script(task, "setup", sb, {})
    assert res.ok, res.output
    assert "uid=0 " not in res.output and " 0 " not in res.output.splitlines()[0] + " ", \
        f"setup ran as root: {res.output.splitlines()[0]}"
    leaks = [line for line in res.output.splitlines() if line.startswith("LEAK")]
    assert not leaks, f"a task's setup reached what it must not: {leaks}"


def test_checks_run_unprivileged_and_see_no_host_secret(sb, targets):
    task = load_task(FIXTURES / "snoop")
    [result] = grade(sb, [(task, {})])
    bad = {c.id: c.message for c in result.checks if c.outcome != "passed"}
    assert not bad and result.checks, f"the checks reached the host: {bad or result.error}"


# -- a broken API never raises a score --------------------------------------------------------

PAPER = ["ckad/pods-by-label-answer", "ckad/deployment-scale", "ckad/broken-deployment-fix"]


def test_breaking_the_api_of_other_tasks_does_not_raise_the_score(kwok, tmp_path):
    """The attack: solve one task of three, then point apps/v1 at nothing so the
    other tasks' checks cannot read their Deployments. Before the fix the errored
    checks were left out and the paper passed at 100 %."""
    sb = kwok.create("sec-api", nodes=3)
    try:
        tasks = [(load_task(REPO / "tasks" / t), None) for t in PAPER]
        tasks = [(t, t.draw_params(1)) for t, _ in tasks]
        for t, p in tasks:
            assert run_script(t, "setup", sb, p).ok, f"setup of {t.id}"
        solved, params = tasks[0]
        assert run_script(solved, "solution", sb, params).ok

        honest = score([(1.0, r) for r in grade(sb, tasks)], pass_mark=66)
        kubectl = ["kubectl", "--kubeconfig", str(sb.kubeconfig)]
        env = {"PATH": f"{_toolchain_bin()}:/usr/bin:/bin", "HOME": str(tmp_path)}
        for cmd in (["label", "apiservice", "v1.apps", "kube-aggregator.kubernetes.io/automanaged-"],
                    ["patch", "apiservice", "v1.apps", "--type=merge", "-p",
                     '{"spec":{"service":{"name":"nope","namespace":"default","port":443},'
                     '"insecureSkipTLSVerify":true}}']):
            subprocess.run(kubectl + cmd, check=True, env=env, capture_output=True, timeout=30)
        results = grade(sb, tasks)
        attacked = score([(1.0, r) for r in results], pass_mark=66)
    finally:
        kwok.destroy("sec-api")

    outcomes = {r.task_id: [c.outcome for c in r.checks] for r in results}
    assert "error" in outcomes["deployment-scale"] + outcomes["broken-deployment-fix"], \
        f"the attack did not make any check error, so it proves nothing: {outcomes}"
    assert outcomes["pods-by-label-answer"] == ["passed", "passed"], outcomes
    assert attacked.percent <= honest.percent == pytest.approx(33.3), \
        f"breaking apps/v1 raised the score from {honest.percent}% to {attacked.percent}%"
    assert not attacked.passed
    assert attacked.held and any("apps/v1 was unavailable at grading time" in r
                                 for r in attacked.review), attacked.review
    assert all(r.api_problems for r in results), "the candidate is not told why checks failed"


def _toolchain_bin() -> str:
    from sandbox.toolchain import Toolchain
    return str(Toolchain().bin_dir)
