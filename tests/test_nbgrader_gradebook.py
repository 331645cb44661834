"""Autograded scores in a real nbgrader course's gradebook, added to the manual scores of the written answers.

Each test gets an nbgrader course made with nbgrader itself: the course's nbgrader_config.py, the repository's
source notebook of A1, ``nbgrader generate_assignment a1`` and ``nbgrader db student add``. A grader's manual
score goes in the way formgrader writes it (the Gradebook API's ``manual_score``); ``nbgrader export`` reads
the totals back.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import batch, course, nbgrader_gradebook
from autograder.course import CourseError
from conftest import ROOT

pytest.importorskip("nbgrader")
from nbgrader.api import Gradebook  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
A1 = course.load_assignment("a1")
POINTS = nbgrader_gradebook.task_points(A1)
AUTOGRADED = sum(POINTS.values())
WRITTEN = {"q_pooling_parameters": 1.5, "q_dilation": 1.0}  # ana's manual scores (of 2 and 1)
ENV = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
BIN = os.path.dirname(sys.executable)
# A shell where the virtual environment is not activated: `.venv/bin/nbgrader` must work there (the course's
# nbgrader_config.py puts the venv's `alembic` on PATH for a new gradebook).
FRESH_SHELL = {**{k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")},
               "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                       if p and os.path.realpath(p) != os.path.realpath(BIN)) or "/usr/bin:/bin"}


def nbgrader(course_dir, *args):
    done = subprocess.run([os.path.join(BIN, "nbgrader"), *args], cwd=course_dir, env=FRESH_SHELL,
                          capture_output=True, text=True)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def make_course(folder, edit=None, students=("ana",)):
    """An nbgrader course with A1 generated from the repository's notebook (``edit(nb)`` changes it first) and
    ``students`` added (others are created by the first recording)."""
    (folder / "source" / "a1").mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", folder)
    nb = nbformat.read(ROOT / "assignments" / "source" / "a1" / "a1_lab.ipynb", as_version=4)
    if edit:
        edit(nb)
    nbformat.write(nb, folder / "source" / "a1" / "a1_lab.ipynb")
    nbgrader(folder, "generate_assignment", "a1")
    for student in students:
        nbgrader(folder, "db", "student", "add", student, f"--first-name={student.title()}", "--last-name=Doe")
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("nbgrader") / "course")


@pytest.fixture
def course_dir(generated, tmp_path):
    """A fresh copy of the generated course, with ana's written answers graded by hand."""
    folder = shutil.copytree(generated, tmp_path / "course")
    with gradebook(folder) as gb:
        gb.update_or_create_submission("a1", "ana")
        for cell, score in WRITTEN.items():
            grade = gb.find_grade(cell, "a1_lab", "a1", "ana")
            grade.manual_score = score
            grade.needs_manual_grade = False
        gb.db.commit()
    return folder


def gradebook(folder):
    return Gradebook(f"sqlite:///{folder / 'gradebook.db'}", "cnn-course")


