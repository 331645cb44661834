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
    (nbgrader / "s3" / "a2").mkdir(parents=True)  # s3 submitted another assignment only
    layout, found = batch.find_submissions(tmp_path / "course", A1)
    assert layout.startswith("nbgrader") and [s.student for s in found] == ["s1", "s2", "s3"]
    assert found[0].path == nbgrader / "s1" / "a1" and found[0].problem is None
    assert found[2].problem == "no a1/ folder in submitted/s3"
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


def test_every_entry_of_a_mixed_folder_is_a_submission_and_none_clashes_with_the_runs_files(tmp_path):
    root = tmp_path / "class"
    for student in ("ana", "ben", "bob", "grades.csv", "report.html", "students"):
        (root / student).mkdir(parents=True)
        shutil.copy(SOLUTION, root / student)
    for student in ("carl", "bob"):
        with zipfile.ZipFile(root / f"{student}.zip", "w") as zf:
            zf.write(SOLUTION, "conv_arithmetic.py")
    (root / "notes.txt").write_text("not a submission")
    (root / ".DS_Store").write_bytes(b"\0")
    (root / "results" / "students").mkdir(parents=True)  # the run's own --out, inside the folder
    layout, found = batch.find_submissions(root, A1, exclude=(root / "results",))
    assert layout == "mixed (<student>/ + <student>.zip + other entries)"
    assert {s.student: (s.entry, s.problem is None) for s in found} == {
        "ana": ("ana/", True), "ben": ("ben/", True), "bob (bob/)": ("bob/", True), "bob (bob.zip)": ("bob.zip", True),
        "carl": ("carl.zip", True), "grades.csv": ("grades.csv/", True), "report.html": ("report.html/", True),
        "students": ("students/", True), "notes.txt": ("notes.txt", False)}
    assert "notes.txt is a file, not a folder or a zip" in next(s.problem for s in found if s.problem)
    assert batch.hidden_entries(root) == [".DS_Store"]
    folders = {batch.result_folder(tmp_path / "out", s.student) for s in found}
    assert len(folders) == len(found) and all(f.parent == tmp_path / "out" / "students" for f in folders)


def test_results_are_stored_under_bounded_collision_free_names_and_read_back_by_the_id_as_given(tmp_path):
    group = "+".join(f"student.number.{i}@very-long-university-name.example.edu" for i in range(7))
    ids = [group, "Ana", "ana", "a b", "a_b", "../../etc/passwd", "grades.csv", "report.html", "\u00f1o\u00f1o"]
    names = [batch.folder_name(i) for i in ids]
    assert len(set(names)) == len(ids) and len(group) > 280
    assert all(len(n) <= batch.MAX_SLUG + 13 and "/" not in n and not n.startswith(".") for n in names)
    spec_max = sum(A1.points("public").values()) + sum(A1.points("hidden").values())
    for student in ids:
        data = batch.ungraded(batch.Submission(student, tmp_path / "x", "empty", "x/"), "a1", batch.NOT_GRADABLE,
                              "empty")
        batch._write_atomically(batch.result_path(tmp_path / "out", student), data)
    results = batch.read_results(tmp_path / "out")
    assert sorted(results) == sorted(ids) and results[group]["extra_data"]["max_score"] == spec_max
    assert results["Ana"]["extra_data"]["folder"] == f"students/{batch.folder_name('Ana')}"
    rows = read_csv(batch.write_gradebook(tmp_path / "out", A1))
    assert sorted(r["student"] for r in rows) == sorted(ids)


def test_a_grader_error_has_no_points_in_the_gradebook_and_is_graded_again(tmp_path):
    out = tmp_path / "out"
    for student, status in (("ana", batch.GRADED), ("ben", batch.NOT_GRADABLE), ("carl", batch.GRADER_ERROR)):
        data = batch.ungraded(batch.Submission(student, tmp_path, None, f"{student}/"), "a1", status, f"why {student}")
        batch._write_atomically(batch.result_path(out, student), data)
    rows = {r["student"]: r for r in read_csv(batch.write_gradebook(out, A1))}
    assert (rows["carl"]["total"], rows["carl"]["status"], rows["carl"]["reason"]) == ("", "grader error", "why carl")
    assert all(rows["carl"][task] == "" for task in A1.tasks)
    assert (rows["ben"]["total"], rows["ben"]["reason"]) == ("0", "why ben")
    assert [batch.done(out, s) for s in ("ana", "ben", "carl", "dan")] == [True, True, False, False]


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
        zf.writestr("assignment_777_export/submission_102/conv_arithmetic.py",  # the template, broken
                    TEMPLATE.read_text().replace("):", ")", 1))
        zf.writestr("assignment_777_export/submission_103/a1_lab.ipynb", "{}")
    return path


