"""The database: one engine per app, sessions per request or per job.

SQLite (the default) runs in WAL mode with a busy timeout, so the portal and
the worker can write the same file; PostgreSQL works by URL. The schema is
owned by Alembic (``web/migrations``) and upgraded on start. A SQLite file is
created 0600 (``private_sqlite_file``): it holds the password hashes.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .config import private_file, tighten

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Database:
    def __init__(self, url: str):
        self.url = normalise_url(url)
        kwargs: dict = {"future": True}
        path = sqlite_path(self.url)
        if path is not None:
            private_sqlite_file(path)
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self):
        """A session for a job: commits on success, rolls back on error."""
        s: Session = self.Session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        from alembic import command
        from alembic.config import Config

        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        # The portal and the worker may start at the same moment: PostgreSQL
        # serialises them with an advisory lock; SQLite's loser retries.
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(74371)"))
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.5 + attempt)

    def dispose(self) -> None:
        self.engine.dispose()


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver that is installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///instance/proctor.db``), else None:
    PostgreSQL, in-memory and ``file:`` URI databases have no file to protect here."""
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file ``path`` 0600 before sqlite does (it would use the
    umask: 0644); its ``-wal``, ``-shm`` and ``-journal`` files take the main
    file's mode when sqlite makes them. Ones an older version left readable
    (after a crash they outlive the connection) are tightened too."""
    private_file(path)
    for companion in ("-wal", "-shm", "-journal"):
        tighten(Path(f"{path}{companion}"), 0o600)


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def get_db() -> Database:
    return current_app.extensions["proctor.db"]


def db_session() -> Session:
    """The request's session, closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_db().Session()
    return g.db_session


def close_session(_exc=None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