def export(folder) -> dict[str, dict]:
    """student -> their row of ``nbgrader export`` (the CSV nbgrader writes)."""
    nbgrader(folder, "export", "--to", "export.csv")
    with open(folder / "export.csv", newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def grades(folder, student) -> dict[str, tuple]:
    """grade cell -> (auto_score, manual_score, needs_manual_grade) of ``student``'s submission."""
    with gradebook(folder) as gb:
        submission = gb.find_submission("a1", student)
        return {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                for nb in submission.notebooks for g in nb.grades}


def results(student, scores: dict[str, float] | None = None, status="graded") -> dict:
    """A results.json in Gradescope's format: two tests per task sharing its points, the task's score split
    between them (``scores`` task -> points; full marks when None)."""
    scores = POINTS if scores is None else scores
    tests = []
    for task, points in POINTS.items():
        got = scores.get(task, 0.0)
        for half in ("a", "b"):
            tests.append({"name": f"test_{task}_{half}", "number": task, "score": got / 2, "max_score": points / 2,
                          "status": "passed" if got == points else "failed", "output": "",
                          "visibility": "visible"})
    return {"score": sum(t["score"] for t in tests), "tests": tests, "output": "",
            "extra_data": {"student": student, "status": status, "assignment": "a1", "seconds": 1.0}}


def test_source_notebooks_make_each_grader_check_a_grade_cell_worth_its_task():
    assert nbgrader_gradebook.sync_source_notebooks(check_only=True) == []
    nb = nbformat.read(ROOT / "assignments" / "source" / "a1" / "a1_lab.ipynb", as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("task_")}
    assert sorted(cells) == sorted(nbgrader_gradebook.grade_id(t) for t in A1.tasks)
    for task in A1.tasks:
        cell = cells[nbgrader_gradebook.grade_id(task)]
        assert cell.source == f'grader.check("{task}")'
        assert cell.metadata["nbgrader"]["points"] == POINTS[task] and cell.metadata["nbgrader"]["locked"]
    assert POINTS == {"1.1": 13, "1.2": 8, "1.3": 4, "1.4": 5, "1.5": 7}


def test_the_gradebook_knows_a_grade_cell_per_task_and_the_release_shows_none(generated):
    with gradebook(generated) as gb:
        cells = {c.name: c.max_score for c in gb.find_notebook("a1_lab", "a1").grade_cells}
    assert cells == {**{nbgrader_gradebook.grade_id(t): p for t, p in POINTS.items()},
                     "q_pooling_parameters": 2, "q_dilation": 1}
    released = generated / "release" / "a1" / "a1_lab.ipynb"
    copy = generated.parent / "released.ipynb"
    shutil.copy(released, copy)
    nbgrader_gradebook.ungrade_task_cells(copy)
    nb = nbformat.read(copy, as_version=4)
    graded = [c.metadata.nbgrader.grade_id for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded == ["q_pooling_parameters", "q_dilation"]
    checks = [c for c in nb.cells if c.source.startswith("grader.check(\"")]
    assert checks and all(c.metadata.nbgrader.locked and c.metadata.editable is False for c in checks)


def test_autograded_points_add_to_the_manual_ones_in_nbgraders_export(course_dir):
    partial = {"1.1": 5.0, "1.3": 4.0}
    class_results = {"ana": results("ana"), "ben": results("ben", {}, status="not gradable"),
                     "cy": results("cy", partial), "dan": results("dan", status="grader error")}
    said = []
    assert nbgrader_gradebook.record(course_dir, A1, class_results, echo=said.append) == 3
    assert said == ["not written to the nbgrader gradebook (grader error, not a 0): dan"]
    rows = export(course_dir)
    assert float(rows["ana"]["score"]) == AUTOGRADED + sum(WRITTEN.values())
    assert float(rows["ana"]["max_score"]) == AUTOGRADED + 3 and rows["ana"]["first_name"] == "Ana"
    assert float(rows["ben"]["score"]) == 0 and "dan" not in rows  # a grader error is no grade, never a 0
    assert float(rows["cy"]["score"]) == 9
    ana = grades(course_dir, "ana")
    for cell, score in WRITTEN.items():
        assert ana[cell] == (None, score, False)  # manual scores untouched
    for task, points in POINTS.items():
        assert ana[nbgrader_gradebook.grade_id(task)] == (points, None, False)
        assert grades(course_dir, "cy")[nbgrader_gradebook.grade_id(task)][0] == partial.get(task, 0.0)
    assert grades(course_dir, "cy")["q_dilation"] == (None, None, True)  # still waiting for a grader


def test_a_grader_error_keeps_the_cells_nbgrader_left_ungraded(course_dir):
    with gradebook(course_dir) as gb:
        gb.update_or_create_student("dan")
        gb.update_or_create_submission("a1", "dan")  # as nbgrader autograde leaves it: task cells not scored
    nbgrader_gradebook.record(course_dir, A1, {"dan": results("dan", status="grader error")})
    assert all(grades(course_dir, "dan")[nbgrader_gradebook.grade_id(t)] == (None, None, True) for t in POINTS)


def test_the_submissions_timestamp_is_kept_or_taken_from_timestamp_txt_and_lateness_is_shown(course_dir):
    from datetime import datetime

    with gradebook(course_dir) as gb:
        gb.update_or_create_assignment("a1", duedate=datetime(2026, 3, 1, 12, 0))
        gb.update_or_create_submission("a1", "ana", timestamp=datetime(2026, 3, 1, 11, 0))  # nbgrader's
    for student, stamp in (("ana", "2026-03-09 12:00:00 UTC"), ("ben", "2026-03-02 14:30:00.5 UTC")):
        (course_dir / "submitted" / student / "a1").mkdir(parents=True)
        (course_dir / "submitted" / student / "a1" / "timestamp.txt").write_text(stamp, encoding="utf-8")
    said = []
    nbgrader_gradebook.record(course_dir, A1, {"ana": results("ana"), "ben": results("ben")}, echo=said.append)
    with gradebook(course_dir) as gb:
        assert gb.find_submission("a1", "ana").timestamp == datetime(2026, 3, 1, 11, 0)  # not clobbered
        assert gb.find_submission("a1", "ben").timestamp == datetime(2026, 3, 2, 14, 30, 0, 500000)
    assert said == ["ben: submitted 1 day 2:30:00 late (due 2026-03-01 12:00:00 UTC, submitted "
                    "2026-03-02 14:30:00.500000 UTC); nbgrader's late penalty: 0 points"]


def test_the_released_task_cells_are_ungraded_with_the_gradebooks_checksums(course_dir):
    from nbgrader.utils import compute_checksum

    nbgrader_gradebook.ungrade_release(course_dir, "a1")
    nb = nbformat.read(course_dir / "release" / "a1" / "a1_lab.ipynb", as_version=4)
    with gradebook(course_dir) as gb:
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id", "").startswith("task_"):
                assert not meta["grade"] and "points" not in meta and meta["locked"]
                assert gb.find_source_cell(meta["grade_id"], "a1_lab", "a1").checksum == compute_checksum(cell)
        assert {c.name for c in gb.find_notebook("a1_lab", "a1").grade_cells} >= {
            nbgrader_gradebook.grade_id(t) for t in POINTS}  # still worth their points, for record()


def test_recording_twice_gives_the_same_gradebook_and_keeps_a_manual_override(course_dir):
    class_results = {"ana": results("ana"), "ben": results("ben", {"1.2": 8.0})}
    nbgrader_gradebook.record(course_dir, A1, class_results)
    first = export(course_dir)
    with gradebook(course_dir) as gb:
        grade = gb.find_grade("task_1_2", "a1_lab", "a1", "ben")
        grade.manual_score = 6.0  # a grader overrides the autograded task in formgrader
        gb.db.commit()
    nbgrader_gradebook.record(course_dir, A1, class_results)
    nbgrader_gradebook.record(course_dir, A1, class_results)
    again = export(course_dir)
    assert {s: r for s, r in again.items() if s != "ben"} == {s: r for s, r in first.items() if s != "ben"}
    assert float(first["ben"]["score"]) == 8 and float(again["ben"]["score"]) == 6
    assert grades(course_dir, "ben")["task_1_2"] == (8.0, 6.0, True)
    with gradebook(course_dir) as gb:
        assert len(gb.students) == 2 and len(gb.assignment_submissions("a1")) == 2


def test_a_gradebook_without_the_task_cells_is_named_with_what_to_run(tmp_path):
    def strip_task_cells(nb):
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("task_"):
                del cell.metadata["nbgrader"]

    old = make_course(tmp_path / "old", strip_task_cells, students=())
    with pytest.raises(CourseError, match=r"no grade cell task_1_1 .*nbgrader generate_assignment a1 --force"):
        nbgrader_gradebook.record(old, A1, {"ana": results("ana")})
    with gradebook(old) as gb:
        assert gb.assignment_submissions("a1") == []  # nothing written
        gb.update_or_create_student("ana")
        gb.update_or_create_submission("a1", "ana")  # collected and graded by hand before the task cells
    with pytest.raises(CourseError, match="no grade cell task_1_1 .*nbgrader db assignment remove a1 --force"):
        nbgrader_gradebook.record(old, A1, {"ana": results("ana")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(CourseError, match="has no nbgrader gradebook"):
        nbgrader_gradebook.record(tmp_path / "empty", A1, {"ana": results("ana")})
    assert not (tmp_path / "empty" / "gradebook.db").exists()


def test_a_grade_cell_worth_other_points_than_its_task_is_refused(course_dir):
    with gradebook(course_dir) as gb:
        gb.update_or_create_grade_cell("task_1_2", "a1_lab", "a1", max_score=3)  # an older notebook's points
    with pytest.raises(CourseError, match="task_1_2 is worth 3 points .* task 1.2 is worth 8"):
        nbgrader_gradebook.record(course_dir, A1, {"ana": results("ana")})
    assert grades(course_dir, "ana")["task_1_1"] == (None, None, True)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True)


def test_collect_writes_the_gradebook_and_names_missing_cells_in_one_line(course_dir, tmp_path):
    shard = tmp_path / "part1"
    for student in ("ana", "ben"):
        path = batch.result_path(shard, student)  # grade-all's layout: students/<folder>/results.json
        path.parent.mkdir(parents=True)
        data = results(student) if student == "ana" else results(student, {})
        path.write_text(json.dumps(data), encoding="utf-8")
    done = run_cli("collect", str(shard), "-a", "a1", "--out", str(tmp_path / "all"), "--nbgrader", str(course_dir))
    assert done.returncode == 0, done.stderr
    assert f"wrote 2 students' autograded scores to {course_dir / 'gradebook.db'}" in done.stdout
    assert "SAWarning" not in done.stderr
    assert float(export(course_dir)["ana"]["score"]) == AUTOGRADED + sum(WRITTEN.values())
    (course_dir / "gradebook.db").unlink()
    done = run_cli("collect", str(shard), "-a", "a1", "--out", str(tmp_path / "all"), "--nbgrader", str(course_dir))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("autograder: error: ")
    assert "nbgrader generate_assignment a1" in done.stderr


# grade-all --nbgrader on a real class (the engine's scores, late penalty, feedback): tests/test_nbgrader_loop.py


def test_grade_all_refuses_a_course_without_a_gradebook_before_grading_anyone(tmp_path):
    (tmp_path / "submissions" / "ana").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "a1" / "conv_arithmetic.py", tmp_path / "submissions" / "ana")
    (tmp_path / "course").mkdir()
    done = run_cli("grade-all", str(tmp_path / "submissions"), "-a", "a1", "--out", str(tmp_path / "out"),
                   "--allow-isolation", "none", "--nbgrader", str(tmp_path / "course"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"autograder: error: {tmp_path / 'course'} has no nbgrader gradebook ({tmp_path / 'course' / 'gradebook.db'}); "
        f"run `nbgrader generate_assignment a1 --force` in {tmp_path / 'course'} first"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "course" / "gradebook.db").exists()
