"""Sessions that end: a server-side version per user, idle and absolute timeouts.

Flask's session is a signed cookie and the server keeps no list of them, so
"log out" used to mean only "this browser forgets its cookie": a copy of the
cookie (another browser, a stolen one) kept working. Three things end that:

- **Version.** The id a session carries is ``"<user id>:<session_version>"``
  (Flask-Login keeps it in ``session["_user_id"]`` and would write it into a
  remember cookie too). Logout and a password change raise
  ``users.session_version``; the user loader accepts an id only with the
  current version, so every session and remember cookie made before is void,
  on every machine at once.
- **Idle timeout** (``SESSION_IDLE_MINUTES``): a session unused for that long
  ends. Every request counts as use, and the exam and waiting pages poll the
  attempt's status (every 20–30 s), so an open exam page keeps its session
  alive even while the candidate only types into the terminal's websocket.
- **Absolute timeout** (``SESSION_MAX_HOURS``) after logging in, whatever the
  use. It never cuts an attempt short: an attempt started before the limit
  keeps the session until the attempt ends; starting another after the limit
  does not extend it.

Both times live in the signed session (``_login_at``, ``_seen``), so a
client cannot move them; ``_seen`` is refreshed at most once a minute to keep
``Set-Cookie`` off most responses.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, flash, request, session
from flask_login import user_loaded_from_cookie, user_logged_in
from sqlalchemy import select, update

from .db import db_session
from .models import ACTIVE_STATES, Attempt, User

SEEN_EVERY = 60.0  # seconds between refreshes of ``_seen``
# Flask-Login's keys plus ours: what ending a session removes.
KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds", "_login_at", "_seen")


def session_id(user: User) -> str:
    """The id a session of ``user`` carries: ``"7:3"`` for user 7 at version 3."""
    return f"{user.id}:{user.session_version or 0}"


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of a session id, if it is still valid.

    An id without a version (a session from before versions existed), of a
    deleted or deactivated user, or of an older version, loads nobody: the
    browser is sent to the login page."""
    uid, sep, version = str(user_id).partition(":")
    if not sep:
        return None
    try:
        user = db_session().get(User, int(uid))
        version_number = int(version)
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active or (user.session_version or 0) != version_number:
        return None
    return user


def end_all_sessions(s, user: User) -> None:
    """Void every session and remember cookie of ``user`` (logout, new password).

    One atomic ``UPDATE … SET session_version = session_version + 1``: two
    logouts at once both count, neither undoes the other."""
    s.execute(update(User).where(User.id == user.id)
              .values(session_version=User.session_version + 1))
    s.commit()
    s.refresh(user)


def _stamp(_app, user: User, **_extra) -> None:
    """On every ``login_user`` (and a session restored from a remember cookie,
    which the portal does not issue but Flask-Login would accept with the
    current version): the versioned id and the clocks of the timeouts."""
    now = time.time()
    session["_user_id"] = session_id(user)
    session["_login_at"] = now
    session["_seen"] = now


def _attempt_keeps_session(user_id: str, login_at: float, limit: float) -> bool:
    """Does an attempt started within the session's lifetime still run?"""
    uid, _, _ = str(user_id).partition(":")
    try:
        uid_number = int(uid)
    except ValueError:
        return False
    return db_session().scalar(select(Attempt.id).where(
        Attempt.user_id == uid_number, Attempt.state.in_(ACTIVE_STATES),
        Attempt.created_at <= login_at + limit).limit(1)) is not None


def _why_expired(now: float) -> str | None:
    """Why the current session has ended, or None while it is valid."""
    cfg = current_app.config
    idle = float(cfg["SESSION_IDLE_MINUTES"]) * 60
    limit = float(cfg["SESSION_MAX_HOURS"]) * 3600
    seen, login_at = session.get("_seen"), session.get("_login_at")
    if not isinstance(seen, (int, float)) or not isinstance(login_at, (int, float)):
        return "Your session is from an older version of the portal; log in again."
    if idle and now - seen > idle:
        return (f"Your session ended after {cfg['SESSION_IDLE_MINUTES']:g} minutes without "
                "activity; log in again.")
    if limit and now - login_at > limit and \
            not _attempt_keeps_session(session["_user_id"], login_at, limit):
        return (f"Your session ended {cfg['SESSION_MAX_HOURS']:g} hours after you logged in; "
                "log in again.")
    return None


def enforce_timeouts() -> None:
    """Before every request: end an expired session, else note the activity."""
    if "_user_id" not in session:
        return
    now = time.time()
    why = _why_expired(now)
    if why is not None:
        for key in KEYS:
            session.pop(key, None)
        if request.endpoint != "static" and not request.path.startswith("/api/"):
            flash(why, "info")
        return
    if now - session["_seen"] >= SEEN_EVERY:
        session["_seen"] = now


def init_sessions(app: Flask) -> None:
    user_logged_in.connect(_stamp, app)
    user_loaded_from_cookie.connect(_stamp, app)
    # First of the before_request hooks: nothing may see a session that ended.
    app.before_request_funcs.setdefault(None, []).insert(0, enforce_timeouts)
