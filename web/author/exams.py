"""The exam builder: compose ``exams/<id>.yaml`` from the bank, in the format
``grader.exam`` reads, validated by it before it is written.

A paper is a fixed list (task + weight) or a draw (count + domain weights),
as ``grader.exam`` knows them. The difficulty mix is not part of that format,
so it drives "Suggest a paper": a fixed list drawn from the bank by domain
weights and difficulty mix, which the instructor then adjusts and saves.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from pathlib import Path

import yaml
from flask import abort, current_app, jsonify, render_template, request, url_for

from grader import yamlfile
from grader.curriculum import CURRICULA, DIFFICULTIES
from grader.exam import MODES, ExamError, clashes, image_clash, load_exam, parse_exam, task_domain

from . import bp, bank, touch_bank
from .files import NAME


def bank_tasks() -> list[dict]:
    out = []
    for t in bank().tasks.values():
        out.append({"id": t.id, "title": t.title, "tracks": list(t.tracks),
                    "domains": dict(getattr(t, "domains", {}) or {t.tracks[0]: t.domain}),
                    "difficulty": getattr(t, "difficulty", ""), "minutes": getattr(t, "minutes", 0),
                    "weight": getattr(t, "weight", 1), "requires": list(getattr(t, "requires", []))})
    return sorted(out, key=lambda t: t["id"])


def exam_yaml(data: dict) -> str:
    """The file's text: a short header, then the fields in the documented order."""
    order = ("title", "track", "duration", "pass_mark", "nodes", "hosts", "clusters", "modes",
             "description", "tasks", "draw")
    doc = {k: data[k] for k in order if k in data and data[k] not in (None, "")}
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=None)
    return ("# Made with the exam builder (/author/exams); fields are described in "
            "grader/exam.py and docs/exams.md.\n" + text)


def exam_data(payload: dict) -> tuple[str, dict]:
    """Turn the builder's JSON into the exam file's fields (not yet validated)."""
    exam_id = str(payload.get("id") or "").strip()
    data: dict = {
        "title": str(payload.get("title") or "").strip(),
        "track": payload.get("track"),
        "duration": payload.get("duration"),
        "pass_mark": payload.get("pass_mark"),
        "modes": [m for m in (payload.get("modes") or list(MODES)) if isinstance(m, str)],
        "description": str(payload.get("description") or "").strip(),
    }
    if payload.get("nodes") not in (None, ""):  # blank: as many as the tasks need
        data["nodes"] = payload["nodes"]
    # the defaults (one shell, one cluster) are left out of the file, as authors write it
    if payload.get("hosts"):
        data["hosts"] = True
    if payload.get("clusters") not in (None, "", 1):
        data["clusters"] = payload["clusters"]
    if payload.get("kind") == "draw":
        draw = payload.get("draw") or {}
        domains = draw.get("domains")
        data["draw"] = {"count": draw.get("count"),
                        "domains": "curriculum" if domains in (None, "curriculum") else
                        {str(k): v for k, v in domains.items() if v}}
    else:
        data["tasks"] = [{"id": str(t.get("id")), "weight": t.get("weight")}
                         for t in payload.get("tasks") or [] if isinstance(t, dict)]
    return exam_id, data


@bp.route("/exams")
def exams():
    b = bank()
    rows = [{"id": e.id, "title": e.title, "track": e.track, "duration": e.duration,
             "pass_mark": e.pass_mark, "kind": "draw" if e.is_draw else "fixed",
             "count": e.draw_count if e.is_draw else len(e.tasks), "modes": list(e.modes)}
            for e in b.catalog()]
    return render_template("author/exams.html", rows=rows,
                           problems=[p for p in b.problems if "exam" in p.lower() or ".yaml" in p])


@bp.route("/exams/new")
@bp.route("/exams/<exam_id>/edit")
def builder(exam_id: str | None = None):
    existing = None
    if exam_id is not None:
        ex = bank().exam(exam_id)
        if ex is None:
            abort(404)
        existing = ex.to_dict()
        path = Path(ex.path)
        existing["mtime"] = path.stat().st_mtime_ns if path.exists() else 0
        if ex.is_draw and ex.draw_domains == {k: float(v) for k, v in CURRICULA[ex.track].items()}:
            existing["draw"]["domains"] = "curriculum"
    page = {"tasks": bank_tasks(), "curricula": CURRICULA, "difficulties": list(DIFFICULTIES),
            "modes": list(MODES), "exam": existing,
            "urls": {"save": url_for("author.save_exam"), "suggest": url_for("author.suggest"),
                     "list": url_for("author.exams")}}
    return render_template("author/exam_builder.html", page=page, existing=existing)


