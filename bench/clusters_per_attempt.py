#!/usr/bin/env python3
"""What several kwok clusters for one attempt cost (issue 20, item 3): before
choosing what the clusters of an attempt share, measure what each part of a
cluster costs when an attempt has 1, 2, 4 and 6 of them.

For each count N: N clusters created side by side (as a provisioning worker
would, all at once) and one after the other, the wall time of each way,
then, after --settle seconds idle, the proportional set size (PSS: shared
pages of one binary counted once across the processes that map them) of all
their processes together and per component (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok-controller, the rest).

Prints one JSON object: {"machine": {...}, "counts": [{"clusters": N,
"parallel_create_s", "serial_create_s", "pss_mb", "pss_mb_per_cluster",
"by_component_mb"}, ...]}.

Usage: .venv/bin/python bench/clusters_per_attempt.py [--counts 1,2,4,6] [--nodes 3]
Everything it creates lives in a temporary state dir and is destroyed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.kwok import KwokProvider  # noqa: E402

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def component(proc: psutil.Process) -> str:
    name = proc.name()
    for c in COMPONENTS:
        if name.startswith(c):
            return "kwok-controller" if c == "kwok" else c
    return "other"


def pss_mb(prov: KwokProvider, names: list[str]) -> tuple[float, dict[str, float]]:
    total, parts = 0.0, {}
    for name in names:
        for p in prov.processes(name):
            try:
                pss = p.memory_full_info().pss / 1024**2
                kind = component(p)
            except psutil.Error:
                continue
            total += pss
            parts[kind] = parts.get(kind, 0.0) + pss
    return round(total, 1), {k: round(v, 1) for k, v in sorted(parts.items())}


def create_all(prov: KwokProvider, names: list[str], nodes: int, parallel: bool) -> float:
    t = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda n: prov.create(n, nodes=nodes), names))
    else:
        for n in names:
            prov.create(n, nodes=nodes)
    return round(time.perf_counter() - t, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--counts", default="1,2,4,6")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--settle", type=float, default=15.0)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="proctor-bench-clusters-"))
    prov = KwokProvider(root=root)
    out: dict = {"machine": {"cores": os.cpu_count(),
                             "load_at_start": [round(x, 2) for x in os.getloadavg()],
                             "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1)},
                 "nodes": args.nodes, "counts": []}
    try:
        for n in (int(c) for c in args.counts.split(",")):
            names = [f"c{n}-{i}" for i in range(n)]
            parallel = create_all(prov, names, args.nodes, parallel=True)
            time.sleep(args.settle)
            total, parts = pss_mb(prov, names)
            for name in names:
                prov.destroy(name)
            serial = create_all(prov, [f"s{n}-{i}" for i in range(n)], args.nodes, parallel=False)
            for i in range(n):
                prov.destroy(f"s{n}-{i}")
            row = {"clusters": n, "parallel_create_s": parallel, "serial_create_s": serial,
                   "pss_mb": total, "pss_mb_per_cluster": round(total / n, 1),
                   "by_component_mb": parts,
                   "load_after": [round(x, 2) for x in os.getloadavg()]}
            out["counts"].append(row)
            print(json.dumps(row), file=sys.stderr)
    finally:
        prov.destroy_all()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
