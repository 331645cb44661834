"""The library's public surface: grade a submission, generate templates, make a release.

Grading is a pipeline of four stages, in this order:
load the assignment (``course``) -> run its grader tests here, with the
submission in a confined student process (``runner.session``) -> score the
outcomes (``report.score``) -> show them (``report.print_table`` /
``report.write_json``).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from autograder import archive, course, report
from autograder.feedback import T
from autograder.feedback import language as feedback_language
from autograder.course import CourseError
from autograder.runner.session import GraderError, RunOptions, run_tests

__all__ = ["grade", "CourseError", "GraderError"]


def grade(submission: str | Path, assignment_id: str, *, suites=("public", "hidden"), language: str = "en",
          test_timeout: float | None = None, total_timeout: float | None = None,
          on_progress=None, on_step=None, select: str | None = None, tasks=None,
          min_isolation: str = "full", stop_at_first_failure: bool = False, shrink: bool = True) -> report.Report:
    """Grade the folder ``submission`` (laid out like ``student_template/<id>/``), or a zip of one (for
    example Otter's ``grader.export()``: the modules are found in the zip's shallowest folder holding one).

    ``test_timeout`` is in CPU seconds of the student process per test, with a
    wall-clock backstop of the assignment's ``wall_factor`` times as much.
    ``select`` (a pytest ``-k`` expression over test names) grades only the
    matching tests, for example to re-run one test; the report then holds only
    those; ``tasks`` (task ids such as "1.1") grades only those tasks' tests. ``min_isolation`` ("full", "partial" or "none") is the weakest
    confinement of the student process accepted (see ``runner.isolation``).
    ``stop_at_first_failure`` marks every test after the first lost one
    "not-run" (for mutation testing, where one lost test is enough). ``shrink=False`` skips Hypothesis's
    search for the smallest failing example: the same scores, shorter feedback, sooner (for audits).
    Raises CourseError or GraderError when grading itself cannot run; a broken
    submission never raises, it loses points. What a student can fix (a missing module, a wrong folder or zip)
    is said in ``language``.
    """
    with feedback_language(language):
        return _grade(submission, assignment_id, suites=suites, language=language, test_timeout=test_timeout,
                      total_timeout=total_timeout, on_progress=on_progress, on_step=on_step, select=select,
                      tasks=tasks, min_isolation=min_isolation, stop_at_first_failure=stop_at_first_failure,
                      shrink=shrink)


def _grade(submission: str | Path, assignment_id: str, *, suites, language: str, test_timeout: float | None,
           total_timeout: float | None, on_progress, on_step, select: str | None, tasks, min_isolation: str,
           stop_at_first_failure: bool, shrink: bool) -> report.Report:
    assignment = course.load_assignment(assignment_id)
    submission = Path(submission)
    if archive.is_zip(submission):
        with tempfile.TemporaryDirectory(prefix="autograder-zip-") as folder:
            archive.unpack(submission, Path(folder))
            found = archive.module_folder(Path(folder), list(assignment.modules))
            if found is None:
                names = sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())
                raise CourseError(str(T("{zip} holds no {id} module ({files}); it holds {names}",
                                        "{zip} no contiene ningún módulo de {id} ({files}); contiene {names}").format(
                    zip=submission.name, id=assignment.id, files=", ".join(m + ".py" for m in assignment.modules),
                    names=", ".join(names[:8]) or T("nothing", "nada"))))
            result = grade(found, assignment_id, suites=suites, language=language, test_timeout=test_timeout,
                           total_timeout=total_timeout, on_progress=on_progress, on_step=on_step, select=select,
                           tasks=tasks, min_isolation=min_isolation, stop_at_first_failure=stop_at_first_failure,
                           shrink=shrink)
        result.submission = str(submission)
        return result
    if not submission.is_dir():
        raise CourseError(str((T("submission {s} is neither a folder nor a zip file",
                                 "la entrega {s} no es ni una carpeta ni un archivo zip") if submission.exists() else
                               T("submission folder {s} does not exist", "la carpeta de la entrega {s} no existe"))
                              .format(s=submission)))
    check_holds_a_module(submission, assignment)
    options = RunOptions(test_timeout=test_timeout or assignment.test_timeout,
                         total_timeout=total_timeout or assignment.total_timeout,
                         memory_mb=assignment.memory_mb, wall_factor=assignment.wall_factor,
                         threads=assignment.threads, language=language, on_progress=on_progress,
                         on_step=on_step, select=select, tasks=_known_tasks(assignment, tasks), min_isolation=min_isolation,
                         stop_at_first_failure=stop_at_first_failure, shrink=shrink)
    start = time.monotonic()
    with feedback_language(language):
        result = run_tests(assignment, list(suites), submission, options)
    return report.score(assignment, result.outcomes, str(submission), time.monotonic() - start,
                        result.problems, result.isolation, result.curves)


def _known_tasks(assignment: course.Assignment, tasks) -> tuple[str, ...] | None:
    if tasks is None:
        return None
    tasks = tuple(str(t) for t in ([tasks] if isinstance(tasks, str) else tasks))
    unknown = [t for t in tasks if t not in assignment.tasks]
    if unknown:
        raise CourseError(str(T("{id} has no task {task!r} (its tasks: {tasks})",
                                "{id} no tiene la tarea {task!r} (sus tareas: {tasks})")
                              .format(id=assignment.id, task=unknown[0], tasks=", ".join(assignment.tasks))))
    return tasks


def check_holds_a_module(submission: Path, assignment: course.Assignment) -> None:
    """Refuse a folder that holds none of the assignment's modules, naming the subfolder that does, if any."""
    files = [f"{m}.py" for m in assignment.modules]
    if any((submission / f).is_file() for f in files):
        return
    nearby = sorted({path.parent for f in files for path in submission.glob(f"*/{f}")} |
                    {path.parent for f in files for path in submission.glob(f"*/*/{f}")},
                    key=lambda folder: (folder.name != assignment.id, len(folder.parts), str(folder)))
    hint = T("; did you mean {folder}?", "; ¿querías decir {folder}?").format(folder=nearby[0]) if nearby else \
        T("; it holds {names}", "; contiene {names}").format(
            names=", ".join(sorted(p.name for p in submission.iterdir())[:8]) or T("nothing", "nada"))
    raise CourseError(str(T("no {id} module ({files}) in {submission}", "no hay ningún módulo de {id} ({files}) en "
                            "{submission}").format(id=assignment.id, files=", ".join(files), submission=submission)
                          + hint))
