#!/usr/bin/env python3
"""What VM sandboxes cost: the golden build, a create from it, an idle sandbox.

Prints one JSON object:
  accel               the accelerator used (tcg here: /dev/kvm is PVM) and why
  golden_build_s      the golden build (kubeadm init, joins, four saves), as
                      recorded when it was built; with --rebuild it is built
                      again now and timed
  create_s            `create(nodes=N)` from the golden state until nodes
                      Ready, CoreDNS available and the default ServiceAccount
                      there: every run, median and max of --runs, for 1 and 2
                      nodes; restored_s is the part until every QEMU runs
  destroy_s           median destroy time
  memory_mb           --sandboxes idle 1-node sandboxes side by side: the
                      resident memory of their QEMU processes and switches, per
                      sandbox, without KSM and (with --ksm) after KSM merged
                      what they share; KSM is switched back off afterwards
  idle_cpu_percent_per_sandbox
                      host CPU an idle 1-node sandbox's QEMU takes (100 = one core),
                      over 30 s
  load                the host's load average when it started and ended

Usage: .venv/bin/python bench/vm.py [--runs 3] [--ksm] [--rebuild]
Everything it creates lives in a temporary state dir and is destroyed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.vm import VMProvider  # noqa: E402

KSM = Path("/sys/kernel/mm/ksm")


def rss_mb(pids) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def settled_rss(pids, window: float = 10, limit: float = 180) -> float:
    """RSS once it changes by less than 1% over ``window`` seconds."""
    started = time.monotonic()
    last = rss_mb(pids)
    while time.monotonic() - started < limit:
        time.sleep(window)
        now = rss_mb(pids)
        if abs(now - last) <= 0.01 * max(last, 1):
            return now
        last = now
    return last


def cpu_seconds(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def ksm_merged(limit: float = 300) -> dict:
    """Wait until KSM's pages_sharing stops growing; returns its counters."""
    started = time.monotonic()
    last = -1
    while time.monotonic() - started < limit:
        time.sleep(5)
        sharing = int((KSM / "pages_sharing").read_text())
        if sharing == last:
            break
        last = sharing
    return {k: int((KSM / k).read_text()) for k in ("pages_shared", "pages_sharing")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sandboxes", type=int, default=2)
    ap.add_argument("--ksm", action="store_true")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    out: dict = {"load": {"start": os.getloadavg()}}
    root = Path(tempfile.mkdtemp(prefix="vmb-", dir="/tmp"))
    prov = VMProvider(root=root)
    try:
        out["accel"] = {k: v for k, v in prov.golden.accel_info().items() if k != "key"}
        if args.rebuild:
            started = time.monotonic()
            prov.golden.build(force=True, progress=lambda s: print(s, file=sys.stderr))
            out["golden_build_s"] = round(time.monotonic() - started, 1)
        elif prov.golden.exists():
            m = json.loads((prov.golden.dir / "manifest.json").read_text())
            out["golden_build_s"] = m.get("build_seconds")
        if not prov.golden.exists():
            print("the golden VM clusters are not built: python -m sandbox.vm build",
                  file=sys.stderr)
            return 1
        out["create_s"], destroys = {}, []
        for nodes in (1, 2):
            runs, restored = [], []
            for i in range(args.runs):
                name = f"bench{nodes}-{i}"
                prov.create(name, nodes=nodes)
                rec = prov._read(name)
                runs.append(rec["create_seconds"])
                log = (prov._record_dir(name) / "logs" / "create.log").read_text()
                restored.append(float(log.split("restored in ")[1].split("s")[0]))
                started = time.monotonic()
                prov.destroy(name)
                destroys.append(time.monotonic() - started)
                print(f"create nodes={nodes} run {i + 1}: {runs[-1]:.1f}s "
                      f"(restored {restored[-1]:.1f}s)", file=sys.stderr)
            out["create_s"][f"{nodes}_node"] = {
                "runs": runs, "median": round(statistics.median(runs), 1), "max": max(runs),
                "restored_median": round(statistics.median(restored), 1)}
        out["destroy_s"] = round(statistics.median(destroys), 2)

        names = [f"idle-{i}" for i in range(args.sandboxes)]
        for name in names:
            prov.create(name, nodes=1)
        pids = [p for name in names for p in prov._read(name)["pids"].values()]
        before = settled_rss(pids)
        mem = {"sandboxes": len(names), "per_sandbox_without_ksm": round(before / len(names), 1)}
        c0, t0 = cpu_seconds(pids), time.monotonic()
        time.sleep(30)
        out["idle_cpu_percent_per_sandbox"] = round(
            100 * (cpu_seconds(pids) - c0) / (time.monotonic() - t0) / len(names), 1)
        if args.ksm and KSM.is_dir():
            previous = (KSM / "run").read_text().strip()
            try:
                (KSM / "run").write_text("1")
                mem["ksm"] = ksm_merged()
                mem["per_sandbox_with_ksm"] = round(rss_mb(pids) / len(names), 1)
                # RSS counts a merged page in every process that maps it: the
                # memory KSM gave back is pages_sharing pages
                saved = mem["ksm"]["pages_sharing"] * os.sysconf("SC_PAGE_SIZE") / 2**20
                mem["per_sandbox_with_ksm_counted_once"] = round((before - saved) / len(names), 1)
            finally:
                (KSM / "run").write_text(previous)
        out["memory_mb"] = mem
        for name in names:
            prov.destroy(name)
    finally:
        prov.destroy_all()
        shutil.rmtree(root, ignore_errors=True)
    out["load"]["end"] = os.getloadavg()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
