"""``ssh node01`` from the jailed terminal, without ssh or a network.

The jail has loopback only. For a sandbox with real nodes, each node gets a
Unix socket in the jail's ``/run/proctor/nodes/``; on the host, socat
listens on it and, per connection, runs this module's ``main`` on a fresh
pty with the provider's fixed command for that node (``docker exec -it
<container> …``). The candidate chooses only what runs *inside* the node
(a login shell, or ``ssh node01 <command>``), never a host command.

The first line on the socket is a JSON header from the client:
``{"rows": 40, "cols": 120, "command": ["systemctl", "status", "kubelet"]}``.

``CLIENT`` below is the program installed as ``ssh`` inside the jail. It
also takes the candidate to a task's host, where the exam gives each task
one (grader/hosts.py): that needs no host at all. ``ssh cka000024`` runs an
interactive bash in the jail as the candidate, with the host's name in its
prompt, a home of its own (``~/.hosts/<host>``: what the base host's home
holds is not there) and the kubeconfig of the host's cluster, read from
``/etc/proctor/hosts/<host>``; ``exit`` returns to the base host. Nodes are
reached from a task's host, as in the exam.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import sys
import termios

NODES_DIR = "/run/proctor/nodes"
HOSTS_DIR = "/etc/proctor/hosts"  # a task host's kubeconfig, one file per host
HOST_HOMES = ".hosts"             # a task host's home: <base home>/.hosts/<host>
ARGV_ENV = "PROCTOR_NODE_SHELL"


def _read_header(fd: int) -> dict:
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < 65536:
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    try:
        header = json.loads(buf or b"{}")
    except ValueError:
        header = {}
    return header if isinstance(header, dict) else {}


def _cooked(fd: int) -> None:
    """A login terminal's modes on socat's pty (which socat made raw). OpenSSH
    gives the node's terminal the modes of this one: raw, the node's output
    lost its carriage returns and every line stepped right."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(fd)
    iflag |= termios.ICRNL | termios.IXON
    oflag |= termios.OPOST | termios.ONLCR
    lflag |= (termios.ISIG | termios.ICANON | termios.IEXTEN | termios.ECHO | termios.ECHOE
              | termios.ECHOK | termios.ECHOCTL | termios.ECHOKE)
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, ispeed, ospeed, cc])


def main(argv: list[str]) -> None:
    """Host side: ``nodeshell.py <node>``, with the argv of the node's shell
    command as JSON in ``$PROCTOR_NODE_SHELL`` (socat's EXEC would split on
    the commas and colons an argument may hold); the node's name is there
    for whoever reads ``ps``."""
    base = json.loads(os.environ.get(ARGV_ENV) or "[]") or argv[1:]
    header = _read_header(0)
    rows, cols = int(header.get("rows") or 24), int(header.get("cols") or 80)
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    _cooked(0)
    # what the node's shell is drawn on (socat passes no TERM; without one
    # readline scrolls a long line sideways, as on a dumb terminal)
    os.environ["TERM"] = "xterm-256color"
    command = header.get("command") or []
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        command = []
    # `docker exec -it c bash -l` for a login shell, `… bash -lc "<command>"` otherwise
    shell = ["bash", "-l"] if not command else ["bash", "-lc", " ".join(command)]
    os.execvp(base[0], base + shell)


