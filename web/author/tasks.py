"""The task editor: the bank list, new task from the template, the editor page,
live lint, save with conflict detection, Validate now. Try it and publish
(a draft into the bank) are ``publish.py``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from flask import (abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select

from grader.curriculum import DIFFICULTIES, TRACKS
from grader import records, yamlfile
from grader.lint import lint_task
from grader.task import find_tasks, inspect_task

from ..db import db_session
from ..forms import EmptyForm, require_form
from ..models import TaskValidation
from ..formatting import render_markdown
from . import bp, bank, lock_dir, placement_problems, roots, touch_bank
from .files import (FILES, LANGUAGES, NAME, Conflict, diff, read_files, splice_statement,
                    statement_of, version, working_copy, write_files)

TEMPLATE = Path(__file__).with_name("template")
_summaries: dict[tuple[str, str], dict] = {}   # (folder, version) -> summary; lint is not free


def _problem_dicts(problems, folder: Path) -> list[dict]:
    out = []
    for p in problems:
        name = Path(p.file).name
        if name not in FILES:
            rel = p.file
            try:
                rel = str(Path(p.file).resolve().relative_to(folder.resolve()))
            except (ValueError, OSError):
                pass
            out.append({"file": "task.yaml", "line": None, "message": f"{rel}: {p.message}",
                        "blocking": p.blocking})
        else:
            out.append({"file": name, "line": p.line, "message": p.message,
                        "blocking": p.blocking})
    return out


def summary(folder: Path) -> dict:
    """What the list shows of a task folder, cached on its version."""
    v = version(folder)
    key = (str(folder), v)
    if key not in _summaries:
        task, _ = inspect_task(folder)
        problems = _problem_dicts(lint_task(folder).problems, folder)
        raw = {}
        if task is None:
            try:
                import yaml
                raw = yamlfile.load((folder / "task.yaml").read_text()) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError):  # lint says what is wrong
                raw = {}
            raw = raw if isinstance(raw, dict) else {}
        _summaries[key] = {
            "id": task.id if task else str(raw.get("id") or folder.name),
            "title": task.title if task else str(raw.get("title") or "(task.yaml does not load)"),
            "tracks": list(task.tracks) if task else list(raw.get("tracks") or []),
            "domain": task.domain if task else str(raw.get("domain") or ""),
            "domains": dict(task.domains) if task else {},
            "difficulty": task.difficulty if task else str(raw.get("difficulty") or ""),
            "minutes": task.minutes if task else raw.get("minutes"),
            "weight": task.weight if task else raw.get("weight"),
            "problems": problems, "version": v,
        }
        if len(_summaries) > 2000:
            _summaries.clear()
    return _summaries[key]


def latest_validations() -> dict[str, dict]:
    """Per task folder, its newest validation, whoever ran it: a ``proctor
    validate`` on this machine (CI, ``make test``) or "Validate now" — both
    leave a record (``grader.records``); a run still queued or running here
    shows as running."""
    out: dict[str, dict] = {path: {"state": rec["state"], "version": rec["version"],
                                   "finished_at": rec["finished_at"], "via": rec.get("via", "")}
                            for path, rec in records.read_all().items()}
    seen: set[str] = set()
    for v in db_session().scalars(select(TaskValidation).order_by(TaskValidation.id.desc())):
        if v.task_path in seen:
            continue
        seen.add(v.task_path)
        mine = {"state": v.state, "version": v.version, "finished_at": v.finished_at,
                "via": "Validate now"}
        rec = out.get(v.task_path)
        if v.state in ("queued", "running") or rec is None \
                or (v.finished_at or 0) > (rec["finished_at"] or 0):
            out[v.task_path] = mine
    return out


def validation_status(v: dict | None, current_version: str) -> str:
    if v is None:
        return "never"
    if v["state"] in ("queued", "running"):
        return "running"
    if v["version"] != current_version:
        return "stale"
    return v["state"]  # passed | failed | error


def task_rows() -> list[dict]:
    latest = latest_validations()
    rows = []
    for kind, root in roots().items():
        if not root.is_dir():
            continue
        for folder in find_tasks(root):
            folder = folder.resolve()
            if folder == root:
                continue
            s = summary(folder)
            v = latest.get(str(folder))
            rows.append({**s, "kind": kind, "rel": folder.relative_to(root).as_posix(),
                         "validation": validation_status(v, s["version"]),
                         "validated_at": v["finished_at"] if v else None,
                         "validated_by": v["via"] if v else ""})
    return sorted(rows, key=lambda r: (r["kind"] != "drafts", r["tracks"][:1], r["id"]))


def folder_for(kind: str, rel: str) -> Path:
    root = roots().get(kind)
    if root is None:
        abort(404)
    folder = (root / rel).resolve()
    if folder == root or not folder.is_relative_to(root) or not (folder / "task.yaml").is_file():
        abort(404)
    return folder


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "expected a JSON object")
    return data


def _files_from(data: dict) -> dict[str, str]:
    files = data.get("files") or {}
    if not isinstance(files, dict):
        abort(400, "files: expected an object of file name -> text")
    return {k: v for k, v in files.items() if k in FILES and isinstance(v, str)}


# -- the list ---------------------------------------------------------------------

@bp.route("/")
def index():
    return redirect(url_for("author.tasks"))


@bp.route("/tasks")
def tasks():
    rows = task_rows()
    f = {k: request.args.get(k, "") for k in ("track", "domain", "difficulty", "status", "q")}
    shown = []
    for r in rows:
        status = "lint" if any(p["blocking"] for p in r["problems"]) else r["validation"]
        r["status"] = status
        if f["track"] and f["track"] not in r["tracks"]:
            continue
        if f["domain"] and f["domain"] != r["domain"] and f["domain"] not in r["domains"].values():
            continue
        if f["difficulty"] and r["difficulty"] != f["difficulty"]:
            continue
        if f["status"] and status != f["status"] and not (f["status"] == "draft" and r["kind"] == "drafts"):
            continue
        if f["q"] and f["q"].lower() not in (r["id"] + " " + r["title"]).lower():
            continue
        shown.append(r)
    domains = sorted({d for t in TRACKS.values() for d in t.domains})
    counts = {s: sum(1 for r in rows if (r.get("status") == s)) for s in
              ("passed", "failed", "stale", "never", "lint", "running", "error")}
    return render_template("author/tasks.html", rows=shown, total=len(rows), f=f, tracks=TRACKS,
                           domains=domains, difficulties=DIFFICULTIES, counts=counts,
                           problems=bank().problems)


# -- new from the template -------------------------------------------------------------

def template_files(task_id: str, title: str, track: str, domain: str, difficulty: str,
                   minutes: int) -> dict[str, str]:
    files = {name: (TEMPLATE / name).read_text() for name in FILES}
    values = {"__ID__": task_id, "__TITLE__": json.dumps(title), "__TRACK__": track,
              "__DOMAIN__": json.dumps(domain), "__DIFFICULTY__": difficulty,
              "__MINUTES__": str(minutes)}
    for k, v in values.items():
        files["task.yaml"] = files["task.yaml"].replace(k, v)
    return files


@bp.route("/tasks/new", methods=["GET", "POST"])
def new_task():
    form = EmptyForm()
    v = {"id": "", "title": "", "track": "ckad", "domain": "", "difficulty": "easy", "minutes": 5}
    problems: list[str] = []
    if request.method == "POST":
        require_form(form)
        v.update({k: request.form.get(k, "").strip() for k in ("id", "title", "track", "domain",
                                                               "difficulty", "minutes")})
        if not NAME.match(v["id"]):
            problems.append("id: lowercase letters, digits and '-', starting and ending with a "
                            f"letter or digit; found {v['id']!r}")
        if not v["title"]:
            problems.append("title: required")
        problems += placement_problems(v["track"], v["domain"], v["difficulty"])
        minutes = int(v["minutes"]) if v["minutes"].isdigit() else 0
        if not 1 <= minutes <= 60:
            problems.append(f"minutes: a whole number from 1 to 60; found {v['minutes']!r}")
            minutes = 5
        root = roots()["bank"]
        folder = root / v["track"] / v["id"] if v["track"] in TRACKS else None
        if not problems and (folder.exists() or bank().task(v["id"]) is not None):
            problems.append(f"id: {v['id']!r} is already a task in the bank")
        if not problems:
            files = template_files(v["id"], v["title"], v["track"], v["domain"], v["difficulty"],
                                   minutes)
            with working_copy(folder, files) as copy:
                # a new task has no other ways nor near misses yet: not a reason to refuse it
                problems = [f"{Path(p.file).name}:{p.line or '-'}: {p.message}"
                            for p in lint_task(copy).problems if p.blocking]
        if not problems:
            write_files(folder, files, None, lock_dir())
            touch_bank()
            flash(f"Created {v['id']} from the template in {folder.relative_to(root)}.", "info")
            return redirect(url_for("author.edit", kind="bank", rel=folder.relative_to(root).as_posix()))
    return render_template("author/new.html", form=form, v=v, problems=problems, tracks=TRACKS,
                           difficulties=DIFFICULTIES)


# -- the editor -------------------------------------------------------------------------

@bp.route("/tasks/<kind>/<path:rel>")
def edit(kind: str, rel: str):
    folder = folder_for(kind, rel)
    files = read_files(folder)
    s = summary(folder)
    v = db_session().scalar(select(TaskValidation).where(TaskValidation.task_path == str(folder))
                            .order_by(TaskValidation.id.desc()).limit(1))
    latest = latest_validations().get(str(folder))
    page = {
        "kind": kind, "rel": rel, "version": s["version"], "files": files,
        "statement": statement_of(files["task.yaml"]) or "",
        "languages": LANGUAGES, "problems": [p for p in s["problems"] if p["blocking"]],
        "urls": {"lint": url_for("author.lint", kind=kind, rel=rel),
                 "save": url_for("author.save", kind=kind, rel=rel),
                 "validate": url_for("author.validate", kind=kind, rel=rel),
                 "validation": url_for("author.validation", validation_id=0)[:-1]},
        "validation": v.id if v else None,
    }
    return render_template("author/editor.html", page=page, s=s, kind=kind, rel=rel, folder=folder,
                           form=EmptyForm(), status=validation_status(latest, s["version"]),
                           preview=preview_html(folder, files))


def preview_html(folder: Path, files: dict[str, str]) -> dict:
    with working_copy(folder, files) as copy:
        return _preview(copy, files)


def _preview(copy: Path, files: dict[str, str]) -> dict:
    task, _ = inspect_task(copy)
    if task is not None:
        params = task.draw_params(1)
        try:
            shown = task.render(params)
            return {"html": str(render_markdown(shown["statement"])),
                    "hints": [str(render_markdown(h)) for h in shown["hints"]],
                    "params": params, "note": ""}
        except Exception as exc:  # noqa: BLE001 - a task being edited may break any way: say so
            note = f"the statement does not render: {exc}"
    else:
        note = "task.yaml does not load yet; the statement is shown without params"
    return {"html": str(render_markdown(statement_of(files.get("task.yaml", "")) or "")),
            "hints": [], "params": {}, "note": note}


def lint_files(folder: Path, files: dict[str, str]) -> tuple[list[dict], dict]:
    """Lint the author's current text on a temporary copy of the folder."""
    with working_copy(folder, files) as copy:
        result = lint_task(copy)
        problems = _problem_dicts(result.problems, copy)
        if result.task is not None:
            other = bank().tasks.get(result.task.id)
            if other is not None and Path(other.path).resolve() != folder.resolve():
                problems.append({"file": "task.yaml", "line": 1, "message":
                                 f"id {result.task.id!r} is already used by {other.path}; "
                                 "ids must be unique in the bank"})
        return problems, _preview(copy, files)


