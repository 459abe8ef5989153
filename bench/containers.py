#!/usr/bin/env python3
"""What a sandbox with real containers (gvisor) costs, as issue 18 states
its targets, on this machine:

  create_s        cold create, kwok control plane + real nodes in a gVisor
                  box, to usable (nodes Ready, CoreDNS answering): median and
                  max of --runs, for 2 nodes (controlplane + node01) and 3
  idle            one idle sandbox (CoreDNS, metrics-server and one pod
                  running) measured over --settle seconds: CPU as a share of
                  one core; memory three ways: what the kernel charges the
                  sandbox's cgroup (cgroup_mb: every component and the box,
                  page cache included), the sum of its processes' PSS
                  (pss_mb: gVisor's systrap stubs each map the memory they
                  run in, so this sum counts some of it more than once), and
                  how much MemAvailable fell from before its create
                  (host_drop_mb: the honest marginal cost, noisy when the
                  machine is busy)
  round_trip_s    `kubectl logs` and `kubectl exec … true` against a running
                  pod, and `kubectl get pods`: median and p95 of --calls
  image_pull_error_s  a Pod naming an image that is not there, until its
                  container waits with ErrImagePull
  accelerator     what gVisor runs on here (systrap: no KVM needed)

Targets (issue 18, per accelerator; gVisor's systrap platform uses none):
cold create <= 15 s, idle <= 0.25 core and <= 800 MB, a logs/exec round
trip <= 1 s; from a warm pool to a usable prompt <= 2 s is measured by
bench/portal_start.py --exam ckad-workloads (a paper of container tasks,
which the portal puts on gvisor).

Usage: .venv/bin/python bench/containers.py [--runs 3] [--settle 60] [--calls 20]
Everything it creates lives in a temporary state folder and is destroyed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.gvisor import GvisorProvider  # noqa: E402
from sandbox.toolchain import Toolchain  # noqa: E402


def kubectl(sb, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Toolchain().binary("kubectl")), "--kubeconfig", str(sb.kubeconfig),
                           *args], capture_output=True, text=True, timeout=120)


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def spread(values: list[float]) -> dict:
    values = sorted(values)
    return {"median": round(statistics.median(values), 3), "max": round(values[-1], 3),
            "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 3),
            "n": len(values)}


def processes(prov: GvisorProvider, name: str) -> list[psutil.Process]:
    """The sandbox's processes: kwok's and the box's (runsc's sandbox and gofer)."""
    sb = prov.get(name)
    box_id = prov.box(name, sb.nodes).id
    found = {p.pid: p for p in prov.processes(name)}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(box_id in arg for arg in p.info["cmdline"] or ()):
                found[p.pid] = p
        except psutil.Error:
            continue
    return list(found.values())


def mem_available() -> int:
    return psutil.virtual_memory().available


def cgroup_bytes(prov: GvisorProvider, name: str) -> int | None:
    for d in prov.cgroup(name).dirs:
        for f in ("memory.usage_in_bytes", "memory.current"):
            if (d / f).exists():
                return int((d / f).read_text())
    return None


def idle(prov: GvisorProvider, name: str, settle: float, available_before: int) -> dict:
    procs = processes(prov, name)

    def cpu() -> float:
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total
    before = cpu()
    time.sleep(settle)
    used = cpu() - before
    pss = rss = 0
    for p in procs:
        try:
            m = p.memory_full_info()
            pss, rss = pss + m.pss, rss + m.rss
        except psutil.Error:
            pass
    charged = cgroup_bytes(prov, name)
    return {"cpu_cores": round(used / settle, 3),
            "cgroup_mb": charged and round(charged / 2**20),
            "host_drop_mb": round((available_before - mem_available()) / 2**20),
            "pss_mb": round(pss / 2**20), "rss_mb": round(rss / 2**20),
            "processes": len(procs), "settle_s": settle}


def wait(what: str, probe, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} not after {timeout}s")
        time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=60)
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="proctor-bench-gvisor-"))
    prov = GvisorProvider(root=root)
    out: dict = {"accelerator": "gVisor systrap (no KVM, no TCG: no virtual machine)"}
    try:
        for nodes in (2, 3):
            times = []
            for i in range(args.runs):
                name = f"b{nodes}-{i}"
                if nodes == 2 and i == 0:
                    available_before = mem_available()
                times.append(timed(lambda: prov.create(name, nodes=nodes)))
                if not (nodes == 2 and i == 0):  # keep one for the rest
                    prov.destroy(name)
            out[f"create_s_{nodes}_nodes"] = spread(times)
        sb = prov.get("b2-0")
        kubectl(sb, "run", "ticker", "--image=docker.io/library/busybox:1.35", "--",
                "sh", "-c", "while true; do date; sleep 5; done")
        wait("the ticker pod", lambda: kubectl(sb, "get", "pod", "ticker", "-o",
                                               "jsonpath={.status.phase}").stdout == "Running")
        out["idle"] = idle(prov, sb.name, args.settle, available_before)
        out["round_trip_s"] = {
            "logs": spread([timed(lambda: kubectl(sb, "logs", "ticker", "--tail=1"))
                            for _ in range(args.calls)]),
            "exec": spread([timed(lambda: kubectl(sb, "exec", "ticker", "--", "true"))
                            for _ in range(args.calls)]),
            "get_pods": spread([timed(lambda: kubectl(sb, "get", "pods"))
                                for _ in range(args.calls)]),
        }
        started = time.monotonic()
        kubectl(sb, "run", "nothere", "--image=docker.io/library/redis:7.2")
        wait("ErrImagePull", lambda: kubectl(
            sb, "get", "pod", "nothere", "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}").stdout
            in ("ErrImagePull", "ImagePullBackOff"))
        out["image_pull_error_s"] = round(time.monotonic() - started, 2)
        out["load_average"] = [round(x, 2) for x in psutil.getloadavg()]
    finally:
        prov.destroy_all()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
