"""The runner's outcomes (pass, fail, error, timeout) with checks that need no cluster.

A real grading subprocess runs; only the sandbox record is made up, and the
checks here read params and answer files, never the API. The same outcomes
against a live kwok cluster are in tests/cluster/test_grading.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from grader.runner import grade, run_script
from grader.task import load_task
from sandbox import Sandbox

OUTCOMES = Path(__file__).resolve().parent.parent / "fixtures" / "grading" / "outcomes"
HANG = 3600  # seconds the hanging checks and scripts of these tests would take uncut


@pytest.fixture
def offline_sandbox(tmp_path) -> Sandbox:
    (tmp_path / "workspace").mkdir()
    return Sandbox("offline", "kwok", tmp_path / "no-kubeconfig", "https://127.0.0.1:9",
                   ["controlplane"], tmp_path / "workspace")


def test_outcomes(offline_sandbox):
    task = load_task(OUTCOMES)
    started = time.monotonic()
    [result] = grade(offline_sandbox, [(task, task.draw_params(1))])
    # the hanging check sleeps an hour: a grading that ends at all was cut (no
    # tight bound here: a busy machine is slow, not wrong)
    assert time.monotonic() - started < HANG / 4
    by_id = {c.id: c for c in result.checks}
    assert list(by_id) == ["test_passes", "test_fails", "test_errors", "test_times_out",
                           "test_bare_assert"]
    assert by_id["test_passes"].outcome == "passed" and by_id["test_passes"].points == 2
    assert by_id["test_passes"].description == "The param is one of the choices."
    assert by_id["test_fails"].outcome == "failed"
    assert by_id["test_fails"].message == "expected omega in answers/word.txt, found no file"
    assert by_id["test_errors"].outcome == "error"
    assert by_id["test_errors"].message.startswith("KeyError (checks.py:")
    assert by_id["test_times_out"].outcome == "error"
    assert "did not finish within its 1s time limit" in by_id["test_times_out"].message
    assert by_id["test_times_out"].duration < HANG / 4
    assert by_id["test_bare_assert"].outcome == "failed"
    assert "assert 2 == 3" in by_id["test_bare_assert"].message
    d = result.to_dict()
    assert (d["score"], d["max_score"], d["error"]) == (2, 6, None)
    assert set(d["checks"][0]) == {"id", "description", "points", "outcome", "message", "duration"}


def test_scripts_get_params_and_answers(offline_sandbox):
    task = load_task(OUTCOMES)
    params = {"word": "beta"}
    res = run_script(task, "solution", offline_sandbox, params)
    assert res.ok and res.returncode == 0, res.output
    assert (offline_sandbox.workspace / "answers" / "word.txt").read_text() == "beta\n"
    [result] = grade(offline_sandbox, [(task, params)])
    assert [c.outcome for c in result.checks][:2] == ["passed", "failed"]
    assert "found beta" in result.checks[1].message


def test_script_timeout_is_killed(offline_sandbox, tmp_path):
    task = load_task(OUTCOMES)
    slow = tmp_path / "slow"
    import shutil
    shutil.copytree(OUTCOMES, slow / "outcomes")
    (slow / "outcomes" / "setup").write_text(f"#!/bin/sh\nsleep {HANG} &\nsleep {HANG}\n")
    task = load_task(slow / "outcomes")
    started = time.monotonic()
    res = run_script(task, "setup", offline_sandbox, {"word": "alpha"}, timeout=1)
    assert time.monotonic() - started < HANG / 4
    assert not res.ok and "did not finish within 1s" in res.output


@pytest.mark.parametrize("prefix, expected", [
    ("import no_such_module\n\n", "No module named 'no_such_module'"),
    ("x = (\n\n", "SyntaxError"),
    ("raise RuntimeError('boom')\n\n", "RuntimeError: boom"),
])
def test_broken_checks_file_reports_every_check_as_error(offline_sandbox, tmp_path, prefix,
                                                         expected):
    import shutil
    shutil.copytree(OUTCOMES, tmp_path / "broken")
    yaml_file = tmp_path / "broken" / "task.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("id: outcomes", "id: broken"))
    checks = tmp_path / "broken" / "checks.py"
    checks.write_text(prefix + checks.read_text())
    task = load_task(tmp_path / "broken")
    other = load_task(OUTCOMES)
    # a broken task must not stop the others of the same exam from being graded
    result, fine = grade(offline_sandbox, [(task, {"word": "alpha"}), (other, {"word": "beta"})])
    assert fine.error is None and fine.checks[0].outcome == "passed"
    assert result.error and expected in result.error, result.error
    assert len(result.checks) == 5 and {c.outcome for c in result.checks} == {"error"}
    # points come from the decorators, which a file that does not parse cannot give
    assert result.score == 0 and result.max_score == (5 if expected == "SyntaxError" else 6)


def test_overall_time_limit(offline_sandbox, tmp_path):
    import shutil
    shutil.copytree(OUTCOMES, tmp_path / "outcomes")
    (tmp_path / "outcomes" / "checks.py").write_text(
        'import time\nimport pytest\n\n\ndef test_ok():\n    """Quick."""\n\n\n'
        f'@pytest.mark.timeout({HANG})\ndef test_hangs():\n    """Hangs."""\n'
        f'    time.sleep({HANG})\n')
    task = load_task(tmp_path / "outcomes")
    started = time.monotonic()
    [result] = grade(offline_sandbox, [(task, {"word": "alpha"})], timeout=4)
    assert time.monotonic() - started < HANG / 4
    assert result.error and "time limit" in result.error
    # test_ok normally passes first; on a very busy machine it may not have started yet
    assert [c.outcome for c in result.checks] in (["passed", "error"], ["error", "error"])
    assert "time limit" in result.checks[1].message


def test_nodes_fixture_on_a_sandbox_without_nodes(offline_sandbox, tmp_path):
    import shutil
    shutil.copytree(OUTCOMES, tmp_path / "outcomes")
    (tmp_path / "outcomes" / "checks.py").write_text(
        'def test_node(nodes):\n    """Needs nodes."""\n    assert nodes\n')
    task = load_task(tmp_path / "outcomes")
    [result] = grade(offline_sandbox, [(task, {"word": "alpha"})])
    [check] = result.checks
    assert check.outcome == "error"
    assert "needs real nodes" in check.message and "requires: [api, nodes]" in check.message


def test_time_limit_kills_what_checks_started(offline_sandbox, tmp_path):
    """At the overall limit the grading process and its children are killed, not orphaned."""
    import shutil
    import psutil
    marker = f"proctor-test-{time.time_ns()}"
    shutil.copytree(OUTCOMES, tmp_path / "outcomes")
    (tmp_path / "outcomes" / "checks.py").write_text(
        "import subprocess\nimport pytest\n\n\n@pytest.mark.timeout(60)\ndef test_spawns():\n"
        '    """Starts a long child and waits for it."""\n'
        f"    subprocess.run(['sh', '-c', 'sleep 120; echo {marker}'])\n")
    task = load_task(tmp_path / "outcomes")
    [result] = grade(offline_sandbox, [(task, {"word": "alpha"})], timeout=3)
    assert result.checks[0].outcome == "error"
    time.sleep(0.5)
    left = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert left == [], f"processes left behind: {left}"


def test_both_ways_of_starting_the_grader_agree(offline_sandbox, monkeypatch):
    task = load_task(OUTCOMES)
    fast = grade(offline_sandbox, [(task, {"word": "alpha"})])[0].to_dict()
    monkeypatch.setenv("PROCTOR_GRADER_PROCESS", "subprocess")
    plain = grade(offline_sandbox, [(task, {"word": "alpha"})])[0].to_dict()
    for d in (fast, plain):
        d.pop("duration")
        for c in d["checks"]:
            c.pop("duration")
    assert fast == plain


def test_a_slow_sandbox_stretches_every_time_limit(offline_sandbox):
    """An emulated cluster (a VM under TCG) is not the candidate's fault: its
    sandbox's ``slowdown`` multiplies the checks' limits (here a check's own)."""
    from dataclasses import replace
    task = load_task(OUTCOMES)
    slow = replace(offline_sandbox, slowdown=3.0)
    assert Sandbox.from_dict(slow.to_dict()).slowdown == 3.0
    [result] = grade(slow, [(task, task.draw_params(1))], check_timeout=2)
    by_id = {c.id: c for c in result.checks}
    assert "did not finish within its 3s time limit" in by_id["test_times_out"].message
    assert 2.5 < by_id["test_times_out"].duration < HANG / 4


def test_setup_can_make_a_certificate(offline_sandbox, tmp_path):
    """Tasks make TLS Secrets in setup: `openssl req` reads /etc/ssl/openssl.cnf,
    which the room shows (a public file) beside the CA certificates."""
    import shutil
    shutil.copytree(OUTCOMES, tmp_path / "outcomes")
    (tmp_path / "outcomes" / "setup").write_text(
        "#!/bin/sh\nset -e\nopenssl req -x509 -newkey rsa:2048 -nodes -subj /CN=shop.test "
        '-days 1 -keyout "$TMPDIR/tls.key" -out "$TMPDIR/tls.crt" 2>&1\n'
        'openssl x509 -noout -subject -in "$TMPDIR/tls.crt"\n')
    res = run_script(load_task(tmp_path / "outcomes"), "setup", offline_sandbox, {"word": "alpha"})
    assert res.ok and "CN = shop.test" in res.output, res.output
