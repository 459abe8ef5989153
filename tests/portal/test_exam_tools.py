"""Exam tools on the server's side: the notepad (owner only, CSRF, 64 KiB,
until graded; the JSON API too), the time-on-task clock that pauses while the
page is away, and the exam page's markup for the tools (no inline script)."""

from __future__ import annotations

import re
import time
import types

import pytest

import web.lifecycle.running
from tests.portal.helpers import attempt, set_values, start


def notes_of(app, aid) -> str:
    return attempt(app, aid).notes


# -- the notepad ---------------------------------------------------------------------

def test_notes_are_saved_for_the_owner_and_shown_again(app, client, auth):
    auth.login()
    aid = start(auth)
    r = auth.post(f"/attempts/{aid}/notes", {"notes": "q3: come back <later> & check"},
                  headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json["bytes"] == len("q3: come back <later> & check") and r.json["max_bytes"] == 65536
    assert notes_of(app, aid) == "q3: come back <later> & check"
    auth.post(f"/attempts/{aid}/notes", {"notes": "line 1\r\nline 2\n"})  # a form's CRLF
    assert notes_of(app, aid) == "line 1\nline 2\n"
    auth.post(f"/attempts/{aid}/notes", {"notes": "q3: come back <later> & check"})
    html = client.get(f"/attempts/{aid}/tasks/2").get_data(as_text=True)
    # in the notepad of every task page, escaped
    assert "q3: come back &lt;later&gt; &amp; check</textarea>" in html


def test_notes_need_the_csrf_token_and_the_owner(app, client, auth):
    auth.login()
    aid = start(auth)
    assert client.post(f"/attempts/{aid}/notes", data={"notes": "x"}).status_code == 400
    assert notes_of(app, aid) == ""
    auth.logout()
    for other in ("bob", "ines"):  # another candidate; staff may view, never write
        auth.login(other)
        r = auth.post(f"/attempts/{aid}/notes", {"notes": "overwritten"})
        assert r.status_code == 404, other
        auth.logout()
    assert notes_of(app, aid) == ""


def test_notes_over_64_kib_are_refused_with_a_reason(app, client, auth):
    auth.login()
    aid = start(auth)
    auth.post(f"/attempts/{aid}/notes", {"notes": "kept"})
    big = "é" * (32 * 1024 + 1)  # 32 Ki characters, but 64 KiB + 2 bytes of UTF-8
    r = auth.post(f"/attempts/{aid}/notes", {"notes": big}, headers={"Accept": "application/json"})
    assert r.status_code == 413
    assert "at most 64 KiB" in r.json["message"] and "not saved" in r.json["message"]
    assert notes_of(app, aid) == "kept"
    exactly = "a" * 65536
    assert auth.post(f"/attempts/{aid}/notes", {"notes": exactly}).status_code == 200


def test_notes_are_read_only_once_graded_and_on_the_owners_results(app, client, auth):
    auth.login()
    aid = start(auth)
    auth.post(f"/attempts/{aid}/notes", {"notes": "remember: pod-security uid"})
    auth.post(f"/attempts/{aid}/submit")
    assert attempt(app, aid).state == "graded"
    r = auth.post(f"/attempts/{aid}/notes", {"notes": "changed later"},
                  headers={"Accept": "application/json"})
    assert r.status_code == 409 and "graded" in r.json["message"]
    assert notes_of(app, aid) == "remember: pod-security uid"
    html = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Your notes" in html and "remember: pod-security uid" in html
    auth.logout()
    auth.login("ines")  # an instructor sees the results, not the candidate's notepad
    html = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert "Fake CKAD" in html and "remember: pod-security uid" not in html


def test_notes_through_the_api(app, client, auth):
    auth.login()
    aid = start(auth)
    token = auth.csrf("/account")
    url = f"/api/v1/attempts/{aid}/notes"
    assert client.put(url, json={"notes": "from a script"}).status_code == 400  # no X-CSRFToken
    r = client.put(url, json={"notes": "from a script"}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.json["bytes"] == 13
    assert client.get(url).json == {"notes": "from a script", "editable": True, "max_bytes": 65536}
    r = client.put(url, json={"notes": 42}, headers={"X-CSRFToken": token})
    assert r.status_code == 400 and r.json["error"] == "Bad Request"
    r = client.put(url, json={"notes": "x" * 70000}, headers={"X-CSRFToken": token})
    assert r.status_code == 413 and r.json["error"] == "Request Entity Too Large"
    auth.logout()
    auth.login("bob")
    assert client.get(url).status_code == 404
    assert client.put(url, json={"notes": "bob"}, headers={"X-CSRFToken": auth.csrf("/account")}) \
        .status_code == 404
    assert notes_of(app, aid) == "from a script"


# -- time on task ----------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The clock of time on task and submit (web/lifecycle/running.py), moved
    by the test (nothing else sees it)."""
    now = [time.time()]
    fake = types.SimpleNamespace(time=lambda: now[0], sleep=time.sleep, monotonic=time.monotonic)
    monkeypatch.setattr(web.lifecycle.running, "time", fake)

    def advance(seconds: float) -> None:
        now[0] += seconds
    advance.now = now
    return advance


def spent(app, aid) -> list[int]:
    return [round(t.seconds_spent) for t in attempt(app, aid).tasks]


def presence(auth, aid, position, visible: bool):
    return auth.post(f"/attempts/{aid}/tasks/{position}/presence",
                     {"visible": "1" if visible else "0"}, headers={"X-Requested-With": "fetch"})


def test_time_on_task_pauses_while_the_page_is_away(app, client, auth, clock):
    auth.login()
    aid = start(auth)
    client.get(f"/attempts/{aid}/tasks/1")
    clock(10)
    assert presence(auth, aid, 1, False).json == {"position": 1, "counting": False}
    a = attempt(app, aid)
    assert a.current_position == 1 and a.current_since is None
    clock(600)  # ten minutes in another window: not counted
    assert spent(app, aid) == [10, 0, 0]
    assert presence(auth, aid, 1, True).json == {"position": 1, "counting": True}
    clock(5)
    client.get(f"/attempts/{aid}/tasks/2")
    assert spent(app, aid) == [15, 0, 0]
    clock(7)
    # a late signal from the task-1 page (its tab closing) pauses nothing
    assert presence(auth, aid, 1, False).json == {"position": 1, "counting": False}
    assert attempt(app, aid).current_position == 2
    clock(3)
    auth.post(f"/attempts/{aid}/submit")
    assert spent(app, aid) == [15, 10, 0]


def test_a_reload_while_away_resumes_and_an_old_tab_coming_back_takes_the_clock(app, client, auth,
                                                                                clock):
    auth.login()
    aid = start(auth)
    client.get(f"/attempts/{aid}/tasks/1")
    clock(4)
    presence(auth, aid, 1, False)
    clock(100)
    client.get(f"/attempts/{aid}/tasks/1")  # the page loads in front: counting again
    clock(6)
    assert presence(auth, aid, 3, True).json["counting"] is True  # another tab, task 3
    clock(2)
    auth.post(f"/attempts/{aid}/submit")
    assert spent(app, aid) == [10, 0, 2]


def test_time_on_task_stops_at_the_deadline(app, client, auth, clock):
    auth.login()
    aid = start(auth)
    client.get(f"/attempts/{aid}/tasks/1")
    set_values(app, aid, deadline_at=clock.now[0] + 30)
    clock(500)  # the page stayed open in front long after the deadline
    a = attempt(app, aid)
    with app.app_context():
        from web.db import get_db
        from web.models import Attempt
        with get_db().session() as s:
            web.lifecycle.Lifecycle.submit(app.extensions["proctor.lifecycle"], s,
                                           s.get(Attempt, a.id), auto=True)
    assert spent(app, aid) == [30, 0, 0]


def test_presence_is_for_the_owner_with_a_token_while_running(app, client, auth):
    auth.login()
    aid = start(auth)
    client.get(f"/attempts/{aid}/tasks/1")
    assert client.post(f"/attempts/{aid}/tasks/1/presence", data={"visible": "0"}).status_code == 400
    assert presence(auth, aid, 9, False).status_code == 404
    auth.logout()
    auth.login("bob")
    assert presence(auth, aid, 1, False).status_code == 404
    assert attempt(app, aid).current_since is not None
    auth.logout()
    auth.login()
    auth.post(f"/attempts/{aid}/submit")
    assert presence(auth, aid, 1, True).status_code == 409


# -- the exam page ---------------------------------------------------------------------------

def test_exam_page_has_the_tools_and_no_inline_script(app, client, auth):
    auth.login()
    aid = start(auth)
    html = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    for hook in ('id="notepad"', 'id="notes-toggle"', 'id="splitter"', 'role="separator"',
                 'id="font-smaller"', 'id="font-larger"', 'id="time-warning"',
                 f'data-presence-url="/attempts/{aid}/tasks/1/presence"', "exam-tools.js"):
        assert hook in html, hook
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all("src=" in s or "application/json" in s for s in scripts), scripts
    assert "'unsafe-inline'" not in client.get(f"/attempts/{aid}/tasks/1") \
        .headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
