"""The portal's tables. Timestamps are UNIX seconds (floats): the deadline
logic compares them with ``time.time()`` on whichever machine runs the job,
with no time-zone conversions in between.

Attempt states, and who moves them::

    provisioning --(worker: sandbox ready)--> setting_up --(setup done)--> running
    running --(candidate submits | worker at the deadline)--> submitted
    submitted --(worker claims with a lease)--> grading --(results stored)--> graded
    provisioning/setting_up --(failure)--> error --(Retry)--> provisioning
    error --(candidate abandons)--> abandoned

Every transition is one ``UPDATE … WHERE state = <expected>`` so two workers,
or a worker restarted mid-job, can never both perform the same step.
"""

from __future__ import annotations

import json
import time

from flask_login import UserMixin
from sqlalchemy import (BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from grader.hosts import cluster_names
from grader.results import TaskResult
from sandbox import Sandbox

ROLES = ("candidate", "instructor", "admin")
ACTIVE_STATES = ("provisioning", "setting_up", "running", "submitted", "grading")
FINAL_STATES = ("graded", "abandoned")
# A candidate has at most one attempt in these states (a unique index says so).
BLOCKING_STATES = ACTIVE_STATES + ("error",)


class Base(DeclarativeBase):
    pass


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="candidate")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    # Raised by logout and a password change: every session made before is void.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    attempts: Mapped[list["Attempt"]] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        # werkzeug's current default method (scrypt), salted
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)

    @property
    def is_staff(self) -> bool:
        return self.role in ("instructor", "admin")


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    user: Mapped[User] = relationship()


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        Index("uq_attempts_one_active_per_user", "user_id", unique=True,
              sqlite_where=text(f"state IN {BLOCKING_STATES!r}"),
              postgresql_where=text(f"state IN {BLOCKING_STATES!r}")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    exam_id: Mapped[str] = mapped_column(String(64))
    exam_title: Mapped[str] = mapped_column(String(200))
    track: Mapped[str] = mapped_column(String(16), default="")
    mode: Mapped[str] = mapped_column(String(16))                 # exam | practice
    state: Mapped[str] = mapped_column(String(16), index=True, default="provisioning")
    seed: Mapped[int] = mapped_column(BigInteger)
    nodes: Mapped[int] = mapped_column(Integer, default=1)
    duration_s: Mapped[int] = mapped_column(Integer)              # time allowed once running
    pass_mark: Mapped[float] = mapped_column(Float)

    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    ready_at: Mapped[float | None] = mapped_column(Float, nullable=True)      # running since
    deadline_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    graded_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=False)

    sandbox_name: Mapped[str] = mapped_column(String(64), default="")
    sandbox_json: Mapped[str] = mapped_column(Text, default="")
    sandbox_state: Mapped[str] = mapped_column(String(16), default="none")  # none|ready|destroyed
    # An exam with `clusters: N`: the tasks spread over N clusters (grader/hosts.py).
    # Cluster 1 is ``sandbox`` above; clusters 2..N are kept here, in order, as
    # ``Sandbox.to_dict`` each, named ``<sandbox_name>-c<i>`` (``cluster_names``).
    clusters: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    more_clusters_json: Mapped[str] = mapped_column(Text, default="", server_default="")
    from_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[str] = mapped_column(String(200), default="")

    # A worker's claim on this attempt while it provisions or grades.
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    enqueued_at: Mapped[float] = mapped_column(Float, default=0.0)
    grade_runs: Mapped[int] = mapped_column(Integer, default=0)

    score: Mapped[float | None] = mapped_column(Float, nullable=True)      # percent, weighted
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Why an instructor should look at this grade before trusting it (the API
    # was not whole at grading time, a checker could not be loaded); "" = none.
    review: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The candidate's notepad for this attempt (exam tools), kept on the server.
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Practice only: the cluster and terminal stay open for review until then
    # (None: reaped as soon as the attempt is graded).
    keep_until: Mapped[float | None] = mapped_column(Float, nullable=True)

    current_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    current_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    timings_json: Mapped[str] = mapped_column(Text, default="{}")

    user: Mapped[User] = relationship(back_populates="attempts")
    tasks: Mapped[list["AttemptTask"]] = relationship(
        back_populates="attempt", order_by="AttemptTask.position", cascade="all, delete-orphan")

    @property
    def is_over(self) -> bool:
        """Over for the candidate: no more changes, results (soon) visible."""
        return self.state in ("submitted", "grading", "graded", "abandoned")

    def remaining(self, now: float | None = None) -> float | None:
        if self.deadline_at is None:
            return None
        return max(0.0, self.deadline_at - (now or time.time()))

    @property
    def sandbox(self) -> Sandbox | None:
        """The attempt's cluster, once it has one (stored as ``Sandbox.to_dict``)."""
        return _sandbox(self.sandbox_json)

    @sandbox.setter
    def sandbox(self, sb: Sandbox) -> None:
        self.sandbox_json = json.dumps(sb.to_dict())

    @property
    def more_clusters(self) -> list[Sandbox]:
        """Clusters 2..N of the attempt, those made so far."""
        return _sandboxes(self.more_clusters_json)

    @more_clusters.setter
    def more_clusters(self, sandboxes: list[Sandbox]) -> None:
        self.more_clusters_json = json.dumps([sb.to_dict() for sb in sandboxes])

    def cluster(self, index: int) -> Sandbox | None:
        """Cluster ``index`` (0-based), once it is made."""
        if index == 0:
            return self.sandbox
        more = self.more_clusters
        return more[index - 1] if index - 1 < len(more) else None

    def cluster_names(self) -> list[str]:
        """Every sandbox name this attempt has or will have (grader/hosts.py)."""
        return cluster_names(self.sandbox_name, max(1, self.clusters or 1))

    @property
    def timings(self) -> dict:
        return json.loads(self.timings_json or "{}")

    def add_timing(self, key: str, seconds: float) -> None:
        t = self.timings
        t[key] = round(seconds, 3)
        self.timings_json = json.dumps(t)


class AttemptTask(Base):
    """One task of an attempt's paper, with its drawn params and results."""

    __tablename__ = "attempt_tasks"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)                 # 1-based, as the page shows
    task_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(80))
    weight: Mapped[float] = mapped_column(Float)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    # The host the task is solved on (``ssh <host>``; grader/hosts.py), where
    # the exam gives each task one; "" = the attempt's one shell.
    host: Mapped[str] = mapped_column(String(32), default="", server_default="")
    cluster: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0-based
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)
    setup_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    setup_output: Mapped[str] = mapped_column(Text, default="")

    result_json: Mapped[str] = mapped_column(Text, default="")    # TaskResult.to_dict(): .result
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)

    # practice mode only
    check_state: Mapped[str] = mapped_column(String(16), default="")  # ''|pending|running|done
    check_json: Mapped[str] = mapped_column(Text, default="")
    check_count: Mapped[int] = mapped_column(Integer, default=0)
    checked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    solution_revealed: Mapped[bool] = mapped_column(Boolean, default=False)

    attempt: Mapped[Attempt] = relationship(back_populates="tasks")

    @property
    def params(self) -> dict:
        return json.loads(self.params_json or "{}")

    @property
    def result(self) -> TaskResult | None:
        """The task's grade, once the attempt is graded."""
        return _result(self.result_json)

    @result.setter
    def result(self, r: TaskResult) -> None:  # and the points it got, for the statistics
        self.result_json = json.dumps(r.to_dict())
        self.score, self.max_score = r.score, r.max_score

    @property
    def check(self) -> TaskResult | None:
        """Practice: the last "check my work" of this task."""
        return _result(self.check_json)

    @property
    def fraction(self) -> float:
        if not self.max_score:
            return 0.0
        return max(0.0, min(1.0, (self.score or 0.0) / self.max_score))


