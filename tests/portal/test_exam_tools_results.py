"""The results page: domain shares that agree with the exam page, and each
task's explanation beside its solution, never before the end."""

from __future__ import annotations

import re

import pytest

from tests.portal import fakes
from tests.portal.fakes import SECRET_SOLUTION
from tests.portal.helpers import start

from web.formatting import share

SECRET_WHY = "SECRET-EXPLANATION"


@pytest.fixture
def explained(monkeypatch):
    """Fake tasks that carry an explanation, as grader.task.Task does."""
    def explanation_text(self, params):
        return f"{SECRET_WHY}: the selector of **{self.id}** in `{params['ns']}` " \
               "<script>alert(1)</script> see https://kubernetes.io/docs/"
    monkeypatch.setattr(fakes.FakeTask, "explanation_text", explanation_text, raising=False)


def test_share_is_a_percentage_of_the_paper():
    assert share(12, 60) == 20.0
    assert share(1, 3) == 33.3
    assert share(4, 0) == 0.0


def test_domain_shares_on_results_agree_with_the_exam_page(app, client, auth):
    # fake-ckad: weights 4, 4, 2 in three domains: 40%, 40% and 20% of the paper
    auth.login()
    aid = start(auth)
    exam_page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert [int(x) for x in re.findall(r'class="weight"[^>]*>(\d+)%', exam_page)] == [40, 40, 20]
    assert "40% of the exam" in exam_page
    auth.post(f"/attempts/{aid}/submit")
    results = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    shown = re.findall(r"\((\d+)% of the exam\)", results)
    assert sorted(map(int, shown)) == [20, 40, 40], shown
    assert "(4% of the exam)" not in results  # the raw weight, as before
    api = client.get(f"/api/v1/attempts/{aid}/results").json
    assert sorted(d["share"] for d in api["domains"]) == [20.0, 40.0, 40.0]
    assert [t["share"] for t in api["tasks"]] == [40.0, 40.0, 20.0]


def test_explanation_beside_the_solution_after_the_end_only(app, client, auth, explained):
    auth.login()
    aid = start(auth)
    for path in (f"/attempts/{aid}/tasks/1", f"/api/v1/attempts/{aid}/tasks/1",
                 f"/api/v1/attempts/{aid}", f"/attempts/{aid}/results"):
        body = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert SECRET_WHY not in body, path
    auth.post(f"/attempts/{aid}/submit")
    html = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Reference solution and why it works" in html
    block = html[html.index("Reference solution and why it works"):]
    assert block.index(f"{SECRET_SOLUTION}-svc-selector-fix") < block.index(SECRET_WHY)
    # markdown, rendered and sanitized, with the attempt's params filled in
    assert "<strong>svc-selector-fix</strong>" in html and "<code>ns-svc-selector-fix</code>" in html
    assert "<script>alert(1)" not in html
    assert '<a href="https://kubernetes.io/docs/"' in html
    api = client.get(f"/api/v1/attempts/{aid}/results").json
    assert all(t["explanation"].startswith(SECRET_WHY) for t in api["tasks"])


def test_practice_reveal_shows_the_explanation_with_the_solution(app, client, auth, explained):
    auth.login()
    aid = start(auth, mode="practice")
    html = client.get(f"/attempts/{aid}/tasks/2").get_data(as_text=True)
    assert SECRET_WHY not in html and SECRET_SOLUTION not in html
    auth.post(f"/attempts/{aid}/tasks/2/reveal")
    html = client.get(f"/attempts/{aid}/tasks/2").get_data(as_text=True)
    assert f"{SECRET_SOLUTION}-pod-security" in html and "Why it works" in html
    assert f"{SECRET_WHY}: the selector of <strong>pod-security</strong>" in html
    assert SECRET_WHY not in client.get(f"/attempts/{aid}/tasks/3").get_data(as_text=True)


def test_a_task_without_an_explanation_shows_the_solution_alone(app, client, auth):
    auth.login()
    aid = start(auth)
    auth.post(f"/attempts/{aid}/submit")
    html = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Why it works" not in html and f"{SECRET_SOLUTION}-pod-security" in html
