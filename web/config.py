"""Configuration: defaults < instance file < ``PROCTOR_*`` environment < ``create_app(config)``.

The instance file is ``<instance>/proctor.cfg``, Python syntax, upper-case
names without the prefix (``DATABASE_URL = "postgresql+psycopg://…"``). Every
name can also come from the environment as ``PROCTOR_<NAME>``; values there
are strings, converted to the default's type.

The secret key is generated on first run and kept in ``<instance>/secret_key``
(mode 0600, in an instance folder of mode 0700), so sessions survive restarts
without an operator choosing one.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DEFAULTS: dict = {
    "DATABASE_URL": "",            # default: sqlite:///<instance>/proctor.db
    "SIGNUP": False,               # may visitors create candidate accounts?
    "PROVIDER": "kwok",            # sandbox provider for attempts
    # Real nodes (kind) for papers with node-level tasks. Off by default: a
    # candidate is root on privileged node containers (docs/kind.md#security).
    "KIND_SANDBOXES": False,
    # Real nodes as VMs (QEMU; docs/vm.md): root on a node is root in a guest,
    # not on the host. Preferred over kind for node papers when both are on.
    "VM_SANDBOXES": False,
    # Real containers (gvisor: kwok's control plane, the node in a gVisor
    # sandbox; docs/containers.md) for papers whose tasks need them. On by
    # default: a stranger may own one. Used once its box image is built
    # (scripts/bootstrap builds it).
    "CONTAINER_SANDBOXES": True,
    "POOL_SIZE": 1,                # warm sandboxes kept ready per pooled exam (0: none)
    "POOL_EXAMS": "",              # exam ids to keep warm, comma-separated; "" = every exam
    "QUEUE_URL": "",               # redis://… for RedisHuey; default SqliteHuey in the instance
    "QUEUE_IMMEDIATE": False,      # run jobs inline (tests)
    "WORKERS": 4,                  # worker threads in `proctor worker`
    "TASKS_DIR": str(REPO / "tasks"),
    "EXAMS_DIR": str(REPO / "exams"),
    "SANDBOX_PREFIX": "",          # default: derived from the instance path
    "SERVICES": "web.services:RealServices",
    "LEASE_SECONDS": 60,           # a job's claim on an attempt, renewed while it works
    "TICK_SECONDS": 1.0,           # how often the worker looks for deadlines and lost jobs
    "PRACTICE_MINUTES": 240,       # practice is untimed, but its sandbox is not kept forever
    # After results, a candidate may keep a practice attempt's cluster and
    # terminal this long to compare with the solutions (web/terminal/review.py).
    "PRACTICE_REVIEW_MINUTES": 30.0,
    "SETUP_PARALLEL": 4,           # task setups run at once on one sandbox
    "LOGIN_LIMIT": "10 per minute",
    # Sessions (web.sessions). Idle: every request counts, and an open exam or
    # waiting page polls the attempt's status every 20-30 s, so typing only in
    # the terminal does not end a session. Absolute: counted from the login,
    # but an attempt started before it ends keeps the session until the
    # attempt is over (practice lasts PRACTICE_MINUTES, an exam its duration).
    # 0 turns a timeout off. Logout and a password change end every session.
    "SESSION_IDLE_MINUTES": 60.0,
    "SESSION_MAX_HOURS": 12.0,
    # Served over HTTPS (behind a TLS proxy)? Then the session cookie is sent
    # only over HTTPS (Secure). Also on when PREFERRED_URL_SCHEME = "https".
    "SECURE_COOKIES": False,
    # Largest websocket message the terminal accepts: a key press or resize
    # is a few bytes of JSON, a big paste some KiB. A bigger message closes
    # the connection (1009) after reading at most this much of it.
    "TERMINAL_MAX_MESSAGE_BYTES": 64 * 1024,
    # Each attempt's jail (docs/operations.md): memory (its /tmp included),
    # processes, its disk image, its /tmp; and how long a shell nobody uses lives.
    "TERMINAL_MEMORY_MB": 768,
    "TERMINAL_MAX_PIDS": 256,
    "TERMINAL_DISK_MB": 512,
    "TERMINAL_TMP_MB": 256,
    "TERMINAL_IDLE_TIMEOUT": 1800.0,
    "RATELIMIT_STORAGE_URI": "memory://",
    "HOST": "127.0.0.1",
    "PORT": 8000,
}


def _convert(value: str, default):
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def load(app, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from every source, in order of precedence."""
    cfg = app.config
    for key, value in DEFAULTS.items():
        cfg.setdefault(key, value)
    # Flask's own defaults are weaker than ours; the instance file may still override.
    cfg.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
               REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
               WTF_CSRF_TIME_LIMIT=None,  # an exam lasts longer than the default hour
               MAX_CONTENT_LENGTH=1 << 20)
    cfg.from_pyfile(os.path.join(app.instance_path, "proctor.cfg"), silent=True)
    for key, default in DEFAULTS.items():
        env = os.environ.get(f"PROCTOR_{key}")
        if env is not None:
            cfg[key] = _convert(env, default)
    if os.environ.get("PROCTOR_SECRET_KEY"):
        cfg["SECRET_KEY"] = os.environ["PROCTOR_SECRET_KEY"]
    cfg.update(overrides or {})

    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "proctor.db")
    if not cfg.get("SANDBOX_PREFIX"):
        # Unique per instance: two portals (or a test run beside `make run`)
        # sharing one machine never reap each other's sandboxes.
        digest = hashlib.sha1(os.path.realpath(app.instance_path).encode()).hexdigest()
        cfg["SANDBOX_PREFIX"] = f"p{digest[:6]}-"
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = secret_key(Path(app.instance_path))
    if cfg["SECURE_COOKIES"] or cfg.get("PREFERRED_URL_SCHEME") == "https":
        cfg.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    # flask-sock passes these to simple-websocket's Server for every socket.
    sock_options = dict(cfg.get("SOCK_SERVER_OPTIONS") or {})
    sock_options.setdefault("max_message_size", int(cfg["TERMINAL_MAX_MESSAGE_BYTES"]))
    cfg["SOCK_SERVER_OPTIONS"] = sock_options


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700: the instance folder holds
    the secret key, the database and the jails; nobody else may list or enter it."""
    path.mkdir(parents=True, exist_ok=True)
    tighten(path, 0o700)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; tighten it if it does.

    For SQLite files: sqlite creates a missing database with the process's
    umask (0644 here) and gives its ``-wal`` and ``-shm`` files the database
    file's mode, so creating the file first is what keeps all three private."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        tighten(path, 0o600)


def tighten(path: Path, mode: int) -> None:
    """chmod to ``mode`` if ``path`` allows more; an operator's stricter mode
    stays. A missing path, or one this process does not own, is left alone."""
    try:
        st = path.stat()
        if st.st_mode & 0o777 & ~mode and st.st_uid == os.geteuid():
            path.chmod(st.st_mode & 0o777 & mode)
    except FileNotFoundError:
        pass


def secret_key(instance: Path) -> str:
    """Read ``<instance>/secret_key``, creating it (0600) on first run."""
    path = instance / "secret_key"
    try:
        key = path.read_text().strip()
        tighten(path, 0o600)
        return key
    except FileNotFoundError:
        pass
    private_dir(instance)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (portal or worker) won the race
        return path.read_text().strip()
    try:
        os.write(fd, key.encode())
    finally:
        os.close(fd)
    return key
