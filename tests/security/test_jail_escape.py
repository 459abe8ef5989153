"""Attacks on the host from the candidate's exam shell, performed for real.

A real bubblewrap jail (as root, like the portal) against a real kwok
sandbox. Each test does what a candidate who wants the machine would do and
asserts that it fails; the assertion message names the attack.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from confinement.jail import Jail
from web.terminal import jail_spec
from web.terminal.shells import MAX_BEHIND, Shell

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]

ATTEMPT = 7


@pytest.fixture(scope="module")
def sandbox(kwok):
    sb = kwok.create("sec-jail", nodes=2)
    yield sb
    kwok.destroy("sec-jail")


def wipe(path: Path) -> None:
    """Empty a candidate's folder as root, following no link."""
    for entry in os.listdir(path):
        p = path / entry
        if stat.S_ISDIR(os.lstat(p).st_mode):
            shutil.rmtree(p)
        else:
            p.unlink()


@pytest.fixture
def jail(sandbox, tmp_path):
    """``jail(**spec)``: a prepared jail of attempt 7 on the sandbox, whose home
    and answers start empty (each test plays a fresh candidate)."""
    made: list[Jail] = []

    def make(wipe_home: bool = True, **spec) -> Jail:
        j = Jail(jail_spec(sandbox, ATTEMPT, **spec), tmp_path / "jails")
        j.prepare()
        if wipe_home:
            wipe(j.home)
            wipe(j.answers)
        made.append(j)
        return j

    yield make
    for j in made:
        j.destroy()


def run(jail: Jail, script: str, timeout: float = 60) -> tuple[int, str]:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out.decode(errors="replace")


def run_tty(jail: Jail, script: str, timeout: float = 60) -> str:
    """``script`` with the jail's own pty as its controlling terminal (as in the portal)."""
    master, slave = pty.openpty()
    p = jail.spawn(["bash", "-c", script], stdin=slave, stdout=slave, stderr=slave, tty=slave)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], deadline - time.monotonic())[0]:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the pty's other end is gone
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
        p.wait(10)
    return out.decode(errors="replace")


