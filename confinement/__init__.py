"""Everything that keeps one party of the machine to itself, in one place,
below the portal (``web``), the grader and the sandboxes, and importing none
of them (docs/security.md tells why each piece is there):

* a sandbox's components (``sandbox.kwok``, ``sandbox.gvisor``): a cgroup
  and rlimits (``cgroup``), their own TCP ports only (``landlock``), and the
  API server's only way out (``egress``);
* task code, the ``setup``, ``solution`` and checks the grader runs against a
  candidate's cluster (``grader.room``, ``grader.isolate``): a mount
  namespace of its own, a grader uid, rlimits (``confine``) and a cgroup;
* the candidate's shell (``web.terminal``, through ``web.terminal.backend``):
  a bubblewrap jail (``jail``) with a seccomp filter (``seccomp``), its disk
  (``disk``, ``homefiles``), its files (``jailfiles``), the tunnels to its
  own sandbox only (``relays``, ``nodeshell``) and the way tabs enter it
  (``enter``);
* who each of them is on the host: uids, gids, cgroup and host names
  (``identity``).
"""
