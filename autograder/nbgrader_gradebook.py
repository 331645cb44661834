"""Autograded scores in an nbgrader course's gradebook, beside the manually graded written answers.

Each ``grader.check("<task>")`` cell of a source notebook is an nbgrader "autograder tests" cell, worth the
task's points from ``points.toml`` (public and hidden), named ``task_<task>`` with dots as underscores
(``task_1_2``). ``nbgrader generate_assignment`` therefore registers one grade cell per task, and
:func:`record` writes each student's points for each task there as the cell's ``auto_score``, through
nbgrader's own :class:`nbgrader.api.Gradebook`. Manual scores are never touched; formgrader, ``nbgrader
export`` and nbgrader's totals add both. Students' releases keep these cells locked but ungraded
(:func:`ungrade_task_cells`): nbgrader never runs a notebook to grade it here.
"""
from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

from autograder import course
from autograder.course import CourseError

CHECK = re.compile(r'^grader\.check\("([0-9.]+)"\)$')
PREFIX = "task_"


def grade_id(task: str) -> str:
    """The nbgrader grade cell of ``task``: ``1.2`` -> ``task_1_2``."""
    return PREFIX + task.replace(".", "_")


def task_points(assignment: course.Assignment) -> dict[str, float]:
    """task -> its points, public and hidden, from points.toml and the graders' ``mark.task`` (source only)."""
    totals = {task: 0.0 for task in assignment.tasks}
    for suite in course.SUITES:
        points = assignment.points(suite)
        for path in sorted(assignment.suite_dir(suite).glob("test_*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if not (isinstance(node, ast.FunctionDef) and node.name in points):
                    continue
                task = next((str(ast.literal_eval(d.args[0])) for d in node.decorator_list
                             if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("mark.task") and d.args), None)
                if task in totals:
                    totals[task] += points[node.name]
    return totals


def _points(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def mark_task_cells(nb, assignment: course.Assignment) -> bool:
    """Make each ``grader.check`` cell of notebook ``nb`` (nbformat) its task's autograder tests cell;
    returns whether anything changed."""
    points = task_points(assignment)
    changed = False
    for cell in nb.cells:
        match = CHECK.match(cell.source.strip()) if cell.cell_type == "code" else None
        if not match or match.group(1) not in points:
            continue
        wanted = {"grade": True, "grade_id": grade_id(match.group(1)), "locked": True,
                  "points": _points(points[match.group(1)]), "schema_version": 3, "solution": False, "task": False}
        if cell.metadata.get("nbgrader") != wanted:
            cell.metadata["nbgrader"] = wanted
            changed = True
    return changed


def sync_source_notebooks(check_only: bool = False) -> list[Path]:
    """Mark the task cells of every ``assignments/source/<id>/*.ipynb``; returns the notebooks out of date
    (written unless ``check_only``)."""
    import nbformat

    root = course.repo_root()
    if root is None:
        raise CourseError("the source notebooks are in the course repository (assignments/ is not here)")
    stale = []
    for assignment_id in course.available_assignments():
        assignment = course.load_assignment(assignment_id)
        for path in sorted((root / "assignments" / "source" / assignment_id).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            if mark_task_cells(nb, assignment):
                stale.append(path)
                if not check_only:
                    nbformat.write(nb, path)
    return stale


def ungrade_task_cells(path: Path) -> None:
    """In a released notebook, turn the task cells into locked, ungraded cells (no points box for students)."""
    import nbformat
    from nbgrader.utils import compute_checksum

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if str(meta.get("grade_id", "")).startswith(PREFIX) and meta.get("grade"):
            meta["grade"] = False
            meta.pop("points", None)
            meta["checksum"] = compute_checksum(cell)
            changed = True
    if changed:
        nbformat.write(nb, path)


def _course_directory(course_dir: Path):
    """nbgrader's CourseDirectory for ``course_dir``, with its nbgrader_config.py (root defaults to it)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course_dir = Path(course_dir).resolve()
    if not course_dir.is_dir():
        raise CourseError(f"{course_dir} is not an nbgrader course directory")
    config = Config()
    if (course_dir / "nbgrader_config.py").is_file():
        try:
            config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
        except Exception as exc:  # the instructor's own Python file
            raise CourseError(f"cannot read {course_dir / 'nbgrader_config.py'}: {exc}") from None
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(course_dir)
    return CourseDirectory(config=config)


def location(course_dir: Path) -> str:
    """Where the gradebook of ``course_dir`` is: the sqlite file, or the database URL."""
    url = _course_directory(course_dir).db_url
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


def _task_scores(data: dict, assignment: course.Assignment) -> dict[str, float]:
    scores = {task: 0.0 for task in assignment.tasks}
    if data.get("extra_data", {}).get("status", "graded") != "graded":
        return scores
    for test in data.get("tests", []):
        if test.get("number") in scores:
            scores[test["number"]] += float(test.get("score") or 0.0)
    return scores


def record(course_dir: Path, assignment: course.Assignment, results: dict[str, dict]) -> int:
    """Write each student's points for each task of ``assignment`` into the gradebook of nbgrader course
    ``course_dir`` (students and submissions created as needed; status other than graded: 0 points);
    returns the number of students written. Running it again gives the same gradebook."""
    from nbgrader.api import Gradebook, InvalidEntry, MissingEntry
    from sqlalchemy.exc import SAWarning, SQLAlchemyError

    directory = _course_directory(course_dir)
    where = location(course_dir)
    run = f"run `nbgrader generate_assignment {assignment.id} --force` in {Path(course_dir)}"
    if directory.db_url.startswith("sqlite:///") and not Path(where).is_file():
        raise CourseError(f"{Path(course_dir)} has no nbgrader gradebook ({where}); {run} first")
    expected = task_points(assignment)
    try:
        with warnings.catch_warnings(), Gradebook(directory.db_url, directory.course_id) as gradebook:
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission, harmless
            try:
                notebooks = gradebook.find_assignment(assignment.id).notebooks
            except MissingEntry:
                raise CourseError(f"the nbgrader gradebook {where} has no assignment {assignment.id}; {run}") from None
            cells = {cell.name: (notebook.name, cell.max_score) for notebook in notebooks
                     for cell in notebook.grade_cells}
            if gradebook.assignment_submissions(assignment.id):
                run = (f"{run} (nbgrader changes no notebook with submissions: `nbgrader db assignment remove "
                       f"{assignment.id} --force` deletes them first, manual grades included)")
            for task, points in expected.items():
                if grade_id(task) not in cells:
                    raise CourseError(f"the nbgrader gradebook {where} has no grade cell {grade_id(task)} for task "
                                      f"{task} of {assignment.id}; {run} with the course's source notebook "
                                      f"(its grader.check cells are the tasks' grade cells)")
                if abs(cells[grade_id(task)][1] - points) > 1e-9:
                    raise CourseError(f"grade cell {grade_id(task)} is worth {cells[grade_id(task)][1]:g} points "
                                      f"in {where} but task {task} is worth {points:g}; update the source "
                                      f"notebook's points and {run}")
            for student, data in sorted(results.items()):
                gradebook.update_or_create_student(student)
                gradebook.update_or_create_submission(assignment.id, student)
                for task, score in _task_scores(data, assignment).items():
                    notebook = cells[grade_id(task)][0]
                    try:
                        grade = gradebook.find_grade(grade_id(task), notebook, assignment.id, student)
                    except MissingEntry:
                        raise CourseError(f"{student}'s submission of {assignment.id} in {where} has no grade "
                                          f"{grade_id(task)}: it was recorded before that grade cell existed") from None
                    grade.auto_score = score
                    grade.needs_manual_grade = grade.manual_score is not None
            gradebook.db.commit()
    except (SQLAlchemyError, InvalidEntry) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CourseError(f"cannot write the nbgrader gradebook {where}: {first}") from None
    return len(results)
