"""Leaving the editor: "Try it" (a practice attempt of just this task, with a
terminal, as a candidate gets it) and publishing a draft into the bank."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import current_app, flash, redirect, url_for
from flask_login import current_user

from grader.exam import Exam, ExamTask

from ..db import db_session
from ..forms import require_form
from ..lifecycle import StartError
from . import bp, bank, roots, touch_bank
from .tasks import folder_for, summary


@bp.route("/tasks/<kind>/<path:rel>/try", methods=["POST"])
def try_it(kind: str, rel: str):
    """A practice attempt of just this task, with a terminal, as a candidate gets it."""
    require_form()
    folder = folder_for(kind, rel)
    task = None
    s = summary(folder)
    found = bank().task(s["id"])
    if found is not None and Path(found.path).resolve() == folder:
        task = found
    if task is None:
        flash("Try it needs a task of the bank that loads: publish the draft or fix the problems "
              "lint shows, and save.", "error")
        return redirect(url_for("author.edit", kind=kind, rel=rel))
    exam = Exam(id=f"try-{task.id}"[:64], title=f"Try it: {task.title}"[:200], track=task.tracks[0],
                duration=max(1, int(task.minutes)), pass_mark=100.0, nodes=task.nodes,
                description="A practice attempt of one task, from the task editor.",
                modes=("practice",), tasks=[ExamTask(task.id, float(task.weight))])
    try:
        a = current_app.extensions["proctor.lifecycle"].start(db_session(), current_user, exam,
                                                               "practice")
    except StartError as exc:
        flash(f"Cannot try it: {exc}.", "error")
        return redirect(url_for("author.edit", kind=kind, rel=rel))
    return redirect(url_for("attempts.attempt", attempt_id=a.id))


@bp.route("/tasks/drafts/<path:rel>/publish", methods=["POST"])
def publish(rel: str):
    require_form()
    folder = folder_for("drafts", rel)
    s = summary(folder)
    blocking = [p for p in s["problems"] if p.get("blocking", True)]
    if blocking:
        flash(f"Fix the {len(blocking)} lint problem(s) before publishing.", "error")
        return redirect(url_for("author.edit", kind="drafts", rel=rel))
    if s["problems"]:  # too few other ways or near misses: published, and said so
        flash("Published with a lint note: " + "; ".join(p["message"] for p in s["problems"]),
              "info")
    track = s["tracks"][0]
    dest = roots()["bank"] / track / s["id"]
    if dest.exists() or bank().task(s["id"]) is not None:
        flash(f"The bank already has a task {s['id']!r}; change the id (and folder) first.", "error")
        return redirect(url_for("author.edit", kind="drafts", rel=rel))
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), str(dest))
    touch_bank()
    flash(f"Published {s['id']} to the bank ({track}/{s['id']}).", "info")
    return redirect(url_for("author.edit", kind="bank", rel=f"{track}/{s['id']}"))
