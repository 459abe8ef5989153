"""Statistics from seeded attempts equal the values computed by hand."""

import csv
import io
import json

import pytest

from web.author import stats as st
from web.db import get_db
from web.models import Attempt, AttemptTask, User


def result(task_id, outcomes):
    checks = [{"id": f"{task_id}/checks.py::{cid}", "description": f"check {cid}", "points": 1,
               "outcome": o, "message": ""} for cid, o in outcomes.items()]
    got = sum(1 for o in outcomes.values() if o == "passed")
    out_of = sum(1 for o in outcomes.values() if o != "error")
    return json.dumps({"task_id": task_id, "checks": checks, "error": None}), got, out_of


def seed(app, rows, username="alice", state="graded", exam="svc", score=None, passed=None, at=1000.0,
         mode="exam"):
    """One attempt with ``rows``: [(task id, {check: outcome}, seconds)]."""
    with app.app_context(), get_db().session() as s:
        user = s.query(User).filter_by(username=username).one()
        a = Attempt(user_id=user.id, exam_id=exam, exam_title=exam.upper(), track="ckad", mode=mode,
                    state=state, seed=1, duration_s=3600, pass_mark=66, created_at=at, ready_at=at,
                    submitted_at=at + 600, graded_at=at + 700, score=score, passed=passed)
        for i, (task_id, outcomes, seconds) in enumerate(rows, 1):
            rj, got, out_of = result(task_id, outcomes)
            a.tasks.append(AttemptTask(position=i, task_id=task_id, title=task_id.upper(), domain="D",
                                       weight=1, result_json=rj, score=got, max_score=out_of,
                                       seconds_spent=seconds))
        s.add(a)
        s.flush()
        return a.id


def test_task_stats_match_hand_computed_values(app):
    seed(app, [("t1", {"c1": "passed", "c2": "passed"}, 100)])
    seed(app, [("t1", {"c1": "passed", "c2": "failed"}, 200)])
    seed(app, [("t1", {"c1": "failed", "c2": "failed"}, 300)])
    seed(app, [("t1", {"c1": "passed", "c2": "error"}, 400)])         # c2 crashed: 1 of 1
    seed(app, [("t1", {"c1": "passed", "c2": "passed"}, 50)], state="running")  # not graded: ignored
    with app.app_context(), get_db().session() as s:
        [t1] = st.task_stats(s)
    assert t1.task_id == "t1" and t1.attempts == 4 and t1.graded == 4
    assert t1.passed == 2                          # 2/2 and 1/1 (the crash leaves both sides)
    assert t1.pass_rate == pytest.approx(0.5)
    assert t1.mean_points == pytest.approx((2 + 1 + 0 + 1) / 4)
    assert t1.mean_max_points == pytest.approx((2 + 2 + 2 + 1) / 4)
    assert t1.mean_seconds == pytest.approx(250.0)
    c1, c2 = t1.checks["c1"], t1.checks["c2"]
    assert (c1.passed, c1.failed, c1.errors, c1.pass_rate) == (3, 1, 0, pytest.approx(0.75))
    assert (c2.passed, c2.failed, c2.errors, c2.pass_rate) == (1, 2, 1, pytest.approx(1 / 3))
    assert t1.flags == []   # fewer than MIN_SAMPLES graded attempts: no verdict yet


def test_review_flags(app):
    for i in range(6):
        seed(app, [("easy", {"c1": "passed", "c2": "passed"}, 60),
                   ("lopsided", {"c1": "passed", "c2": "passed" if i == 0 else "failed",
                                 "c3": "passed"}, 60),
                   ("fair", {"c1": "passed" if i % 2 else "failed", "c2": "passed" if i % 3 else "failed"}, 60)])
    with app.app_context(), get_db().session() as s:
        by = {t.task_id: t for t in st.task_stats(s)}
    assert any("almost everybody passes" in f for f in by["easy"].flags)
    lopsided = by["lopsided"]
    assert lopsided.pass_rate == pytest.approx(1 / 6)
    assert [f for f in lopsided.flags if f.startswith("check c2 passes 17%")], lopsided.flags
    assert not any(f.startswith("check c1") or f.startswith("check c3") for f in lopsided.flags)
    assert by["fair"].flags == []


