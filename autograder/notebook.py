"""Otter-Grader's ``grader.check`` in the lab notebooks, with this engine behind it.

A release has ``tests/<task id>.py`` for each task: Otter exception-based test files (``OK_FORMAT = False``)
that :func:`write_otter_tests` generates from the public graders, one ``test_case`` per public grader test,
with its points from ``public/points.toml``. Each case calls :meth:`TaskCheck.require`, which grades that
task's public tests with :func:`autograder.api.grade`: the student's module(s) as saved now, in the confined
student process, never the kernel's imported copy. A failed case raises AssertionError with the engine's
feedback (expected, got, hint). One grading per task serves all its cases, and is reused while the module
files are unchanged.

Otter builds a :class:`TaskTestFile` for these files, so ``grader.check`` shows (as text and in Jupyter's
HTML) the task's points when it passes ("1.1 passed: 3/3 points") and each failed test's feedback otherwise,
never the test file's source or a traceback, in the notebook's ``FEEDBACK_LANGUAGE``.

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
import html
from pathlib import Path
from textwrap import indent

from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from autograder import course, feedback
from autograder.feedback import T

TESTS_DIR = "tests"
_results: dict[tuple, dict] = {}  # (assignment, task, language, folder, module hashes) -> function -> outcomes
_titles: dict[tuple[str, str], T] = {}  # (assignment, grader test function) -> its title, as the engine gives it

DID_NOT_RUN = T("grader test {function} did not run", "la prueba {function} no se ejecutó")
TEST_PASSED = T("✅ Test passed", "✅ Prueba superada")
TASK_PASSED = T("{task} passed: {points}", "{task} superada: {points}")
TASK_RESULTS = T("{task} results: {points}", "{task} resultados: {points}")
POINTS = T("{score}/{possible} points", "{score}/{possible} puntos")
ONE_POINT = T("{score}/{possible} point", "{score}/{possible} punto")


def _fingerprint(folder: Path, assignment: course.Assignment) -> tuple:
    digests = []
    for module in assignment.modules:
        path = folder / f"{module}.py"
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None)
    return tuple(digests)


def _language(value) -> str:
    return value if value in feedback.LANGUAGES else "en"


class TaskCheck:
    """The public tests of one task, graded once per state of the student's files."""

    def __init__(self, assignment_id: str, task: str, folder: str | Path = "."):
        self.assignment_id, self.task, self.folder = assignment_id, task, Path(folder)
        _show_task_results_in_otter()

    def outcomes(self, language: str = "en") -> dict[str, list[tuple[str, str]]]:
        """function -> [(status, feedback)] of each of its cases; a grading that cannot run fails them all."""
        from autograder import api

        language = _language(language)
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
                info = test.outcome.info
                by_function.setdefault(info.function, []).append((test.outcome.status, test.outcome.feedback))
                spanish = getattr(info, "title_es", "") or info.title
                _titles[(self.assignment_id, info.function)] = T(info.title, spanish)
            _results[key] = by_function
        return _results[key]

    def require(self, function: str, language: str | None = "en") -> None:
        """Raise AssertionError with the feedback unless every case of grader test ``function`` passed."""
        language = _language(language)
        outcomes = self.outcomes(language)
        cases = outcomes.get(function, outcomes.get("*"))
        if not cases:
            with feedback.language(language):
                raise AssertionError(str(DID_NOT_RUN.format(function=function)))
        failed = [text for status, text in cases if status not in ("passed", "skipped")]
        if failed:
            raise AssertionError("\n".join(dict.fromkeys(failed)))


def _points(score: float, possible: float) -> str:
    text = ONE_POINT if possible == 1 else POINTS
    return str(text.format(score=f"{round(score, 2):g}", possible=f"{round(possible, 2):g}"))


def _task_check(case) -> TaskCheck | None:
    """The :class:`TaskCheck` that an Otter test case of a file written by :func:`write_otter_tests` calls."""
    found = getattr(getattr(case.body, "test_func", None), "__globals__", {}).get("check")
    return found if isinstance(found, TaskCheck) else None


