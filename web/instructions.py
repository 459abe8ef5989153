"""An exam's instructions page: the environment and the rules, as the real exams explain them.

The CKA and CKAD show an instructions page before the exam and keep it one
click away during it: what the candidate gets, how to reach the nodes, the
keys, what carries over, the time warnings and how the work is graded.
``GET /exams/<exam_id>/instructions`` is Proctor's, linked from the exam's
page (before Start), the waiting page and the running attempt's topbar (a
new browser tab, so the terminal stays where it is).

Every figure or name on the page that the code decides is read from the code
that decides it, never typed into the template, so the page cannot drift
from what the candidate gets:

- the shell (``confinement.jailfiles``): its aliases, exported shortcuts,
  completions and the tools its banner names are parsed from ``BASHRC``; the
  vim options from ``VIMRC``; home, answers folder, context, etcd's port and
  certificates from their constants; ``$EDITOR`` and the user from the jail's
  environment (``confinement.jail.ENV``);
- the tab limit (``web.terminal.shells.MAX_TABS``), the notepad's size
  (``web.attempts.NOTES_MAX_BYTES``), node names (``sandbox.base.node_names``)
  and the operator's settings (review window, idle timeout, disk);
- the time warnings from ``web.present.TIME_WARNINGS``, which the exam page
  gives its script.

The terminal's copy and paste keys are behaviour of ``web/static/terminal.js``,
not a value: ``COPY_KEYS`` and ``PASTE_KEYS`` name them, and
``tests/portal/test_instructions.py`` fails when the script stops handling them.
"""

from __future__ import annotations

import functools
import re

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from sandbox.base import node_names

from . import present
from .attempts import NOTES_MAX_BYTES, lifecycle
from confinement import jailfiles
from confinement.jail import ENV
from .terminal.shells import MAX_TABS

bp = Blueprint("instructions", __name__)

COPY_KEYS = ("Ctrl", "Shift", "C")   # terminal.js: also, selecting text copies it
PASTE_KEYS = ("Ctrl", "Shift", "V")  # terminal.js leaves it to the browser's paste


@functools.lru_cache(maxsize=1)
def shell_facts() -> dict:
    """What the exam shell offers, read from the jail's own bashrc and vimrc.

    >>> shell_facts()["aliases"]                                   # doctest: +SKIP
    [('k', 'kubectl')]
    """
    bashrc = jailfiles.BASHRC
    banner = re.search(r"Proctor exam shell\\e\[0m\s+(.+?)\\n'", bashrc)
    return {
        "tools": banner.group(1) if banner else "",
        "aliases": re.findall(r"^alias (\w+)=(\S+)$", bashrc, re.M),
        "exports": re.findall(r'^export (\w+)="([^"]*)"$', bashrc, re.M),
        "completions": re.findall(r"/etc/proctor/(\w+)_completion$", bashrc, re.M),
        "vim": [opt for line in jailfiles.VIMRC.splitlines() if line.startswith("set ")
                for opt in line.split()[1:] if opt != "nocompatible"],
        "editor": ENV["EDITOR"], "user": ENV["USER"], "home": jailfiles.HOME,
        "answers": jailfiles.ANSWERS, "context": jailfiles.CONTEXT,
        "etcd": f"https://127.0.0.1:{jailfiles.ETCD_PORT}", "etcd_pki": f"{jailfiles.PKI}/etcd",
    }


def environment() -> dict:
    """The facts of the exam environment that do not depend on the exam."""
    cfg = current_app.config
    return {
        "shell": shell_facts(),
        "max_tabs": MAX_TABS,
        "copy_keys": COPY_KEYS, "paste_keys": PASTE_KEYS,
        "warn_minutes": tuple(sorted(present.TIME_WARNINGS, reverse=True)),
        "notes_kib": NOTES_MAX_BYTES // 1024,
        "disk_mb": int(cfg["TERMINAL_DISK_MB"]),
        "idle_minutes": round(float(cfg["TERMINAL_IDLE_TIMEOUT"]) / 60),
        "review_minutes": int(float(cfg.get("PRACTICE_REVIEW_MINUTES", 30))),
    }


@bp.route("/exams/<exam_id>/instructions")
@login_required
def page(exam_id: str):
    ex = present.exam(exam_id)
    lc = lifecycle()
    lo, hi = lc.cluster_nodes(ex)
    return render_template("instructions.html", exam=ex, env=environment(),
                           real_nodes=lc.needs_real_nodes(ex), unavailable=lc.unavailable(ex),
                           nodes=(lo, hi), node_names=node_names(hi))
