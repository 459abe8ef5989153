#!/usr/bin/env python3
"""How long the kind node image takes to build, and kind sandboxes to come up.

Prints one JSON object:
  image_warm_s        `NodeImage().build()` with everything built (a rebuild
                      with nothing changed)
  image_rebuild_s     with --rebuild: the node image rebuilt from the cached
                      binaries and rootfs (what a recipe change costs)
  image_cold_s        with --cold: debootstrap, every image and the node image
                      again from scratch (the Go binaries stay cached; see
                      --fresh-go for those)
  ready_s             `create(nodes=N)` until nodes Ready, CoreDNS available:
                      median and max of --runs, for 1 and 3 nodes
  app_answers_s       create (3 nodes) + an nginx Deployment + Service answering
                      a busybox client over cluster DNS (kind's "app answers")
  memory_mb           per idle 3-node cluster: the node containers' memory
                      (docker stats; cgroup usage incl. page cache) and the
                      sum of the processes' resident memory, --settle s after
                      create
  destroy_s           median destroy time

Usage: .venv/bin/python bench/kind_cluster.py [--runs 3] [--rebuild] [--cold]
Everything it creates lives in a temporary state dir and is destroyed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.kind import KindProvider, container_name  # noqa: E402
from sandbox.nodeimage import WORKLOAD_IMAGES, NodeImage  # noqa: E402

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.22}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t, out


def summary(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 2), "max": round(max(xs), 2),
            "runs": [round(x, 2) for x in xs]}


def memory(prov: KindProvider, sb) -> dict:
    names = [container_name(sb.name, n) for n in sb.nodes]
    out = subprocess.run(["docker", "stats", "--no-stream", "--format",
                          "{{.Name}} {{.MemUsage}}", *names],
                         capture_output=True, text=True).stdout
    units = {"B": 1 / 1024**2, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    cgroup = 0.0
    for line in out.splitlines():
        m = re.match(r"\S+ ([\d.]+)(B|KiB|MiB|GiB)", line)
        if m:
            cgroup += float(m.group(1)) * units[m.group(2)]
    rss = 0
    for n in sb.nodes:
        res = prov.node_exec(sb, n, "sh", "-c",
                             "ps -eo rss= | awk '{s+=$1} END {print s}'")
        rss += int(res.stdout.strip() or 0)
    return {"docker_stats_mb": round(cgroup), "rss_sum_mb": round(rss / 1024)}


def app_answers(prov: KindProvider, name: str) -> float:
    t = time.perf_counter()
    sb = prov.create(name, nodes=3)
    for args, stdin in [(["apply", "-f", "-"], APP),
                        (["rollout", "status", "deployment/web", "--timeout=180s"], None)]:
        res = prov.kubectl(sb, *args, input=stdin, timeout=200)
        assert res.returncode == 0, res.stderr
    while True:
        res = prov.kubectl(sb, "run", "client", "--image", WORKLOAD_IMAGES["busybox"],
                           "--restart=Never", "--rm", "-i", "--command", "--", "wget",
                           "-qO-", "http://web.default.svc.cluster.local/", timeout=120)
        if "Welcome to nginx" in res.stdout:
            break
        time.sleep(0.5)
    took = time.perf_counter() - t
    prov.destroy(name)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=30.0)
    ap.add_argument("--rebuild", action="store_true", help="also time a node image rebuild")
    ap.add_argument("--cold", action="store_true",
                    help="also time debootstrap + every image from scratch (minutes)")
    args = ap.parse_args()

    result: dict = {}
    image = NodeImage()
    if args.cold:
        subprocess.run(["docker", "rmi", "-f", image.rootfs_tag, image.tag],
                       capture_output=True)
        result["image_cold_s"] = round(timed(image.build, force=True)[0], 1)
    elif args.rebuild:
        subprocess.run(["docker", "rmi", "-f", image.tag], capture_output=True)
        result["image_rebuild_s"] = round(timed(image.build)[0], 1)
    result["image_warm_s"] = round(timed(image.build)[0], 3)

    root = Path(tempfile.mkdtemp(prefix="proctor-bench-kind-"))
    prov = KindProvider(root=root)
    try:
        result["ready_s"] = {}
        destroys = []
        for nodes in (1, 3):
            times = []
            for i in range(args.runs):
                took, sb = timed(prov.create, f"bench-{nodes}n-{i}", nodes=nodes)
                times.append(took)
                if nodes == 3 and i == 0:
                    time.sleep(args.settle)
                    result["memory_mb"] = memory(prov, sb)
                destroys.append(timed(prov.destroy, sb.name)[0])
            result["ready_s"][f"{nodes}_nodes"] = summary(times)
        result["destroy_s"] = summary(destroys)
        result["app_answers_s"] = round(app_answers(prov, "bench-app"), 1)
    finally:
        prov.destroy_all()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
