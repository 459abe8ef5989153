"""docs/coverage.md is the bank's true coverage of the curricula, and every
task of the bank says which competencies it exercises."""

from __future__ import annotations

from pathlib import Path

from grader.coverage import coverage_markdown, shortfalls, tasks_by_competency
from grader.curriculum import COMPETENCIES
from grader.task import load_bank

ROOT = Path(__file__).resolve().parents[2]


def test_every_task_names_its_competencies():
    bank = load_bank(ROOT / "tasks")
    untagged = sorted(t.id for t in bank.values() if not t.competencies)
    assert not untagged, f"tasks that name no competency (task.yaml competencies): {untagged}"


def test_coverage_doc_is_current():
    text = coverage_markdown(load_bank(ROOT / "tasks"))
    assert (ROOT / "docs" / "coverage.md").read_text() == text, \
        "docs/coverage.md is stale: run `proctor coverage --write`"


def test_every_competency_is_listed_once_in_the_doc():
    text = (ROOT / "docs" / "coverage.md").read_text()
    for cid in COMPETENCIES:
        assert text.count(f"(`{cid}`)") == 1, cid
    by = tasks_by_competency(load_bank(ROOT / "tasks"))
    assert set(by) == set(COMPETENCIES), set(by) - set(COMPETENCIES)


def test_the_bank_covers_the_curricula():
    """Issue 19: every competency has two tasks or more, each track 40, and each
    domain's share of a track's tasks is near its weight in the curriculum."""
    short = shortfalls(load_bank(ROOT / "tasks"))
    assert not short, "the bank falls short of the curricula:\n" + "\n".join(short)
