"""Canvas and Moodle gradebook imports from synthetic results (no grading): the documented columns, grader
errors never exported, not gradable as 0, missing students listed both ways, bad input refused."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder import batch, lms_export
from autograder.cli import main
from autograder.lms_export import LMSExportError

MAX = 20.0


def write_result(out: Path, student: str, data: dict) -> None:
    """Store one result where ``batch.read_results`` finds it, through batch's own API where it has one."""
    if hasattr(batch, "write_result"):
        batch.write_result(out, student, data)
    elif hasattr(batch, "result_path"):
        batch._write_atomically(batch.result_path(out, student), data)
    else:
        path = Path(out) / student / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data), encoding="utf-8")


def result(student: str, score: float, status: str = batch.GRADED, assignment: str = "a1", max_score=MAX) -> dict:
    return {"score": score, "output": "" if status == batch.GRADED else f"why: {status}",
            "tests": [{"number": "1.1", "score": score, "max_score": max_score}] if status == batch.GRADED else [],
            "extra_data": {"student": student, "assignment": assignment, "max_score": max_score, "status": status}}


@pytest.fixture
def results(tmp_path):
    """A results folder: three graded, one not gradable, one grader error, one not in any roster."""
    out = tmp_path / "results"
    for data in (result("ana@uni.edu", 18.5), result("S002", 12), result("carl@uni.edu", 20),
                 result("dave@uni.edu", 0, batch.NOT_GRADABLE), result("eve@uni.edu", 0, batch.GRADER_ERROR),
                 result("zoe@elsewhere.edu", 9)):
        write_result(out, data["extra_data"]["student"], data)
    assert len(batch.read_results(out)) == 6
    return out


CANVAS_ROSTER = (
    'Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (4401),Convolution arithmetic (4402),'
    'Current Score,Unposted Current Score,Final Score,Unposted Final Score\n'
    ',,,,,,Manual Posting,,,,\n'
    '    Points Possible,,,,,10.00,20.00,(read only),(read only),(read only),(read only)\n'
    '"Alvarez, Ana",101,S001,ana@uni.edu,CNN 2025 - Group A,9.00,,90.00,90.00,45.00,45.00\n'
    '"Bianchi, Bruno",102,S002,bruno@uni.edu,CNN 2025 - Group A,8.00,,80.00,80.00,40.00,40.00\n'
    '"Costa, Carl",103,S003,CARL@uni.edu,CNN 2025 - Group B,7.00,15.00,70.00,70.00,35.00,35.00\n'
    '"Diaz, Dave",104,S004,dave@uni.edu,CNN 2025 - Group B,,,,,,\n'
    '"Evans, Eve",105,S005,eve@uni.edu,CNN 2025 - Group B,10.00,17.00,100.00,100.00,50.00,50.00\n'
    '"Fischer, Fay",106,S006,fay@uni.edu,CNN 2025 - Group A,6.00,,60.00,60.00,30.00,30.00\n'
    '"Student, Test",107,,5f1e0c9a-test-student,CNN 2025 - Group A,,,,,,\n')

MOODLE_ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,"
    '"Assignment: Convolution arithmetic (Real)","Course total (Real)","Last downloaded from this course"\n'
    "Ana,Álvarez,S001,Uni,CS,ana@uni.edu,-,-,1760000000\n"
    "Bruno,Bianchi,S002,Uni,CS,bruno@uni.edu,-,-,1760000000\n"
    "Carl,Costa,S003,Uni,CS,Carl@Uni.edu,15.00,15.00,1760000000\n"
    "Dave,Díaz,S004,Uni,CS,dave@uni.edu,-,-,1760000000\n"
    "Eve,Evans,S005,Uni,CS,eve@uni.edu,17.00,17.00,1760000000\n"
    "Fay,Fischer,S006,Uni,CS,fay@uni.edu,-,-,1760000000\n")


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
    return path


def rows_of(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # plain UTF-8
    return list(csv.reader(raw.decode("utf-8").splitlines()))


def test_canvas_import_has_canvas_columns_points_possible_and_reuses_the_assignment(tmp_path, results):
    out = tmp_path / "canvas_import.csv"
    done = lms_export.export_canvas(results, "a1", write(tmp_path / "gradebook.csv", CANVAS_ROSTER), out,
                                    match="SIS Login ID")
    rows = rows_of(out)
    # the existing column's exact header, so Canvas updates assignment 4402 instead of creating one
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Convolution arithmetic (4402)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "20"]
    assert rows[2:] == [["Alvarez, Ana", "101", "S001", "ana@uni.edu", "CNN 2025 - Group A", "18.5"],
                        ["Costa, Carl", "103", "S003", "CARL@uni.edu", "CNN 2025 - Group B", "20"],
                        ["Diaz, Dave", "104", "S004", "dave@uni.edu", "CNN 2025 - Group B", "0"]]
    assert done.existing and done.column == "Convolution arithmetic (4402)" and done.match == "SIS Login ID"
    assert done.rows == [("ana@uni.edu", "ana@uni.edu", "18.5"), ("carl@uni.edu", "CARL@uni.edu", "20"),
                         ("dave@uni.edu", "dave@uni.edu", "0")]
    # a grader error is no row at all (an empty cell would remove Eve's 17 in Canvas), and is named
    assert done.grader_errors == ["eve@uni.edu"] and not any("Evans" in r[0] for r in rows)
    assert done.not_gradable == ["dave@uni.edu"]
    # missing both ways: S002 is a SIS User ID, not a login; the test student is never listed
    assert done.missing_from_roster == ["S002", "zoe@elsewhere.edu"]
    assert done.without_submission == ["Bianchi, Bruno (bruno@uni.edu)", "Fischer, Fay (fay@uni.edu)"]
    assert done.warnings == []


