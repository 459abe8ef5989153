"""Attacks on the portal's sessions and logins, through Flask's test client.

A session is a signed cookie: whoever holds a copy is that user. These copy
it (as a thief, a shared computer or a second browser would), then log out,
change the password or wait, and replay the copy.
"""

from __future__ import annotations

import statistics
import time

import pytest
from flask_login.utils import encode_cookie

from tests.portal.helpers import PASSWORD, AuthActions, set_values, start

NEW_PASSWORD = "a-much-better-passphrase"


def browser(app, user: str | None = "alice"):
    """A test client (one browser) and its AuthActions, logged in as ``user``."""
    client = app.test_client()
    auth = AuthActions(client)
    if user:
        resp = auth.login(user)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client, auth


def replay(app, cookie: str, path: str = "/account"):
    """A second browser that has only a copy of ``cookie`` (the session)."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(path)


def logged_in(resp) -> bool:
    return resp.status_code == 200


def stolen(client) -> str:
    return client.get_cookie("session").value


# -- logout and password change end every session ----------------------------------

def test_a_session_cookie_replayed_after_logout_is_refused(make_portal):
    app = make_portal()
    client, auth = browser(app)
    copy = stolen(client)
    assert logged_in(replay(app, copy)), "the copied cookie should work before logout (control)"
    auth.logout()
    resp = replay(app, copy)
    assert not logged_in(resp), "a session cookie replayed after logout still works"
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    api = replay(app, copy, "/api/v1/attempts")
    assert api.status_code == 401, "a session cookie replayed after logout still reads the API"


def test_logout_ends_the_users_sessions_in_every_browser(make_portal):
    app = make_portal()
    laptop, laptop_auth = browser(app)
    lab, _ = browser(app)
    bob, _ = browser(app, "bob")
    laptop_auth.logout()
    assert not logged_in(lab.get("/account")), \
        "a session in another browser survived the user's logout"
    assert logged_in(bob.get("/account")), "another user's session ended too"


def test_a_session_cookie_replayed_after_a_password_change_is_refused(make_portal):
    app = make_portal()
    thief_browser, _ = browser(app)  # logged in earlier, or a stolen copy
    copy = stolen(thief_browser)
    owner, owner_auth = browser(app)
    resp = owner_auth.post("/account/password", {"current": PASSWORD, "password": NEW_PASSWORD,
                                                 "confirm": NEW_PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert not logged_in(thief_browser.get("/account")), \
        "a session from another browser still works after a password change"
    assert not logged_in(replay(app, copy)), \
        "a session cookie replayed after a password change still works"
    page = owner.get("/account")
    assert logged_in(page), "the browser that changed the password was logged out"
    assert "Every other session of yours has ended" in page.get_data(as_text=True)
    _, fresh = browser(app, None)
    assert fresh.login("alice", PASSWORD).status_code == 200, "the old password still logs in"
    assert fresh.login("alice", NEW_PASSWORD).status_code == 302


def test_an_operators_password_reset_ends_the_users_sessions(make_portal):
    """``proctor users password NAME``: for a user who forgot it, or whose
    account was taken over."""
    from click.testing import CliRunner

    from web.cli import users
    app = make_portal()
    client, _ = browser(app)
    env = {"PROCTOR_INSTANCE_PATH": app.instance_path, "PROCTOR_DATABASE_URL": app.config["DATABASE_URL"]}
    result = CliRunner().invoke(users, ["password", "alice", "--password", NEW_PASSWORD], env=env)
    assert result.exit_code == 0, result.output
    assert not logged_in(client.get("/account")), "a session survived an operator's password reset"
    _, fresh = browser(app, None)
    assert fresh.login("alice", NEW_PASSWORD).status_code == 302
    result = CliRunner().invoke(users, ["password", "nobody-here", "--password", NEW_PASSWORD], env=env)
    assert result.exit_code == 1 and "no user 'nobody-here'" in result.output


@pytest.mark.parametrize("form, error", [
    ({"current": "wrong-password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
     "that is not your current password"),
    ({"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"},
     "passwords differ"),
    ({"current": PASSWORD, "password": "short", "confirm": "short"}, "at least 10"),
])
def test_a_password_change_needs_the_current_password_and_a_good_new_one(make_portal, form, error):
    app = make_portal()
    client, auth = browser(app)
    resp = auth.post("/account/password", form)
    assert resp.status_code == 200 and error in resp.get_data(as_text=True)
    assert logged_in(client.get("/account")), "a refused password change ended the session"
    _, other = browser(app, None)
    assert other.login("alice", PASSWORD).status_code == 302, "the password changed anyway"


def test_a_password_change_without_the_csrf_token_is_refused(make_portal):
    app = make_portal()
    client, _ = browser(app)
    resp = client.post("/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                                   "confirm": NEW_PASSWORD})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    _, other = browser(app, None)
    assert other.login("alice", PASSWORD).status_code == 302, \
        "a cross-site form changed the password"


def test_a_remember_cookie_replayed_after_logout_is_refused(make_portal):
    """The portal issues no remember cookie; one minted as Flask-Login would
    (``login_user(remember=True)``) must die with the sessions at logout."""
    app = make_portal()
    client, auth = browser(app)
    with client.session_transaction() as sess:
        session_id = sess["_user_id"]
    with app.test_request_context():
        remember = encode_cookie(session_id)
    assert not any(c.key == "remember_token" for c in client._cookies.values()), \
        "login issued a remember cookie"

    def with_remember_cookie():
        other = app.test_client()
        other.set_cookie("remember_token", remember)
        return other.get("/account")

    assert logged_in(with_remember_cookie()), "the minted remember cookie should work (control)"
    auth.logout()
    assert not logged_in(with_remember_cookie()), "a remember-me cookie replayed after logout still works"


def test_a_session_without_a_version_is_refused(make_portal):
    """A cookie from before session versions (``_user_id`` = "1") is void."""
    app = make_portal()
    client, _ = browser(app)
    with client.session_transaction() as sess:
        sess["_user_id"] = sess["_user_id"].split(":")[0]
    assert not logged_in(client.get("/account")), "a session id without a version still works"


def test_a_deactivated_users_session_ends(make_portal):
    app = make_portal()
    client, _ = browser(app)
    from web.db import get_db
    from web.models import User
    with app.app_context(), get_db().session() as s:
        s.query(User).filter_by(username="alice").update({"active": False})
    assert not logged_in(client.get("/account")), "a deactivated user's session still works"


# -- idle and absolute timeouts ------------------------------------------------------

def age_session(client, **seconds_ago):
    """Move the session's clocks back (what waiting would do, without waiting)."""
    with client.session_transaction() as sess:
        for key, ago in seconds_ago.items():
            sess[key] = time.time() - ago


