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
    assert "could not be graded here: a4" in done.stderr