def test_canvas_new_assignment_column_and_points_mismatch_warning(tmp_path, results):
    roster = write(tmp_path / "gradebook.csv", CANVAS_ROSTER)
    done = lms_export.export_canvas(results, "a1", roster, tmp_path / "new.csv", column="A1 autograder")
    assert rows_of(tmp_path / "new.csv")[0][-1] == "A1 autograder" and not done.existing
    done = lms_export.export_canvas(results, "a1", roster, tmp_path / "quiz.csv", column="Quiz 1")
    assert done.column == "Quiz 1 (4401)" and "worth 10.00 points in Canvas" in done.warnings[0]
    with pytest.raises(LMSExportError, match="would not import a column named 'Final Score'"):
        lms_export.export_canvas(results, "a1", roster, tmp_path / "x.csv", column="Final Score")


def test_default_match_column_is_the_one_that_matches_the_most(tmp_path, results):
    roster = write(tmp_path / "gradebook.csv", CANVAS_ROSTER)
    done = lms_export.export_canvas(results, "a1", roster, tmp_path / "c.csv")
    assert done.match == "SIS Login ID"  # 4 of the results' ids are logins, 1 is a SIS User ID
    assert "S002" in done.missing_from_roster
    done = lms_export.export_canvas(results, "a1", roster, tmp_path / "c.csv", match="sis user id")
    assert done.match == "SIS User ID" and [r[0] for r in done.rows] == ["S002"]


def test_moodle_import_from_an_export_with_bom(tmp_path, results):
    roster = write(tmp_path / "moodle_grades.csv", MOODLE_ROSTER, bom=True)
    out = tmp_path / "moodle_import.csv"
    done = lms_export.export_moodle(results, "a1", roster, out)
    assert done.match == "Email address"  # no result id is an ID number except S002; e-mails match more
    # the roster's own values (Moodle compares e-mail addresses case-sensitively), the grade column a1
    assert rows_of(out) == [["Email address", "a1"], ["ana@uni.edu", "18.5"], ["Carl@Uni.edu", "20"],
                            ["dave@uni.edu", "0"]]
    assert done.grader_errors == ["eve@uni.edu"] and done.not_gradable == ["dave@uni.edu"]
    assert done.missing_from_roster == ["S002", "zoe@elsewhere.edu"]
    assert done.without_submission == ["Bruno Bianchi (bruno@uni.edu)", "Fay Fischer (fay@uni.edu)"]
    done = lms_export.export_moodle(results, "a1", roster, out, match="ID number", column="A1 (autograded)")
    assert rows_of(out) == [["ID number", "A1 (autograded)"], ["S002", "12"]]


def test_moodle_semicolon_csv_and_gradescope_groups(tmp_path):
    out = tmp_path / "results"
    write_result(out, "ana@uni.edu+bruno@uni.edu", result("ana@uni.edu+bruno@uni.edu", 15))
    roster = write(tmp_path / "r.csv", "Username;Email address\nana;ana@uni.edu\nbruno;bruno@uni.edu\n")
    done = lms_export.export_moodle(out, "a1", roster, tmp_path / "m.csv")
    assert rows_of(tmp_path / "m.csv") == [["Email address", "a1"], ["ana@uni.edu", "15"], ["bruno@uni.edu", "15"]]
    assert not done.missing_from_roster and not done.without_submission


def test_two_results_for_one_roster_student_are_not_exported(tmp_path):
    out = tmp_path / "results"
    for student, score in (("Ana@uni.edu", 3), ("ana@uni.edu", 5)):
        write_result(out, student, result(student, score))
    roster = write(tmp_path / "r.csv", "Email address,Name\nana@uni.edu,Ana\n")
    done = lms_export.export_moodle(out, "a1", roster, tmp_path / "m.csv")
    assert done.rows == [] and done.conflicts == ["ana@uni.edu: Ana@uni.edu, ana@uni.edu"]