class PoolSandbox(Base):
    """A warm sandbox, made before anyone asks, for one exam: the paper drawn
    with ``seed`` is already set up on it, so the attempt that takes it runs
    at once (the attempt adopts the seed)."""

    __tablename__ = "pool_sandboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    nodes: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="creating")  # creating|ready|claimed
    sandbox_json: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    attempt_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exam_id: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    seed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paper_json: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # task ids
    owner: Mapped[str] = mapped_column(String(64), default="", server_default="")  # worker preparing it
    # an exam of several clusters: clusters 2..N, as ``Attempt.more_clusters``
    more_clusters_json: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def sandbox(self) -> Sandbox | None:
        """The cluster, once it is ready (stored as ``Sandbox.to_dict``)."""
        return _sandbox(self.sandbox_json)

    @property
    def more_clusters(self) -> list[Sandbox]:
        """Clusters 2..N of an exam of several, set up like the first."""
        return _sandboxes(self.more_clusters_json)


class Event(Base):
    """What happened to an attempt, for the admin view and for proving that
    a step ran once (``kind='graded'`` appears once per attempt)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), nullable=True, index=True)
    at: Mapped[float] = mapped_column(Float, default=time.time)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class TaskValidation(Base):
    """A "Validate now" run of one task from the authoring pages (``web.author``):
    the worker appends to ``log`` as it goes and stores the result table at the end.
    ``version`` is the task files' content token, so a later edit makes it stale."""

    __tablename__ = "task_validations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(128), index=True)
    task_path: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|passed|failed|error
    log: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    @property
    def result(self) -> dict | None:
        return json.loads(self.result_json) if self.result_json else None


# The database keeps sandboxes and results as JSON; the portal works with the
# typed values (``sandbox.Sandbox``, ``grader.results.TaskResult``).
def _sandbox(text: str) -> Sandbox | None:
    return Sandbox.from_dict(json.loads(text)) if text else None


def _sandboxes(text: str) -> list[Sandbox]:
    return [Sandbox.from_dict(d) for d in json.loads(text or "[]")]


def _result(text: str) -> TaskResult | None:
    return TaskResult.from_dict(json.loads(text)) if text else None
