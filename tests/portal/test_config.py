"""Configuration sources, the generated secret key, migrations on start."""

import os
import stat

from sqlalchemy import inspect, text

from tests.portal.fakes import FakeServices
from web import create_app
from web.db import MIGRATIONS, get_db


def make(tmp_path, **cfg):
    return create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SERVICES": FakeServices,
                       "FAKE_ROOT": str(tmp_path), "QUEUE_IMMEDIATE": True,
                       "EXAMS_DIR": str(tmp_path), **cfg})


def test_secret_key_generated_once_and_private(tmp_path):
    a = make(tmp_path)
    path = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(a.config["SECRET_KEY"]) == 64
    b = make(tmp_path)
    assert b.config["SECRET_KEY"] == a.config["SECRET_KEY"]


def test_instance_file_then_environment(tmp_path, monkeypatch):
    (tmp_path / "inst").mkdir()
    (tmp_path / "inst" / "proctor.cfg").write_text("POOL_SIZE = 3\nSIGNUP = True\nPROVIDER = 'kind'\n")
    monkeypatch.setenv("PROCTOR_POOL_SIZE", "5")
    monkeypatch.setenv("PROCTOR_SECRET_KEY", "from-env")
    app = make(tmp_path)
    assert app.config["POOL_SIZE"] == 5          # environment beats the file
    assert app.config["SIGNUP"] is True           # the file beats the default
    assert app.config["PROVIDER"] == "kind"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SANDBOX_PREFIX"].startswith("p") and app.config["SANDBOX_PREFIX"].endswith("-")


def test_queue_storage_follows_the_url(tmp_path):
    from huey import MemoryHuey, PriorityRedisHuey, SqliteHuey
    assert isinstance(make(tmp_path).extensions["proctor.queue"].huey, MemoryHuey)
    app = make(tmp_path, QUEUE_IMMEDIATE=False)
    assert isinstance(app.extensions["proctor.queue"].huey, SqliteHuey)
    assert os.path.exists(tmp_path / "inst" / "queue.db")
    app = make(tmp_path, QUEUE_IMMEDIATE=False, QUEUE_URL="redis://127.0.0.1:1/0")
    # the storage that keeps priorities (web.queue.PRIORITY); plain RedisHuey refuses them
    assert isinstance(app.extensions["proctor.queue"].huey, PriorityRedisHuey)


def test_a_free_worker_takes_the_job_a_candidate_waits_on_first(tmp_path):
    """A cohort's provisions queued before a practice check and a submit: the
    check comes out first, then the grading, then the provisions in the order
    they came, housekeeping last (web.queue.PRIORITY)."""
    app = make(tmp_path, QUEUE_IMMEDIATE=False)
    queue = app.extensions["proctor.queue"]
    queue.maintain()
    for aid in (1, 2, 3):
        queue.provision(aid)
    queue.grade(4)
    queue.check_task(5, 2)
    order = []
    while (job := queue.huey.dequeue()) is not None:
        order.append((job.name, job.args))
    assert order == [("check_task", (5, 2)), ("grade", (4,)), ("provision", (1,)),
                     ("provision", (2,)), ("provision", (3,)), ("maintain", ())]


def test_migrations_run_on_start_to_head(app):
    heads = sorted(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))
    with app.app_context():
        engine = get_db().engine
        with engine.connect() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == heads[-1]
        tables = set(inspect(engine).get_table_names())
    assert {"users", "api_tokens", "attempts", "attempt_tasks", "pool_sandboxes", "events"} <= tables


def test_sqlite_runs_in_wal_mode(app):
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        return
    with app.app_context(), get_db().engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_the_jails_limits_come_from_the_environment(tmp_path, monkeypatch):
    """They were read only from proctor.cfg: PROCTOR_TERMINAL_MAX_PIDS did nothing."""
    monkeypatch.setenv("PROCTOR_TERMINAL_MAX_PIDS", "64")
    monkeypatch.setenv("PROCTOR_TERMINAL_MEMORY_MB", "512")
    app = make(tmp_path)
    assert app.config["TERMINAL_MAX_PIDS"] == 64 and app.config["TERMINAL_MEMORY_MB"] == 512
    assert app.config["TERMINAL_DISK_MB"] == 512 and app.config["TERMINAL_TMP_MB"] == 256
