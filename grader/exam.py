"""Exams as files: ``exams/<id>.yaml`` beside the task bank.

An exam says how long, what pass mark, and which tasks: either a fixed list
with a weight per task, or a draw from the bank weighted by the curriculum's
domains, so every attempt gets a different but equally balanced paper::

    # exams/ckad-mock.yaml
    title: CKAD mock exam
    track: ckad
    duration: 120          # minutes
    pass_mark: 66          # percent of the total weight
    nodes: 1               # optional: the fewest nodes; the tasks may ask for more
                           #   (most ask for 3), and the cluster suits every task
    hosts: true            # optional: each task on a host of its own, reached by
                           #   `ssh <host>` from a base host with no cluster (the
                           #   real exam's way); false (the default): one shell
    clusters: 4            # optional, with hosts: the tasks spread over this many
                           #   clusters (grader/hosts.py); 1 (the default): one
    tasks:                 # either this ...
      - {id: svc-selector-fix, weight: 4}
    draw:                  # ... or this
      count: 15
      domains: curriculum  # or {"Services and Networking": 20, ...}

    >>> exam = load_exam("exams/ckad-mock.yaml")            # doctest: +SKIP
    >>> [(t.id, w) for t, w in exam.select(bank, seed=42)]  # doctest: +SKIP

Like the task lint, loading collects every problem and raises them together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from grader import yamlfile
from grader.curriculum import CURRICULA

MODES = ("exam", "practice")
MAX_CLUSTERS = 8  # per attempt: each is a whole control plane (bench/clusters_per_attempt.py)


class ExamError(Exception):
    """An exam file is invalid; ``problems`` lists every problem found."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path, self.problems = str(path), list(problems)
        super().__init__(f"{path}: " + "; ".join(problems))


def curricula() -> dict[str, dict[str, float]]:
    """Track -> {domain: weight (%)}, from ``grader.curriculum``."""
    return {t: {k: float(v) for k, v in d.items()} for t, d in CURRICULA.items()}


@dataclass
class ExamTask:
    """One line of a fixed list: a task id (``svc-selector-fix`` or
    ``ckad/svc-selector-fix``) and its weight in the exam."""

    id: str
    weight: float


