"""Otter-Grader's ``grader.check`` in the lab notebooks, with this engine behind it.

A release has ``tests/<task id>.py`` for each task: Otter exception-based test files (``OK_FORMAT = False``)
that :func:`write_otter_tests` generates from the public graders, one ``test_case`` per public grader test.
Each case calls :meth:`TaskCheck.require`, which grades that task's public tests with :func:`autograder.api.grade`:
the student's module(s) as saved now, in the confined student process, never the kernel's imported copy.
A failed case raises AssertionError with the engine's feedback (expected, got, hint), which Otter shows.
One grading per task serves all its cases, and is reused while the module files are unchanged.

In the notebook::

    import otter
    grader = otter.Notebook(tests_dir="tests")
    FEEDBACK_LANGUAGE = "en"   # "es": comentarios en español
    ...
    grader.check("1.1")
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from autograder import course, feedback

TESTS_DIR = "tests"
_results: dict[tuple, dict] = {}  # (assignment, task, language, folder, module hashes) -> function -> outcomes


def _fingerprint(folder: Path, assignment: course.Assignment) -> tuple:
    digests = []
    for module in assignment.modules:
        path = folder / f"{module}.py"
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None)
    return tuple(digests)


class TaskCheck:
    """The public tests of one task, graded once per state of the student's files."""

    def __init__(self, assignment_id: str, task: str, folder: str | Path = "."):
        self.assignment_id, self.task, self.folder = assignment_id, task, Path(folder)

    def outcomes(self, language: str = "en") -> dict[str, list[tuple[str, str]]]:
        """function -> [(status, feedback)] of each of its cases; a grading that cannot run fails them all."""
        from autograder import api

        language = language if language in feedback.LANGUAGES else "en"
        assignment = course.load_assignment(self.assignment_id)
        folder = self.folder.resolve()
        key = (self.assignment_id, self.task, language, str(folder), _fingerprint(folder, assignment))
        if key not in _results:
            try:
                report = api.grade(folder, self.assignment_id, suites=("public",), tasks=[self.task],
                                   language=language, min_isolation="none")
            except (api.CourseError, api.GraderError) as exc:
                return {"*": [("error", str(exc))]}
            by_function: dict[str, list] = {}
            for test in report.tests:
                by_function.setdefault(test.outcome.info.function, []).append(
                    (test.outcome.status, test.outcome.feedback))
            _results[key] = by_function
        return _results[key]

    def require(self, function: str, language: str | None = "en") -> None:
        """Raise AssertionError with the feedback unless every case of grader test ``function`` passed."""
        outcomes = self.outcomes(language or "en")
        cases = outcomes.get(function, outcomes.get("*"))
        if not cases:
            raise AssertionError(f"grader test {function} did not run")
        failed = [text for status, text in cases if status not in ("passed", "skipped")]
        if failed:
            raise AssertionError("\n".join(dict.fromkeys(failed)))


def public_tests(assignment: course.Assignment) -> dict[str, list[tuple[str, str]]]:
    """task id -> [(test function, title)] of the public graders, in file order (from their source)."""
    tasks: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(assignment.suite_dir("public").glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
                continue
            task = next((ast.literal_eval(d.args[0]) for d in node.decorator_list
                         if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("mark.task") and d.args), None)
            if task is not None:
                title = (ast.get_docstring(node) or node.name).strip().splitlines()[0]
                tasks.setdefault(str(task), []).append((node.name, title))
    return tasks


TEST_FILE = '''"""Task {task} ({title}): its public tests, run by the course's autograder on your module(s)."""
from otter.test_files import test_case

from autograder.notebook import TaskCheck

OK_FORMAT = False
name = {task!r}
check = TaskCheck({assignment!r}, {task!r})
'''

TEST_CASE = '''

@test_case(name={title!r}, points={points!r})
def {function}(FEEDBACK_LANGUAGE):
    check.require({function!r}, FEEDBACK_LANGUAGE)
'''


def write_otter_tests(assignment: course.Assignment, out: Path) -> list[Path]:
    """Write ``out/tests/<task>.py`` for every task with public tests; returns the files."""
    folder = Path(out) / TESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    points = assignment.points("public")
    written = []
    for task, tests in public_tests(assignment).items():
        text = TEST_FILE.format(task=task, title=assignment.tasks[task].title, assignment=assignment.id)
        text += "".join(TEST_CASE.format(title=title, points=points.get(function, 0.0), function=function)
                        for function, title in tests)
        path = folder / f"{task}.py"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
