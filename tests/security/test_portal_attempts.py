"""Concurrent starts give one attempt.

The attack (issue 11): a candidate fires "Start" three times at once (three
tabs, a script) and got three attempts and three clusters. Here a real portal
(``proctor serve``, SQLite or PostgreSQL) gets three simultaneous starts of the
same candidate, through the page and through the JSON API: exactly one
attempt must exist afterwards, and each loser gets a plain answer.
"""

from __future__ import annotations

import threading

import requests

STARTS = 3


def fire_at_once(send, n: int = STARTS) -> list[requests.Response]:
    """Call ``send()`` from ``n`` threads released at the same instant."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = send()
        except Exception as exc:  # noqa: BLE001 - reported below, with the others
            results[i] = exc
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, f"concurrent starts failed at the HTTP level: {errors}"
    return results


def attempts_of(portal, http) -> list[dict]:
    resp = http.get(portal.url + "/api/v1/attempts")
    assert resp.status_code == 200, resp.text[:300]
    return resp.json()["attempts"]


def tab(http, cookie: str | None = None) -> dict:
    """Request arguments of another tab of the same browser: the same session
    cookie, its own connection."""
    return {"headers": {"Cookie": f"session={cookie or http.cookies['session']}"},
            "allow_redirects": False}


def test_concurrent_starts_on_the_page_make_one_attempt(live_portal):
    http = live_portal.login("alice")

    def start():
        return requests.post(live_portal.url + "/exams/fake-ckad/start", **tab(http),
                             data={"mode": "exam", "csrf_token": http.csrf})
    answers = fire_at_once(start)
    made = attempts_of(live_portal, http)
    assert len(made) == 1, (f"{STARTS} concurrent starts by one candidate made {len(made)} "
                            f"attempts: {[(a['id'], a['state']) for a in made]}")
    codes = sorted(r.status_code for r in answers)
    assert codes == [302] * STARTS, f"a concurrent start got an error page: {codes}"
    won = [r for r in answers if "/attempts/" in r.headers["Location"]]
    assert len(won) == 1, [r.headers["Location"] for r in answers]
    for resp in answers:
        if resp in won:
            continue
        assert resp.headers["Location"].endswith("/exams/fake-ckad")
        page = requests.get(live_portal.url + resp.headers["Location"],
                            **tab(http, resp.cookies["session"])).text
        assert "you already have an attempt in progress" in page, \
            "the losing start did not say why it was refused"


def test_concurrent_starts_through_the_api_make_one_attempt(live_portal):
    http = live_portal.login("bob")

    def start():
        args = tab(http)
        args["headers"]["X-CSRFToken"] = http.csrf
        return requests.post(live_portal.url + "/api/v1/attempts", **args,
                             json={"exam": "fake-ckad", "mode": "practice"})
    answers = fire_at_once(start)
    made = attempts_of(live_portal, http)
    assert len(made) == 1, f"{STARTS} concurrent API starts made {len(made)} attempts"
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * (STARTS - 1), \
        f"concurrent API starts answered {codes}: {[r.text[:200] for r in answers]}"
    for resp in answers:
        if resp.status_code == 409:
            assert "already have an attempt in progress" in resp.json()["message"]
