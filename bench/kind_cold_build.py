#!/usr/bin/env python3
"""The kind node image built as on a fresh machine: empty Go caches, empty
toolchain directory, the root filesystem debootstrapped and every image
rebuilt. The second build right after it is the warm figure.

Prints one JSON object: cold_s (everything), warm_s (the same call again), and
stages: seconds between the progress lines (toolchain binaries, go-installed
tools, debootstrap, images, preload).

Usage: .venv/bin/python bench/kind_cold_build.py [--keep DIR]
Takes 20-40 minutes on two cores and several GB under a temporary directory
(removed afterwards unless --keep). Docker and debootstrap must be installed
(scripts/docker); the module proxy must be reachable.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, help="build here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="proctor-cold-"))
    root.mkdir(parents=True, exist_ok=True)
    # A fresh machine: nothing in Go's caches, nothing built.
    os.environ.update(GOCACHE=str(root / "gocache"), GOMODCACHE=str(root / "gomodcache"),
                      PROCTOR_TOOLCHAIN_DIR=str(root / "toolchain"))
    from sandbox.nodeimage import NodeImage
    from sandbox.toolchain import Toolchain

    stages: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def progress(line: str) -> None:
        now = time.perf_counter()
        stages.append((line, round(now - last[0], 1)))
        last[0] = now
        print(f"[{now - started:7.1f}s] {line}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    try:
        tc = Toolchain(root=root / "toolchain")
        image = NodeImage(tc, root=root / "nodeimage")
        tc.build(progress=progress, with_kind=True)
        toolchain_s = time.perf_counter() - started
        image.build(progress=progress, force=True)
        cold = time.perf_counter() - started
        t = time.perf_counter()
        image.build()
        warm = time.perf_counter() - t
        print(json.dumps({"cold_s": round(cold, 1), "toolchain_s": round(toolchain_s, 1),
                          "image_s": round(cold - toolchain_s, 1), "warm_s": round(warm, 2),
                          "image": image.tag, "stages": stages}, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
