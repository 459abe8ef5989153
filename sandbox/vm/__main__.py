"""``python -m sandbox.vm build|status``: the VM image and the golden clusters.

    python -m sandbox.vm build     # the kind node image, the VM image, the golden
                                   # clusters (once; minutes with KVM, ~13 min with TCG)
    python -m sandbox.vm status    # what is built, and which accelerator is used
    python -m sandbox.vm built     # exit 0 if the golden clusters are built (scripts)
"""

from __future__ import annotations

import json
import signal
import sys
import time


def main(argv: list[str]) -> int:
    from ..toolchain import ToolchainError
    from .golden import Golden
    from .provider import vm_status
    if argv[:1] == ["status"]:
        print(json.dumps(vm_status(), indent=2))
        return 0
    if argv[:1] == ["built"]:
        return 0 if Golden().exists() else 1
    if argv[:1] != ["build"]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    started = time.monotonic()
    # a killed build stops its VMs (Golden.build's cleanup runs on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def progress(text: str) -> None:
        print(f"\033[36m{text}\033[0m", file=sys.stderr, flush=True)

    try:
        golden = Golden()
        path = golden.build(progress=progress, force="--force" in argv)
    except ToolchainError as exc:
        print(f"\033[31merror: {exc}\033[0m", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 2
    progress(f"VM golden clusters ready ({golden.accel}) in {path} "
             f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