def test_an_idle_session_ends(make_portal):
    app = make_portal(SESSION_IDLE_MINUTES=10)
    client, _ = browser(app)
    age_session(client, _seen=9 * 60)
    assert logged_in(client.get("/account")), "a session used 9 minutes ago ended (limit 10)"
    with client.session_transaction() as sess:
        assert time.time() - sess["_seen"] < 5, "a request did not count as activity"
    age_session(client, _seen=11 * 60)
    copy = stolen(client)
    resp = client.get("/account")
    assert not logged_in(resp), "a session idle for longer than SESSION_IDLE_MINUTES still works"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "after 10 minutes without activity" in page
    assert not logged_in(replay(app, copy)), "a copy of an idle session still works"


def test_an_exam_page_polling_its_status_keeps_the_session(make_portal):
    """The terminal's websocket sends no HTTP request; the page's status poll
    (proctor.js, every 20-30 s) is what keeps the candidate logged in."""
    app = make_portal(SESSION_IDLE_MINUTES=10)
    client, auth = browser(app)
    attempt_id = start(auth)
    for _ in range(3):  # three polls, each 9 minutes after the last activity
        age_session(client, _seen=9 * 60)
        assert client.get(f"/api/v1/attempts/{attempt_id}").status_code == 200, \
            "the status poll of a running exam was logged out"
    assert logged_in(client.get("/account"))