def victim_dir(tmp_path: Path) -> Path:
    """A host folder root owns, with one file: what the attacks point links at."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=0o755)
    (victim / "keep").write_text("host file\n")
    return victim


def assert_untouched(victim: Path, attack: str) -> None:
    st = os.lstat(victim)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o755), \
        f"{attack}: root changed the owner or mode of the host folder {victim}"
    assert sorted(os.listdir(victim)) == ["keep"], \
        f"{attack}: root wrote into the host folder {victim}: {os.listdir(victim)}"
    keep = os.lstat(victim / "keep")
    assert keep.st_uid == 0 and (victim / "keep").read_text() == "host file\n", \
        f"{attack}: root changed the host file {victim}/keep"


# -- root never follows the candidate's links --------------------------------------------

def test_a_kube_folder_linked_to_a_host_folder_is_not_followed_on_reconnect(jail, tmp_path):
    victim = victim_dir(tmp_path)
    first = jail()
    rc, out = run(first, f"rm -rf ~/.kube && ln -s {victim} ~/.kube && ls -ld ~/.kube")
    assert rc == 0, out
    first.stop()
    again = jail(wipe_home=False)  # the reconnect: a fresh shell, prepare() again
    run(again, "kubectl get ns >/dev/null 2>&1; true")
    assert_untouched(victim, "~/.kube -> host folder, then reconnect")


def test_a_kubeconfig_linked_to_a_host_file_is_not_followed_on_reconnect(jail, tmp_path):
    victim = victim_dir(tmp_path)
    first = jail()
    rc, out = run(first, f"mkdir -p ~/.kube && rm -f ~/.kube/config && "
                         f"ln -s {victim}/config ~/.kube/config && ln -s {victim}/keep ~/.kube/k")
    assert rc == 0, out
    first.stop()
    again = jail(wipe_home=False)
    run(again, "kubectl get ns >/dev/null 2>&1; true")
    assert_untouched(victim, "~/.kube/config -> host file, then reconnect")


def test_a_link_planted_while_no_shell_runs_is_not_followed_by_prepare(jail, tmp_path, sandbox):
    victim = victim_dir(tmp_path)
    j = jail()
    j.stop()
    uid = j.spec.uid
    for name, target in ((".kube", victim), (".bashrc", victim / "keep"),
                         (".profile", victim / "new")):
        p = j.home / name
        if os.path.lexists(p):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        os.symlink(target, p)
        os.lchown(p, uid, uid)
    again = jail(wipe_home=False)
    again.prepare()  # and once more: prepare() is idempotent
    run(again, "kubectl get ns >/dev/null 2>&1; true")
    assert_untouched(victim, "links planted in the home between two shells, then prepare()")


def test_home_and_answers_themselves_cannot_be_swapped_for_links(jail):
    j = jail()
    rc, out = run(j, "mv ~ /home/x 2>&1; ln -sfn /etc /opt/answers 2>&1; "
                     "rmdir /opt/answers 2>&1; true")
    for d, mode in ((j.home, 0o700), (j.answers, 0o2770)):
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == mode, \
            f"swapping {d.name} for a link: it is now {stat.filemode(st.st_mode)}"
    assert os.path.ismount(j.home) and os.path.ismount(j.answers), out


# -- /tmp --------------------------------------------------------------------------------

def test_tmp_is_a_private_writable_tmpfs_and_kubectl_edit_saves(jail):
    j = jail(tmp_mb=16)
    script = (
        "stat -c %a /tmp; df -k --output=size /tmp | tail -1\n"
        "kubectl create deployment edited --image=nginx --replicas=1 >/dev/null\n"
        "printf '#!/bin/sh\\nsed -i \"s/replicas: 1$/replicas: 3/\" \"$1\"\\n' > ~/ed.sh\n"
        "chmod +x ~/ed.sh\n"
        "EDITOR=~/ed.sh kubectl edit deployment edited 2>&1\n"
        "kubectl get deployment edited -o jsonpath='{.spec.replicas}'; echo\n"
        "head -c 32M /dev/zero > /tmp/big 2>&1 || echo TMP-FULL\n"
        "kubectl delete deployment edited >/dev/null\n")
    rc, out = run(j, script)
    lines = out.splitlines()
    assert lines[0] == "1777", f"/tmp is not 1777: {out}"
    assert int(lines[1]) == 16 * 1024, f"/tmp has no size limit: {out}"
    assert "permission denied" not in out and "edited" in out, f"kubectl edit failed: {out}"
    assert "3" in lines, f"kubectl edit did not save the change: {out}"
    assert "TMP-FULL" in out, f"filling /tmp beyond its size worked: {out}"


# -- no host path inside ------------------------------------------------------------------

def test_no_host_path_in_cmdline_environment_or_mount_table(jail, sandbox, kwok_root, tmp_path):
    j = jail()
    rc, out = run(j, "for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ /proc/self/cgroup "
                     "/proc/self/maps /proc/self/mounts /proc/self/mountstats /proc/self/status; "
                     "do echo \"== $f\"; tr '\\0' ' ' < $f 2>/dev/null; echo; done; "
                     "echo '== env'; env; hostname; echo '== mountinfo'; cat /proc/self/mountinfo")
    assert "== /proc/1/cmdline" in out and "bwrap" in out, out
    secrets = [str(tmp_path), str(kwok_root), os.path.realpath(kwok_root), sandbox.name,
               "/root", "/work", str(Path(__file__).resolve().parents[2])]
    head, _, mountinfo = out.rpartition("== mountinfo\n")  # the script's own text has it too
    for s in secrets:
        assert s not in head, f"/proc/*/cmdline or the environment shows the host path {s}"
    for line in mountinfo.splitlines():
        if line.split()[4:5] in (["/opt/proctor/bin/kubectl"], ["/opt/proctor/bin/etcdctl"],
                                 ["/opt/proctor/bin/helm"]):
            continue  # the toolchain's paths: documented in docs/security.md
        for s in secrets:
            assert s not in line, f"/proc/self/mountinfo shows the host path {s}: {line}"


# -- no new namespaces, a seccomp filter ---------------------------------------------------

SYSCALLS = r"""
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    print(name, "OK" if r >= 0 else errno.errorcode.get(ctypes.get_errno()))
child = os.fork()
if child == 0:
    os.execv("/bin/sleep", ["sleep", "30"])