@dataclass
class Exam:
    id: str
    title: str
    track: str
    duration: int                   # minutes
    pass_mark: float                # percent
    nodes: int = 1
    hosts: bool = False             # each task on a host of its own (grader/hosts.py)
    clusters: int = 1               # how many clusters the tasks spread over
    description: str = ""
    modes: tuple[str, ...] = MODES
    tasks: list[ExamTask] = field(default_factory=list)
    draw_count: int = 0
    draw_domains: dict[str, float] = field(default_factory=dict)
    path: str = ""

    @property
    def is_draw(self) -> bool:
        return self.draw_count > 0

    def select(self, bank: Mapping[str, Any], seed: int,
               capabilities: frozenset[str] | set[str] | None = None) -> list[tuple[Any, float]]:
        """The attempt's paper: ``[(task, weight), ...]``.

        ``bank`` maps task id to a task (anything with ``id``, ``domain`` and
        ``tracks``). A fixed list keeps its order; a draw is deterministic per
        seed, takes from each domain in proportion to its weight (largest
        remainder), and weighs each drawn task so that a domain's share of the
        total equals its curriculum weight. With ``capabilities`` (what the
        sandbox provider offers), a draw skips tasks that require more; a fixed
        list naming such a task is an error. On one cluster (``clusters: 1``)
        the same holds for two tasks that cannot share it for their images
        (``image_clash``).
        """
        def fits(task) -> bool:
            return capabilities is None or set(getattr(task, "requires", None) or ()) <= set(capabilities)

        if not self.is_draw:
            out = []
            for line in self.tasks:
                task = resolve_task(bank, line.id)
                if task is None:
                    raise ExamError(self.path, [f"task {line.id!r} is not in the bank"])
                if not fits(task):
                    raise ExamError(self.path, [f"task {line.id!r} requires {sorted(task.requires)}; "
                                                f"the sandbox provider offers {sorted(capabilities)}"])
                if clashes(task, [t for t, _ in out]):
                    raise ExamError(self.path, [f"tasks {task.id!r} and "
                                                f"{clashes(task, [t for t, _ in out])[0]!r} "
                                                "conflict (see 'conflicts' in task.yaml); an exam "
                                                "cannot have both"])
                why = self.clusters == 1 and image_clash(task, [t for t, _ in out])
                if why:
                    raise ExamError(self.path, [f"{why}; {ONE_CLUSTER_HOW}"])
                out.append((task, line.weight))
            return out
        rng = random.Random(f"{self.id}:{seed}")
        by_domain: dict[str, list] = {}
        for task in sorted(bank.values(), key=lambda t: t.id):
            if self.track in (getattr(task, "tracks", None) or [self.track]) and fits(task):
                by_domain.setdefault(task_domain(task, self.track), []).append(task)
        domains = {d: w for d, w in self.draw_domains.items() if by_domain.get(d) and w > 0}
        if not domains:
            raise ExamError(self.path, [f"no task in the bank for any domain of track {self.track!r}"])
        counts = _apportion(domains, self.draw_count, {d: len(by_domain[d]) for d in domains})
        out = []
        chosen: list = []
        for domain in sorted(domains, key=lambda d: (-domains[d], d)):
            n = counts[domain]
            if not n:
                continue
            # in a random order, the first n that clash with nothing chosen so far
            picked = [t for t in rng.sample(by_domain[domain], len(by_domain[domain]))]
            take = []
            for task in picked:
                if len(take) == n:
                    break
                if not clashes(task, chosen + take) and not (
                        self.clusters == 1 and image_clash(task, chosen + take)):
                    take.append(task)
            chosen += take
            for task in take:
                out.append((task, round(domains[domain] / len(take), 2)))
        return out

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "track": self.track,
                "duration": self.duration, "pass_mark": self.pass_mark, "nodes": self.nodes,
                "hosts": self.hosts, "clusters": self.clusters,
                "description": self.description, "modes": list(self.modes),
                "tasks": [{"id": t.id, "weight": t.weight} for t in self.tasks],
                "draw": {"count": self.draw_count, "domains": self.draw_domains}
                if self.is_draw else None}


def task_domain(task, track: str) -> str:
    """A task's domain in ``track`` (a task may belong to both curricula)."""
    domain_for = getattr(task, "domain_for", None)
    if domain_for is not None:
        try:
            return domain_for(track)
        except KeyError:
            pass
    return task.domain


def resolve_task(bank: Mapping[str, Any], ref: str):
    """Find a task by id, or by ``track/id`` as its folder under tasks/ is named."""
    if ref in bank:
        return bank[ref]
    _, _, tail = ref.rpartition("/")
    return bank.get(tail)


def _apportion(weights: dict[str, float], total: int, caps: dict[str, int]) -> dict[str, int]:
    """Split ``total`` seats by weight (largest remainder), never above a cap."""
    counts = {d: 0 for d in weights}
    remaining = min(total, sum(caps.values()))
    while remaining > 0:
        open_ = {d: w for d, w in weights.items() if counts[d] < caps[d]}
        wsum = sum(open_.values())
        quotas = {d: remaining * w / wsum for d, w in open_.items()}
        floors = {d: min(int(q), caps[d] - counts[d]) for d, q in quotas.items()}
        given = sum(floors.values())
        for d, n in floors.items():
            counts[d] += n
        left = remaining - given
        for d in sorted(open_, key=lambda d: (-(quotas[d] - int(quotas[d])), -open_[d], d)):
            if left <= 0:
                break
            if counts[d] < caps[d]:
                counts[d] += 1
                left -= 1
        remaining = min(total, sum(caps.values())) - sum(counts.values())
        if given == 0 and left == remaining:  # nothing could be placed
            break
    return counts