def test_exam_and_cohort_statistics_and_csv(app, client, auth):
    with app.app_context(), get_db().session() as s:
        s.add(User(username="acme-1", role="candidate", password_hash="x"))
        s.add(User(username="acme-2", role="candidate", password_hash="x"))
    seed(app, [("t1", {"c1": "passed"}, 60)], username="acme-1", score=95.0, passed=True, at=86400 * 10)
    seed(app, [("t1", {"c1": "passed"}, 60)], username="acme-2", score=70.0, passed=True, at=86400 * 11)
    seed(app, [("t1", {"c1": "failed"}, 60)], username="alice", score=40.0, passed=False, at=86400 * 12)
    seed(app, [("t1", {"c1": "failed"}, 60)], username="alice", score=10.0, passed=False, exam="other")
    with app.app_context(), get_db().session() as s:
        everyone = st.exam_summary(st.cohort_attempts(s, st.Cohort(exam_id="svc")))
        acme = st.exam_summary(st.cohort_attempts(s, st.Cohort(exam_id="svc", prefix="acme-")))
        named = st.cohort_attempts(s, st.Cohort(users=("alice",)))
        period = [a.user.username for a in
                  st.cohort_attempts(s, st.Cohort(exam_id="svc", since=86400 * 11, until=86400 * 12))]
    assert everyone["attempts"] == 3 and everyone["candidates"] == 3
    assert everyone["mean"] == pytest.approx(68.3) and everyone["median"] == 70.0
    assert everyone["pass_rate"] == pytest.approx(2 / 3)
    counts = {b["low"]: b["count"] for b in everyone["distribution"]}
    assert counts[90] == 1 and counts[70] == 1 and counts[40] == 1 and sum(counts.values()) == 3
    assert acme["attempts"] == 2 and acme["mean"] == 82.5 and acme["pass_rate"] == 1.0
    assert len(named) == 2
    assert period == ["acme-2"]

    auth.login()
    resp = client.get("/author/stats/exams.csv?exam=svc&prefix=acme-")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [(r["candidate"], r["score"], r["passed"]) for r in rows] == [("acme-1", "95.0", "yes"),
                                                                          ("acme-2", "70.0", "yes")]
    html = client.get("/author/stats/exams?exam=svc").get_data(as_text=True)
    assert "68.3%" in html and "70.0%" in html
    page = client.get("/author/stats").get_data(as_text=True)
    assert "t1" in page
    assert client.get("/author/stats/tasks/t1").status_code == 200


def task_row(page: str) -> tuple[str, str]:
    """(attempts, pass rate %) of the first row of the tasks table."""
    import re
    m = re.search(r'class="table stats-table">.*?<td class="num">(\d+)</td>\s*'
                  r'<td class="num">(\d+)%', page, re.S)
    return m.groups()


def test_statistics_count_exam_attempts_unless_asked(app, client, auth):
    """Practice attempts (hints, checks, revealed solutions) make a task look
    easy; the pages count exam attempts unless the instructor asks for more."""
    seed(app, [("t1", {"c1": "failed"}, 100)], score=0.0, passed=False)
    seed(app, [("t1", {"c1": "passed"}, 100)], score=100.0, passed=True, mode="practice")
    seed(app, [("t1", {"c1": "passed"}, 100)], score=100.0, passed=True, mode="practice")
    auth.login()
    page = client.get("/author/stats").get_data(as_text=True)
    assert "From graded exam attempts" in page
    assert task_row(page) == ("1", "0")            # one attempt, none passed
    both = client.get("/author/stats?mode=any").get_data(as_text=True)
    assert "From graded exam and practice attempts" in both
    assert task_row(both) == ("3", "67")
    task = client.get("/author/stats/tasks/t1").get_data(as_text=True)
    assert "From graded exam attempts" in task
    cohort = client.get("/author/stats/exams").get_data(as_text=True)
    assert "exam mode" in cohort
    assert client.get("/author/stats?mode=nonsense").status_code == 400