r = libc.unshare(0x10000000)
print("unshare(CLONE_NEWUSER)", "OK" if r == 0 else errno.errorcode.get(ctypes.get_errno()))
call("clone(CLONE_NEWUSER)", 56, 0x10000000 | 17, 0, 0, 0, 0)
call("clone(CLONE_NEWNS)", 56, 0x00020000 | 17, 0, 0, 0, 0)
call("clone3", 435, 0, 0)
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
call("setns", 308, fd, 0)
call("mount", 165, 0, 0, 0, 0, 0)
call("keyctl", 250, 0, -3, 0, 0, 0)
call("add_key", 248, 0, 0, 0, 0, 0)
call("bpf", 321, 0, 0, 0)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 1)
call("io_uring_setup", 425, 1, 0)
call("ptrace(ATTACH)", 101, 16, child, 0, 0)
call("ptrace(TRACEME)", 101, 0, 0, 0, 0)
call("process_vm_readv", 310, child, 0, 0, 0, 0, 0)
call("open_tree", 428, -100, 0, 0)
call("fsopen", 430, 0, 0)
call("init_module", 175, 0, 0, 0)
call("kexec_load", 246, 0, 0, 0, 0)
call("syslog", 103, 3, 0, 0)
os.kill(child, 9)
"""


def test_no_new_namespaces_and_the_seccomp_filter_denies_what_a_shell_never_needs(jail):
    j = jail()
    rc, out = run(j, "for a in -U -r -m -n '-p -f' -i -u -C; do unshare $a true 2>/dev/null "
                     "&& echo \"unshare $a OK\" || echo \"unshare $a refused\"; done; "
                     "mount -t tmpfs none /tmp 2>/dev/null && echo 'mount(8) OK'; "
                     "strace -o /dev/null true 2>/dev/null && echo 'strace OK'; "
                     f"python3 -c '{SYSCALLS}'")
    results = dict(line.rsplit(" ", 1) for line in out.splitlines() if " " in line)
    assert not [k for k, v in results.items() if v == "OK"], \
        f"allowed from the jail: {[k for k, v in results.items() if v == 'OK']}\n{out}"
    for attack in ("unshare(CLONE_NEWUSER)", "clone(CLONE_NEWUSER)", "clone(CLONE_NEWNS)",
                   "setns", "mount", "keyctl", "add_key", "bpf", "perf_event_open",
                   "userfaultfd", "io_uring_setup", "ptrace(ATTACH)", "ptrace(TRACEME)",
                   "process_vm_readv", "open_tree", "fsopen", "init_module", "kexec_load",
                   "syslog"):
        assert results.get(attack) == "EPERM", f"{attack} from the jail: {results.get(attack)}\n{out}"
    assert results.get("clone3") == "ENOSYS", f"clone3 (flags unreadable by seccomp): {out}"
    assert "unshare -U refused" in out and "unshare -n refused" in out, out


def test_tiocsti_cannot_push_keystrokes_into_a_terminal(jail):
    out = run_tty(jail(), "python3 -c 'import fcntl, termios\n"
                          "try:\n fcntl.ioctl(0, termios.TIOCSTI, b\"x\"); print(\"TIOCSTI OK\")\n"
                          "except OSError as e: print(\"TIOCSTI\", e.strerror)'")
    assert "TIOCSTI Operation not permitted" in out, f"TIOCSTI on the jail's pty: {out}"


# -- the rest of the host ------------------------------------------------------------------

def test_signals_proc_sys_and_devices_do_not_reach_the_host(jail):
    j = jail()
    # a host process with the candidate's own uid (as a tunnel relay's child is)
    host = subprocess.Popen(["setpriv", f"--reuid={j.spec.uid}", f"--regid={j.spec.uid}",
                             "--clear-groups", "sleep", "300"])
    try:
        rc, out = run(j, "kill -9 -1 2>/dev/null\n"
                         # rewrite each sysctl the mode bits allow with its own value
                         "for f in $(find /proc/sys -writable 2>/dev/null); do "
                         "v=$(cat $f 2>/dev/null) && echo \"$v\" 2>/dev/null > $f && "
                         "echo WRITABLE $f; done\n"
                         "for f in /run/proctor/x /etc/x /x /usr/x /dev/x /dev/shm/x; do "
                         "touch $f 2>/dev/null && echo WROTE $f; done\n"
                         "echo SYS $(ls /sys 2>&1 | head -1)\n"
                         "echo DEV $(ls /dev)\n"
                         "echo KMSG $(head -c1 /proc/kmsg 2>&1 | head -1)\n"
                         "echo KALLSYMS $(head -1 /proc/kallsyms | cut -c1-16)\n")
        assert host.poll() is None, "kill -9 -1 from the jail killed a host process of its uid"
    finally:
        host.kill()
        host.wait()
    lines = {line.split(" ", 1)[0]: line.partition(" ")[2] for line in out.splitlines()}
    assert "WRITABLE" not in out, f"/proc/sys writable from the jail: {out}"
    assert "WROTE" not in out, f"wrote outside home, answers and /tmp: {out}"
    assert "No such file or directory" in lines["SYS"], f"/sys visible in the jail: {out}"
    devices = set(lines["DEV"].split())
    assert devices <= {"core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                       "stdin", "stdout", "tty", "urandom", "zero"}, f"host devices: {devices}"
    assert "not permitted" in lines["KMSG"] or "denied" in lines["KMSG"], \
        f"/proc/kmsg readable: {out}"
    assert lines["KALLSYMS"] == "0000000000000000", f"kernel addresses in /proc/kallsyms: {out}"


def test_the_tunnel_relays_count_against_the_jails_own_limits(jail):
    """Each connection to a tunnel socket forks a relay on the host: a candidate
    who opens them in a loop must spend their own cgroup, not the host's."""
    import psutil
    j = jail()
    p = j.spawn(["python3", "-c",
                 "import socket, sys, time\n"
                 "held = []\n"
                 "for i in range(200):\n"
                 "    s = socket.socket(socket.AF_UNIX); s.settimeout(0.2)\n"
                 "    try: s.connect('/run/proctor/api.sock'); held.append(s)\n"
                 "    except OSError: pass\n"
                 "print('HELD', len(held), flush=True); time.sleep(60)"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = p.stdout.readline().decode()
        assert line.startswith("HELD"), line
        relays = [r.pid for r in j._relays]
        deadline = time.monotonic() + 10
        while True:  # a relay forked this instant is root until it drops to the candidate
            children, uids = [], set()
            for c in (c for r in relays for c in psutil.Process(r).children()):
                try:
                    uids.add(c.uids().real)
                    children.append(c)
                except psutil.NoSuchProcess:
                    pass
            if uids == {j.spec.uid} or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        inside = set(j.processes())
    finally:
        p.kill()
        p.wait()
    assert 0 < len(children) <= 32, f"{len(children)} host relay processes for one candidate"
    assert set(relays) <= inside and {c.pid for c in children} <= inside, \
        "the host ends of the tunnels are outside the jail's cgroup"
    assert uids == {j.spec.uid}, f"tunnel relays run as {uids}, not as the candidate"


def test_an_output_flood_to_a_connection_that_stops_reading_stays_bounded(jail):
    """`yes` in the shell and a client that stops reading its websocket: the
    portal must not queue the output without bound."""
    shell = Shell(jail(), deadline=None, idle_timeout=600)
    try:
        _, stalled = shell.attach()           # never read again
        _, live = shell.attach()              # a browser that keeps up
        # eight times what a connection may fall behind (MAX_BEHIND, 2 MiB)
        shell.write(b"head -c 16M /dev/zero | tr '\\0' x; echo; echo FLOOD-$((1+1))\r")
        seen, deadline = b"", time.monotonic() + 120
        while b"FLOOD-2" not in seen[-4096:] and time.monotonic() < deadline:
            data = live.get(timeout=max(0.01, deadline - time.monotonic()))
            assert data is not None, "the shell ended during the flood"
            seen = seen[-8192:] + data
        assert b"FLOOD-2" in seen, "the flood did not finish"
        assert stalled.lagged and stalled.pending <= MAX_BEHIND, \
            f"a stalled connection holds {stalled.pending >> 20} MB of output in the portal"
        assert shell.attached == 1 and not live.lagged
    finally:
        shell.stop()
