"""Who acts for an attempt on the host: the uids, gids and cgroup names of the
candidate's jail and of the grader.

Nothing that touches a candidate's files or cluster runs as root. The
candidate's shell runs as a uid of its own, and so does everything the grader
runs for a sandbox (setup, solution, checks). Two portals may share a
machine, so a portal's candidate uids and cgroup names are derived from its
sandbox prefix: attempt 1 of one portal is never attempt 1 of the other.

    >>> candidate_uid("p1a2b3c-", 42) != candidate_uid("p9f8e7d-", 42)
    True
    >>> cgroup_name("p1a2b3c-", 42)
    'proctor-p1a2b3c-a42'
    >>> GRADER_BASE <= grader_uid("p1a2b3c-a42") < GRADER_BASE + GRADERS
    True

The ranges are far above any uid a distribution hands out (and below
4294967294, the largest valid one), and they do not overlap.
"""

from __future__ import annotations

import hashlib
import re

CANDIDATE_BASE = 1_000_000_000
BLOCK = 100_000            # candidate uids of one portal: base + attempt % BLOCK
BLOCKS = 20_000            # portals that can share a machine without a likely clash
GRADER_BASE = 3_100_000_000
GRADERS = 1_000_000_000    # one grader uid (= gid) per sandbox name
_PREFIX_RE = re.compile(r"^[a-z0-9-]{0,40}$")


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def _check_prefix(prefix: str) -> str:
    if not _PREFIX_RE.match(prefix):
        raise ValueError(f"sandbox prefix {prefix!r} is not 0-40 characters of a-z, 0-9 and '-'")
    return prefix


def candidate_uid(prefix: str, attempt: int) -> int:
    """The uid (and gid) of the jail of ``attempt`` on the portal with ``prefix``."""
    block = _digest("candidate:" + _check_prefix(prefix)) % BLOCKS
    return CANDIDATE_BASE + block * BLOCK + int(attempt) % BLOCK


def grader_uid(sandbox_name: str) -> int:
    """The uid (and gid) that setup, solution and checks of ``sandbox_name`` run as.

    The jail gives this gid the candidate's answers folder, so the checks can
    read what the candidate wrote there and nothing else of theirs."""
    return GRADER_BASE + _digest("grader:" + sandbox_name) % GRADERS


def cgroup_name(prefix: str, attempt: int) -> str:
    """The cgroup of the jail of ``attempt`` (one per controller on cgroup v1)."""
    return f"proctor-{_check_prefix(prefix)}a{int(attempt)}"


def jail_cgroups(prefix: str) -> re.Pattern:
    """What ``cgroup_name`` makes for the portal with ``prefix``, any attempt."""
    return re.compile(rf"^proctor-{re.escape(_check_prefix(prefix))}a\d+$")


HOST_NAME = re.compile(r"^[a-z]{1,5}[0-9]{6}$")


def is_host_name(name: str) -> bool:
    """Whether ``name`` is a task host's name, as ``grader.hosts`` makes them
    (the track and six digits): the jail names files by it."""
    return bool(HOST_NAME.match(name))
