"""A whole class in one command: layouts, parallel workers, atomic results that survive SIGKILL, grades.csv."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from autograder import batch, course
from conftest import ROOT

A1 = course.load_assignment("a1")
SOLUTION = ROOT / "solutions" / "a1" / "conv_arithmetic.py"
TEMPLATE = ROOT / "student_template" / "a1" / "conv_arithmetic.py"


def a1_class(folder):
    """Four students: the reference, the untouched template, an empty folder, and the reference as a zip
    (in the folder layout the zip sits inside zoe's folder, as a student who uploads one would)."""
    for student, source in (("ana", SOLUTION), ("ben", TEMPLATE)):
        (folder / student).mkdir(parents=True)
        shutil.copy(source, folder / student)
    (folder / "carl").mkdir()
    (folder / "carl" / "notes.txt").write_text("I did not finish")
    (folder / "zoe").mkdir()
    with zipfile.ZipFile(folder / "zoe" / "a1_lab_export.zip", "w") as zf:
        zf.write(SOLUTION, "conv_arithmetic.py")
    return folder


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
                          **kwargs)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_layouts_are_detected_and_named(tmp_path):
    nbgrader = tmp_path / "course" / "submitted"
    for student in ("s1", "s2"):
        (nbgrader / student / "a1").mkdir(parents=True)
    layout, found = batch.find_submissions(tmp_path / "course", A1)
    assert layout.startswith("nbgrader") and [s.student for s in found] == ["s1", "s2"]
    assert found[0].path == nbgrader / "s1" / "a1"
    zips = tmp_path / "zips"
    zips.mkdir()
    for student in ("b", "a"):
        (zips / f"{student}.zip").write_bytes(b"")
    layout, found = batch.find_submissions(zips, A1)
    assert layout.startswith("zips") and [s.student for s in found] == ["a", "b"]
    layout, found = batch.find_submissions(a1_class(tmp_path / "folders"), A1)
    assert layout.startswith("folders") and [s.student for s in found] == ["ana", "ben", "carl", "zoe"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(course.CourseError, match="holds no submissions"):
        batch.find_submissions(tmp_path / "empty", A1)


GRADESCOPE_METADATA = """\
submission_101:
  :submitters:
  - :name: Ana Ruiz
    :sid: '3030'
    :email: ana@uni.example
  :created_at: 2026-11-20 10:00:00.000000000 +01:00
  :score: 0.0
submission_102:
  :submitters:
  - :name: Ben Ortiz
    :sid: ''
    :email: ben@uni.example
  - :name: Zoe Gil
    :sid: '4040'
  :created_at: 2026-11-20 11:00:00.000000000 +01:00
submission_103:
  :submitters:
  - :name: Carl Paz
    :sid: '5050'
"""


def gradescope_export(path):
    """Gradescope's "Export Submissions" zip: submission_metadata.yml and one folder per submission (Carl's
    holds only his notebook)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("assignment_777_export/submission_metadata.yml", GRADESCOPE_METADATA)
        zf.write(SOLUTION, "assignment_777_export/submission_101/conv_arithmetic.py")
        zf.write(TEMPLATE, "assignment_777_export/submission_102/conv_arithmetic.py")
        zf.writestr("assignment_777_export/submission_103/a1_lab.ipynb", "{}")
    return path


def test_gradescope_export_names_students_by_their_sids(tmp_path):
    export = gradescope_export(tmp_path / "export.zip")
    layout, found = batch.find_submissions(export, A1, unpack_to=tmp_path / "unpacked")
    assert layout.startswith("gradescope export")
    assert [(s.student, s.path.name) for s in found] == [
        ("3030", "submission_101"), ("5050", "submission_103"), ("ben@uni.example+4040", "submission_102")]
    assert batch.find_submissions(tmp_path / "unpacked", A1) == (layout, found)  # the unpacked folder too
    (tmp_path / "unpacked" / "assignment_777_export" / "submission_metadata.yml").write_text("- just a list\n")
    with pytest.raises(course.CourseError, match="not Gradescope's submission metadata"):
        batch.find_submissions(tmp_path / "unpacked", A1)
    with pytest.raises(course.CourseError, match="give a folder to unpack it into"):
        batch.find_submissions(export, A1)


def test_student_ids_cannot_climb_out_of_the_results_folder_or_collide(tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / "a_b").mkdir()
    with pytest.raises(course.CourseError, match="same student id"):
        batch.find_submissions(tmp_path, A1)
    assert batch._safe_name("../../etc") == "_.._etc" and "/" not in batch._safe_name("a/b")


def test_shards_split_the_class_deterministically(tmp_path):
    students = [batch.Submission(f"student{i:03d}", tmp_path) for i in range(200)]
    parts = [batch.shard(students, k, 4) for k in range(1, 5)]
    assert sorted(s.student for part in parts for s in part) == [s.student for s in students]
    assert all(20 < len(part) < 80 for part in parts)
    assert batch.shard(students, 2, 4) == parts[1]


@pytest.mark.slow
def test_grade_all_writes_each_result_and_a_gradebook_and_resumes_after_sigkill(tmp_path):
    submissions = a1_class(tmp_path / "class")
    args = ["grade-all", str(submissions), "-a", "a1", "--allow-isolation", "none"]
    whole = run_cli(*args, "--out", str(tmp_path / "whole"), "--workers", "2")
    assert whole.returncode == 0, whole.stderr
    assert "4 submissions (folders" in whole.stderr and "carl: not gradable: no a1 module" in whole.stdout
    rows = {r["student"]: r for r in read_csv(tmp_path / "whole" / "grades.csv")}
    full = sum(A1.points("public").values()) + sum(A1.points("hidden").values())
    assert {s: (float(r["total"]), r["status"]) for s, r in rows.items()} == {
        "ana": (full, "graded"), "ben": (0.0, "graded"), "carl": (0.0, "not gradable"), "zoe": (full, "graded")}
    assert list(rows["ana"])[1:len(A1.tasks) + 1] == list(A1.tasks)
    for student in ("ana", "ben", "carl", "zoe"):
        assert (tmp_path / "whole" / student / "feedback.html").is_file()
    assert "Not implemented yet: task 1.1" in (tmp_path / "whole" / "ben" / "feedback.html").read_text()
    class_report = (tmp_path / "whole" / "report.html").read_text()
    assert "4 students, 3 graded" in class_report and "no a1 module" in class_report

    # interrupted: SIGKILL of the whole batch once the first result is written, then the same command again
    out = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "autograder", *args, "--out", str(out), "--workers", "1"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(f"*/{batch.RESULTS_FILE}")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(f"*/{batch.RESULTS_FILE}")}
    assert 1 <= len(kept) < 4 and not list(out.glob("*/.*.tmp"))
    resumed = run_cli(*args, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} already graded" in resumed.stderr
    assert all((out / s / batch.RESULTS_FILE).stat().st_mtime_ns == t for s, t in kept.items())  # not graded twice
    assert (out / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()

    again = run_cli(*args, "--out", str(out))
    assert "4 already graded" in again.stderr and "0 to grade" in again.stderr
    regraded = run_cli(*args, "--out", str(out), "--regrade", "--shard", "1/1")
    assert "4 to grade" in regraded.stderr
    assert (out / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()


@pytest.mark.slow
def test_shards_graded_apart_collect_into_the_same_gradebook(tmp_path):
    submissions = a1_class(tmp_path / "class")
    args = ["grade-all", str(submissions), "-a", "a1", "--allow-isolation", "none", "--workers", "1"]
    for k in (1, 2):
        done = run_cli(*args, "--shard", f"{k}/2", "--out", str(tmp_path / f"shard{k}"))
        assert done.returncode == 0, done.stderr
    graded = [{p.parent.name for p in (tmp_path / f"shard{k}").glob("*/results.json")} for k in (1, 2)]
    assert not graded[0] & graded[1] and graded[0] | graded[1] == {"ana", "ben", "carl", "zoe"}
    merged = run_cli("collect", str(tmp_path / "shard1"), str(tmp_path / "shard2"), "-a", "a1",
                     "--out", str(tmp_path / "all"))
    assert merged.returncode == 0 and "4 students from 2 result folders" in merged.stdout, merged.stderr
    whole = run_cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0
    assert (tmp_path / "all" / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()


@pytest.mark.slow
def test_a_gradescope_export_zip_is_graded_in_one_command(tmp_path):
    export = gradescope_export(tmp_path / "export.zip")
    out = tmp_path / "results"
    done = run_cli("grade-all", str(export), "-a", "a1", "--allow-isolation", "none", "--workers", "2",
                   "--out", str(out), "--lang", "es")
    assert done.returncode == 0, done.stderr
    assert "3 submissions (gradescope export (submission_metadata.yml))" in done.stderr
    full = sum(A1.points("public").values()) + sum(A1.points("hidden").values())
    rows = {r["student"]: (float(r["total"]), r["status"]) for r in read_csv(out / "grades.csv")}
    assert rows == {"3030": (full, "graded"), "ben@uni.example+4040": (0.0, "graded"), "5050": (0.0, "not gradable")}
    assert "Comentarios para" in (out / "3030" / "feedback.html").read_text()
    again = run_cli("grade-all", str(export), "-a", "a1", "--allow-isolation", "none", "--out", str(out))
    assert "3 already graded" in again.stderr and "0 to grade" in again.stderr
