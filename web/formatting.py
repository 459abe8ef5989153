"""How values read on the pages: markdown, durations, times, domains, shares
of a paper and per-domain breakdowns. The pages' Python and their templates
use the same functions (``init_formatting`` makes them template filters), so
a number reads the same everywhere."""

from __future__ import annotations

import time
from collections import defaultdict

from markupsafe import Markup

from grader import markdown


def render_markdown(text: str) -> Markup:
    """Task statements are authored markdown; what reaches the page is sanitized
    (``grader.markdown.render``, the renderer lint and the tests use too)."""
    return Markup(markdown.render(text or ""))


def domain_name(domain: str) -> str:
    """Domains are the curriculum's own names (``grader.curriculum``)."""
    return domain or "Other"


def fmt_duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(float(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def fmt_time(ts) -> str:
    if not ts:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def share(weight: float, total: float) -> float:
    """``weight`` as a percentage of ``total``: what a task or a domain counts
    for in its paper. Every page that says "N% of the exam" (the exam page's
    task list, the results page, the exam's description) gets N here, so they
    agree.

        >>> share(12, 60)
        20.0
    """
    return round(100.0 * weight / total, 1) if total else 0.0


def domain_breakdown(attempt) -> list[dict]:
    """Per domain: weight (the sum of its tasks' weights), share of the paper
    (``share``), weighted score and percent. A task that could not be graded
    counts as zero, as it does in the score (``grader.score``)."""
    acc: dict[str, dict] = defaultdict(lambda: {"weight": 0.0, "got": 0.0, "tasks": 0})
    for t in attempt.tasks:
        d = acc[t.domain]
        d["weight"] += t.weight
        d["got"] += t.weight * t.fraction
        d["tasks"] += 1
    total = sum(d["weight"] for d in acc.values())
    out = []
    for slug, d in acc.items():
        out.append({"domain": slug, "name": domain_name(slug), "weight": round(d["weight"], 2),
                    "share": share(d["weight"], total), "tasks": d["tasks"],
                    "percent": round(100 * d["got"] / d["weight"], 1) if d["weight"] else 0.0})
    return sorted(out, key=lambda d: (-d["weight"], d["name"]))


def init_formatting(app) -> None:
    """Template filters and globals, and what every page's template knows."""
    app.jinja_env.filters.update(markdown=render_markdown, duration=fmt_duration,
                                 when=fmt_time, domain=domain_name)
    app.jinja_env.globals.update(share=share)

    @app.context_processor
    def globals_():
        from flask_login import current_user
        return {"signup_enabled": app.config["SIGNUP"], "me": current_user}
