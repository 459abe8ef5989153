"""``proctor validate`` on live kwok sandboxes: a sound task holds, broken ones are
rejected with a message that names the rule and the check that broke it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from grader import proofs
from grader.task import load_task
from grader.validate import (ALTERNATIVE_FAILS, FAILS_AFTER_SOLUTION, FREE_POINTS,
                             NEAR_MISS_PASSES, validate)
from grader.validate_report import junit_xml, table

pytestmark = pytest.mark.cluster

TASKS = Path(__file__).resolve().parent.parent / "fixtures" / "tasks"


@pytest.fixture(scope="module")
def reports(kwok):
    """One validation of the three fixture tasks, two seeds each, and the
    alternatives and near misses of two of them, two at a time."""
    seen = []
    reports = validate([TASKS], jobs=2, seeds=2, provider=kwok,
                       progress=lambda done, total, label: seen.append((done, total)))
    # a unit per seed: on kwok the variants run in it, on its sandbox rewound
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    return {r.task_id: r for r in reports}


def test_sound_task_holds_with_two_seeds(reports, kwok):
    rep = reports["svc-endpoints-fixture"]
    assert rep.ok, [str(v) for v in rep.violations]
    assert [r.seed for r in rep.runs] == [1, 2]
    assert rep.runs[0].params != rep.runs[1].params
    for run in rep.runs:
        assert {c.outcome for c in run.after_setup.checks} == {"failed"}
        assert {c.outcome for c in run.after_solution.checks} == {"passed"}
    # every sandbox was destroyed afterwards
    assert not [sb.name for sb in kwok.list(include_creating=True) if sb.name.startswith("val-")]


def test_other_ways_pass_and_mistakes_are_caught(reports):
    """The fixture's alternative gets full marks; its near miss (the right fix,
    and a change the statement forbids) fails the check that guards it, and
    the report says so in the words of the script's first comment."""
    rep = reports["svc-endpoints-fixture"]
    assert not rep.variants, "on kwok no variant needs a sandbox of its own"
    for run in rep.runs:
        assert [(v.kind, v.name, v.seed) for v in run.variants] == [
            ("alternatives", "edit-and-replace", run.seed),
            ("alternatives", "set-selector", run.seed),
            ("near-misses", "changed-nothing", run.seed),
            ("near-misses", "scaled-the-deployment", run.seed)]
        *alts, nothing, scaled = run.variants
        for alt in alts:
            assert {c.outcome for c in alt.result.checks} == {"passed"} and not alt.violations
        assert scaled.caught_by == ["test_deployment_unchanged"] and not scaled.violations
        assert scaled.summary.startswith("fixes the selector, but also scales")
        # each ran on the seed's sandbox rewound to right after setup: after the
        # solution, a script that changes nothing would have got full marks
        assert {v.sandbox for v in run.variants} == {run.sandbox}
        assert set(nothing.caught_by) == {"test_service_has_endpoints",
                                          "test_service_selects_deployment_pods",
                                          "test_deployment_unchanged"}
    assert rep.variant_counts == (2, 2)
    assert ("near-misses/scaled-the-deployment (seed 2): caught by test_deployment_unchanged  "
            "[fixes the selector, but also scales the Deployment the statement says to leave "
            "alone]") in table(rep)


def test_a_failing_alternative_and_an_uncaught_mistake_are_rejected(reports):
    rep = reports["free-points"]
    by_rule = {v.rule: v for r in rep.all_variants if r.seed == 1 for v in r.violations}
    assert set(by_rule) == {ALTERNATIVE_FAILS, NEAR_MISS_PASSES}, [str(v) for v in rep.violations]
    assert by_rule[ALTERNATIVE_FAILS].check == "test_mode_is_production"
    assert str(by_rule[NEAR_MISS_PASSES]) == (
        "a plausible mistake gets full marks (seed 1): near-misses/actually-right (a \"mistake\" "
        "that is in fact right: validate must say nothing caught it)")


def test_free_points_are_rejected(reports):
    rep = reports["free-points"]
    assert not rep.ok
    seeds = [v for r in rep.runs for v in r.violations]
    assert {(v.check, v.rule) for v in seeds} == {("test_configmap_exists", FREE_POINTS)}, \
        [str(v) for v in seeds]
    assert [v.seed for v in seeds] == [1, 2]
    assert str(seeds[0]) == ("test_configmap_exists passes right after setup: free points "
                                      "(seed 1): ConfigMap app-config exists.")