def test_gradescope_export_names_students_by_their_sids(tmp_path):
    export = gradescope_export(tmp_path / "export.zip")
    layout, found = batch.find_submissions(export, A1, unpack_to=tmp_path / "unpacked")
    assert layout.startswith("gradescope export")
    assert [(s.student, s.path.name, s.problem) for s in found] == [
        ("3030", "submission_101", None), ("5050", "submission_103", None),
        ("ben@uni.example+4040", "submission_102", None)]
    assert batch.find_submissions(tmp_path / "unpacked", A1) == (layout, found)  # the unpacked folder too
    (tmp_path / "unpacked" / "assignment_777_export" / "submission_metadata.yml").write_text("- just a list\n")
    with pytest.raises(course.CourseError, match="not Gradescope's submission metadata"):
        batch.find_submissions(tmp_path / "unpacked", A1)
    with pytest.raises(course.CourseError, match="give a folder to unpack it into"):
        batch.find_submissions(export, A1)


def test_shards_split_the_class_deterministically(tmp_path):
    students = [batch.Submission(f"student{i:03d}", tmp_path) for i in range(200)]
    parts = [batch.shard(students, k, 4) for k in range(1, 5)]
    assert sorted(s.student for part in parts for s in part) == [s.student for s in students]
    assert all(20 < len(part) < 80 for part in parts)
    assert batch.shard(students, 2, 4) == parts[1]


def result_file(out, student):
    return batch.result_path(out, student)