CLIENT = r'''#!/usr/bin/python3 -I
"""ssh HOST|NODE [COMMAND…]: a task's host, or a root shell on one of this
cluster's nodes."""
import json, os, select, shutil, socket, sys, termios, tty

HOSTS = "@HOSTS@"
hosts = sorted(os.listdir(HOSTS)) if os.path.isdir(HOSTS) else []
here = os.environ.get("PROCTOR_HOST", "")

# ssh's options come before the host (those in the set take a value) and are
# ignored; every word after the host is the command, "-c" included
argv, i = sys.argv[1:], 0
while i < len(argv) and argv[i].startswith("-"):
    i += 1
    if argv[i - 1] == "--":
        break
    if len(argv[i - 1]) == 2 and argv[i - 1][1] in "BbcDEeFIiJLlmOoPpQRSWw":
        i += 1
args = argv[i:]
if not args:
    sys.exit("usage: ssh HOST [COMMAND...]   (hosts: %s)" % ", ".join(hosts) if hosts and not here
             else "usage: ssh NODE [COMMAND...]   (nodes: %s)" % ", ".join(
                 sorted(n[:-5] for n in os.listdir("@NODES@") if n.endswith(".sock")))
             if os.path.isdir("@NODES@") else
             "usage: ssh NODE [COMMAND...]")
node = args[0].split("@")[-1]
if node in hosts:
    # a task's host: the candidate's own shell, with the host's name, home
    # and cluster; no privilege is involved (the files are the candidate's)
    home = os.path.join("@HOME@", "@HOMES@", node)
    config = os.path.join(home, ".kube", "config")
    try:
        os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
        if not os.path.lexists(config):
            shutil.copyfile(os.path.join(HOSTS, node), config)
            os.chmod(config, 0o600)
        os.chdir(home)
    except OSError as exc:
        sys.exit("ssh: %s: cannot prepare the host's home %s: %s" % (node, home, exc.strerror))
    env = dict(os.environ, HOME=home, PROCTOR_HOST=node, KUBECONFIG=config)
    env.pop("PROCTOR_HOST_BANNER", None)
    shell = ["bash", "-i"] if not args[1:] else ["bash", "-c", " ".join(args[1:])]
    os.execve("/bin/bash", shell, env)
if hosts and not here:
    sys.exit("ssh: Could not resolve hostname %s: this is the base host; the hosts are %s "
             "(each task names its own)%s" % (
                 node, ", ".join(hosts),
                 "; the nodes are reached from a task's host" if os.path.isdir("@NODES@") else ""))
path = os.path.join("@NODES@", node + ".sock")
if not os.path.isdir("@NODES@"):
    sys.exit("ssh: the nodes of this cluster are simulated (kwok); there is no host %r to "
             "log in to. Tasks that need real nodes run on kind, where 'ssh node01' works." % node)
real = sorted(n[:-5] for n in os.listdir("@NODES@") if n.endswith(".sock"))
if os.path.exists(os.path.join("@NODES@", node + ".simulated")):
    sys.exit("ssh: %s is simulated in this cluster (its control plane runs outside the nodes: "
             "no kubelet, static Pods or files to log in to); the real nodes are %s" % (
                 node, ", ".join(real)))
if not os.path.exists(path):
    sys.exit("ssh: Could not resolve hostname %s: this cluster's nodes are %s" % (
        node, ", ".join(sorted(real + [n[:-10] for n in os.listdir("@NODES@")
                                       if n.endswith(".simulated")]))))
size = shutil.get_terminal_size((80, 24))
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(path)
except OSError as exc:
    sys.exit("ssh: connect to host %s: %s" % (node, exc.strerror))
s.sendall((json.dumps({"rows": size.lines, "cols": size.columns,
                       "command": args[1:]}) + "\n").encode())
interactive = os.isatty(0)
saved = termios.tcgetattr(0) if interactive else None
try:
    if interactive:
        tty.setraw(0)
    fds = [0, s]
    while True:
        ready, _, _ = select.select(fds, [], [])
        if s in ready:
            data = s.recv(65536)
            if not data:
                break
            os.write(1, data)
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:
                # the node's end is a terminal: EOF is a ^D, and the session
                # ends when the node's command does (a half-close made socat
                # hang up 0.5 s later, before a slow node had answered)
                fds.remove(0)
                s.sendall(b"\x04")
            else:
                s.sendall(data)
finally:
    if saved:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
'''.replace("@NODES@", NODES_DIR).replace("@HOSTS@", HOSTS_DIR).replace(
    "@HOMES@", HOST_HOMES)  # @HOME@, the base host's home, is jailfiles.files' to fill in


if __name__ == "__main__":
    main(sys.argv[1:])
