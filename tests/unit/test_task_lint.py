"""Lint and the task model, without a cluster: each kind of problem, with its file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.errors import TaskError
from grader.lint import command_lines, lint_paths, lint_task
from grader.task import load_bank, load_task

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tasks"
GOOD = FIXTURES / "svc-endpoints-fixture"


@pytest.fixture
def task_dir(tmp_path) -> Path:
    """A fresh copy of a valid task to break in one way."""
    dst = tmp_path / "bank" / "svc-endpoints-fixture"
    shutil.copytree(GOOD, dst)
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def messages(folder: Path) -> list[str]:
    return [str(p) for p in lint_task(folder).problems]


def only(folder: Path) -> str:
    found = messages(folder)
    assert len(found) == 1, f"expected exactly one problem, found {found}"
    return found[0]


def test_valid_task_has_no_problems():
    assert lint_task(GOOD).problems == []
    task = load_task(GOOD)
    assert task.id == "svc-endpoints-fixture"
    assert task.tracks == ["ckad", "cka"]
    assert task.domains == {"ckad": "Services and Networking", "cka": "Services and Networking"}
    assert task.domain == "Services and Networking"
    assert task.requires == ["api"] and task.nodes == 3


def test_yaml_syntax_error_names_the_line(task_dir):
    edit(task_dir / "task.yaml", "difficulty: easy", "difficulty: [easy")
    msg = only(task_dir)
    assert "task.yaml:" in msg and "not valid YAML" in msg


def test_unknown_field_names_field_and_line(task_dir):
    edit(task_dir / "task.yaml", "minutes: 3", "minutes: 3\nhint: typo for hints")
    msg = only(task_dir)
    assert "task.yaml:8:" in msg and "unknown field 'hint'" in msg


def test_wrong_enum_value_names_the_line(task_dir):
    edit(task_dir / "task.yaml", "difficulty: easy", "difficulty: trivial")
    msg = only(task_dir)
    assert "task.yaml:6:" in msg and "'trivial' is not one of 'easy', 'medium', 'hard'" in msg


def test_missing_required_field(task_dir):
    edit(task_dir / "task.yaml", "weight: 4\n", "")
    assert "'weight' is required" in only(task_dir)


def test_every_schema_problem_is_reported_together(task_dir):
    edit(task_dir / "task.yaml", "difficulty: easy", "difficulty: trivial")
    edit(task_dir / "task.yaml", "minutes: 3", "minutes: lots")
    edit(task_dir / "task.yaml", "port: {int: [8000, 8999]}", "port: {integer: [8000, 8999]}")
    found = messages(task_dir)
    assert len(found) == 3, found
    with pytest.raises(TaskError) as err:
        load_task(task_dir)
    assert len(err.value.problems) == 3
    assert "3 problems" in str(err.value)


def test_unknown_domain(task_dir):
    edit(task_dir / "task.yaml", "domain: Services and Networking", "domain: Networking")
    msg = only(task_dir)
    assert "task.yaml:5:" in msg and "'Networking' is not a curriculum domain" in msg


def test_domain_of_another_track(task_dir):
    edit(task_dir / "task.yaml", "domain: Services and Networking", "domain: Storage")
    msg = only(task_dir)
    assert "'Storage' is not a CKAD domain" in msg


def test_domain_mapping_must_cover_the_tracks(task_dir):
    edit(task_dir / "task.yaml", "domain: Services and Networking",
         "domain: {cka: Troubleshooting}")
    assert "expected one domain per track" in only(task_dir)
    edit(task_dir / "task.yaml", "domain: {cka: Troubleshooting}",
         "domain: {cka: Troubleshooting, ckad: Application Deployment}")
    task = load_task(task_dir)
    assert task.domain_for("cka") == "Troubleshooting" and task.domain == "Application Deployment"


def test_duplicate_yaml_key(task_dir):
    edit(task_dir / "task.yaml", "minutes: 3", "minutes: 3\nminutes: 4")
    msg = only(task_dir)
    assert "task.yaml:8:" in msg and "'minutes' appears twice" in msg


def test_int_range_reversed(task_dir):
    edit(task_dir / "task.yaml", "[8000, 8999]", "[8999, 8000]")
    assert "min > max" in only(task_dir)


def test_missing_setup(task_dir):
    (task_dir / "setup").unlink()
    msg = only(task_dir)
    assert msg.endswith("setup: missing: every task needs an executable setup script")


def test_solution_not_executable(task_dir):
    (task_dir / "solution").chmod(0o644)
    assert "solution: not executable; run: chmod +x" in only(task_dir)


def test_script_without_shebang(task_dir):
    edit(task_dir / "setup", "#!/usr/bin/env bash\n", "")
    assert "setup:1: has no #! line" in only(task_dir)


def test_missing_checks(task_dir):
    (task_dir / "checks.py").unlink()
    assert "checks.py: missing" in only(task_dir)


def test_checks_without_checks(task_dir):
    (task_dir / "checks.py").write_text("def helper():\n    pass\n")
    assert "no checks: define test_" in only(task_dir)


def test_check_without_docstring(task_dir):
    edit(task_dir / "checks.py", '    """Service web has ready endpoints."""\n', "")
    msg = only(task_dir)
    assert "checks.py:7:" in msg and "check test_service_has_endpoints has no docstring" in msg


def test_checks_syntax_error(task_dir):
    (task_dir / "checks.py").write_text("def test_x(:\n    pass\n")
    assert "checks.py:1: not valid Python" in only(task_dir)


def test_bad_points(task_dir):
    edit(task_dir / "checks.py", "@pytest.mark.points(2)", "@pytest.mark.points(-1)")
    assert "points takes one positive number" in only(task_dir)


def test_statement_uses_unknown_param(task_dir):
    edit(task_dir / "task.yaml", "on port `{{ port }}`", "on port `{{ prot }}`")
    msg = only(task_dir)
    assert "statement uses {{ prot }} but the task has no such param" in msg
    assert "params: namespace, port" in msg


def test_hint_uses_unknown_param(task_dir):
    edit(task_dir / "task.yaml", "Compare the Service's", "Compare {{ service }}'s")
    assert "hints[0] uses {{ service }}" in only(task_dir)


def test_statement_not_a_template(task_dir):
    edit(task_dir / "task.yaml", "on port `{{ port }}`", "on port `{{ port `")
    assert "statement is not a valid template" in only(task_dir)


def test_script_uses_undeclared_param(task_dir):
    edit(task_dir / "solution", '"$PARAM_NAMESPACE"', '"$PARAM_NAMESPCE"')
    msg = only(task_dir)
    assert "solution:3: uses $PARAM_NAMESPCE, but the task declares no such param" in msg


def test_checks_use_undeclared_param(task_dir):
    edit(task_dir / "checks.py", 'params["namespace"]', 'params["ns"]')
    msg = only(task_dir)
    assert "reads params['ns'], but the task declares no such param" in msg


def test_statement_leaking_the_solution(task_dir):
    edit(task_dir / "task.yaml", "without\n  changing the Deployment.",
         "without\n  changing the Deployment:\n  `kubectl -n {{ namespace }} patch service web "
         "--type=merge -p '{\"spec\":{\"selector\":{\"app\":\"web\"}}}'`")
    msg = only(task_dir)
    assert "statement gives away the solution" in msg and "solution line 3" in msg


def test_command_lines_skip_comments_and_manifests_and_split_chains():
    script = ("#!/bin/sh\n# comment\nkubectl apply -f - <<EOF\nkind: Pod\nEOF\n"
              "kubectl get pods -n x && \\\n  echo done\n")
    assert command_lines(script) == [(3, "kubectl apply -f - <<EOF"),
                                     (6, "kubectl get pods -n x"), (6, "echo done")]


def test_statement_may_name_what_a_manifest_sets(task_dir):
    """Fields inside a heredoc manifest are what the task asks for, not a leak."""
    (task_dir / "solution").write_text("#!/usr/bin/env bash\nkubectl apply -f - <<EOF\n"
                                       "  selector: {app: web, tier: frontend, zone: a}\nEOF\n")
    edit(task_dir / "task.yaml", "without\n  changing", "with selector: {app: web, tier: "
         "frontend, zone: a}, without\n  changing")
    assert messages(task_dir) == []


def test_folder_name_must_be_id(task_dir):
    edit(task_dir / "task.yaml", "id: svc-endpoints-fixture", "id: other-name")
    assert "id 'other-name' differs from the folder name" in only(task_dir)


def test_duplicate_ids_across_the_bank(task_dir):
    twin = task_dir.parent.parent / "other" / "svc-endpoints-fixture"
    shutil.copytree(task_dir, twin)
    results = lint_paths([task_dir.parent.parent])
    assert len(results) == 2
    for r in results:
        assert any("duplicate id 'svc-endpoints-fixture'" in str(p) for p in r.problems), r.problems
    with pytest.raises(TaskError, match="already used by"):
        load_bank(task_dir.parent.parent)


def test_load_bank_by_id(task_dir):
    bank = load_bank(task_dir.parent)
    assert list(bank) == ["svc-endpoints-fixture"]


def test_lint_of_a_folder_without_tasks(tmp_path):
    [result] = lint_paths([tmp_path])
    assert "no task folders" in str(result.problems[0])


def test_nodes_fixture_needs_requires_nodes(task_dir):
    edit(task_dir / "checks.py", "def test_deployment_unchanged(kubectl, params):",
         "def test_deployment_unchanged(kubectl, params, nodes):")
    msg = only(task_dir)
    assert "check test_deployment_unchanged uses the nodes fixture" in msg
    edit(task_dir / "task.yaml", "requires: [api]", "requires: [api, nodes]")
    assert messages(task_dir) == []


def test_etcdctl_needs_requires_etcd(task_dir):
    edit(task_dir / "solution", "set -euo pipefail\n",
         "set -euo pipefail\netcdctl snapshot save \"$ANSWERS_DIR/snap.db\"\n")
    assert "solution uses etcd (etcdctl), but task.yaml does not require etcd" in only(task_dir)


def test_node_tasks_may_only_use_preloaded_images(task_dir):
    """kind nodes cannot pull: a node task naming another image is told which exist."""
    edit(task_dir / "task.yaml", "requires: [api]", "requires: [api, nodes]")
    (task_dir / "setup").write_text("#!/usr/bin/env bash\n"
                                    "kubectl run a --image=busybox:1.35 -- sleep 1d\n"
                                    "kubectl run b --image nginx:1.27\n")
    msg = only(task_dir)
    assert "setup:3" in msg and "nginx:1.27 is not preloaded" in msg and "nginx:1.22" in msg


def test_foreign_images_are_the_tags_and_paths_no_real_cluster_holds(task_dir):
    """What a real-container or real-node cluster cannot start (grader.exam's
    one-cluster rule): tagged or pathed names outside the stand-ins; not prose
    after "image:", not comments; the list follows the files as they change."""
    from grader.lint import foreign_images
    (task_dir / "setup").write_text(
        "#!/usr/bin/env bash\n"
        "# kubectl run old --image=nginx:1.19 (a comment)\n"
        "kubectl run a --image=busybox:1.36 -- sleep 1d\n"
        "kubectl run b --image nginx:1.27\n"
        "kubectl create deploy c --image=docker.io/library/nginx:1.22\n"
        "kubectl create deploy d --image=fluent/fluent-bit:3.1\n")
    edit(task_dir / "task.yaml", "  changing the Deployment.\n",
         "  changing the Deployment. It runs a distroless-style image: its shell is gone.\n")
    assert foreign_images(load_task(task_dir)) == ("fluent/fluent-bit:3.1", "nginx:1.27")
    (task_dir / "setup").write_text("#!/usr/bin/env bash\nkubectl run a --image=httpd:2.4\n")
    assert foreign_images(load_task(task_dir)) == ()


def test_unjoined_needs_real_nodes_and_an_existing_worker(task_dir):
    edit(task_dir / "task.yaml", "requires: [api]", "requires: [api]\nunjoined: [node02]")
    assert "needs real nodes" in only(task_dir)
    edit(task_dir / "task.yaml", "requires: [api]", "requires: [api, nodes]\nnodes: 2")
    assert "node02 is not a worker of a 2-node sandbox" in only(task_dir)


def test_statement_list_running_into_a_paragraph(task_dir):
    edit(task_dir / "task.yaml", "  changing the Deployment.\n",
         "  changing the Deployment. Check that it:\n  - has endpoints\n  - answers\n")
    msg = only(task_dir)
    assert "task.yaml:17: statement: this list runs into the paragraph above it" in msg


def test_statement_table_that_loses_a_column(task_dir):
    edit(task_dir / "task.yaml", "  changing the Deployment.\n",
         "  changing the Deployment.\n\n  | pod | command |\n  |-----|---------|\n"
         "  | web | sh -c 'date >> log' | extra |\n")
    msg = only(task_dir)
    assert "task.yaml:20: statement: this table row has 3 cells but the header has 2" in msg


def test_hint_nested_by_four_spaces(task_dir):
    edit(task_dir / "task.yaml", "hints:\n", "hints:\n  - |\n    Steps:\n\n    - one\n        - deeper\n")
    msg = only(task_dir)
    assert "hints[0]: this item is nested by four spaces" in msg


def test_checks_import_a_name_the_library_lacks(task_dir):
    edit(task_dir / "checks.py", "import pytest\n", "import pytest\n\nfrom grader.checks import must_gett\n")
    msg = only(task_dir)
    assert "grader.checks has no 'must_gett'; it offers " in msg and "must_get …" in msg


def test_explanation_longer_than_the_results_page_holds(task_dir):
    edit(task_dir / "task.yaml", "hints:\n",
         "explanation: |\n  " + "word " * 150 + "\nhints:\n")
    msg = only(task_dir)
    assert "explanation has 150 words; keep it to 140 and link the docs for the rest" in msg


def test_too_few_other_ways_and_mistakes_is_a_problem_that_does_not_block(task_dir):
    """Lint asks for two other correct ways and two near misses; a draft with fewer
    still loads and is still validated live (the problem is not blocking), and fails."""
    (task_dir / "near-misses" / "changed-nothing").unlink()
    shutil.rmtree(task_dir / "alternatives")
    found = lint_task(task_dir).problems
    assert [(Path(p.file).name, p.message.split(";")[0], p.blocking) for p in found] == [
        ("alternatives", "alternatives/ has 0 scripts", False),
        ("near-misses", "near-misses/ has 1 script", False)]
    assert "every task needs at least 2: plausible mistakes" in found[1].message
    assert load_task(task_dir).id == "svc-endpoints-fixture"
