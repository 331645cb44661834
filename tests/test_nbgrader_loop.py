"""The whole nbgrader loop, with a real course directory and a real exchange (both in tmp_path).

``autograder release a1 --out COURSE/release/a1`` -> nbgrader ``release_assignment`` -> two students
``fetch_assignment`` and ``submit`` (ben the untouched template, on time; ana the reference solution and her
written answers, late) -> ``collect`` -> ``autograde`` -> formgrader's manual grades (the Gradebook API that
formgrader writes with) -> ``autograder grade-all --nbgrader COURSE`` (the engine's only grading) ->
``generate_feedback`` -> ``release_feedback`` -> ``fetch_feedback``. nbgrader's steps run in-process
through its own NbGraderAPI and exchange classes (what its command-line apps run), to keep the test short.
"""
from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import course, nbgrader_gradebook, release
from conftest import ROOT

pytest.importorskip("nbgrader")
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.apps import NbGraderAPI  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from traitlets.config import Config  # noqa: E402
from traitlets.config.loader import PyFileConfigLoader  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
              pytest.mark.filterwarnings("ignore:Passing unrecognized arguments:DeprecationWarning")]  # nbgrader's
A1 = course.load_assignment("a1")
POINTS = nbgrader_gradebook.task_points(A1)
AUTOGRADED = sum(POINTS.values())
ANSWERS = {"q_pooling_parameters": "Max-pooling only takes a maximum: nothing to learn. It keeps 320x240x32.",
           "q_dilation": "An effective 5x5 kernel, the same 9 weights, an 11x11 output."}
MANUAL = {"q_pooling_parameters": 2.0, "q_dilation": 0.5}
BIN = Path(sys.executable).parent
FRESH_SHELL = {**{k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")},
               "PATH": os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                       if p and Path(p).resolve() != BIN.resolve()) or "/usr/bin:/bin"}


