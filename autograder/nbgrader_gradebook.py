"""Autograded scores in an nbgrader course's gradebook, beside the manually graded written answers.

Each ``grader.check("<task>")`` cell of a source notebook is an nbgrader "autograder tests" cell, worth the
task's points from ``points.toml`` (public and hidden), named ``task_<task>`` with dots as underscores
(``task_1_2``). ``nbgrader generate_assignment`` therefore registers one grade cell per task, and
:func:`record` writes each student's points for each task there as the cell's ``auto_score``, through
nbgrader's own :class:`nbgrader.api.Gradebook`. Manual scores are never touched; formgrader, ``nbgrader
export`` and nbgrader's totals add both. Students' releases keep these cells locked but ungraded
(:func:`ungrade_task_cells`, with the gradebook's checksums made to match: :func:`ungrade_release`), so
``nbgrader autograde`` accepts the submitted notebooks and gives the task cells no score of its own: the
engine's, written by :func:`record`, is the only one (a grader error leaves the cell ungraded, never 0).
:func:`record` also puts the engine's feedback page into each autograded notebook (``nbgrader
generate_feedback`` shows it), takes the submission's ``timestamp.txt`` when nbgrader has none, and applies
the course's late-submission penalty again to the new scores.
"""
from __future__ import annotations

import ast
import re
import stat
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


def ungrade_task_cells(path: Path) -> dict[str, str]:
    """In a released notebook, turn the task cells into locked, ungraded cells (no points box for students);
    returns grade id -> the cell's new checksum, for the gradebook (:func:`ungrade_release`)."""
    import nbformat
    from nbgrader.utils import compute_checksum

    nb = nbformat.read(path, as_version=4)
    changed = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if str(meta.get("grade_id", "")).startswith(PREFIX) and meta.get("grade"):
            meta["grade"] = False
            meta.pop("points", None)
            meta["checksum"] = changed[meta["grade_id"]] = compute_checksum(cell)
    if changed:
        nbformat.write(nb, path)
    return changed


def ungrade_release(course_dir: Path, assignment_id: str) -> Path:
    """After ``nbgrader generate_assignment`` in ``course_dir``: ungrade the task cells of the released
    notebooks (:func:`ungrade_task_cells`) and give the gradebook's source cells the same checksums, so that
    ``nbgrader autograde`` finds the submitted cells unchanged. The task cells stay grade cells in the
    gradebook (worth the task's points), for :func:`record`. Returns the release folder."""
    from nbgrader.api import Gradebook, MissingEntry

    directory = _course_directory(course_dir)
    released = Path(directory.format_path(directory.release_directory, ".", assignment_id))
    with Gradebook(directory.db_url, directory.course_id) as gradebook:
        for path in sorted(released.glob("*.ipynb")):
            for grade_id_, checksum in ungrade_task_cells(path).items():
                try:
                    gradebook.find_source_cell(grade_id_, path.stem, assignment_id).checksum = checksum
                except MissingEntry:
                    raise CourseError(f"the gradebook of {course_dir} has no cell {grade_id_} of {path.stem}: "
                                      f"run `nbgrader generate_assignment {assignment_id} --force` there") from None
        gradebook.db.commit()
    return released


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


FEEDBACK_MARK = "autograder_feedback"  # the output (metadata key) that holds the engine's page in a notebook


def _feedback_output(page: str) -> dict:
    """A notebook output (text/html) showing the engine's feedback page, in an iframe of its own."""
    import html
    import nbformat

    frame = (f'<iframe title="autograder feedback" srcdoc="{html.escape(page, quote=True)}" '
             f'style="width: 100%; height: 70vh; border: 1px solid #ccc" '
             f'onload="this.style.height = (this.contentDocument.documentElement.scrollHeight + 20) + \'px\'">'
             f'</iframe>')
    return nbformat.v4.new_output("display_data", data={"text/html": frame}, metadata={FEEDBACK_MARK: True})


def add_feedback(notebook_path: Path, page: str) -> None:
    """Show the engine's feedback ``page`` (HTML) in an autograded notebook: as the output of its
    ``grader.check_all()`` cell, or of a code cell added at the end; written again, it replaces the last."""
    import nbformat

    nb = nbformat.read(notebook_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not o.get("metadata", {}).get(FEEDBACK_MARK)]
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "grader.check_all()"]
    if cells:
        target = cells[-1]
    else:
        target = nbformat.v4.new_code_cell("# The course autograder's feedback: every test of every task")
        nb.cells.append(target)
    target.outputs.append(_feedback_output(page))
    mode = Path(notebook_path).stat().st_mode
    Path(notebook_path).chmod(mode | stat.S_IWUSR)  # nbgrader autograde leaves it read-only (444)
    try:
        nbformat.write(nb, notebook_path)
    finally:
        Path(notebook_path).chmod(mode)


def _late_penalties(config):
    """The course's late-submission penalty (nbgrader's AssignLatePenalties and its plugin, as configured)."""
    from nbgrader.preprocessors import AssignLatePenalties

    penalties = AssignLatePenalties(config=config)
    penalties.init_plugin()
    return penalties


