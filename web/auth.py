"""Login, logout, sign-up, and the account page: password and API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from .db import db_session
from .forms import EmptyForm, LoginForm, PasswordForm, SignupForm, TokenForm, require_form
from .models import ApiToken, User
from .security import check_login, limiter, new_token
from .sessions import end_all_sessions

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMIT"]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``?next=https://evil`` must not redirect away."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("attempts.catalog")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("attempts.catalog"))
    form = LoginForm()
    if form.validate_on_submit():
        user = check_login(form.username.data.strip(), form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong username or password.", "error")
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """End every session of this user, in every browser (``web.sessions``)."""
    form = EmptyForm()
    if form.validate_on_submit():
        if current_user.is_authenticated:
            end_all_sessions(db_session(), current_user)
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if not current_app.config["SIGNUP"]:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        s = db_session()
        name = form.username.data.strip()
        if s.scalar(select(User).where(User.username == name)) is not None:
            form.username.errors.append("that name is taken")
        else:
            user = User(username=name, role="candidate")
            user.set_password(form.password.data)
            s.add(user)
            s.commit()
            login_user(user)
            flash(f"Welcome, {name}.", "info")
            return redirect(url_for("attempts.catalog"))
    return render_template("signup.html", form=form)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    s = db_session()
    form = TokenForm()
    token = None
    if form.validate_on_submit():
        token = new_token(s, current_user, form.name.data or "api")
    return _account_page(form=form, token=token)


def _account_page(**forms):
    tokens = db_session().scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                  .order_by(ApiToken.created_at.desc())).all()
    forms.setdefault("form", TokenForm(formdata=None))
    forms.setdefault("password_form", PasswordForm(formdata=None))
    return render_template("account.html", tokens=tokens, delete_form=EmptyForm(), **forms)


@bp.route("/account/password", methods=["POST"])
@login_required
@limiter.limit(_login_limit)
def change_password():
    """A new password ends every other session of this user; this one goes on
    under the new session version. The current password is asked for, so a
    session left open (or stolen) cannot lock its owner out."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append("that is not your current password")
        elif form.current.data == form.password.data:
            form.password.errors.append("the new password is the one you have")
        else:
            s = db_session()
            current_user.set_password(form.password.data)
            s.commit()
            end_all_sessions(s, current_user)
            login_user(current_user._get_current_object())
            flash("Password changed. Every other session of yours has ended; "
                  "API tokens stay valid until you revoke them below.", "info")
            return redirect(url_for("auth.account"))
    return _account_page(password_form=form)


@bp.route("/account/tokens/<int:token_id>/delete", methods=["POST"])
@login_required
def delete_token(token_id: int):
    require_form()
    s = db_session()
    row = s.get(ApiToken, token_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    s.delete(row)
    s.commit()
    flash("Token revoked.", "info")
    return redirect(url_for("auth.account"))
