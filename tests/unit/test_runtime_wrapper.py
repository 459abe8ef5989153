"""proctor-runc: drops what the host's bounding set lacks, then execs runc.

Runs the real wrapper binary against a stand-in runc that records what it
was given, so no container is started here (tests/nodes starts real ones).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox.nodeimage import runtime_wrapper_binary

ALL = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN", "CAP_BPF"]
NUMBERS = {"CAP_CHOWN": 0, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24,
           "CAP_BPF": 39}


def host_lacks() -> set[str]:
    line = next(ln for ln in Path("/proc/self/status").read_text().splitlines()
                if ln.startswith("CapBnd:"))
    mask = int(line.split()[1], 16)
    return {name for name, bit in NUMBERS.items() if not mask & (1 << bit)}


@pytest.fixture(scope="module")
def wrapper():
    return runtime_wrapper_binary()


@pytest.fixture
def fake_runc(tmp_path):
    """A runc that saves its argv and the spec files it would have read."""
    out = tmp_path / "seen"
    script = tmp_path / "runc"
    script.write_text(f"""#!/bin/sh
echo "$@" > {out}.argv
for f in "$PWD/config.json" "$3/config.json"; do [ -f "$f" ] && cp "$f" {out}.config; done
prev=""; for a in "$@"; do [ "$prev" = "--process" ] && cp "$a" {out}.process; prev=$a; done
exit 7
""")
    script.chmod(0o755)
    return script, out


def spec(oom: int | None = None) -> dict:
    proc = {"args": ["sh"], "capabilities": {k: list(ALL) for k in
                                             ("bounding", "effective", "permitted")}}
    if oom is not None:
        proc["oomScoreAdj"] = oom
    return {"ociVersion": "1.0.2", "process": proc, "root": {"path": "rootfs"}}


def run(wrapper, fake, *args, cwd):
    env = dict(os.environ, PROCTOR_RUNC=str(fake))
    return subprocess.run([str(wrapper), *args], cwd=cwd, env=env, capture_output=True,
                          text=True)


def test_create_keeps_only_capabilities_the_host_can_grant(wrapper, fake_runc, tmp_path):
    fake, out = fake_runc
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec()))
    res = run(wrapper, fake, "--root", "/x", "--log", "/y", "create", "--bundle", str(bundle),
              "ctr1", cwd=tmp_path)
    assert res.returncode == 7, res.stderr  # runc's own exit status comes back
    assert out.with_suffix(".argv").read_text().split() == [
        "--root", "/x", "--log", "/y", "create", "--bundle", str(bundle), "ctr1"]
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    want = [c for c in ALL if c not in host_lacks()]
    assert caps == {k: want for k in ("bounding", "effective", "permitted")}


def test_exec_process_file_is_fixed_too(wrapper, fake_runc, tmp_path):
    fake, out = fake_runc
    process = tmp_path / "process.json"
    process.write_text(json.dumps(spec()["process"]))
    run(wrapper, fake, "exec", "--process", str(process), "ctr1", cwd=tmp_path)
    caps = json.loads(out.with_suffix(".process").read_text())["capabilities"]
    assert caps["effective"] == [c for c in ALL if c not in host_lacks()]


def test_oom_score_is_raised_only_without_sys_resource(wrapper, fake_runc, tmp_path):
    fake, _ = fake_runc
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec(oom=-997)))
    run(wrapper, fake, "create", "-b", str(bundle), "ctr1", cwd=tmp_path)
    got = json.loads((bundle / "config.json").read_text())["process"]["oomScoreAdj"]
    own = int(Path("/proc/self/oom_score_adj").read_text())
    assert got == (max(-997, own) if "CAP_SYS_RESOURCE" in host_lacks() else -997)


def test_other_commands_and_broken_specs(wrapper, fake_runc, tmp_path):
    fake, out = fake_runc
    assert run(wrapper, fake, "state", "ctr1", cwd=tmp_path).returncode == 7
    bundle = tmp_path / "bad"
    bundle.mkdir()
    (bundle / "config.json").write_text("{not json")
    res = run(wrapper, fake, "create", "--bundle", str(bundle), "c", cwd=tmp_path)
    if host_lacks():
        assert res.returncode == 1 and "proctor-runc" in res.stderr and "config.json" in res.stderr
    else:  # nothing to drop: the spec is runc's business
        assert res.returncode == 7
