"""grader/exam.py: exam files, validation, fixed papers and draws."""

from pathlib import Path

import pytest

from tests.portal.fakes import TASKS, FakeTask
from grader.exam import ExamError, load_exams, parse_exam

BANK = {t.id: t for t in TASKS}
REPO = Path(__file__).resolve().parents[2]


def test_fixed_paper_keeps_order_and_weights():
    exam = parse_exam({"title": "T", "track": "ckad", "duration": 30, "pass_mark": 60,
                       "tasks": [{"id": "ckad/probe", "weight": 2}, "svc-selector-fix"]},
                      "t", known_tasks=BANK)
    assert [(t.id, w) for t, w in exam.select(BANK, seed=1)] == [("probe", 2.0), ("svc-selector-fix", 1.0)]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ExamError) as err:
        parse_exam({"title": "", "track": "ckx", "duration": 0, "pass_mark": 120, "colour": "red",
                    "tasks": [{"id": "nope", "weight": -1}, {"id": "nope"}]}, "bad", known_tasks=BANK)
    text = str(err.value)
    for part in ("title", "track", "duration", "pass_mark", "unknown field 'colour'",
                 "weight must be a positive number", "listed twice", "not in the bank"):
        assert part in text, part
    assert len(err.value.problems) >= 7


def test_tasks_or_draw_not_both():
    with pytest.raises(ExamError, match="not both"):
        parse_exam({"title": "T", "track": "ckad", "duration": 5, "pass_mark": 5,
                    "tasks": ["probe"], "draw": {"count": 2}}, "t")
    with pytest.raises(ExamError, match="neither"):
        parse_exam({"title": "T", "track": "ckad", "duration": 5, "pass_mark": 5}, "t")


def test_draw_is_deterministic_and_weighted_by_curriculum():
    exam = parse_exam({"title": "T", "track": "ckad", "duration": 60, "pass_mark": 50,
                       "draw": {"count": 5, "domains": "curriculum"}}, "t")
    bank = dict(BANK)
    for i in range(3):  # more choice in one domain
        bank[f"extra{i}"] = FakeTask(f"extra{i}", "x", "Services and Networking")
    a = [(t.id, w) for t, w in exam.select(bank, seed=7)]
    assert a == [(t.id, w) for t, w in exam.select(bank, seed=7)]
    assert len(a) == 5 and abs(sum(w for _, w in a) - 100) < 0.1
    seen = {tuple(t.id for t, _ in exam.select(bank, seed=s)) for s in range(20)}
    assert len(seen) > 1  # different seeds, different papers


def test_draw_skips_tasks_the_provider_cannot_host():
    exam = parse_exam({"title": "T", "track": "ckad", "duration": 60, "pass_mark": 50,
                       "draw": {"count": 5}}, "t")
    bank = {t.id: t for t in TASKS}
    bank["needs-nodes"] = FakeTask("needs-nodes", "x", "Application Deployment", requires=["api", "nodes"])
    for seed in range(10):
        ids = [t.id for t, _ in exam.select(bank, seed, capabilities={"api"})]
        assert "needs-nodes" not in ids


def test_unknown_domain_in_draw():
    with pytest.raises(ExamError, match="not a ckad domain"):
        parse_exam({"title": "T", "track": "ckad", "duration": 60, "pass_mark": 50,
                    "draw": {"count": 3, "domains": {"Storage": 10}}}, "t")


def real_bank() -> dict:
    from grader.errors import TaskError
    from grader.task import load_bank
    try:
        return load_bank(REPO / "tasks")
    except TaskError:  # the bank is being written; check against what loads
        from grader.task import find_tasks, inspect_task
        bank = {}
        for folder in find_tasks(REPO / "tasks"):
            task, _ = inspect_task(folder)
            if task is not None:
                bank[task.id] = task
        return bank


def test_shipped_exams_are_valid():
    bank = real_bank()
    exams, errors = load_exams(REPO / "exams", bank)
    assert not errors, errors
    assert {"ckad-mock", "cka-mock", "cka-nodes"} <= set(exams)
    for exam in exams.values():
        # draws fit kwok; fixed papers fit the provider that offers what their tasks
        # need (gvisor for real containers, kind or vm for real nodes)
        paper = exam.select(bank, seed=1, capabilities={"api", "etcd"} if exam.is_draw
                            else {"api", "etcd", "nodes", "containers"})
        assert paper and all(exam.track in t.tracks for t, _ in paper)