def parse_exam(data: Any, exam_id: str, path: str | Path = "<exam>",
               known_tasks: Mapping[str, Any] | None = None) -> Exam:
    """Validate a loaded YAML document; raises ExamError with every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ExamError(path, ["the file must be a mapping of fields"])
    known = {"id", "title", "track", "duration", "pass_mark", "nodes", "hosts", "clusters",
             "description", "modes", "tasks", "draw"}
    for key in sorted(set(data) - known):
        problems.append(f"unknown field {key!r} (known: {', '.join(sorted(known))})")

    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("title: required, a non-empty string")
    track = data.get("track")
    cur = curricula()
    if track not in cur:
        problems.append(f"track: expected one of {sorted(cur)}, found {track!r}")

    def number(key, lo, hi, default=None, integer=False):
        value = data.get(key, default)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
        if integer and ok and int(value) != value:
            ok = False
        if not ok:
            problems.append(f"{key}: expected a {'whole ' if integer else ''}number from {lo} "
                            f"to {hi}, found {value!r}")
            return default or lo
        return int(value) if integer else float(value)

    duration = number("duration", 1, 600, integer=True)
    pass_mark = number("pass_mark", 0, 100)
    nodes = number("nodes", 1, 10, default=1, integer=True)

    hosts = data.get("hosts", False)
    if not isinstance(hosts, bool):
        problems.append(f"hosts: expected true or false, found {hosts!r}")
        hosts = False
    clusters = number("clusters", 1, MAX_CLUSTERS, default=1, integer=True)
    if clusters > 1 and not hosts:
        problems.append(f"clusters: {clusters} clusters need hosts: true (a host per task is "
                        "how a candidate reaches each task's cluster)")

    modes = data.get("modes", list(MODES))
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        problems.append(f"modes: expected a list from {list(MODES)}, found {modes!r}")
        modes = list(MODES)

    tasks: list[ExamTask] = []
    draw_count, draw_domains = 0, {}
    has_tasks, has_draw = "tasks" in data, "draw" in data
    if has_tasks == has_draw:
        problems.append("give either 'tasks' (a fixed list) or 'draw' (by domain weights), not "
                        + ("both" if has_tasks else "neither"))
    if has_tasks:
        raw = data["tasks"]
        if not isinstance(raw, list) or not raw:
            problems.append("tasks: expected a non-empty list of {id, weight}")
            raw = []
        seen = set()
        for i, item in enumerate(raw):
            if isinstance(item, str):
                item = {"id": item}
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                problems.append(f"tasks[{i}]: expected {{id: <task id>, weight: <number>}}, found {item!r}")
                continue
            weight = item.get("weight", 1)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                problems.append(f"tasks[{i}] ({item['id']}): weight must be a positive number, "
                                f"found {weight!r}")
                weight = 1
            if item["id"] in seen:
                problems.append(f"tasks[{i}]: task {item['id']!r} is listed twice")
            seen.add(item["id"])
            extra = set(item) - {"id", "weight"}
            if extra:
                problems.append(f"tasks[{i}] ({item['id']}): unknown fields {sorted(extra)}")
            if known_tasks is not None and resolve_task(known_tasks, item["id"]) is None:
                problems.append(f"tasks[{i}]: task {item['id']!r} is not in the bank")
            tasks.append(ExamTask(item["id"], float(weight)))
    if has_draw:
        raw = data["draw"]
        if not isinstance(raw, dict):
            problems.append("draw: expected {count: N, domains: curriculum | {domain: weight}}")
            raw = {}
        count = raw.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
            problems.append(f"draw.count: expected a whole number from 1 to 100, found {count!r}")
        else:
            draw_count = count
        domains = raw.get("domains", "curriculum")
        if domains == "curriculum":
            draw_domains = dict(cur.get(track, {}))
        elif isinstance(domains, dict) and domains:
            valid = cur.get(track, {})
            for d, w in domains.items():
                if valid and d not in valid:
                    problems.append(f"draw.domains: {d!r} is not a {track} domain "
                                    f"(known: {', '.join(sorted(valid))})")
                if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
                    problems.append(f"draw.domains.{d}: weight must be a number >= 0, found {w!r}")
                else:
                    draw_domains[d] = float(w)
        else:
            problems.append(f"draw.domains: expected 'curriculum' or a mapping, found {domains!r}")
        extra = set(raw) - {"count", "domains"}
        if extra:
            problems.append(f"draw: unknown fields {sorted(extra)}")

    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append("description: expected a string")
        description = ""
    if known_tasks is not None and clusters == 1:
        placed: list = []
        for i, line in enumerate(tasks):
            task = resolve_task(known_tasks, line.id)
            why = task is not None and image_clash(task, placed)
            if why:
                problems.append(f"tasks[{i}] ({line.id}): {why}; {ONE_CLUSTER_HOW}")
            if task is not None:
                placed.append(task)
    declared_id = data.get("id", exam_id)
    if declared_id != exam_id:
        problems.append(f"id: {declared_id!r} differs from the file name {exam_id!r}")
    if problems:
        raise ExamError(path, problems)
    return Exam(id=exam_id, title=title.strip(), track=track, duration=duration,
                pass_mark=pass_mark, nodes=nodes, hosts=hosts, clusters=clusters,
                description=description.strip(),
                modes=tuple(modes), tasks=tasks, draw_count=draw_count,
                draw_domains=draw_domains, path=str(path))


def clashes(task, chosen) -> list[str]:
    """Ids among ``chosen`` that cannot share a cluster with ``task`` (either
    way: a task's ``conflicts`` name the other, or the other names it)."""
    mine = set(getattr(task, "conflicts", None) or ())
    return [c.id for c in chosen
            if c.id in mine or task.id in set(getattr(c, "conflicts", None) or ())]


def image_clash(task, chosen) -> str | None:
    """Why ``task`` cannot share one cluster with a task among ``chosen`` for
    their images (either way), or None. A cluster holding a task that runs
    real workloads (containers, nodes) is a real one, where every task's Pods
    really start; an image that no real cluster holds (nothing can be pulled,
    ``grader.lint.foreign_images``) never starts there, and a right answer to
    a task that names it would fail. Papers of several clusters never put the
    two kinds together (``grader.hosts.placement``)."""
    from .hosts import REAL
    from .lint import foreign_images

    def real(t) -> set:
        return REAL & set(getattr(t, "requires", None) or ())
    for other in chosen:
        for runs, names in ((task, other), (other, task)):
            images = foreign_images(names) if real(runs) and not real(names) else ()
            if images:
                what = "real nodes" if "nodes" in real(runs) else "real containers"
                return (f"{runs.id} needs {what}, and {names.id} names the image {images[0]}, "
                        "which no such cluster holds (nothing can be pulled): its Pods would "
                        "never start there, however right the answer")
    return None


# what an image_clash on a paper of one cluster says to do
ONE_CLUSTER_HOW = ("this exam puts every task on one cluster: give the exam `hosts: true` and "
                   "`clusters: 2` (or more), so that each kind of task gets a cluster of its "
                   "own, or choose another task")


def load_exam(path: str | Path, known_tasks: Mapping[str, Any] | None = None) -> Exam:
    path = Path(path)
    try:
        data = yamlfile.load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ExamError(path, [f"cannot read: {exc}"]) from None
    return parse_exam(data, path.stem, path, known_tasks)


def load_exams(directory: str | Path, known_tasks: Mapping[str, Any] | None = None
               ) -> tuple[dict[str, Exam], list[ExamError]]:
    """Every ``*.yaml`` in a folder: ``({id: exam}, [errors])``. A broken file
    does not hide the good ones; the caller decides how loudly to complain."""
    exams, errors = {}, []
    directory = Path(directory)
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            try:
                exams[path.stem] = load_exam(path, known_tasks)
            except ExamError as exc:
                errors.append(exc)
    return exams, errors