@pytest.mark.slow
def test_grade_all_writes_each_result_and_a_gradebook_and_resumes_after_sigkill(tmp_path):
    submissions = a1_class(tmp_path / "class")
    (submissions / "notes.txt").write_text("a stray file: one row, not gradable")
    args = ["grade-all", str(submissions), "-a", "a1", "--allow-isolation", "none"]
    whole = run_cli(*args, "--out", str(tmp_path / "whole"), "--workers", "2")
    assert whole.returncode == 0, whole.stderr
    assert "5 submissions (mixed" in whole.stderr and "carl: not gradable: no a1 module" in whole.stdout
    rows = {r["student"]: r for r in read_csv(tmp_path / "whole" / "grades.csv")}
    full = sum(A1.points("public").values()) + sum(A1.points("hidden").values())
    assert {s: (float(r["total"]), r["status"]) for s, r in rows.items()} == {
        "ana": (full, "graded"), "ben": (0.0, "graded"), "carl": (0.0, "not gradable"), "zoe": (full, "graded"),
        "notes.txt": (0.0, "not gradable")}
    assert list(rows["ana"])[1:len(A1.tasks) + 1] == list(A1.tasks)
    pages = {s: (result_file(tmp_path / "whole", s).parent / "feedback.html") for s in rows}
    assert all(page.is_file() for page in pages.values())
    assert "Not implemented yet: task 1.1" in pages["ben"].read_text()
    assert str(tmp_path) not in pages["carl"].read_text() and str(ROOT) not in pages["ben"].read_text()
    class_report = (tmp_path / "whole" / "report.html").read_text()
    assert "5 students, 3 graded" in class_report and "no a1 module" in class_report

    # interrupted: SIGKILL of the whole batch once the first result is written, then the same command again
    out = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, "-m", "autograder", *args, "--out", str(out), "--workers", "1"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(f"students/*/{batch.RESULTS_FILE}")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = {p.parent.name: p.stat().st_mtime_ns for p in out.glob(f"students/*/{batch.RESULTS_FILE}")}
    assert 1 <= len(kept) < 5 and not list(out.glob("students/*/.*.tmp"))
    resumed = run_cli(*args, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} already graded" in resumed.stderr
    assert all((out / "students" / s / batch.RESULTS_FILE).stat().st_mtime_ns == t for s, t in kept.items())
    assert (out / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()

    # publishing makes every page again from the stored results: nothing is graded
    page = result_file(out, "ana").parent / "feedback.html"
    assert "are withheld until the grades are published" in page.read_text()
    graded_at = {s: result_file(out, s).stat().st_mtime_ns for s in rows}
    published = run_cli(*args, "--out", str(out), "--published")
    assert published.returncode == 0, published.stderr
    assert "5 already graded" in published.stderr and "0 to grade" in published.stderr
    assert "5 feedback pages (published" in published.stdout
    assert {s: result_file(out, s).stat().st_mtime_ns for s in rows} == graded_at
    assert "withheld" not in page.read_text()
    regraded = run_cli(*args, "--out", str(out), "--regrade", "--shard", "1/1")
    assert "5 to grade" in regraded.stderr
    assert (out / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()


@pytest.mark.slow
def test_shards_graded_apart_collect_into_the_same_gradebook(tmp_path):
    submissions = a1_class(tmp_path / "class")
    args = ["grade-all", str(submissions), "-a", "a1", "--allow-isolation", "none", "--workers", "1"]
    for k in (1, 2):
        done = run_cli(*args, "--shard", f"{k}/2", "--out", str(tmp_path / f"shard{k}"))
        assert done.returncode == 0, done.stderr
    graded = [set(batch.read_results(tmp_path / f"shard{k}")) for k in (1, 2)]
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
    assert "Comentarios para" in (result_file(out, "3030").parent / "feedback.html").read_text()
    flags = batch.read_results(out)["ben@uni.example+4040"]["extra_data"]["flags"]
    assert [f["kind"] for f in flags] == ["syntax error"], flags  # the import error it causes is not repeated
    report = (out / "report.html").read_text()
    troubled = report.split('id="troubled"', 1)[1].split("</table>", 1)[0]
    assert "ben@uni.example+4040" in troubled and "syntax error" in troubled and "3030" not in troubled
    again = run_cli("grade-all", str(export), "-a", "a1", "--allow-isolation", "none", "--out", str(out))
    assert "3 already graded" in again.stderr and "0 to grade" in again.stderr


@pytest.mark.slow
def test_a_worker_killed_or_past_its_time_limit_costs_only_its_student_and_the_batch_goes_on(tmp_path):
    """A trusted worker killed (as the kernel's OOM killer would) or stopped at the batch's time limit is a
    grader error naming the cause; every other student is graded, and nothing of the killed one lingers."""
    root = tmp_path / "class"
    for student in ("ana", "victim"):
        (root / student).mkdir(parents=True)
        shutil.copy(SOLUTION, root / student)
    _, found = batch.find_submissions(root, A1)
    seen = {}

    def kill_the_victim(submission, pid):
        if submission.student == "victim":
            os.kill(pid, signal.SIGKILL)

    batch.grade_all(found, "a1", tmp_path / "out", workers=2, min_isolation="none", on_start=kill_the_victim,
                    on_result=lambda submission, data: seen.__setitem__(submission.student, data))
    statuses = {s: (batch.status(d), d["output"]) for s, d in batch.read_results(tmp_path / "out").items()}
    assert statuses["ana"][0] == batch.GRADED and seen["ana"]["score"] == seen["ana"]["extra_data"]["max_score"]
    assert statuses["victim"] == (batch.GRADER_ERROR, "the grading process was killed by SIGKILL (often: the "
                                                      "machine ran out of memory)")
    assert not batch.done(tmp_path / "out", "victim")

    start = time.monotonic()
    stopped = batch.grade_all([s for s in found if s.student == "victim"], "a1", tmp_path / "out", workers=1,
                              min_isolation="none", limit=3)
    assert [s.student for s in stopped] == ["victim"] and time.monotonic() - start < 3 + 30
    data = batch.read_results(tmp_path / "out")["victim"]
    assert batch.status(data) == batch.GRADER_ERROR and "did not end within 3 s" in data["output"]


@pytest.mark.slow
def test_grader_errors_make_the_batch_exit_1_and_are_graded_again_without_regrade(tmp_path):
    root = tmp_path / "class"
    (root / "ana").mkdir(parents=True)
    shutil.copytree(ROOT / "student_template" / "a4", root / "ana", dirs_exist_ok=True)
    env = {**os.environ, "CIFAR10_ROOT": str(tmp_path / "no-cifar"), "AUTOGRADER_CACHE": str(tmp_path / "cache")}
    args = ["grade-all", str(root), "-a", "a4", "--allow-isolation", "none", "--out", str(tmp_path / "out")]
    first = run_cli(*args, env=env)
    assert first.returncode == 1, first.stderr
    assert "1 grader error (ana): not graded, not recorded as 0" in first.stderr
    assert "ana: grader error: CIFAR-10 is needed to grade this assignment" in first.stdout
    row, = read_csv(tmp_path / "out" / "grades.csv")
    assert (row["total"], row["status"]) == ("", "grader error")
    second = run_cli(*args, env=env)
    assert "0 already graded" in second.stderr and "1 to grade with" in second.stderr
    assert "(1 after a grader error)" in second.stderr and second.returncode == 1