def nbgrader_api(config_dir: Path, **settings) -> NbGraderAPI:
    """nbgrader's API as the command-line apps set it up in ``config_dir`` (its nbgrader_config.py)."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(config_dir)).load_config()
    extra = Config()
    for key, value in settings.items():
        section, name = key.split("__")
        setattr(getattr(extra, section), name, value)
    config.merge(extra)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def ok(result: dict) -> dict:
    assert result["success"], result.get("error") or result.get("log")
    return result


def student_side(home: Path, student: str, exchange: Path):
    """``student``'s own nbgrader (their home folder, their cache), as a student's nbgrader_config.py sets it."""
    home.mkdir()
    (home / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = 'cnn-course'\nc.Exchange.root = {str(exchange)!r}\n"
        f"c.Exchange.cache = {str(home / '.cache')!r}\nc.Exchange.assignment_dir = {str(home)!r}\n", encoding="utf-8")
    api = nbgrader_api(home, CourseDirectory__student_id=student)
    return api, api.exchange


def fetch(api, exchange) -> None:
    api.coursedir.assignment_id = "a1"
    exchange.FetchAssignment(coursedir=api.coursedir, authenticator=api.authenticator, parent=api).start()


def submit(api, exchange) -> None:
    api.coursedir.assignment_id = "a1"
    exchange.Submit(coursedir=api.coursedir, authenticator=api.authenticator, parent=api).start()


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_release_submit_autograde_grade_all_and_feedback_through_nbgrader(tmp_path):
    course_dir, exchange = tmp_path / "course", tmp_path / "exchange"
    course_dir.mkdir()
    (course_dir / "nbgrader_config.py").write_text(
        (ROOT / "assignments" / "nbgrader_config.py").read_text(encoding="utf-8")
        + f"\nc.Exchange.root = {str(exchange)!r}\nc.LateSubmissionPlugin.penalty_method = 'zero'\n",
        encoding="utf-8")

    # 1. The whole student release is nbgrader's release folder: the exchange carries all of it.
    written = release.build("a1", course_dir / "release" / "a1")
    released = course_dir / "release" / "a1"
    assert written and (course_dir / "gradebook.db").is_file() and (course_dir / "source" / "a1" / "a1_lab.ipynb").is_file()
    instructor = nbgrader_api(course_dir)
    ok(instructor.release_assignment("a1"))
    ana_api, ana_exchange = student_side(tmp_path / "ana", "ana", exchange)
    ben_api, ben_exchange = student_side(tmp_path / "ben", "ben", exchange)
    fetch(ana_api, ana_exchange)
    fetch(ben_api, ben_exchange)
    fetched = tmp_path / "ana" / "a1"
    assert files(fetched) == files(released)
    for needed in ("a1_lab.ipynb", "conv_arithmetic.py", "README.md", "requirements.txt", "autograder/cli.py",
                   "autograder/graders/a1/public/test_a1_public.py", *(f"tests/{t}.py" for t in A1.tasks)):
        assert (fetched / needed).is_file(), needed
    assert not any((fetched / "autograder" / f"{m.split('.', 1)[1].replace('.', '/')}.py").exists()
                   for m in release.INSTRUCTOR_ONLY)
    assert not (fetched / "autograder" / "graders" / "a1" / "hidden").exists()
    assert release.find_leaks(fetched, A1, ROOT) == []

    # 2. Students work and submit: ben the untouched template, on time; ana the reference and her answers, late.
    submit(ben_api, ben_exchange)
    shutil.copy(ROOT / "solutions" / "a1" / "conv_arithmetic.py", fetched)
    nb = nbformat.read(fetched / "a1_lab.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in ANSWERS:
            cell.source = ANSWERS[grade_id]
    nbformat.write(nb, fetched / "a1_lab.ipynb")
    submit(ana_api, ana_exchange)
    ok(instructor.collect("a1"))
    stamps = {s: instructor.coursedir.get_existing_timestamp(str(course_dir / "submitted" / s / "a1"))
              for s in ("ana", "ben")}
    assert stamps["ben"] < stamps["ana"]
    due = stamps["ben"] + (stamps["ana"] - stamps["ben"]) / 2
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "cnn-course") as gb:
        gb.update_or_create_assignment("a1", duedate=due)  # what `nbgrader db assignment add a1 --duedate` does

    # 3. nbgrader autograde accepts both submissions (the released cells match the gradebook's checksums),
    # records their timestamps and gives the task cells no score of its own.
    for student in ("ana", "ben"):
        ok(instructor.autograde("a1", student))
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "cnn-course") as gb:
        for student in ("ana", "ben"):
            submission = gb.find_submission("a1", student)
            assert submission.timestamp == stamps[student].replace(tzinfo=None)
            tasks = [g for nb_ in submission.notebooks for g in nb_.grades if g.name.startswith("task_")]
            assert len(tasks) == len(A1.tasks) and all(g.auto_score is None and g.needs_manual_grade for g in tasks)
        assert gb.find_submission("a1", "ana").total_seconds_late > 0
        assert gb.find_submission("a1", "ben").total_seconds_late == 0

    # 4. formgrader: ana's written answers are there to grade, and get manual scores.
    answers = {c.metadata.nbgrader.grade_id: c.source for c in nbformat.read(
        course_dir / "autograded" / "ana" / "a1" / "a1_lab.ipynb", as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS}
    assert answers == ANSWERS
    waiting = {s["student"]: s for s in instructor.get_notebook_submissions("a1", "a1_lab")}
    assert waiting["ana"]["needs_manual_grade"]
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "cnn-course") as gb:
        for cell, score in MANUAL.items():
            assert gb.find_grade(cell, "a1_lab", "a1", "ana").auto_score is None  # answered: for a grader
            assert gb.find_grade(cell, "a1_lab", "a1", "ben").auto_score == 0  # unanswered: 0 by nbgrader
            grade = gb.find_grade(cell, "a1_lab", "a1", "ana")
            grade.manual_score = score
            grade.needs_manual_grade = False
        gb.db.commit()

    # 5. The engine grades the class once and writes its scores, the late penalty and its feedback.
    done = subprocess.run([str(BIN / "autograder"), "grade-all", str(course_dir), "-a", "a1", "--out",
                           str(tmp_path / "results"), "--allow-isolation", "none", "--workers", "1",
                           "--nbgrader", str(course_dir)], cwd=tmp_path, env=FRESH_SHELL, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"wrote 2 students' autograded scores to {course_dir / 'gradebook.db'}" in done.stdout
    assert "ana: submitted " in done.stdout and f"late penalty: {AUTOGRADED + sum(MANUAL.values()):g} points" in done.stdout
    assert "ben: submitted" not in done.stdout
    assert "engine feedback added to 2 autograded notebooks" in done.stdout
    ok(instructor.generate_feedback("a1"))
    ok(instructor.release_feedback("a1"))
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", "cnn-course") as gb:
        ana, ben = gb.find_submission("a1", "ana"), gb.find_submission("a1", "ben")
        assert ana.timestamp == stamps["ana"].replace(tzinfo=None) and ben.timestamp == stamps["ben"].replace(tzinfo=None)
        assert ana.score == AUTOGRADED + sum(MANUAL.values()) and ana.late_submission_penalty == ana.score
        assert ben.score == 0 and not ben.late_submission_penalty
        tasks = {g.name: g.auto_score for nb_ in ana.notebooks for g in nb_.grades if g.name.startswith("task_")}
        assert tasks == {nbgrader_gradebook.grade_id(t): p for t, p in POINTS.items()}

    # 6. Each student's fetched feedback holds the engine's feedback page.
    for student, api, exchange_ in (("ana", ana_api, ana_exchange), ("ben", ben_api, ben_exchange)):
        api.coursedir.assignment_id = "a1"
        exchange_.FetchFeedback(coursedir=api.coursedir, authenticator=api.authenticator, parent=api).start()
        pages = list((tmp_path / student / "a1" / "feedback").glob("*/a1_lab.html"))
        assert len(pages) == 1, pages
        engine_page = (tmp_path / "results" / "students").glob("*/feedback.html")
        shown = html.unescape(pages[0].read_text(encoding="utf-8"))
        own = [p.read_text(encoding="utf-8") for p in engine_page if f"{student}-" in p.parent.name]
        assert own and own[0] in shown
