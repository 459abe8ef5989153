"""What the bank covers of the curricula: ``docs/coverage.md``.

Every competency of both curricula (``curriculum.COMPETENCIES``) with the
tasks that exercise it (``competencies`` in their task.yaml), and per domain
its weight beside its share of the bank's tasks, so that the gaps are in
plain sight. ``proctor coverage --write`` regenerates the file; a unit test
fails while it is stale.

    >>> print(coverage_markdown(load_bank("tasks")))     # doctest: +SKIP
"""

from __future__ import annotations

from .curriculum import COMPETENCIES, TRACKS
from .task import Task

TARGET_PER_COMPETENCY = 2   # tasks, so that two draws of an exam differ


def tasks_by_competency(bank: dict[str, Task]) -> dict[str, list[str]]:
    """Competency id -> the ids of the tasks that name it (every competency listed)."""
    out: dict[str, list[str]] = {cid: [] for cid in COMPETENCIES}
    for task in bank.values():
        for cid in task.competencies:
            out.setdefault(cid, []).append(task.id)
    return out


def coverage_markdown(bank: dict[str, Task]) -> str:
    by_comp = tasks_by_competency(bank)
    lines = [
        "# Curriculum coverage",
        "",
        "Generated from the bank by `proctor coverage --write` (a test fails while",
        "it is stale): every competency of the CKA and CKAD v1.35 curricula with the",
        "tasks that exercise it, and each domain's weight beside its share of the",
        "bank. A competency with fewer than "
        f"{TARGET_PER_COMPETENCY} tasks is marked **gap**.",
        "",
    ]
    for track in TRACKS.values():
        tasks = [t for t in bank.values() if track.id in t.tracks]
        comps = [c for c in COMPETENCIES.values() if c.track == track.id]
        covered = sum(1 for c in comps if by_comp[c.id])
        lines += [f"## {track.id.upper()}: {track.name}", "",
                  f"{len(tasks)} tasks; {covered} of {len(comps)} competencies have a task, "
                  f"{sum(1 for c in comps if len(by_comp[c.id]) >= TARGET_PER_COMPETENCY)} "
                  f"have {TARGET_PER_COMPETENCY} or more.", "",
                  "| domain | weight | tasks | share of the bank |",
                  "| --- | ---: | ---: | ---: |"]
        for domain, weight in track.domains.items():
            n = sum(1 for t in tasks if t.domains.get(track.id) == domain)
            share = f"{100 * n / len(tasks):.0f} %" if tasks else "-"
            lines.append(f"| {domain} | {weight} % | {n} | {share} |")
        for domain in track.domains:
            lines += ["", f"### {domain}", "", "| competency | tasks |", "| --- | --- |"]
            for c in comps:
                if c.domain != domain:
                    continue
                ids = by_comp[c.id]
                mark = "" if len(ids) >= TARGET_PER_COMPETENCY else " **gap**"
                names = ", ".join(f"`{i}`" for i in sorted(ids)) or "none"
                lines.append(f"| {c.text} (`{c.id}`) | {names}{mark} |")
        lines.append("")
    untagged = sorted(t.id for t in bank.values() if not t.competencies)
    if untagged:
        lines += ["## Tasks that name no competency", "",
                  ", ".join(f"`{i}`" for i in untagged), ""]
    return "\n".join(lines)
