"""The files the jail sees under /etc and /opt/proctor, handed to bwrap by fd.

None of them exists on the host: each is rendered here into an anonymous
memory file (``memfd``) that bwrap copies into the jail's own tmpfs
(``--ro-bind-data FD DEST``), so no host path of the portal's instance
folder appears in the jail's ``/proc/self/mountinfo`` and no file of them is
left to clean up. Root writes nothing into the candidate's home: ``START``,
run as the candidate inside the jail, copies the kubeconfig there the first
time (``kubectl config set-context --current --namespace …`` needs a file of
their own), where a link the candidate planted can only lead to their own
files.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import yaml

from .identity import is_host_name

from . import nodeshell

HOME = "/home/candidate"
ANSWERS = "/opt/answers"
API_PORT = 6443
ETCD_PORT = 2379
PKI = "/etc/kubernetes/pki"   # where kubeadm keeps etcd's certificates, as on the exam
CONTEXT = "exam"               # the kubeconfig's one context
BASE_HOST = "exam"             # the shell's own host: where every terminal opens
HOSTS_DIR = nodeshell.HOSTS_DIR  # a task host's kubeconfig, one file per host


def api_port(cluster: int) -> int:
    """The jail's port of the API server of cluster ``cluster`` (0-based) of
    the attempt: 6443 for the first, as on the exam, then 6444, …"""
    return API_PORT + cluster


def kubeconfig(host_kubeconfig: Path, index: int = 0) -> str:
    """The admin kubeconfig of the attempt's cluster ``index`` (0-based),
    pointed at the jail's tunnel to it, as context ``exam``."""
    cfg = yaml.safe_load(host_kubeconfig.read_text())
    cluster = cfg["clusters"][0]
    cluster["cluster"]["server"] = f"https://127.0.0.1:{api_port(index)}"
    cluster["name"] = "kubernetes"
    user = cfg["users"][0]
    user["name"] = "candidate"
    cfg["clusters"], cfg["users"] = [cluster], [user]
    cfg["contexts"] = [{"name": CONTEXT, "context": {
        "cluster": "kubernetes", "user": "candidate", "namespace": "default"}}]
    cfg["current-context"] = CONTEXT
    return yaml.safe_dump(cfg)


@functools.lru_cache(maxsize=8)
def _completion(binary: str, mtime: float) -> str:
    return subprocess.run([binary, "completion", "bash"], capture_output=True, text=True,
                          timeout=30).stdout


def completion(binary: Path | None) -> str:
    """``binary completion bash`` (kubectl's, helm's), once per build of it;
    nothing for a tool the jail does not have."""
    return _completion(str(binary), binary.stat().st_mtime) if binary else ""


def start_script(etcd_host_port: int | None, hosts: bool = False, clusters: int = 1) -> str:
    """Runs first in the jail and in each tab entered into it, as the candidate:
    the near ends of the tunnels unless they answer, the kubeconfig in the home
    (not where the exam has task hosts: the base host has no cluster, as in
    the real exam; ``ssh <host>`` brings one), then the command (``exec "$@"``).

    The API server is at 127.0.0.1:6443 (those of clusters 2, 3, … of an
    exam with several at 6444, 6445, …). etcd answers at 127.0.0.1:2379
    (kubeadm's port; TLS end to end, the tunnel only relays bytes) and also
    at its port on the host, so an endpoint a task recorded from the host
    side (setup runs there) works here too.
    """
    listens = [(api_port(i), api_sock(i)) for i in range(max(1, clusters))]
    if etcd_host_port is not None:
        listens += [(ETCD_PORT, "etcd.sock")] + (
            [(etcd_host_port, "etcd.sock")] if etcd_host_port not in [p for p, _ in listens]
            + [ETCD_PORT] else [])
    starts = "".join(
        f"  setsid socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr "
        f"UNIX-CONNECT:/run/proctor/{sock} >/dev/null 2>&1 &\n" for port, sock in listens)
    up = f"(exec 3<>/dev/tcp/127.0.0.1/{API_PORT}) 2>/dev/null"
    return (
        "umask 022\n"
        # the jail's first process starts the tunnels; a tab opened later finds
        # them up, unless the candidate killed them: then it starts them again
        f"if ! {up}; then\n" + starts + "fi\n"
        f"for i in $(seq 50); do {up} && break; sleep 0.02; done\n"
        + ("" if hosts else
           'if [ ! -e "$HOME/.kube/config" ] && [ ! -L "$HOME/.kube/config" ]; then\n'
           '  mkdir -p "$HOME/.kube" 2>/dev/null &&\n'
           '    install -m 600 /etc/proctor/kubeconfig "$HOME/.kube/config" 2>/dev/null\n'
           "fi\n")
        + 'cd "$HOME" 2>/dev/null || cd /\n'
        'exec "$@"\n')


def etcd_pki(folder: Path | None) -> dict[str, tuple[str, int]]:
    """The sandbox's etcd credentials (``sandbox.kwok.pki``) where kubeadm
    keeps them, so that ``etcdctl --endpoints https://127.0.0.1:2379 --cacert
    /etc/kubernetes/pki/etcd/ca.crt --cert …/server.crt --key …/server.key``
    works as on the exam. Readable by the candidate, whose cluster it is; the
    CA's key does not exist. Nothing where the sandbox has none."""
    if folder is None:
        return {}
    return {f"{PKI}/{rel}": ((folder / rel).read_text(), 0o444)
            for rel in sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())}


def api_sock(cluster: int) -> str:
    """The tunnel socket (in /run/proctor) of cluster ``cluster``'s API server."""
    return "api.sock" if cluster == 0 else f"api-{cluster + 1}.sock"


