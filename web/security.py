"""Logins, roles, CSRF and rate limits.

- Passwords: werkzeug's default hash (``User.set_password``); a login for
  an unknown or deactivated user checks a dummy hash of the same cost, so the
  answer's timing does not tell which usernames exist (``check_login``).
- Sessions: Flask-Login; cookies HttpOnly, SameSite=Lax, Secure over HTTPS
  (``web.config``); versioned and timed out (``web.sessions``).
- Headers: CSP, frame-ancestors, nosniff, Referrer-Policy (``web.headers``).
- CSRF: Flask-WTF on every form. The JSON API is exempt from the form check
  but a cookie-authenticated POST to it must carry ``X-CSRFToken``; a bearer
  token needs none (a browser never sends one on its own).
- Rate limit: Flask-Limiter on ``POST /login`` (``PROCTOR_LOGIN_LIMIT``).
- Websockets: a message over ``TERMINAL_MAX_MESSAGE_BYTES`` closes the
  connection after at most that much of it was read (``web.config``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from functools import cache, wraps

from flask import abort, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db_session
from .headers import init_headers
from .models import ApiToken, User
from .sessions import init_sessions, load_user as load_session_user

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to continue."
login_manager.session_protection = "basic"
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager.user_loader(load_session_user)


@cache
def _dummy_hash() -> str:
    """A hash of a random password, made like ``User.set_password`` makes one."""
    return generate_password_hash(secrets.token_hex(16))


def check_login(username: str, password: str) -> User | None:
    """The active user with this username and password, else None.

    Costs one password hash whatever the answer: for an unknown username the
    password is checked against a dummy hash of the same method and cost, and
    a deactivated user's own hash is checked before the refusal. Otherwise an
    unknown name answered ten times faster, which listed the accounts."""
    user = db_session().scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if user.check_password(password) and user.is_active:
        return user
    return None


@login_manager.request_loader
def load_user_from_token(req):
    """``Authorization: Bearer <token>`` on the JSON API only."""
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    row = db_session().scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = time.time()
    db_session().commit()
    g.auth_via_token = True
    return row.user


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(s, user: User, name: str = "") -> str:
    """Create an API token for ``user``; the plain token is shown once, here."""
    token = "pct_" + secrets.token_urlsafe(32)
    s.add(ApiToken(user_id=user.id, name=name[:64], token_hash=hash_token(token),
                   prefix=token[:10], created_at=time.time()))
    s.commit()
    return token


def role_required(*roles: str):
    """Logged in and one of ``roles``, else 403."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def init_security(app) -> None:
    init_sessions(app)
    init_headers(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
