#!/usr/bin/env python3
"""How fast kwok sandboxes come and go, what one costs, how many fit.

Prints one JSON object:
  create_s        cold create of a 3-node sandbox: median and max of --runs
  destroy_s       destroy time: median and max
  idle_rss_mb     resident memory of one idle sandbox (sum of its processes,
                  measured --settle seconds after create)
  side_by_side    how many idle sandboxes were up at once before the machine
                  degraded (create time doubled, or less than 1 GiB free),
                  capped at --max; with the create time of the last one
  toolchain_rebuild_s  `Toolchain().build()` with everything present

Usage: .venv/bin/python bench/sandbox_start.py [--runs 5] [--max 40]
Everything it creates lives in a temporary state dir and is destroyed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.kwok import KwokProvider  # noqa: E402
from sandbox.toolchain import Toolchain  # noqa: E402


def rss_mb(prov: KwokProvider, name: str) -> float:
    total = 0
    for p in prov.processes(name):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 1024**2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--max", type=int, default=40, help="stop the ramp here")
    ap.add_argument("--settle", type=float, default=10.0)
    args = ap.parse_args()

    t = time.perf_counter()
    Toolchain().build()
    rebuild = time.perf_counter() - t

    root = Path(tempfile.mkdtemp(prefix="proctor-bench-"))
    prov = KwokProvider(root=root)
    out: dict = {"nodes": args.nodes, "toolchain_rebuild_s": round(rebuild, 3)}
    try:
        creates, destroys = [], []
        for i in range(args.runs):
            t = time.perf_counter()
            prov.create(f"bench-{i}", nodes=args.nodes)
            creates.append(time.perf_counter() - t)
            if i == 0:
                time.sleep(args.settle)
                out["idle_rss_mb"] = round(rss_mb(prov, "bench-0"), 1)
            t = time.perf_counter()
            prov.destroy(f"bench-{i}")
            destroys.append(time.perf_counter() - t)
            print(f"run {i}: create {creates[-1]:.2f}s destroy {destroys[-1]:.2f}s",
                  file=sys.stderr)
        out["create_s"] = {"median": round(statistics.median(creates), 2),
                           "max": round(max(creates), 2), "runs": [round(c, 2) for c in creates]}
        out["destroy_s"] = {"median": round(statistics.median(destroys), 2),
                            "max": round(max(destroys), 2)}

        baseline = statistics.median(creates)
        up, last, reason = 0, 0.0, f"reached --max {args.max}"
        ramp = []
        while up < args.max:
            if psutil.virtual_memory().available < 1024**3:
                reason = "less than 1 GiB of memory available"
                break
            t = time.perf_counter()
            prov.create(f"ramp-{up}", nodes=args.nodes)
            last = time.perf_counter() - t
            up += 1
            ramp.append(round(last, 2))
            print(f"ramp: {up} up, last create {last:.2f}s, "
                  f"{psutil.virtual_memory().available / 1024**3:.1f} GiB free", file=sys.stderr)
            if last > 2 * baseline:
                reason = f"create time doubled ({last:.2f}s vs {baseline:.2f}s)"
                break
        time.sleep(args.settle)
        total_rss = sum(rss_mb(prov, f"ramp-{i}") for i in range(up))
        out["side_by_side"] = {
            "count": up, "stopped_because": reason, "create_times_s": ramp,
            "mean_idle_rss_mb": round(total_rss / max(up, 1), 1),
            "available_gib_at_end": round(psutil.virtual_memory().available / 1024**3, 1),
        }
    finally:
        prov.destroy_all()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
