"""Attempts for instructors and admins; users for admins."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from .db import db_session
from .forms import RoleForm, UserForm, require_form
from .models import Attempt, Event, PoolSandbox, User
from .security import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE = 50


@bp.route("/")
@role_required("instructor", "admin")
def index():
    return redirect(url_for("admin.attempts"))


@bp.route("/attempts")
@role_required("instructor", "admin")
def attempts():
    s = db_session()
    q = select(Attempt).join(User)
    state = request.args.get("state", "")
    exam = request.args.get("exam", "")
    user = request.args.get("user", "")
    review = request.args.get("review", "") == "1"
    if review:
        q = q.where(Attempt.review != "")
    if state:
        q = q.where(Attempt.state == state)
    if exam:
        q = q.where(Attempt.exam_id == exam)
    if user:
        q = q.where(User.username == user)
    page = max(1, request.args.get("page", 1, type=int))
    total = s.scalar(select(func.count()).select_from(q.subquery()))
    rows = s.scalars(q.order_by(Attempt.created_at.desc()).offset((page - 1) * PAGE).limit(PAGE)).all()
    counts = dict(s.execute(select(Attempt.state, func.count()).group_by(Attempt.state)).all())
    held = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.review != ""))
    pool = s.scalars(select(PoolSandbox).order_by(PoolSandbox.created_at)).all()
    exams = sorted({e for (e,) in s.execute(select(Attempt.exam_id).distinct())})
    return render_template("admin/attempts.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE)),
                           counts=counts, pool=pool, state=state, exam=exam, user=user, exams=exams,
                           review=review, held=held)


@bp.route("/attempts/<int:attempt_id>")
@role_required("instructor", "admin")
def attempt(attempt_id: int):
    s = db_session()
    a = s.get(Attempt, attempt_id)
    if a is None:
        abort(404)
    events = s.scalars(select(Event).where(Event.attempt_id == a.id).order_by(Event.at)).all()
    return render_template("admin/attempt.html", a=a, events=events)


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    s = db_session()
    form = UserForm()
    if form.validate_on_submit():
        name = form.username.data.strip()
        if s.scalar(select(User).where(User.username == name)):
            form.username.errors.append("that name is taken")
        else:
            u = User(username=name, role=form.role.data)
            u.set_password(form.password.data)
            s.add(u)
            s.commit()
            flash(f"Created {form.role.data} {name}.", "info")
            return redirect(url_for("admin.users"))
    rows = s.execute(select(User, func.count(Attempt.id)).outerjoin(Attempt)
                     .group_by(User.id).order_by(User.username)).all()
    return render_template("admin/users.html", rows=rows, form=form, role_form=RoleForm())


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@role_required("admin")
def set_role(user_id: int):
    form = require_form(RoleForm())
    s = db_session()
    u = s.get(User, user_id)
    if u is None:
        abort(404)
    u.role = form.role.data
    s.commit()
    flash(f"{u.username} is now {u.role}.", "info")
    return redirect(url_for("admin.users"))