@bp.route("/exams/save", methods=["POST"])
def save_exam():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400, "expected a JSON object")
    exam_id, data = exam_data(payload)
    problems = []
    if not NAME.match(exam_id):
        problems.append(f"id: lowercase letters, digits and '-' (the file name); found {exam_id!r}")
    b = bank()
    path = Path(current_app.config["EXAMS_DIR"]) / f"{exam_id}.yaml"
    replacing = payload.get("replace_mtime")
    if not problems and path.exists():
        if replacing is None:
            problems.append(f"id: an exam {exam_id!r} exists already; open it to edit it")
        elif int(replacing) != path.stat().st_mtime_ns:
            problems.append(f"{path.name} was changed by someone else since you opened it; "
                            "reload the builder to see their version")
    exam = None
    if not problems:
        try:
            exam = parse_exam(data, exam_id, path, known_tasks=b.tasks)
            exam.select(b.tasks, seed=1)  # a draw must be able to draw a paper
        except ExamError as exc:
            problems += exc.problems
    if problems:
        return jsonify(ok=False, problems=problems), 400
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(exam_yaml(data))
    try:
        parse_exam(yamlfile.load(Path(tmp).read_text()), exam_id, path, known_tasks=b.tasks)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except ExamError as exc:  # the file as written must read back the same way
        Path(tmp).unlink(missing_ok=True)
        return jsonify(ok=False, problems=exc.problems), 400
    load_exam(path, known_tasks=b.tasks)
    touch_bank()
    return jsonify(ok=True, id=exam_id, path=str(path), mtime=path.stat().st_mtime_ns,
                   url=url_for("attempts.exam", exam_id=exam_id),
                   edit=url_for("author.builder", exam_id=exam_id))


def suggest_paper(tasks: list, track: str, count: int, domains: dict[str, float],
                  mix: dict[str, float], seed: int, clusters: int = 1) -> list[tuple]:
    """A fixed paper of ``count`` tasks: seats per domain by weight (largest
    remainder, never more than the bank has), then within each domain the
    difficulty furthest below its share of the mix so far, never a task that
    conflicts with one already on the paper, nor, on one cluster, one that
    cannot share it for its images (``grader.exam.image_clash``; a seat no
    task can fill stays empty). ``[(task, weight)]``."""
    rng = random.Random(seed)
    pool: dict[str, list] = {}
    for t in sorted(tasks, key=lambda t: t.id):
        if track in t.tracks:
            pool.setdefault(task_domain(t, track), []).append(t)
    for lst in pool.values():
        rng.shuffle(lst)
    weights = {d: float(w) for d, w in domains.items() if w and pool.get(d)}
    if not weights:
        return []
    count = min(count, sum(len(pool[d]) for d in weights))
    seats = {d: 0 for d in weights}
    for _ in range(count):  # one seat at a time to the domain most below its share
        open_ = [d for d in weights if seats[d] < len(pool[d])]
        total = sum(seats.values()) + 1
        d = max(open_, key=lambda d: (weights[d] / sum(weights.values()) - seats[d] / total,
                                      weights[d], d))
        seats[d] += 1
    mix_total = sum(v for v in mix.values() if v) or 1
    chosen_by_diff = {k: 0 for k in DIFFICULTIES}
    out = []
    for d in sorted(seats, key=lambda d: (-weights[d], d)):
        available = list(pool[d])
        for _ in range(seats[d]):
            picked = len(out) + 1
            fits = [t for t in available if not clashes(t, [c for c, _ in out])
                    and not (clusters == 1 and image_clash(t, [c for c, _ in out]))]
            if not fits:
                break

            def deficit(t):
                want = (mix.get(t.difficulty) or 0) / mix_total
                return want - chosen_by_diff.get(t.difficulty, 0) / picked
            t = max(fits, key=deficit)
            available.remove(t)
            chosen_by_diff[t.difficulty] = chosen_by_diff.get(t.difficulty, 0) + 1
            out.append((t, round(weights[d] / seats[d], 2)))
    return out


@bp.route("/exams/suggest", methods=["POST"])
def suggest():
    p = request.get_json(silent=True) or {}
    track = p.get("track")
    if track not in CURRICULA:
        abort(400, "track: cka or ckad")
    try:
        count = max(1, min(100, int(p.get("count") or 10)))
        seed = int(p.get("seed") or random.randrange(1 << 30))
        clusters = int(p.get("clusters") or 1)
    except (TypeError, ValueError):
        abort(400, "count, seed and clusters are whole numbers")
    domains = p.get("domains") or CURRICULA[track]
    mix = p.get("mix") or {"easy": 30, "medium": 50, "hard": 20}
    paper = suggest_paper(list(bank().tasks.values()), track, count,
                          {k: float(v or 0) for k, v in domains.items()},
                          {k: float(v or 0) for k, v in mix.items()}, seed, clusters)
    return jsonify(seed=seed, tasks=[{"id": t.id, "weight": w} for t, w in paper])


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
