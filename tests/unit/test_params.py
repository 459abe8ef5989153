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