@bp.route("/tasks/<kind>/<path:rel>/lint", methods=["POST"])
def lint(kind: str, rel: str):
    folder = folder_for(kind, rel)
    data = _json_body()
    files = {**read_files(folder), **_files_from(data)}
    out: dict = {}
    if data.get("changed") == "statement" and isinstance(data.get("statement"), str):
        try:
            files["task.yaml"] = splice_statement(files["task.yaml"], data["statement"])
            out["task_yaml"] = files["task.yaml"]
        except ValueError as exc:
            out["statement_error"] = str(exc)
    else:
        out["statement"] = statement_of(files["task.yaml"])
    problems, preview = lint_files(folder, files)
    # the editor marks what is wrong; too few other ways or near misses is a note
    return jsonify(problems=[p for p in problems if p["blocking"]],
                   notes=[p for p in problems if not p["blocking"]], preview=preview, **out)


@bp.route("/tasks/<kind>/<path:rel>/save", methods=["POST"])
def save(kind: str, rel: str):
    folder = folder_for(kind, rel)
    data = _json_body()
    files = _files_from(data)
    expected = data.get("version")
    if not isinstance(expected, str) or not expected:
        abort(400, "version: required, the token the editor was loaded with")
    try:
        new_version = write_files(folder, files, expected, lock_dir())
    except Conflict as c:
        return jsonify(conflict=True, version=c.version, current=c.current, diff=diff(files, c.current),
                       message="Not saved: someone saved this task after you opened it. "
                               "Compare below, then keep theirs (reload) or save yours over it."), 409
    if kind == "bank":
        touch_bank()
    s = summary(folder)
    return jsonify(saved=True, version=new_version,
                   problems=[p for p in s["problems"] if p["blocking"]],
                   notes=[p for p in s["problems"] if not p["blocking"]],
                   at=time.strftime("%H:%M:%S"))


# -- validate now -----------------------------------------------------------------------

@bp.route("/tasks/<kind>/<path:rel>/validate", methods=["POST"])
def validate(kind: str, rel: str):
    folder = folder_for(kind, rel)
    s = summary(folder)
    row = TaskValidation(task_id=s["id"], task_path=str(folder), version=s["version"],
                         user_id=current_user.id, state="queued", log="", result_json="",
                         created_at=time.time())
    sess = db_session()
    sess.add(row)
    sess.commit()
    current_app.extensions["proctor.author.validate"](row.id)
    return jsonify(id=row.id, url=url_for("author.validation", validation_id=row.id)), 202


@bp.route("/validations/<int:validation_id>")
def validation(validation_id: int):
    sess = db_session()
    v = sess.get(TaskValidation, validation_id)
    if v is None:
        abort(404)
    offset = max(0, request.args.get("offset", 0, type=int))
    return jsonify(id=v.id, task_id=v.task_id, state=v.state, log=v.log[offset:],
                   offset=len(v.log), result=v.result, created_at=v.created_at,
                   started_at=v.started_at, finished_at=v.finished_at,
                   done=v.state not in ("queued", "running"))
