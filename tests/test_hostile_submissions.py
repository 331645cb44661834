"""Submissions that try to break grading cost their own tests, never the batch."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder import course
from conftest import ROOT, failed_functions, mutate, reference_source, write_submission

pytestmark = pytest.mark.slow
REFERENCE = reference_source("a1", "conv_arithmetic")
TEMPLATE = (ROOT / "student_template" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")
A1 = course.load_assignment("a1")
N_TESTS = len(A1.points("public")) + len(A1.points("hidden"))
SAME_PADDING_TESTS = {"test_same_padding_common_kernels", "test_same_padding_keeps_the_size",
                      "test_same_padding_pairs_and_even_kernels"}
FAST = {"test_timeout": 3}


def at_import(code: str) -> str:
    """The reference with ``code`` run when the module is imported."""
    return mutate(REFERENCE, "import math\n", f"import math\n{code}\n")


def in_same_padding(code: str) -> str:
    """The reference with ``code`` run at the start of same_padding."""
    return mutate(REFERENCE, '    ### BEGIN SOLUTION\n    ks, ds = as_pair(', f'    {code}\n    ### BEGIN SOLUTION\n    ks, ds = as_pair(')


def assert_all_fail_with(report, text):
    assert report.score == 0 and len(report.tests) == N_TESTS
    for test in report.tests:
        assert text in test.outcome.feedback, test.outcome.feedback


def test_syntax_error_fails_every_test_naming_the_line(grade_files):
    report = grade_files({"conv_arithmetic.py": REFERENCE + "\ndef broken(:\n    pass\n"})
    assert_all_fail_with(report, "syntax error at line")
    assert "syntax error" in report.problems["conv_arithmetic"]


def test_missing_module_file(grade_files):
    report = grade_files({"notes.txt": "I forgot the module"})
    assert_all_fail_with(report, "conv_arithmetic.py was not found")


def test_missing_function_costs_only_its_tests(grade_files):
    source = mutate(REFERENCE, "def same_padding(", "def same_pad(")
    report = grade_files({"conv_arithmetic.py": source})
    assert failed_functions(report) == SAME_PADDING_TESTS
    for test in report.tests:
        if test.outcome.status != "passed":
            assert "has no function same_padding" in test.outcome.feedback


def test_wrong_return_type_is_named(grade_files):
    source = mutate(REFERENCE, "(k_h * k_w * in_channels // groups + int(bool(bias))) * out_channels",
                    "(k_h * k_w * in_channels / groups + int(bool(bias))) * out_channels")
    report = grade_files({"conv_arithmetic.py": source})
    assert failed_functions(report) == {"test_lenet_layer_parameters", "test_conv_parameters_match_pytorch"}
    feedback = next(t.outcome.feedback for t in report.tests if t.outcome.info.function == "test_lenet_layer_parameters")
    assert "returned 456.0 of type float; expected 456 of type int" in feedback


def test_endless_loop_in_one_function_times_out_only_there(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("while True: pass")}, **FAST)
    assert failed_functions(report) == SAME_PADDING_TESTS
    for test in report.tests:
        if test.outcome.status != "passed":
            assert test.outcome.status == "timeout"
            assert "did not finish within the time limit of 3 s" in test.outcome.feedback
    points = {**A1.points("public"), **A1.points("hidden")}
    assert report.score == report.max_score - sum(points[f] for f in SAME_PADDING_TESTS)


def test_endless_loop_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("while True: pass")}, **FAST)
    assert_all_fail_with(report, "Importing conv_arithmetic.py failed: it did not finish within the time limit")


def test_sys_exit_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("import sys; sys.exit(3)")})
    assert_all_fail_with(report, "calls sys.exit(3) when it is imported")


def test_os_exit_at_import(grade_files):
    report = grade_files({"conv_arithmetic.py": at_import("import os; os._exit(0)")})
    assert_all_fail_with(report, "Importing conv_arithmetic.py failed: the Python process ended abruptly (exit code 0)")


def test_os_exit_inside_one_function_costs_only_its_tests(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import os; os._exit(1)")}, language="es")
    assert failed_functions(report) == SAME_PADDING_TESTS
    lost = [t.outcome for t in report.tests if t.outcome.status != "passed"]
    assert {o.status for o in lost} == {"crashed"}
    assert all("el proceso de Python terminó de golpe (código 1)" in o.feedback for o in lost)


def test_sys_exit_inside_a_function_is_explained(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("import sys; sys.exit('done')")})
    assert failed_functions(report) == SAME_PADDING_TESTS
    assert all("called sys.exit('done') while being graded" in t.outcome.feedback
               for t in report.tests if t.outcome.status != "passed")


def test_memory_exhaustion_costs_only_its_tests(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("hog = bytearray(64 * 1024 ** 3)")})
    assert failed_functions(report) == SAME_PADDING_TESTS
    assert all("ran out of memory" in t.outcome.feedback for t in report.tests if t.outcome.status != "passed")


def test_fake_test_report_printed_and_written_changes_nothing(grade_files):
    fake = ("print('=' * 20 + ' 19 passed in 0.10s ' + '=' * 20)\n"
            "import json, os\n"
            "open('results.json', 'w').write(json.dumps({'score': 35, 'tests': []}))\n")
    report = grade_files({"conv_arithmetic.py": fake + TEMPLATE})
    assert report.score == 0 and len(report.tests) == N_TESTS


def test_replacing_a_grader_check_costs_that_test_and_is_undone(grade_files):
    """A wrong solution that disables the grader's comparison at import still loses its points."""
    cheat = "import autograder.feedback as _f\n_f._same_structure = lambda got, expected: True\n"
    wrong = mutate(REFERENCE, "        return (i + 2 * p - effective_kernel) // s + 1\n",
                   "        return (i + 2 * p - effective_kernel) // s\n")
    report = grade_files({"conv_arithmetic.py": cheat + wrong})
    first = report.tests[0]
    assert first.outcome.status == "failed"
    assert "replaced autograder.feedback._same_structure" in first.outcome.feedback
    assert {"test_conv_matches_pytorch_without_dilation", "test_trace_matches_pytorch"} <= failed_functions(report)


def test_cli_exits_zero_with_valid_gradescope_json_for_a_crashing_submission(tmp_path):
    folder = write_submission(tmp_path / "sub", {"conv_arithmetic.py": at_import("import os; os._exit(7)")})
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "-a", "a1", "--json", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 0 and len(results["tests"]) == N_TESTS
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"} <= set(results)
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] == "failed" and "exit code 7" in test["output"]


def test_overall_time_limit_marks_the_rest_not_run(grade_files):
    report = grade_files({"conv_arithmetic.py": in_same_padding("while True: pass")}, test_timeout=3, total_timeout=5)
    statuses = [t.outcome.status for t in report.tests]
    assert "timeout" in statuses and "not-run" in statuses
    assert statuses[:3] == ["passed"] * 3  # graded before the loop started
    not_run = next(t for t in report.tests if t.outcome.status == "not-run")
    assert "overall time limit of 5 s" in not_run.outcome.feedback and not_run.score == 0