def _late(seconds: float) -> str:
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:d}:{minutes:02d}:{secs:02d}" if whole else f"{seconds:.1f} s"
    return f"{days} day{'s' * (days != 1)} {text}" if days else text


def _submitted_timestamp(directory, assignment_id: str, student: str):
    """The time in ``submitted/<student>/<assignment_id>/timestamp.txt`` (nbgrader collect's), or None."""
    from nbgrader.utils import parse_utc

    path = Path(directory.format_path(directory.submitted_directory, student, assignment_id)) / "timestamp.txt"
    try:
        return parse_utc(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError, OverflowError):
        return None


def record(course_dir: Path, assignment: course.Assignment, results: dict[str, dict], out: Path | None = None,
           echo=None) -> int:
    """Write each student's points for each task of ``assignment`` into the gradebook of nbgrader course
    ``course_dir`` (students and submissions created as needed); returns the number of students written.

    A grader error is never written (not even as 0): its task cells keep what they had (ungraded, for a
    submission nbgrader autograded) and ``echo`` names it. "not gradable" is 0. A submission keeps the
    timestamp nbgrader recorded; one without takes ``submitted/<student>/<id>/timestamp.txt`` when there is
    one. The course's late-submission penalty is worked out again on the new scores, and ``echo`` shows each
    late submission. With ``out`` (the results folder), each autograded notebook
    (``autograded/<student>/<id>/``) gets the student's feedback page from ``out`` (:func:`add_feedback`).
    Running it again gives the same gradebook."""
    from nbgrader.api import Gradebook, InvalidEntry, MissingEntry
    from sqlalchemy.exc import SAWarning, SQLAlchemyError

    from autograder import batch

    echo = echo or (lambda line: None)
    directory = _course_directory(course_dir)
    where = location(course_dir)
    run = f"run `nbgrader generate_assignment {assignment.id} --force` in {Path(course_dir)}"
    if directory.db_url.startswith("sqlite:///") and not Path(where).is_file():
        raise CourseError(f"{Path(course_dir)} has no nbgrader gradebook ({where}); {run} first")
    expected = task_points(assignment)
    errors = sorted(s for s, d in results.items() if batch.status(d) == batch.GRADER_ERROR)
    recorded = {s: d for s, d in results.items() if s not in errors}
    lines = []
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
            for student, data in sorted(recorded.items()):
                gradebook.update_or_create_student(student)
                submission = gradebook.update_or_create_submission(assignment.id, student)
                if submission.timestamp is None:
                    timestamp = _submitted_timestamp(directory, assignment.id, student)
                    if timestamp is not None:
                        submission.timestamp = timestamp
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
            penalties = _late_penalties(directory.config)
            for student in sorted(recorded):
                submission = gradebook.find_submission(assignment.id, student)
                late = submission.total_seconds_late
                penalty = 0.0
                for notebook in submission.notebooks:
                    notebook.late_submission_penalty = None
                    if late > 0:
                        value = penalties.plugin_inst.late_submission_penalty(student, notebook.score, late)
                        if value is not None:
                            notebook.late_submission_penalty = max(0.0, min(float(value), notebook.score))
                            penalty += notebook.late_submission_penalty
                if late > 0:
                    lines.append(f"{student}: submitted {_late(late)} late (due {submission.duedate} UTC, "
                                 f"submitted {submission.timestamp} UTC); nbgrader's late penalty: {penalty:g} "
                                 f"points")
            gradebook.db.commit()
    except (SQLAlchemyError, InvalidEntry) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CourseError(f"cannot write the nbgrader gradebook {where}: {first}") from None
    for line in lines:
        echo(line)
    if errors:
        echo(f"not written to the nbgrader gradebook (grader error, not a 0): {', '.join(errors)}")
    if out is not None:
        echo(_add_feedback_pages(directory, assignment, recorded, Path(out)))
    return len(recorded)


def _add_feedback_pages(directory, assignment: course.Assignment, results: dict[str, dict], out: Path) -> str:
    """Each recorded student's feedback page (``out``'s, else a fresh one) into their autograded notebooks."""
    from autograder import batch, pages

    done = []
    for student, data in sorted(results.items()):
        autograded = Path(directory.format_path(directory.autograded_directory, student, assignment.id))
        notebooks = sorted(autograded.glob("*.ipynb"))
        if not notebooks:
            continue
        page_file = batch.result_folder(out, student) / "feedback.html"
        page = page_file.read_text(encoding="utf-8") if page_file.is_file() else pages.feedback_page(
            data, assignment, data.get("extra_data", {}).get("language", "en"))  # the language it was graded in
        with_check_all = [p for p in notebooks if "grader.check_all()" in p.read_text(encoding="utf-8")]
        add_feedback((with_check_all or notebooks)[0], page)
        done.append(student)
    missing = len(results) - len(done)
    return (f"engine feedback added to {len(done)} autograded notebook{'s' * (len(done) != 1)} "
            f"(`nbgrader generate_feedback {assignment.id}` shows it)"
            + (f"; {missing} without one (not autograded by nbgrader)" if missing else ""))
