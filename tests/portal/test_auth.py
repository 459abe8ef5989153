"""Accounts: login, logout, sign-up, roles, rate limit, CSRF, cookies."""

from tests.portal.helpers import PASSWORD


def test_pages_need_login(client):
    for path in ("/", "/history", "/exams/fake-ckad", "/attempts/1", "/account", "/admin/attempts"):
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


def test_login_and_logout(client, auth):
    assert client.get("/login").status_code == 200
    resp = auth.login()
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert "Fake CKAD" in client.get("/").get_data(as_text=True)
    auth.logout()
    assert client.get("/").status_code == 302


def test_wrong_password(client, auth):
    resp = auth.login("alice", "nope")
    assert resp.status_code == 200
    assert "Wrong username or password" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_next_stays_on_site(client, auth):
    token = auth.csrf("/login")
    resp = client.post("/login?next=https://evil.example/x",
                       data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_login_needs_csrf(client):
    resp = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 400  # CSRFProtect refuses it
    assert client.get("/").status_code == 302


def test_login_is_rate_limited(client, auth):
    for _ in range(5):
        assert auth.login("alice", "wrong").status_code == 200
    assert auth.login("alice", PASSWORD).status_code == 429


def test_session_cookie_flags(client, auth):
    resp = auth.login()
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_is_hashed_with_werkzeug_default(app):
    from web.db import get_db
    from web.models import User
    from sqlalchemy import select
    with app.app_context(), get_db().session() as s:
        u = s.scalar(select(User).where(User.username == "alice"))
        assert u.password_hash.startswith("scrypt:") and PASSWORD not in u.password_hash


def test_signup_off_by_default(client):
    assert client.get("/signup").status_code == 404


def test_signup_when_enabled(app, client, auth):
    app.config["SIGNUP"] = True
    token = auth.csrf("/signup")
    resp = client.post("/signup", data={"username": "carol", "password": "long-enough-pw",
                                        "confirm": "long-enough-pw", "csrf_token": token})
    assert resp.status_code == 302
    assert "carol" in client.get("/").get_data(as_text=True)
    auth.logout()
    token = auth.csrf("/signup")
    resp = client.post("/signup", data={"username": "carol", "password": "long-enough-pw",
                                        "confirm": "long-enough-pw", "csrf_token": token})
    assert "taken" in resp.get_data(as_text=True)


def test_api_tokens(client, auth):
    auth.login()
    resp = auth.post("/account", {"name": "lms"})
    html = resp.get_data(as_text=True)
    import re
    token = re.search(r"(pct_[A-Za-z0-9_\-]+)", html).group(1)
    auth.logout()
    r = client.get("/api/v1/exams", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json["exams"]
    assert client.get("/api/v1/exams", headers={"Authorization": "Bearer pct_wrong"}).status_code == 401
    # a token does not log into the pages
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 302