def host_files(hosts: list[str], kubeconfigs: list[Path],
               host_clusters: dict[str, int] | None = None) -> dict[str, tuple[str, int]]:
    """A task host's kubeconfig per host, which ``ssh <host>`` installs in the
    host's home: that of the host's cluster (``host_clusters``: host -> 0-based
    index into ``kubeconfigs``; the first cluster where it is not given). A
    name that is not one grader.hosts makes is refused (it becomes a path)."""
    bad = [h for h in hosts if not is_host_name(h)]
    if bad:
        raise ValueError(f"not a host name: {bad!r}")
    rendered: dict[int, str] = {}  # each cluster's once, however many hosts it has
    out = {}
    for h in hosts:
        c = (host_clusters or {}).get(h, 0)
        if not 0 <= c < len(kubeconfigs):
            raise ValueError(f"host {h} is on cluster {c + 1}, which the jail does not reach")
        if c not in rendered:
            rendered[c] = kubeconfig(kubeconfigs[c], c)
        out[f"{HOSTS_DIR}/{h}"] = (rendered[c], 0o444)
    return out


def files(*, uid: int, grader_gid: int, host_kubeconfig: Path, kubectl: Path | None,
          helm: Path | None, nodes: list[str], unjoined: list[str], etcd_host_port: int | None,
          etcd_pki_folder: Path | None = None, hosts: list[str] = (),
          host_clusters: dict[str, int] | None = None,
          more_kubeconfigs: list[Path] = ()) -> dict[str, tuple[str, int]]:
    """Path inside the jail -> (content, mode)."""
    names = ", ".join(n + (" (not joined)" if n in unjoined else "") for n in nodes)
    where = ("This is the base host, with no cluster: each task names its host "
             "(ssh <host>; exit comes back here)" if hosts else
             f"Nodes: {names or 'see kubectl get nodes'}")
    kubeconfigs = [host_kubeconfig, *more_kubeconfigs]
    return {**etcd_pki(etcd_pki_folder), **host_files(list(hosts), kubeconfigs, host_clusters),
        "/etc/passwd": ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                        f"candidate:x:{uid}:{uid}:candidate:{HOME}:/bin/bash\n", 0o444),
        "/etc/group": (f"root:x:0:\ncandidate:x:{uid}:\ngrader:x:{grader_gid}:\n", 0o444),
        "/etc/hosts": ("127.0.0.1 localhost exam\n", 0o444),
        # No ETCDCTL_* variables: etcdctl 3.6 refuses a flag whose variable is
        # also set, and the exam's commands pass --endpoints, --cacert, --cert
        # and --key; https://127.0.0.1:2379 is the tunnel to this etcd.
        "/etc/bash.bashrc": (BASHRC.format(where=where, nodes=names or "see kubectl get nodes",
                                           answers=ANSWERS, context=CONTEXT,
                                           base_context="" if hosts else f"   Context: {CONTEXT}",
                                           base=BASE_HOST), 0o444),
        "/etc/vim/vimrc": (VIMRC, 0o444),
        "/etc/proctor/kubectl_completion": (completion(kubectl), 0o444),
        "/etc/proctor/helm_completion": (completion(helm), 0o444),
        "/etc/proctor/kubeconfig": (kubeconfig(host_kubeconfig), 0o444),
        "/etc/proctor/start": (start_script(etcd_host_port, bool(hosts), len(kubeconfigs)),
                               0o444),
        "/opt/proctor/bin/ssh": (nodeshell.CLIENT.replace("@HOME@", HOME), 0o555),
        "/opt/proctor/bin/hostname": (HOSTNAME, 0o555),
    }


def memfd(name: str, data: bytes) -> int:
    """An anonymous file holding ``data``, positioned at its start."""
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


# `hostname` on a task's host (ssh <host>) is the host's name, in a shell and
# in `ssh <host> hostname` alike; anything else is the real hostname's
HOSTNAME = ('#!/bin/sh\n'
            'if [ -n "$PROCTOR_HOST" ] && [ $# -eq 0 ]; then echo "$PROCTOR_HOST"; exit 0; fi\n'
            'exec /usr/bin/hostname "$@"\n')

# vim as the exam's candidates set it up first: two-space indents for YAML
VIMRC = ("runtime! debian.vim\nset nocompatible\nsyntax on\n"
         "set expandtab tabstop=2 shiftwidth=2 autoindent\n"
         "set backspace=indent,eol,start\n")

BASHRC = r"""# Proctor exam shell
[ -z "$PS1" ] && return
shopt -s checkwinsize histappend
HISTSIZE=5000
[ -n "$PROCTOR_HOST" ] && HOSTNAME=$PROCTOR_HOST  # a task host (ssh <host>)
PS1='\[\e[1;32m\]candidate@${{PROCTOR_HOST:-{base}}}\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
if [ -f /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
fi
. /etc/proctor/kubectl_completion
. /etc/proctor/helm_completion
alias k=kubectl
complete -o default -F __start_kubectl k
export do="--dry-run=client -o yaml"
if [ -z "$PROCTOR_BANNER_SHOWN" ]; then
  export PROCTOR_BANNER_SHOWN=1
  printf '\e[1mProctor exam shell\e[0m  kubectl (alias k), helm, vim, nano, less\n'
  printf '{where}\nAnswer files: {answers}{base_context}\n\n'
fi
if [ -n "$PROCTOR_HOST" ] && [ -z "$PROCTOR_HOST_BANNER" ]; then
  export PROCTOR_HOST_BANNER=1
  printf 'Host %s: kubectl reaches this task'"'"'s cluster (context {context}), its nodes: {nodes}\n' "$PROCTOR_HOST"
  printf 'exit returns to the base host; aliases and files of the base host are not here.\n\n'
fi
"""
