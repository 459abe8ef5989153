"""Instructor authoring in the browser (``/author``): the task editor with live
lint, "Validate now" and "Try it", the exam builder, statistics, and the
KillerCoda import. Instructors and admins only: every route answers 403 to
anyone else (``bp.before_request``).

Tasks and exams stay files (``TASKS_DIR``, ``EXAMS_DIR``; imported drafts in
``AUTHOR_DRAFTS_DIR``, default ``<instance>/drafts``). After a write the
author touches ``<instance>/bank.stamp``; every process of the portal (pages
and worker) reloads its bank when it sees the stamp move, so a saved task is
what the next attempt, grading or "Try it" uses.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from flask import Blueprint, abort, current_app
from flask_login import current_user

from grader.curriculum import DIFFICULTIES, TRACKS

bp = Blueprint("author", __name__, url_prefix="/author")


@bp.before_request
def staff_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in ("instructor", "admin"):
        abort(403)


def roots() -> dict[str, Path]:
    cfg = current_app.config
    drafts = cfg.get("AUTHOR_DRAFTS_DIR") or os.path.join(current_app.instance_path, "drafts")
    return {"bank": Path(cfg["TASKS_DIR"]).resolve(), "drafts": Path(drafts).resolve()}


def lock_dir() -> Path:
    return Path(current_app.instance_path) / "author-locks"


def bank():
    return current_app.extensions["proctor.bank"]()


def placement_problems(track: str, domain: str, difficulty: str) -> list[str]:
    """What is wrong with where a new task goes in the curriculum (the new-task
    and import forms): its track, its domain in that track, its difficulty."""
    problems = []
    if track not in TRACKS:
        problems.append(f"track: one of {', '.join(TRACKS)}")
    elif domain not in TRACKS[track].domains:
        problems.append(f"domain: {domain!r} is not a {track.upper()} domain")
    if difficulty not in DIFFICULTIES:
        problems.append(f"difficulty: one of {', '.join(DIFFICULTIES)}")
    return problems


def touch_bank(app=None) -> None:
    """Tell every portal process that tasks or exams changed on disk."""
    app = app or current_app
    stamp = Path(app.instance_path) / "bank.stamp"
    stamp.touch()
    now = time.time_ns()
    os.utime(stamp, ns=(now, now))


def _watch_bank(app) -> None:
    """Wrap the app's bank getter so it reloads when ``bank.stamp`` moves."""
    original = app.extensions["proctor.bank"]
    stamp = Path(app.instance_path) / "bank.stamp"
    lock = threading.Lock()

    def mtime():
        try:
            return stamp.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    seen = {"at": mtime()}

    def watched_bank():
        b = original()
        now = mtime()
        if now != seen["at"]:
            with lock:
                if now != seen["at"]:
                    seen["at"] = now
                    b.reload()
        return b

    app.extensions["proctor.bank"] = watched_bank
    lifecycle = app.extensions.get("proctor.lifecycle")
    if lifecycle is not None:
        lifecycle.use_bank(watched_bank)


def init_author(app) -> None:
    """Register the blueprint, the bank watcher and the worker's validation job."""
    from . import exams, import_page, publish, stats_pages, tasks  # noqa: F401  (routes)
    from .jobs import run_validation

    app.register_blueprint(bp)
    _watch_bank(app)
    queue = app.extensions["proctor.queue"]

    def author_validate(validation_id: int):
        return run_validation(app, validation_id)

    app.extensions["proctor.author.validate"] = queue.add("author_validate", author_validate)
