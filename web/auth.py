"""Login, logout, sign-up, and the account page with API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from .db import db_session
from .forms import EmptyForm, LoginForm, SignupForm, TokenForm
from .models import ApiToken, User
from .security import limiter, new_token

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
        s = db_session()
        user = s.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.is_active and user.check_password(form.password.data):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong username or password.", "error")
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
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
    tokens = s.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                       .order_by(ApiToken.created_at.desc())).all()
    return render_template("account.html", form=form, token=token, tokens=tokens,
                           delete_form=EmptyForm())


@bp.route("/account/tokens/<int:token_id>/delete", methods=["POST"])
@login_required
def delete_token(token_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    s = db_session()
    row = s.get(ApiToken, token_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    s.delete(row)
    s.commit()
    flash("Token revoked.", "info")
    return redirect(url_for("auth.account"))
