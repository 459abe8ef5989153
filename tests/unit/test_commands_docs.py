"""The CLI without a cluster, and the authoring guide's example kept valid."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from grader.cli import cli
from grader.task import schema, semantic_problems

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "tasks"


def test_annotated_example_is_valid():
    text = (ROOT / "docs" / "authoring.md").read_text()
    example = re.search(r"```yaml\n(# Unique in the bank.*?)```", text, re.S).group(1)
    data = yaml.safe_load(example)
    jsonschema.validate(data, schema())
    assert semantic_problems(Path("example"), data, {}) == []
    # every field of the schema is explained in the example
    assert set(data) == set(schema()["properties"])


def test_lint_command_passes_and_fails(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["lint", str(FIXTURES / "svc-endpoints-fixture")])
    assert ok.exit_code == 0, ok.output
    assert "PASS svc-endpoints-fixture" in ok.output and "1 of 1 tasks hold (lint only)" in ok.output
    broken = tmp_path / "svc-endpoints-fixture"
    shutil.copytree(FIXTURES / "svc-endpoints-fixture", broken)
    (broken / "setup").chmod(0o644)
    (broken / "task.yaml").write_text((broken / "task.yaml").read_text().replace("easy", "simple"))
    junit = tmp_path / "junit.xml"
    res = runner.invoke(cli, ["validate", "--lint-only", str(broken), "--junit", str(junit)])
    assert res.exit_code == 1, res.output
    assert "FAIL svc-endpoints-fixture" in res.output
    assert "task.yaml:6: difficulty: 'simple' is not one of" in res.output
    assert "setup: not executable" in res.output
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.find("failure").get("type") == "lint"


def test_task_show_renders_the_statement():
    res = CliRunner().invoke(cli, ["task", "show", str(FIXTURES / "svc-endpoints-fixture"),
                                   "--seed", "5"])
    assert res.exit_code == 0, res.output
    assert "{{" not in res.output and "namespace `shop-" in res.output


def test_grade_needs_a_reachable_cluster(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "x", "user": {"token": "t"}}]}))
    res = CliRunner().invoke(cli, ["grade", "--kubeconfig", str(kubeconfig),
                                   str(FIXTURES / "svc-endpoints-fixture")])
    assert res.exit_code != 0
    assert "does not answer" in str(res.exception)


def test_grade_unknown_task(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    res = CliRunner().invoke(cli, ["grade", "--kubeconfig", str(kubeconfig), "no-such-task",
                                   "--bank", str(FIXTURES)])
    assert "no task 'no-such-task'" in str(res.exception)