@pytest.mark.parametrize("text, message", [
    ("Email address,x\na@uni.edu,1\nA@UNI.EDU ,2\n", "two rows (lines 2 and 3) have the Email address"),
    ("Name,x\nAna,1\n", "none of the columns ID number, Email address, Username"),
    ("justonecolumn\nvalue\n", "not a CSV file with a header row"),
    ("Email address,x\nnobody@uni.edu,1\n", "none of the 1 students of the results is in the Email address"),
])
def test_bad_rosters_are_refused(tmp_path, text, message):
    out = tmp_path / "results"
    write_result(out, "ana@uni.edu", result("ana@uni.edu", 3))
    with pytest.raises(LMSExportError, match=re.escape(message)):
        lms_export.export_moodle(out, "a1", write(tmp_path / "r.csv", text), tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_bad_results_are_refused(tmp_path):
    roster = write(tmp_path / "r.csv", "Email address,x\nana@uni.edu,1\nbo@uni.edu,1\n")
    with pytest.raises(LMSExportError, match="holds no results"):
        lms_export.export_moodle(tmp_path / "empty", "a1", roster, tmp_path / "m.csv")
    out = tmp_path / "results"
    write_result(out, "ana@uni.edu", result("ana@uni.edu", 3, assignment="a2"))
    with pytest.raises(LMSExportError, match="results of a2, not of a1"):
        lms_export.export_moodle(out, "a1", roster, tmp_path / "m.csv")
    write_result(out, "ana@uni.edu", result("ana@uni.edu", 3))
    write_result(out, "bo@uni.edu", result("bo@uni.edu", 3, max_score=30))
    with pytest.raises(LMSExportError, match=r"disagree on the maximum score of a1 \(20, 30\)"):
        lms_export.export_moodle(out, "a1", roster, tmp_path / "m.csv")


def test_cli_end_to_end_exit_codes(tmp_path, results):
    runner = CliRunner()
    canvas_roster = write(tmp_path / "gradebook.csv", CANVAS_ROSTER, bom=True)
    out = tmp_path / "canvas_import.csv"
    done = runner.invoke(main, ["export", "canvas", str(results), "-a", "a1", "--roster", str(canvas_roster),
                                "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert f"wrote {out}: 3 students, column 'Convolution arithmetic (4402)'" in done.stdout
    assert "not exported: grader error" in done.stderr and "eve@uni.edu" in done.stderr
    assert "exported as 0: not gradable" in done.stderr
    assert "not in the roster (not exported) (2): S002, zoe@elsewhere.edu" in done.stderr
    assert "without a submission" in done.stderr and "Fischer, Fay" in done.stderr
    moodle_roster = write(tmp_path / "moodle.csv", MOODLE_ROSTER, bom=True)
    done = runner.invoke(main, ["export", "moodle", str(results), "-a", "a1", "--roster", str(moodle_roster),
                                "--out", str(tmp_path / "m.csv"), "--column", "A1"])
    assert done.exit_code == 0 and rows_of(tmp_path / "m.csv")[0] == ["Email address", "A1"]
    # bad input: one line, exit 1
    done = runner.invoke(main, ["export", "moodle", str(results), "-a", "a1", "--roster", str(moodle_roster),
                                "--out", str(tmp_path / "m.csv"), "--match", "Student number"])
    assert done.exit_code == 1
    assert done.stderr.splitlines() == [f"autograder: error: --match 'Student number': {moodle_roster} has no "
                                        f"such column (its columns: First name, Last name, ID number, Institution, "
                                        f"Department, Email address, Assignment: Convolution arithmetic (Real), "
                                        f"Course total (Real), Last downloaded from this course)"]
    (tmp_path / "latin1.csv").write_bytes("Email address,Name\nana@uni.edu,Álvarez\n".encode("latin-1"))
    done = runner.invoke(main, ["export", "moodle", str(results), "-a", "a1", "--roster",
                                str(tmp_path / "latin1.csv"), "--out", str(tmp_path / "m.csv")])
    assert done.exit_code == 1 and "is not UTF-8 text" in done.stderr
    done = runner.invoke(main, ["export", "canvas", str(results), "-a", "a1", "--roster", str(moodle_roster),
                                "--out", str(tmp_path / "c.csv")])
    assert done.exit_code == 1 and "is not a Canvas gradebook export" in done.stderr
    # usage errors: exit 2
    for args in (["--roster", str(tmp_path / "nowhere.csv"), "--out", "x.csv"], ["--out", "x.csv"]):
        assert runner.invoke(main, ["export", "canvas", str(results), "-a", "a1", *args]).exit_code == 2
    assert runner.invoke(main, ["export", "moodle", str(results), "-a", "a9", "--roster", str(moodle_roster),
                                "--out", "x.csv"]).exit_code == 2
    for command in ("canvas", "moodle"):
        shown = runner.invoke(main, ["export", command, "--help"])
        assert shown.exit_code == 0 and "Usage:" in shown.output and "--roster" in shown.output
