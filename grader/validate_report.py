"""How ``proctor validate`` reports: the table of a task's checks, a line per
other way or mistake, a kept proof, and JUnit XML for CI.

    >>> print("\\n".join(table(report)))                       # doctest: +SKIP
    check               seed 1: setup -> solution
    test_api_scaled     failed -> passed
    near-misses/rollout-restart: caught by test_api_scaled  [...]
"""

from __future__ import annotations

import time
from xml.etree import ElementTree as ET

from .task import ALTERNATIVES
from .validate import TaskReport


def table(rep: TaskReport) -> list[str]:
    """Rows ``check | seed N: after setup -> after solution`` for one task."""
    if not rep.runs:
        return []
    ids: list[str] = []
    for run in rep.runs:
        for res in (run.after_setup, run.after_solution):
            for c in (res.checks if res else []):
                if c.id not in ids:
                    ids.append(c.id)
    width = max([len(i) for i in ids] + [5])
    head = f"{'check':<{width}}  " + "  ".join(f"{'seed ' + str(r.seed) + ': setup -> solution':<32}"
                                                 for r in rep.runs)
    rows = [head]
    for cid in ids:
        cells = []
        for run in rep.runs:
            def outcome(res, want):
                c = next((c for c in (res.checks if res else []) if c.id == cid), None)
                if c is None:
                    return "-"
                return c.outcome + ("" if c.outcome == want else " (!)")
            cells.append(f"{outcome(run.after_setup, 'failed') + ' -> ' + outcome(run.after_solution, 'passed'):<32}")
        rows.append(f"{cid:<{width}}  " + "  ".join(cells))
    return rows + variant_lines(rep)


def proven_text(proof: dict) -> str:
    """How a kept proof is reported: what it proved, and when."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(proof.get("proven_at") or 0))
    ways = (f", {proof.get('alternatives', 0)} other ways, {proof.get('near_misses', 0)} near misses"
            if proof.get("variants") else "")
    return (f"{proof.get('checks', 0)} checks, {proof.get('seeds', 0)} seeds{ways} on "
            f"{proof.get('provider', '?')}: held on {when} with these files and this code "
            "(--all proves it again)")


def variant_lines(rep: TaskReport) -> list[str]:
    """One line per other way or mistake: what it is and how the checks took it."""
    out = []
    variants = sorted(rep.all_variants, key=lambda v: (v.kind, v.name, v.seed))
    seeded = len({v.seed for v in variants}) > 1
    for v in variants:
        if v.result is None:
            verdict = "not graded: " + "; ".join(x.message for x in v.violations)[:200]
        elif v.kind == ALTERNATIVES:
            passed = sum(c.outcome == "passed" for c in v.result.checks)
            verdict = f"{passed}/{len(v.result.checks)} checks passed" + \
                ("" if not v.violations else " (!)")
        else:
            verdict = (f"caught by {', '.join(v.caught_by)}" if not v.violations
                       else "NOT caught (!)")
        out.append(f"{v.label}{f' (seed {v.seed})' if seeded else ''}: {verdict}"
                   + (f"  [{v.summary}]" if v.summary else ""))
    return out


def junit_xml(reports: list[TaskReport]) -> str:
    """One ``<testcase>`` per task; lint problems and broken rules are its failure."""
    suite = ET.Element("testsuite", name="proctor validate", tests=str(len(reports)),
                       failures=str(sum(1 for r in reports if not r.ok)),
                       skipped=str(sum(1 for r in reports if r.ok and r.skipped)),
                       time=f"{sum(r.duration for r in reports):.2f}")
    for rep in reports:
        track = rep.task.tracks[0] if rep.task else "unknown"
        case = ET.SubElement(suite, "testcase", classname=f"tasks.{track}", name=rep.task_id,
                             time=f"{rep.duration:.2f}", file=str(rep.path))
        if not rep.ok:
            # what keeps it off a sandbox, then the broken rules, then too few variants
            lines = [str(p) for p in rep.lint if p.blocking] + \
                [str(v) for v in rep.violations] + [str(p) for p in rep.lint if not p.blocking]
            fail = ET.SubElement(case, "failure", message=lines[0],
                                 type="lint" if rep.blocked or not rep.violations else "rule")
            fail.text = "\n".join(lines + [""] + table(rep))
        elif rep.skipped:
            ET.SubElement(case, "skipped", message=rep.skipped)
        elif rep.proven:
            ET.SubElement(case, "system-out").text = proven_text(rep.proven)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