def _title(case) -> T:
    """A test case's title in both languages: the engine's, once it graded the task, else the test file's."""
    check, in_file = _task_check(case), T(case.name, case.name)
    return _titles.get((check.assignment_id, case.body.test_func.__name__), in_file) if check else in_file


class TaskTestFile(ExceptionTestFile):
    """Otter's result of ``grader.check("<task>")`` for a generated test file.

    It runs the cases as Otter does, but a failed case's message is the engine's feedback alone (no "Error
    at line N", no source line, no traceback), and its text (``repr``, ``check_all``) and Jupyter HTML show
    the task's points: "1.1 passed: 3/3 points" when every test passes, else the points and, under each
    test, its points and its feedback; in the notebook's ``FEEDBACK_LANGUAGE``.
    """

    language = "en"
    titles: list = []  # the title (T) of each test case run, in the order of test_case_results

    def run(self, global_environment: dict) -> None:
        self.language = _language(global_environment.get("FEEDBACK_LANGUAGE"))
        self.test_case_results, self.titles = [], []
        for tc in self.test_cases:
            try:
                tc.body.call_func(global_environment)
            except AssertionError as exc:
                passed, message = False, str(exc).strip()
            except Exception as exc:  # not the engine's feedback: named, still without a traceback
                passed, message = False, f"{type(exc).__name__}: {exc}"
            else:
                with feedback.language(self.language):
                    passed, message = True, str(TEST_PASSED)
            self.test_case_results.append(TestCaseResult(test_case=tc, message=message, passed=passed))
            self.titles.append(_title(tc))

    def _lines(self, public_only: bool = False) -> tuple[str, list[tuple[bool, str, str, str]]]:
        """The heading, and (passed, test title, its points, feedback) of each test when any failed."""
        titles = self.titles or [T(r.test_case.name, r.test_case.name) for r in self.test_case_results]
        with feedback.language(self.language):
            results = [(r, str(title)) for r, title in zip(self.test_case_results, titles)
                       if not (public_only and r.test_case.hidden)]
            points = _points(sum(r.test_case.points for r, _ in results if r.passed),
                             sum(r.test_case.points for r, _ in results))
            if all(r.passed for r, _ in results):
                return str(TASK_PASSED.format(task=self.name, points=points)), []
            return str(TASK_RESULTS.format(task=self.name, points=points)), [
                (r.passed, title, _points(r.test_case.points if r.passed else 0, r.test_case.points),
                 "" if r.passed else r.message or "") for r, title in results]

    def summary(self, public_only: bool = False) -> str:
        heading, tests = self._lines(public_only)
        text = heading
        for passed, title, points, message in tests:
            text += f"\n    {'✅' if passed else '❌'} {title}: {points}"
            if message:
                text += "\n" + indent(message, " " * 8)
        return text

    def _repr_html_(self) -> str:
        heading, tests = self._lines()
        if not tests:
            return f"<p><strong>✅ {html.escape(heading)}</strong></p>"
        text = f"<p><strong style='color: red;'>{html.escape(heading)}</strong></p>"
        for passed, title, points, message in tests:
            text += f"<p>{'✅' if passed else '❌'} <strong>{html.escape(title)}</strong>: {html.escape(points)}</p>"
            if message:
                text += f"<pre>{html.escape(message)}</pre>"
        return text


def _show_task_results_in_otter() -> None:
    """Have Otter build a :class:`TaskTestFile` from each generated test file (Otter's exception-based files
    are always built by ``ExceptionTestFile._from_compiled_code``); every other test file is left as it was.
    Where that hook is missing (another Otter version), Otter's own display shows the same feedback."""
    built = ExceptionTestFile.__dict__.get("_from_compiled_code")
    if not isinstance(built, classmethod) or getattr(built.__func__, "builds_task_files", False):
        return
    build = built.__func__

    def _from_compiled_code(cls, code, path=""):
        test_file = build(cls, code, path)
        if cls is ExceptionTestFile and test_file.test_cases and all(map(_task_check, test_file.test_cases)):
            return TaskTestFile(test_file.name, test_file.path, test_file.test_cases,
                                all_or_nothing=test_file.all_or_nothing)
        return test_file

    _from_compiled_code.builds_task_files = True
    ExceptionTestFile._from_compiled_code = classmethod(_from_compiled_code)


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
