"""The task bank and the exams, loaded once per process from ``tasks/`` and ``exams/``."""

from __future__ import annotations

import logging

from grader.exam import Exam, ExamError, load_exams, resolve_task

log = logging.getLogger(__name__)


class Bank:
    def __init__(self, services, exams_dir: str):
        self.services = services
        self.exams_dir = exams_dir
        self.reload()

    def reload(self) -> None:
        self.tasks, problems = self.services.load_tasks()
        self.exams, errors = load_exams(self.exams_dir, self.tasks)
        self.problems = list(problems) + [str(e) for e in errors]
        for p in self.problems:
            log.warning("bank: %s", p)

    def task(self, task_id: str):
        return resolve_task(self.tasks, task_id)

    def exam(self, exam_id: str) -> Exam | None:
        return self.exams.get(exam_id)

    def catalog(self) -> list[Exam]:
        return sorted(self.exams.values(), key=lambda e: (e.track, e.title))


__all__ = ["Bank", "Exam", "ExamError"]
