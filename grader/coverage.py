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
TARGET_PER_TRACK = 40       # tasks: a 16-task paper drawn twice mostly differs
MAX_SHARE_GAP = 7           # percentage points between a domain's weight and its share


def domain_shares(bank: dict[str, Task], track: str) -> dict[str, tuple[int, float]]:
    """Domain -> (tasks of the track in it, their share of the track's tasks in %)."""
    tasks = [t for t in bank.values() if track in t.tracks]
    out = {}
    for domain in TRACKS[track].domains:
        n = sum(1 for t in tasks if t.domains.get(track) == domain)
        out[domain] = (n, 100 * n / len(tasks) if tasks else 0.0)
    return out


def shortfalls(bank: dict[str, Task]) -> list[str]:
    """Where the bank falls short of the curricula, one sentence each: a track
    with fewer than ``TARGET_PER_TRACK`` tasks, a competency with fewer than
    ``TARGET_PER_COMPETENCY``, a domain whose share of its track's tasks is
    more than ``MAX_SHARE_GAP`` points from its weight. Empty when it holds."""
    out = []
    by_comp = tasks_by_competency(bank)
    for track in TRACKS.values():
        n = sum(1 for t in bank.values() if track.id in t.tracks)
        if n < TARGET_PER_TRACK:
            out.append(f"{track.id.upper()} has {n} tasks; at least {TARGET_PER_TRACK} wanted")
        for domain, (count, share) in domain_shares(bank, track.id).items():
            weight = track.domains[domain]
            if abs(share - weight) > MAX_SHARE_GAP:
                out.append(f"{track.id.upper()} {domain} is {share:.0f} % of the track's tasks "
                           f"({count}); its weight is {weight} % (at most {MAX_SHARE_GAP} "
                           "points apart)")
    for cid, ids in by_comp.items():
        if len(ids) < TARGET_PER_COMPETENCY:
            out.append(f"{cid} has {len(ids)} task{'s' * (len(ids) != 1)}; at least "
                       f"{TARGET_PER_COMPETENCY} wanted")
    return out


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
        f"{TARGET_PER_COMPETENCY} tasks is marked **gap**; a test fails while any",
        f"competency is a gap, a track has fewer than {TARGET_PER_TRACK} tasks or a",
        f"domain's share is more than {MAX_SHARE_GAP} points from its weight.",
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
        for domain, (n, share) in domain_shares(bank, track.id).items():
            lines.append(f"| {domain} | {track.domains[domain]} % | {n} | "
                         f"{f'{share:.0f} %' if tasks else '-'} |")
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
    short = shortfalls(bank)
    if short:
        lines += ["## Shortfalls", ""] + [f"- {s}" for s in short] + [""]
    untagged = sorted(t.id for t in bank.values() if not t.competencies)
    if untagged:
        lines += ["## Tasks that name no competency", "",
                  ", ".join(f"`{i}`" for i in untagged), ""]
    return "\n".join(lines)
