"""The command line: true --help, exit codes that mean something, JSON on request."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from autograder.cli import main
from conftest import ROOT, reference_source, write_submission


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("command", [[], ["grade"], ["check"], ["release"], ["generate"], ["selfcheck"], ["calibrate"]])
def test_help_everywhere(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_unknown_assignment_is_a_usage_error_listing_the_known_ones():
    result = CliRunner().invoke(main, ["grade", "solutions/a1", "--assignment", "a7"])
    assert result.exit_code == 2 and "available: a1" in result.output


def test_missing_submission_folder_is_a_usage_error_naming_it(tmp_path):
    done = run("grade", str(tmp_path / "nowhere"), "-a", "a1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "SUBMISSION" in done.stderr and f"{tmp_path / 'nowhere'}' does not exist" in done.stderr


def test_a_folder_one_level_too_high_is_named_once_with_the_right_one():
    done = run("grade", "solutions", "-a", "a1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "autograder: error: no a1 module (conv_arithmetic.py) in solutions; did you mean solutions/a1?"]


def grade_broken(tmp_path, *options):
    """Grade the A1 reference with a syntax error appended and same_padding broken, through the CLI."""
    source = reference_source("a1", "conv_arithmetic")
    folder = write_submission(tmp_path / "broken", {"conv_arithmetic.py": source + "\ndef broken(:\n    pass\n"})
    return run("grade", str(folder), "-a", "a1", "--allow-isolation", "none", *options)


def test_a_syntax_error_is_named_once_per_line_without_a_doubled_file_name(tmp_path):
    done = grade_broken(tmp_path, "--json", str(tmp_path / "results.json"))
    assert done.returncode == 0, done.stderr
    tests = json.loads((tmp_path / "results.json").read_text())["tests"]
    assert "conv_arithmetic.py: conv_arithmetic.py" not in done.stdout
    # named once as the module's problem, then once in each test's feedback below the table, never in the table
    assert done.stdout.count("conv_arithmetic.py has a syntax error at line") == 1 + len(tests)
    assert "feedback 1 below" in done.stdout and "\n1. 1.1 " in done.stdout


def test_lang_es_translates_headers_summary_and_locations(tmp_path):
    source = reference_source("a1", "conv_arithmetic").replace('    """Spatial output size', '    raise ValueError("x")\n    """Spatial output size', 1)
    folder = write_submission(tmp_path / "raises", {"conv_arithmetic.py": source})
    done = run("grade", str(folder), "-a", "a1", "--allow-isolation", "none", "--lang", "es")
    assert done.returncode == 0, done.stderr
    for spanish in ("Tarea", "Prueba", "Puntos", "Resultado", "puntos (", "superadas", "falladas", "línea", ", en "):
        assert spanish in done.stdout, spanish
    for english in ("Points", " passed", ", line ", ", in conv_output_size"):
        assert english not in done.stdout, english


def test_check_outside_an_assignment_folder_says_where_to_run(tmp_path):
    done = run("check", "a1", cwd=tmp_path)
    assert done.returncode == 1 and "has none of conv_arithmetic.py" in done.stderr


def test_generate_check_reports_up_to_date():
    result = CliRunner().invoke(main, ["generate", "--check"])
    assert result.exit_code == 0 and "up to date" in result.output


@pytest.mark.slow
def test_grade_json_to_stdout_keeps_the_table_on_stderr(tmp_path):
    folder = write_submission(tmp_path / "sub", {"conv_arithmetic.py": reference_source("a1", "conv_arithmetic")})
    done = run("check", "a1", "--dir", str(folder), "--json", "-", "--lang", "es")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    assert "puntos" in results["output"] and "Tarea" in done.stderr


@pytest.mark.slow
def test_check_in_the_repository_checks_the_reference():
    done = run("check", "a1")
    assert done.returncode == 0, done.stderr
    assert "checking the reference solution in solutions/a1" in done.stderr
    assert "a1: 8 / 8 points" in done.stdout


def test_missing_data_set_is_a_one_line_grader_error_naming_the_setting(tmp_path):
    env = {**__import__("os").environ, "CIFAR10_ROOT": str(tmp_path / "no-cifar"), "AUTOGRADER_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(ROOT / "solutions" / "a4"), "-a", "a4",
                           "--json", str(tmp_path / "results.json")], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autograder: error: CIFAR-10 is needed") and "CIFAR10_ROOT" in lines[0]
    assert not (tmp_path / "results.json").exists()  # no report with a shrunken maximum score


def test_a_skipped_test_is_never_reported_as_passed_to_gradescope():
    from autograder import course, report
    from autograder.runner.results import TestInfo, TestOutcome

    a4 = course.load_assignment("a4")
    info = TestInfo("a4/hidden/t.py::test_fit_on_gpu_agrees_with_cpu", "test_fit_on_gpu_agrees_with_cpu", "GPU run",
                    None, "4.6", "hidden")
    scored = report.score(a4, [TestOutcome(info, "skipped", "no CUDA GPU here")], "sub", 1.0, {})
    (test,) = report.gradescope(scored)["tests"]
    assert "status" not in test and test["score"] == test["max_score"] == 0
    assert test["output"] == "Skipped: no CUDA GPU here"


@pytest.mark.slow
def test_grade_refuses_weaker_isolation_unless_asked_by_name_and_check_runs_at_any_level(tmp_path):
    env = {**__import__("os").environ, "AUTOGRADER_ISOLATION": "partial"}
    refused = subprocess.run([sys.executable, "-m", "autograder", "grade", str(ROOT / "solutions" / "a1"), "-a", "a1"],
                             cwd=ROOT, capture_output=True, text=True, env=env)
    assert refused.returncode == 1 and "--allow-isolation partial" in refused.stderr
    allowed = subprocess.run([sys.executable, "-m", "autograder", "grade", str(ROOT / "solutions" / "a1"), "-a", "a1",
                              "--allow-isolation", "partial", "--json", str(tmp_path / "r.json")],
                             cwd=ROOT, capture_output=True, text=True, env=env)
    assert allowed.returncode == 0, allowed.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["extra_data"]["isolation"] == "partial" and results["score"] == 37
    laptop = subprocess.run([sys.executable, "-m", "autograder", "check", "a1"], cwd=ROOT, capture_output=True,
                            text=True, env={**env, "AUTOGRADER_ISOLATION": "none"})
    assert laptop.returncode == 0 and "student code isolation: none" in laptop.stdout
    assert "a1: 8 / 8 points" in laptop.stdout


@pytest.mark.slow
def test_selfcheck_without_the_data_set_grades_the_rest_and_names_what_it_could_not(tmp_path):
    env = {**__import__("os").environ, "CIFAR10_ROOT": str(tmp_path / "no-cifar"), "AUTOGRADER_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "autograder", "selfcheck", "a4", "a1"], cwd=ROOT, capture_output=True,
                          text=True, env=env)
    assert done.returncode == 1
    assert "a1: 37 / 37 points" in done.stdout
    assert "autograder: error: a4: CIFAR-10 is needed" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == ("selfcheck failed: could not be graded here: a4 (CIFAR-10 is "
                                                    "needed to grade this assignment); full marks: a1")


def test_selfcheck_verdict_is_one_line_naming_what_fell_short_and_why():
    from autograder.cli import selfcheck_verdict

    assert selfcheck_verdict({"a1": (37, 37), "a2": (41.0, 41.0)}, {}) == (
        True, "selfcheck passed: every reference solution gets full marks (a1 37/37, a2 41/41)")
    passed, line = selfcheck_verdict(
        {"a1": (37, 37), "a2": (39.5, 41)},
        {"a4": "CIFAR-10 is needed to grade this assignment: no CIFAR-10 in /data; set CIFAR10_ROOT to the folder",
         "a5": "the grading process was killed by SIGKILL (often: the machine ran out of memory) " + "x" * 200})
    assert not passed and "\n" not in line
    assert line == ("selfcheck failed: below full marks: a2 (39.5/41); could not be graded here: a4 (CIFAR-10 is "
                    "needed to grade this assignment), a5 (the grading process was killed by SIGKILL (often: the "
                    "machine ran...); full marks: a1")
    assert selfcheck_verdict({}, {"a4": "no data"}) == (False,
                                                         "selfcheck failed: could not be graded here: a4 (no data)")


def test_selfcheck_shows_its_plan_at_once_and_ends_with_the_verdict(monkeypatch):
    """Grading replaced by a fake that loses a test of a1 and cannot grade a2: the plan names both before any
    grading starts, the last line names both, and the exit code is 1."""
    from autograder import api, course, report
    from autograder.runner.results import TestInfo, TestOutcome

    calls = []

    def fake_grade(submission, assignment_id, **options):
        calls.append(assignment_id)
        if assignment_id == "a2":
            raise api.GraderError("the grader failed: something broke; see the log")
        a1 = course.load_assignment("a1")
        info = TestInfo("a1/public/t.py::test_conv_deck_examples", "test_conv_deck_examples", "deck", None, "1.1",
                        "public")
        return report.score(a1, [TestOutcome(info, "failed", "wrong")], str(submission), 1.0, {})

    monkeypatch.setattr(api, "grade", fake_grade)
    result = CliRunner().invoke(main, ["selfcheck", "a1", "a2"])
    assert result.exit_code == 1 and calls == ["a1", "a2"]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == ("selfcheck: grading the reference solutions of 2 assignments with public and hidden "
                        "tests: a1 (21 tests, 37 points), a2 (17 tests, 41 points)")
    assert lines[-1] == ("selfcheck failed: below full marks: a1 (0/2); could not be graded here: a2 (the grader "
                         "failed)")
    assert "autograder: error: a2: the grader failed: something broke; see the log" in result.stderr


def test_selfcheck_plans_every_collected_test():
    """The plan's count of tests, read from the graders' source, is what the grader collects (a6 has a
    parametrized test with two cases)."""
    from autograder import course
    from autograder.cli import _planned_tests

    a1, a6 = course.load_assignment("a1"), course.load_assignment("a6")
    assert _planned_tests(a1) == len(a1.points("public")) + len(a1.points("hidden")) == 21
    assert _planned_tests(a6) == len(a6.points("public")) + len(a6.points("hidden")) + 1


@pytest.mark.slow
def test_selfcheck_of_the_a1_reference_starts_with_its_plan_and_ends_passed():
    done = run("selfcheck", "a1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == ("selfcheck: grading the reference solutions of 1 assignment with public and hidden "
                        "tests: a1 (21 tests, 37 points)")
    assert lines[-1] == "selfcheck passed: every reference solution gets full marks (a1 37/37)"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def student(name):
    from types import SimpleNamespace

    return SimpleNamespace(student=name)


def batch_progress(total, workers, limit=None):
    from autograder.cli import _BatchProgress

    clock = FakeClock()
    return _BatchProgress(total, workers, limit, clock=clock), clock


def test_batch_eta_waits_for_a_first_grading_and_ignores_entries_with_nothing_to_grade():
    progress, clock = batch_progress(3, 2)
    progress.start(student("stray.txt"), None)  # not gradable: recorded at once
    progress.done(student("stray.txt"))
    progress.start(student("ann"), 101)
    clock.now = 30
    assert progress.eta() == "ETA after the first grading" and progress.seconds_left() is None
    progress.done(student("ann"))
    assert progress.durations == [30]


def test_batch_eta_counts_down_with_the_running_gradings_and_the_queue():
    progress, clock = batch_progress(3, 1)
    progress.start(student("ann"), 1)
    clock.now = 10
    progress.done(student("ann"))
    progress.start(student("bob"), 2)
    shown = []
    for tenth in range(0, 100):
        clock.now = 10 + tenth / 10
        shown.append(progress.seconds_left())
    assert shown[0] == 20  # bob's 10 s, then the last one's 10 s on the only worker
    assert all(later <= earlier for earlier, later in zip(shown, shown[1:]))  # falls as time passes
    assert shown[-1] == pytest.approx(10.1)
    assert progress.eta() == "ETA 0:11"


def test_batch_eta_never_below_what_a_running_grading_still_needs():
    """The old estimate spread the running gradings' remaining time over the workers: with 4 workers busy on
    gradings just started and one more queued, it said 12.5 s though the queued one cannot start before 10 s."""
    progress, clock = batch_progress(10, 4)
    for name in "abcde":
        progress.start(student(name), 1)
    clock.now = 10
    for name in "abcde":
        progress.done(student(name))
    for name in "fghi":
        progress.start(student(name), 2)
    assert progress.seconds_left() == 20
    clock.now = 14
    assert progress.seconds_left() == 16
    for name in "fghi":
        progress.done(student(name))
    progress.start(student("j"), 3)
    clock.now = 15
    assert progress.seconds_left() == 9  # alone on four workers: what it still needs, not a quarter of it


def test_batch_eta_of_a_grading_running_longer_than_any_done_is_never_stale():
    """The first gradings took 3 s; the last has run 80 s: the ETA is not a few seconds, and the batch's time
    limit bounds it."""
    progress, clock = batch_progress(4, 2)
    for name in ("ann", "bob"):
        progress.start(student(name), 1)
    clock.now = 3
    for name in ("ann", "bob"):
        progress.done(student(name))
    progress.start(student("cy"), 2)
    progress.start(student("dee"), 3)
    clock.now = 5
    assert progress.seconds_left() == 1 and progress.eta() == "ETA 0:01"
    clock.now = 83
    assert progress.seconds_left() == 80 and progress.eta() == "ETA 1:20"  # as long again as it has run
    limited, clock = batch_progress(2, 1, limit=100)
    limited.start(student("ann"), 1)
    clock.now = 3
    limited.done(student("ann"))
    limited.start(student("bob"), 2)
    clock.now = 83
    assert limited.seconds_left() == 20  # stopped at the limit at the latest
    clock.now = 3 + 4000
    limited.done(student("bob"))
    assert limited.seconds_left() == 0 and limited.eta() == "ETA 0:00"


def test_batch_eta_uses_what_longer_gradings_took_and_hours():
    progress, clock = batch_progress(3, 1)
    for name, seconds in (("a", 5), ("b", 5000)):
        progress.start(student(name), 1)
        clock.now += seconds
        progress.done(student(name))
    progress.start(student("c"), 2)
    clock.now += 10  # past the quick one: by the record, it is the long kind
    assert progress.seconds_left() == 4990 and progress.eta() == "ETA 1:23:10"
