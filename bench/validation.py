#!/usr/bin/env python3
"""What proving the bank costs: ``proctor validate`` as ``make test`` runs it.

Runs ``grader.validate.validate`` on the tasks given (default ``tasks/``) with
no kept proof (every task live), then once more with the proofs the first run
kept, and prints one JSON object:

  cold_s           wall time of the live run
  warm_s           wall time of the second run (kept proofs, no sandbox)
  tasks, held      tasks, and how many held
  units            sandboxes made in the live run (a seed, or a variant where
                   the provider cannot rewind: gvisor, kind)
  variant_runs     alternatives and near misses graded, every seed counted
  by_provider      per provider: tasks, seconds of work (summed over units,
                   so more than the wall time with -j 2), variant runs
  load             the load average before and after (2-core machine: a busy
                   one is slower, not wrong)

The proofs go to the state folder of this run (a temporary one unless
PROCTOR_STATE_DIR is set, so that a bench leaves a developer's proofs alone).
Usage:
  .venv/bin/python bench/validation.py [tasks/ …] [-j 2] [--variants kwok|all|none]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

own_state = None
if "PROCTOR_STATE_DIR" not in os.environ:
    own_state = tempfile.mkdtemp(prefix="proctor-bench-validation-")
    os.environ["PROCTOR_STATE_DIR"] = own_state

from grader import records  # noqa: E402
from grader.validate import validate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=["tasks/"])
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--variants", default="kwok", choices=["kwok", "all", "none"])
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    units: list[str] = []
    started = time.monotonic()
    reports = validate(args.paths, jobs=args.jobs, seeds=args.seeds, variants=args.variants,
                       progress=lambda done, total, label: label and units.append(label))
    cold = time.monotonic() - started
    started = time.monotonic()
    again = validate(args.paths, jobs=args.jobs, seeds=args.seeds, variants=args.variants,
                     reuse=True)
    warm = time.monotonic() - started
    placed = {rec.get("task_id"): rec.get("provider", "?") for rec in records.read_all().values()}
    by: dict[str, dict] = {}
    for rep in reports:
        if not rep.runs and not rep.variants:
            continue
        row = by.setdefault(placed.get(rep.task_id, "?"),
                            {"tasks": 0, "work_s": 0.0, "variant_runs": 0})
        row["tasks"] += 1
        row["work_s"] = round(row["work_s"] + rep.duration, 1)
        row["variant_runs"] += len(rep.all_variants)
    print(json.dumps({
        "cold_s": round(cold, 1), "warm_s": round(warm, 1),
        "tasks": len(reports), "held": sum(r.ok for r in reports),
        "held_again_from_proofs": sum(bool(r.proven) for r in again),
        "units": len(units), "variant_runs": sum(len(r.all_variants) for r in reports),
        "by_provider": by, "jobs": args.jobs, "seeds": args.seeds, "variants": args.variants,
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "not_held": [r.task_id for r in reports if not r.ok],
    }, indent=2))
    if own_state:
        shutil.rmtree(own_state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