def test_a_session_ends_after_the_absolute_limit(make_portal):
    app = make_portal(SESSION_MAX_HOURS=8)
    client, _ = browser(app)
    age_session(client, _login_at=7.9 * 3600)
    assert logged_in(client.get("/account"))
    age_session(client, _login_at=8.1 * 3600)  # used a second ago, logged in 8.1 h ago
    resp = client.get("/account")
    assert not logged_in(resp), "a session older than SESSION_MAX_HOURS still works"
    assert "8 hours after you logged in" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_the_absolute_limit_does_not_end_an_attempt_in_progress(make_portal):
    app = make_portal(SESSION_MAX_HOURS=8)
    client, auth = browser(app)
    attempt_id = start(auth)
    age_session(client, _login_at=9 * 3600)  # the exam began 7 h after logging in
    set_values(app, attempt_id, created_at=time.time() - 2 * 3600)
    assert client.get(f"/api/v1/attempts/{attempt_id}").status_code == 200, \
        "the absolute session limit ended a running exam's session"
    assert auth.post(f"/attempts/{attempt_id}/submit").status_code == 302
    set_values(app, attempt_id, state="graded")
    assert not logged_in(client.get("/account")), "the session outlived its attempt and its limit"


def test_an_attempt_started_after_the_limit_does_not_extend_it(make_portal):
    app = make_portal(SESSION_MAX_HOURS=8)
    client, auth = browser(app)
    start(auth)  # created now
    age_session(client, _login_at=9 * 3600)  # i.e. 9 h after the login
    assert not logged_in(client.get("/account")), \
        "starting attempts keeps a session alive past SESSION_MAX_HOURS"


# -- cookies over HTTPS ----------------------------------------------------------------

@pytest.mark.parametrize("config, secure", [
    ({}, False), ({"SECURE_COOKIES": True}, True), ({"PREFERRED_URL_SCHEME": "https"}, True)])
def test_session_cookies_are_secure_when_served_over_https(make_portal, config, secure):
    app = make_portal(**config)
    _, auth = browser(app, None)
    resp = auth.login("alice")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert ("; Secure" in cookie) is secure, cookie
    assert "; HttpOnly" in cookie and "SameSite=Lax" in cookie


# -- login timing ----------------------------------------------------------------------

def test_login_takes_as_long_for_an_unknown_user(make_portal):
    """Wrong passwords for an existing, a deactivated and an unknown username
    cost the same: the timing does not list the accounts."""
    app = make_portal(LOGIN_LIMIT="1000 per minute")
    from web.db import get_db
    from web.models import User
    with app.app_context(), get_db().session() as s:
        s.query(User).filter_by(username="bob").update({"active": False})
    _, auth = browser(app, None)
    token = auth.csrf("/login")
    client = auth._client

    def login_seconds(username: str) -> float:
        t0 = time.perf_counter()
        resp = client.post("/login", data={"username": username, "password": "not-the-password",
                                           "csrf_token": token})
        elapsed = time.perf_counter() - t0
        assert resp.status_code == 200, resp.status_code
        return elapsed

    names = {"existing": "alice", "deactivated": "bob", "unknown": "mallory-does-not-exist"}
    for name in names.values():
        login_seconds(name)  # warm up
    times: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(15):
        for key, name in names.items():  # interleaved: machine load hits all alike
            times[key].append(login_seconds(name))
    medians = {k: statistics.median(v) for k, v in times.items()}
    for key in ("unknown", "deactivated"):
        ratio = medians["existing"] / medians[key]
        assert 0.5 < ratio < 2, (f"login timing tells usernames apart: an existing user's wrong "
                                 f"password takes {medians['existing'] * 1000:.0f} ms, a(n) {key} "
                                 f"user's {medians[key] * 1000:.0f} ms (ratio {ratio:.1f})")
