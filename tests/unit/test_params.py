"""Params: drawn deterministically per (seed, task, param), rendered into what the candidate sees."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from grader.task import load_task

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tasks"


@pytest.fixture
def task():
    return load_task(FIXTURES / "svc-endpoints-fixture")


def test_same_seed_same_values(task):
    assert task.draw_params(7) == task.draw_params(7)
    assert task.draw_params("attempt-42") == task.draw_params("attempt-42")


def test_different_seeds_differ(task):
    drawn = [task.draw_params(seed)["namespace"] for seed in range(50)]
    assert len(set(drawn)) == 50, "name params should practically never repeat"
    assert task.draw_params(1) != task.draw_params(2)


def test_kinds_and_ranges(task):
    for seed in range(200):
        p = task.draw_params(seed)
        assert re.fullmatch(r"shop-[a-z0-9]{5}", p["namespace"]), p
        assert 8000 <= p["port"] <= 8999 and isinstance(p["port"], int)


def test_choice_covers_every_value():
    task = load_task(Path(__file__).resolve().parent.parent / "fixtures" / "grading" / "outcomes")
    assert {task.draw_params(s)["word"] for s in range(100)} == {"alpha", "beta", "gamma"}


def test_values_do_not_depend_on_other_params(task, tmp_path):
    """Adding a param (or a task) never changes what others draw for the same seed."""
    copy = tmp_path / "svc-endpoints-fixture"
    shutil.copytree(task.path, copy)
    text = (copy / "task.yaml").read_text()
    (copy / "task.yaml").write_text(text.replace("params:\n", "params:\n  extra: {int: [1, 9]}\n"))
    other = load_task(copy)
    for seed in range(10):
        a, b = task.draw_params(seed), other.draw_params(seed)
        assert a["namespace"] == b["namespace"] and a["port"] == b["port"]


def test_values_depend_on_the_task_id(task, tmp_path):
    copy = tmp_path / "twin"
    shutil.copytree(task.path, copy)
    text = (copy / "task.yaml").read_text()
    (copy / "task.yaml").write_text(text.replace("id: svc-endpoints-fixture", "id: twin"))
    assert load_task(copy).draw_params(1)["namespace"] != task.draw_params(1)["namespace"]


def test_render_fills_statement_and_hints(task):
    params = task.draw_params(3)
    shown = task.render(params)
    assert f"namespace `{params['namespace']}`" in shown["statement"]
    assert f"port `{params['port']}`" in shown["statement"]
    assert shown["hints"] == ["Compare the Service's selector with the labels of the Deployment's pods."]


def test_render_refuses_missing_params(task):
    with pytest.raises(UndefinedError):
        task.render({"namespace": "x"})


def test_script_env_and_solution_text(task):
    params = {"namespace": "shop-abcde", "port": 8080}
    assert task.script_env(params) == {"PARAM_NAMESPACE": "shop-abcde", "PARAM_PORT": "8080"}
    text = task.solution_text(params)
    assert 'kubectl -n "shop-abcde" patch service web' in text
    assert "PARAM_" not in text


def test_proving_seeds_draw_every_fault():
    """validate proves a task with seed 1 and then the seed that draws the choices seed 1
    did not: kubelet-broken-config's seeds 1 and 2 both broke runtime-endpoint, so its
    client-ca fault had never been proven."""
    task = load_task(Path(__file__).resolve().parents[2] / "tasks" / "cka" / "kubelet-broken-config")
    assert task.draw_params(1)["fault"] == task.draw_params(2)["fault"]
    seeds = task.proving_seeds(2)
    assert seeds[0] == 1 and len(set(seeds)) == 2
    assert {task.draw_params(s)["fault"] for s in seeds} == {"client-ca", "runtime-endpoint"}
    # three choice params of 3, 3 and 2 values: three seeds draw every value
    probe = load_task(Path(__file__).resolve().parents[2] / "tasks" / "ckad" / "readiness-probe-fix")
    three = probe.proving_seeds(3)
    for name in ("port", "path", "fault"):
        assert {probe.draw_params(s)[name] for s in three} == set(probe.params[name].spec), name


def test_proving_seeds_without_choices_are_one_two(task):
    assert task.proving_seeds(2) == [1, 2] and task.proving_seeds(3) == [1, 2, 3]