@pytest.mark.parametrize("exam_id", ["cka-mock", "ckad-mock"])
def test_the_mocks_are_sixteen_fresh_tasks_by_curriculum_weight(exam_id):
    """Both mocks are drawn as the real exams are built: 16 tasks (the real
    exam has 15-20), every domain of the curriculum at its weight, and a
    second attempt meets a paper that differs in most of its tasks."""
    from grader.curriculum import CURRICULA
    from grader.exam import task_domain
    bank = real_bank()
    exams, _ = load_exams(REPO / "exams", bank)
    exam = exams[exam_id]
    assert exam.is_draw and exam.draw_count == 16
    papers = [exam.select(bank, seed, capabilities={"api", "etcd"}) for seed in range(40)]
    for paper in papers:
        assert len(paper) == 16 and len({t.id for t, _ in paper}) == 16
        share: dict[str, float] = {}
        for task, weight in paper:
            domain = task_domain(task, exam.track)
            share[domain] = share.get(domain, 0) + weight
        assert share.keys() == CURRICULA[exam.track].keys()
        for domain, weight in CURRICULA[exam.track].items():
            assert abs(share[domain] - weight) < 0.1, (domain, share[domain], weight)
    shared = [len({t.id for t, _ in a} & {t.id for t, _ in b}) for a, b in zip(papers, papers[1:])]
    assert sum(shared) / len(shared) < 8, f"two attempts share {shared} of 16 tasks"


def test_draw_never_puts_conflicting_tasks_in_one_paper():
    exam = parse_exam({"title": "T", "track": "cka", "duration": 60, "pass_mark": 50,
                       "draw": {"count": 2, "domains": {"Storage": 1, "Troubleshooting": 1}}}, "t")
    a = FakeTask("taint", "x", "Storage", tracks=["cka"])
    b = FakeTask("drain", "x", "Troubleshooting", tracks=["cka"])
    c = FakeTask("other", "x", "Troubleshooting", tracks=["cka"])
    a.conflicts = ["drain"]  # declared on one side only: it binds both ways
    bank = {t.id: t for t in (a, b, c)}
    papers = {tuple(sorted(t.id for t, _ in exam.select(bank, seed=s))) for s in range(30)}
    assert ("drain", "taint") not in papers
    assert ("other", "taint") in papers  # the draw still fills the domain


def test_fixed_paper_with_conflicting_tasks_is_refused():
    a = FakeTask("taint", "x", "Storage", tracks=["cka"])
    b = FakeTask("drain", "x", "Troubleshooting", tracks=["cka"])
    b.conflicts = ["taint"]
    bank = {"taint": a, "drain": b}
    exam = parse_exam({"title": "T", "track": "cka", "duration": 60, "pass_mark": 50,
                       "tasks": ["taint", "drain"]}, "t", known_tasks=bank)
    with pytest.raises(ExamError, match="'drain' and 'taint' conflict"):
        exam.select(bank, seed=1)


def test_one_cluster_never_holds_a_real_task_and_one_whose_image_it_cannot_start():
    """On a real-container cluster every Pod really starts: a task whose answer
    runs nginx:1.27 (no real cluster holds it) would fail there however right.
    Several clusters keep the two kinds apart (grader.hosts.placement); one
    cluster refuses the fixed paper, says what to do, and draws around it."""
    from grader.hosts import REAL
    from grader.lint import foreign_images
    bank = real_bank()
    mixed = {"title": "T", "track": "ckad", "duration": 30, "pass_mark": 66,
             "tasks": ["ckad/logs-error-code", "ckad/deployment-scale"]}
    with pytest.raises(ExamError) as err:
        parse_exam(mixed, "t", known_tasks=bank)
    assert ("tasks[1] (ckad/deployment-scale): logs-error-code needs real containers, and "
            "deployment-scale names the image nginx:1.27") in str(err.value)
    assert "`hosts: true` and `clusters: 2`" in str(err.value)
    with pytest.raises(ExamError, match="nginx:1.27"):  # read without the bank: refused at start
        parse_exam(mixed, "t").select(bank, seed=1)
    spread = parse_exam({**mixed, "hosts": True, "clusters": 2}, "t", known_tasks=bank)
    assert [t.id for t, _ in spread.select(bank, seed=1)] == ["logs-error-code", "deployment-scale"]

    def kinds(exam, seed):
        paper = [t for t, _ in exam.select(bank, seed, {"api", "etcd", "containers"})]
        return (any(REAL & set(t.requires) for t in paper),
                any(not REAL & set(t.requires) and foreign_images(t) for t in paper))
    draw = {"title": "T", "track": "ckad", "duration": 120, "pass_mark": 66, "draw": {"count": 16}}
    one = parse_exam(draw, "t", known_tasks=bank)
    assert all(kinds(one, s) != (True, True) for s in range(40))
    assert all(len(one.select(bank, s)) == 16 for s in range(40))  # the domains still fill
    four = parse_exam({**draw, "hosts": True, "clusters": 4}, "t", known_tasks=bank)
    assert any(kinds(four, s) == (True, True) for s in range(40))