def test_solution_that_misses_is_rejected(reports):
    rep = reports["solution-misses"]
    assert not rep.ok
    # it has no other ways nor near misses: lint says so, and it is still run live
    assert [p.blocking for p in rep.lint] == [False, False] and len(rep.runs) == 2
    assert len(rep.violations) == 2, [str(v) for v in rep.violations]
    [first, second] = rep.violations
    assert (first.check, first.rule, first.seed) == ("test_size_is_large", FAILS_AFTER_SOLUTION, 1)
    assert second.seed == 2
    assert str(first) == ("test_size_is_large fails after the reference solution (seed 1): "
                          "settings has size=None; expected large")


def test_junit_report(reports):
    root = ET.fromstring(junit_xml(list(reports.values())))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    failures = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    assert failures["svc-endpoints-fixture"] is None
    assert "free points" in failures["free-points"].get("message")
    assert "fails after the reference solution" in failures["solution-misses"].text


def test_a_task_that_held_unchanged_is_not_proven_again(reports, kwok, tmp_path):
    """What held is kept as a proof (grader.proofs): validated again with the
    same files, code and options, the task is reported as proven without a
    sandbox; a changed file, other options or a task that failed run live."""
    sound = reports["svc-endpoints-fixture"].task
    seen = []
    [again] = validate([TASKS / "svc-endpoints-fixture"], seeds=2, provider=kwok, reuse=True,
                       progress=lambda done, total, label: seen.append(total))
    assert again.ok and again.proven and not again.runs and not again.variants
    assert seen == [0], "a sandbox was made for a task proven before"
    assert (again.proven["checks"], again.proven["seeds"], again.proven["alternatives"],
            again.proven["near_misses"]) == (3, 2, 2, 2)
    out = ET.fromstring(junit_xml([again])).find("testsuite/testcase/system-out").text
    assert "held on" in out and "--all proves it again" in out
    assert proofs.find(sound, "kwok", 1, True) is None            # other options
    assert proofs.find(reports["free-points"].task, "kwok", 2, True) is None  # it failed
    copy = tmp_path / "svc-endpoints-fixture"
    shutil.copytree(sound.path, copy)
    assert proofs.find(load_task(copy), "kwok", 2, True) is not None  # the same files elsewhere
    (copy / "checks.py").write_text((copy / "checks.py").read_text() + "\n# changed\n")
    assert proofs.find(load_task(copy), "kwok", 2, True) is None


def test_cli_rejects_a_broken_task(kwok_root, tmp_path):
    """The command line: exit 1, the rule named, a JUnit file written."""
    junit = tmp_path / "junit.xml"
    env = dict(os.environ, PROCTOR_STATE_DIR=str(kwok_root))
    res = subprocess.run([sys.executable, "-m", "grader.cli", "validate", str(TASKS / "free-points"),
                          "--seeds", "1", "--junit", str(junit)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAIL free-points" in res.stdout
    assert "test_configmap_exists passes right after setup: free points (seed 1)" in res.stdout
    assert "0 of 1 tasks hold" in res.stdout
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "1"


def test_variants_on_the_first_seed_only(kwok):
    """--variant-seeds 1: the other ways and mistakes on the first
    seed's sandbox only; the proof kept says so (it does not stand for all seeds)."""
    [rep] = validate([TASKS / "svc-endpoints-fixture"], seeds=2, provider=kwok, variant_seeds=1)
    assert rep.ok, [str(v) for v in rep.violations]
    assert [len(r.variants) for r in rep.runs] == [4, 0]
    assert proofs.find(rep.task, "kwok", 2, 1) is not None


def test_costly_seeds_cap_the_seeds_where_nothing_rewinds(kwok_root):
    """--costly-seeds 1: where a sandbox cannot be rewound (here a
    kwok provider that says so, as gvisor's does) every seed costs a sandbox
    of its own, so only the first is proven; where it can, both still are."""
    from sandbox.kwok import KwokProvider

    class Unrewindable(KwokProvider):
        rewinds = False

    task = TASKS / "svc-endpoints-fixture"
    [costly] = validate([task], seeds=2, provider=Unrewindable(root=kwok_root),
                        variants="none", costly_seeds=1, reuse=False)
    assert costly.ok, [str(v) for v in costly.violations]
    assert [r.seed for r in costly.runs] == [1]
    assert proofs.find(costly.task, "kwok", 1, False) is not None
    [cheap] = validate([task], seeds=2, provider=KwokProvider(root=kwok_root),
                       variants="none", costly_seeds=1, reuse=False)
    assert [r.seed for r in cheap.runs] == [1, 2]
    # and the seeds shared one sandbox, rewound between them
    assert cheap.runs[0].sandbox == cheap.runs[1].sandbox
