"""The jail's limits, attacked for real: the disk, and identities shared
between two portals on one machine.

Real bubblewrap jails (as root, like the portal) against real kwok sandboxes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from confinement.identity import grader_uid
from sandbox.base import unmount_under
from confinement.cgroup import SANDBOX_CPU_WEIGHT, MiB, Cgroup, Limits, cgroup_v2
from confinement.disk import mounts
from confinement.jail import Jail, JailError
from web.terminal import jail_spec
from web.terminal.shells import ShellManager

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]

DISK_MB = 64


@pytest.fixture(scope="module")
def sandboxes(kwok):
    a, b = kwok.create("sec-limits-a", nodes=1), kwok.create("sec-limits-b", nodes=1)
    yield a, b
    kwok.destroy("sec-limits-a")
    kwok.destroy("sec-limits-b")


@pytest.fixture
def jail(sandboxes, tmp_path):
    """``jail(sandbox, attempt, **spec)``: a prepared jail, destroyed afterwards."""
    made: list[Jail] = []

    def make(sb, attempt: int = 11, **spec) -> Jail:
        spec.setdefault("disk_mb", DISK_MB)
        j = Jail(jail_spec(sb, attempt, **spec), tmp_path / "jails")
        j.prepare()
        made.append(j)
        return j

    yield make
    for j in made:
        j.destroy()


def run(jail: Jail, script: str, timeout: float = 120) -> tuple[int, str]:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out.decode(errors="replace")


def mounts_under(path: Path) -> list[str]:
    real = os.path.realpath(path)
    return sorted(p for p in mounts() if p == real or p.startswith(real + "/"))


# -- the disk ---------------------------------------------------------------------------------

def test_filling_the_disk_from_home_and_answers_stops_at_the_limit(jail, sandboxes):
    sb = sandboxes[0]
    j = jail(sb)
    assert j.disk.limited, f"no disk image on this machine: {j.disk.why}"
    free_before = shutil.disk_usage(sb.workspace).free
    rc, out = run(j, "dd if=/dev/zero of=~/fill bs=1M count=4096 2>&1 | grep -v records; "
                     "dd if=/dev/zero of=/opt/answers/fill bs=1M count=4096 2>&1 | grep -v rec; "
                     "df -k --output=size ~ | tail -1; rm -f ~/fill /opt/answers/fill")
    free_after_attack = shutil.disk_usage(sb.workspace).free
    assert out.count("No space left on device") == 2, f"filling home and answers: {out}"
    assert int(out.splitlines()[-1]) <= DISK_MB * 1024, f"the disk is larger than its limit: {out}"
    image = j.disk.image
    used = os.stat(image).st_blocks * 512
    assert used <= (DISK_MB + 1) * 1024 * 1024, \
        f"filling the disk: its image holds {used >> 20} MB on the host, limit {DISK_MB} MB"
    # 8 GB were asked for; the host lost at most the image (others write too: 1 GB slack)
    assert free_before - free_after_attack < 1024 ** 3, \
        f"filling the disk took {(free_before - free_after_attack) >> 20} MB of the host's"


def test_without_a_disk_image_rlimit_fsize_still_bounds_each_file(jail, sandboxes, tmp_path):
    sb = sandboxes[1]
    j = jail(sb, attempt=12, disk_image=False)
    assert not j.disk.limited and not os.path.ismount(j.home)
    rc, out = run(j, f"head -c {2 * DISK_MB}M /dev/zero > ~/big; echo rc=$?; "
                     "stat -c %s ~/big; rm -f ~/big")
    lines = out.splitlines()
    assert "rc=0" not in out and int(lines[-1]) <= DISK_MB * 1024 * 1024, \
        f"a file of twice RLIMIT_FSIZE was written: {out}"


def test_the_disk_survives_a_new_shell_and_is_mounted_once(jail, sandboxes):
    sb = sandboxes[0]
    first = jail(sb)
    rc, out = run(first, "echo kept > ~/notes.txt && echo 42 > /opt/answers/q1.txt")
    assert rc == 0, out
    before = mounts_under(sb.workspace)
    first.stop()
    again = jail(sb)
    sleeper = again.spawn(["sleep", "300"])
    again.prepare()
    assert sleeper.poll() is None, "prepare() on a running jail killed its processes"
    assert mounts_under(sb.workspace) == before and len(before) == 3, \
        f"prepare() mounted again: {mounts_under(sb.workspace)}"
    rc, out = run(again, "cat ~/notes.txt /opt/answers/q1.txt")
    assert out.split() == ["kept", "42"], f"the home or answers did not survive: {out}"


def test_after_a_reboot_the_disk_comes_back_and_a_broken_one_refuses_to_start(jail, sandboxes,
                                                                            tmp_path):
    sb = sandboxes[0]
    first = jail(sb)
    rc, out = run(first, "echo before-reboot > /opt/answers/q2.txt")
    first.stop()
    unmount_under(sb.workspace)  # what a reboot does to the mounts
    again = jail(sb)
    rc, out = run(again, "cat /opt/answers/q2.txt")
    assert out.strip() == "before-reboot", f"the answers did not come back after a reboot: {out}"
    again.stop()
    unmount_under(sb.workspace)
    image = again.disk.image
    saved = tmp_path / "disk.img"
    shutil.copyfile(image, saved)
    try:
        os.truncate(image, 0)  # an image the host can no longer mount
        with pytest.raises(JailError, match="cannot be mounted"):
            jail(sb)
        assert not os.path.ismount(sb.workspace / "answers"), "a broken disk fell back silently"
    finally:
        shutil.copyfile(saved, image)


def test_the_grader_reads_and_writes_answers_by_group_and_nobody_else(jail, sandboxes):
    sb = sandboxes[0]
    j = jail(sb)
    # a candidate with a private umask still writes answers the grader can read
    rc, out = run(j, "umask 077; echo mine > /opt/answers/pods.txt; mkdir -p /opt/answers/sub; "
                     "echo deep > /opt/answers/sub/x.txt")
    assert rc == 0, out
    st = os.stat(j.answers)
    gid = grader_uid(sb.name)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (j.spec.uid, gid, 0o2770), \
        f"answers is {st.st_uid}:{st.st_gid} {oct(st.st_mode)}"

    def as_user(uid: int, script: str, cwd: Path) -> subprocess.CompletedProcess:
        # The grader reaches answers through a bind mount of its own (grader.room), not
        # through the 0700 state folder: start in the folder, then drop to ``uid``.
        return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                               "sh", "-c", script], capture_output=True, text=True,
                              cwd=cwd, timeout=30)

    grader = as_user(gid, "cat pods.txt sub/x.txt && echo setup > given.txt", j.answers)
    assert grader.returncode == 0 and grader.stdout.split() == ["mine", "deep"], \
        f"the grader uid cannot read or write answers: {grader.stderr}"
    other = as_user(grader_uid("someone-else"), "cat pods.txt", j.answers)
    assert other.returncode != 0, "another sandbox's grader reads this candidate's answers"
    assert as_user(65534, "ls .", j.home).returncode != 0, "anyone lists the candidate's home"
    rc, out = run(j, "cat /opt/answers/given.txt")
    assert out.strip() == "setup", f"the candidate cannot read what setup wrote: {out}"


def test_destroying_the_sandbox_unmounts_its_disk_even_while_a_shell_runs(kwok, tmp_path):
    sb = kwok.create("sec-limits-c", nodes=1)
    try:
        j = Jail(jail_spec(sb, 13, disk_mb=DISK_MB), tmp_path / "jails")
        j.prepare()
        p = j.spawn(["sleep", "300"])
        image = str(j.disk.image)
        assert len(mounts_under(sb.workspace)) == 3
        record = sb.workspace.parent
    finally:
        kwok.destroy("sec-limits-c")
    try:
        assert not mounts_under(record), f"mounts left after destroy: {mounts_under(record)}"
        assert not record.exists(), f"{record} left after destroy"
        j.stop()
        p.wait(10)
        deadline = time.monotonic() + 10  # the loop device frees itself once unused

        def attached() -> bool:
            return image in subprocess.run(["losetup", "-a"], capture_output=True,
                                           text=True).stdout
        while attached() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not attached(), "a loop device outlived the sandbox"
    finally:
        j.destroy()


# -- identities --------------------------------------------------------------------------------

def test_two_portals_with_the_same_attempt_id_share_neither_uid_nor_cgroup(jail, sandboxes):
    a, b = sandboxes
    one = jail(a, attempt=5, prefix="pa-")
    two = jail(b, attempt=5, prefix="pb-")
    assert one.spec.uid != two.spec.uid, "two portals' attempt 5 share a uid"
    assert one.spec.cgroup != two.spec.cgroup, "two portals' attempt 5 share a cgroup"
    p1 = one.spawn(["sleep", "300"])
    p2 = two.spawn(["sleep", "300"])
    deadline = time.monotonic() + 10
    while not (one.processes() and two.processes()) and time.monotonic() < deadline:
        time.sleep(0.02)
    theirs = two.processes()
    assert theirs and not set(theirs) & set(one.processes())
    dirs = list(one.cgroups)
    one.stop()
    p1.wait(10)
    assert p2.poll() is None and all(psutil.pid_exists(pid) for pid in theirs), \
        "stopping one portal's shell killed the other portal's"
    if not cgroup_v2():
        assert {d.parent.name for d in dirs} == {"memory", "pids", "cpu"}, dirs
    assert not [d for d in dirs if d.exists()], f"empty cgroups left after stop: {dirs}"
    two.stop()
    p2.wait(10)
    assert not [d for d in two.cgroups if d.exists()]


def test_a_cgroup_left_by_a_crash_is_swept_or_emptied_and_reused(jail, sandboxes, tmp_path):
    prefix = "pz-"
    stale = Cgroup(f"proctor-{prefix}a9").dirs
    for d in stale:
        d.mkdir(exist_ok=True)
    # a stray process of attempt 10 in its leftover cgroup, as a crash might leave
    busy = Cgroup(f"proctor-{prefix}a10")
    busy.create(Limits(memory_bytes=128 * MiB, pids=16, cpu_percent=100))
    stray = subprocess.Popen(["sleep", "300"])
    busy.join(stray.pid)
    ShellManager(tmp_path / "jails", prefix=prefix)  # a portal starting after the crash
    try:
        assert not [d for d in stale if d.exists()], "an empty leftover cgroup was not removed"
        assert all(d.exists() for d in busy.dirs), "a busy cgroup was removed under its process"
        j = jail(sandboxes[0], attempt=10, prefix=prefix)  # the attempt's next shell
        assert stray.wait(10) is not None, "the leftover cgroup's process survived its reuse"
        j.stop()
        assert not [d for d in busy.dirs if d.exists()]
    finally:
        stray.kill()
        busy.remove()


def test_busy_clusters_leave_the_shells_their_share_of_the_cpu():
    """A cohort's clusters starting at once (or a candidate's cluster kept
    busy on purpose) saturate the CPU: a sandbox's cgroup has a quarter of the
    weight of a shell's (confinement.cgroup.SANDBOX_CPU_WEIGHT), so the shells' processes
    still get most of it. Two CPU burners per core in each group, as the
    kwok provider and the jail make them; the shell's group must get at
    least twice the sandbox's CPU time (the weights say four times)."""
    from sandbox.kwok import KwokProvider
    assert KwokProvider(root=Path("/nonexistent")).limits.cpu_weight == SANDBOX_CPU_WEIGHT < 100
    n = 2 * (os.cpu_count() or 1)
    groups = {"sandbox": Cgroup("proctor-test-cpu-sandbox"), "shell": Cgroup("proctor-test-cpu-shell")}
    groups["sandbox"].create(Limits(memory_bytes=64 * MiB, pids=64, cpu_weight=SANDBOX_CPU_WEIGHT))
    groups["shell"].create(Limits(memory_bytes=64 * MiB, pids=64))
    burners = {name: [subprocess.Popen(["sh", "-c", "while :; do :; done"],
                                       preexec_fn=cg.join) for _ in range(n)]
               for name, cg in groups.items()}

    def cpu(name: str) -> float:
        return sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in burners[name])
    try:
        deadline = time.monotonic() + 120
        while cpu("shell") < 4.0 and time.monotonic() < deadline:
            time.sleep(0.2)
        shell, sandbox = cpu("shell"), cpu("sandbox")
        assert shell >= 4.0, f"the shells' burners got {shell:.1f} s of CPU in 120 s"
        assert shell >= 2 * sandbox, \
            f"the shells got {shell:.1f} s of CPU and the busy sandbox {sandbox:.1f} s"
    finally:
        for procs in burners.values():
            for p in procs:
                p.kill()
                p.wait()
        for cg in groups.values():
            cg.remove()
