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


def whole_shares(weights: list[float]) -> list[int]:
    """Whole percentages of ``weights`` that add up to 100, as a page lists
    them side by side (rounding each alone gave 99 % for three equal tasks):
    each is rounded down, and the points left go to the largest remainders.

        >>> whole_shares([1, 1, 1]), whole_shares([5, 3, 2])
        ([34, 33, 33], [50, 30, 20])
    """
    total = sum(weights)
    if not total:
        return [0 for _ in weights]
    exact = [100.0 * w / total for w in weights]
    out = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (out[i] - exact[i], i))[:100 - sum(out)]:
        out[i] += 1
    return out


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


def node_count(span: tuple[int, int]) -> str:
    """``(3, 3)`` -> "3 nodes", ``(1, 3)`` -> "1–3 nodes", ``(1, 1)`` -> "1 node"."""
    lo, hi = span
    return f"{lo} node" if lo == hi == 1 else (f"{lo} nodes" if lo == hi else f"{lo}–{hi} nodes")


def init_formatting(app) -> None:
    """Template filters and globals, and what every page's template knows."""
    app.jinja_env.filters.update(markdown=render_markdown, duration=fmt_duration,
                                 when=fmt_time, domain=domain_name, node_count=node_count)
    # The HTML pattern of an id (a task's, an exam's): the server's NAME rule
    # (web/author/files.py) in the syntax browsers compile patterns with (the
    # regex `v` flag, where a `-` in a class must be escaped or the pattern is
    # invalid and silently ignored).
    app.jinja_env.globals.update(share=share, whole_shares=whole_shares, id_pattern=r"[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?",
                                 id_rule="lowercase letters, digits and -, starting and ending "
                                         "with a letter or digit")

    @app.context_processor
    def globals_():
        from flask_login import current_user
        return {"signup_enabled": app.config["SIGNUP"], "me": current_user}
