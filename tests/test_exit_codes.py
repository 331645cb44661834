"""Exit codes, the same on every command: 0 done, 1 the grader could not run (one-line reason), 2 a usage error.

A usage error (a bad option value, a missing path, an unknown assignment, command, option or task) is
click's: exit 2, the usage line and a message that names the mistake. Every usage case here fails while
the command line is read, before anything is graded: grading, batch grading, calibration and release
building are replaced by a function that fails the test if it is ever called.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from autograder.cli import main
from conftest import ROOT

MISSING = "/nonexistent/submission-folder"
A1 = str(ROOT / "solutions" / "a1")


def _usage_cases():
    """(command line, words the message must contain), each one a usage error. ``{tmp}`` is an empty
    folder, ``{full}`` a folder with a file in it."""
    return {
        # grade
        "grade: missing submission": (["grade", MISSING, "-a", "a1"], ["'SUBMISSION'", MISSING, "does not exist"]),
        "grade: unknown assignment": (["grade", A1, "-a", "a7"], ["'a7'", "available: a1"]),
        "grade: missing --assignment": (["grade", A1], ["Missing option", "--assignment"]),
        "grade: unknown task": (["grade", A1, "-a", "a1", "--task", "9.9"], ["'--task'", "'9.9'", "its tasks: 1.1"]),
        "grade: unknown task before -a": (["grade", A1, "--task", "1.1", "--task", "9.9", "-a", "a1"],
                                          ["'--task'", "'9.9'"]),
        "grade: bad --lang": (["grade", A1, "-a", "a1", "--lang", "fr"], ["'--lang'", "'fr'", "'en', 'es'"]),
        "grade: bad --test-timeout": (["grade", A1, "-a", "a1", "--test-timeout", "0"], ["'--test-timeout'"]),
        "grade: bad --total-timeout": (["grade", A1, "-a", "a1", "--total-timeout", "soon"], ["'--total-timeout'",
                                                                                               "'soon'"]),
        "grade: bad --allow-isolation": (["grade", A1, "-a", "a1", "--allow-isolation", "full"],
                                         ["'--allow-isolation'", "'full'"]),
        "grade: unknown option": (["grade", A1, "-a", "a1", "--shard", "1/2"], ["No such option", "--shard"]),
        # check
        "check: unknown assignment": (["check", "a7", "--dir", A1], ["'a7'", "available: a1"]),
        "check: missing --dir": (["check", "a1", "--dir", MISSING], ["'--dir'", MISSING, "does not exist"]),
        "check: unknown task": (["check", "a1", "--dir", A1, "--task", "9.9"], ["'--task'", "'9.9'"]),
        "check: bad --lang": (["check", "a1", "--dir", A1, "--lang", "de"], ["'--lang'", "'de'"]),
        # selfcheck
        "selfcheck: unknown assignment": (["selfcheck", "a1", "a7"], ["a7", "available: a1"]),
        "selfcheck: bad --lang": (["selfcheck", "a1", "--lang", "fr"], ["'--lang'", "'fr'"]),
        # release
        "release: unknown assignment": (["release", "a7", "--out", "{tmp}/release"], ["'a7'", "available: a1"]),
        "release: missing --out": (["release", "a1"], ["Missing option", "--out"]),
        "release: --out not empty": (["release", "a1", "--out", "{full}"], ["'--out'", "{full}", "not empty"]),
        # calibrate
        "calibrate: unknown assignment": (["calibrate", "a7"], ["'a7'", "available: a1"]),
        "calibrate: bad --seeds": (["calibrate", "a4", "--seeds", "one"], ["'--seeds'", "'one'"]),
        # isolation, generate, unknown command
        "isolation: bad --require": (["isolation", "--require", "most"], ["'--require'", "'most'"]),
        "generate: unknown option": (["generate", "--all"], ["No such option", "--all"]),
        "unknown command": (["grade-everything"], ["No such command", "'grade-everything'"]),
        # grade-all and collect
        "grade-all: missing submissions": (["grade-all", MISSING, "-a", "a1", "--out", "{tmp}/out"],
                                           ["'SUBMISSIONS'", MISSING, "does not exist"]),
        "grade-all: unknown assignment": (["grade-all", "{tmp}", "-a", "a7", "--out", "{tmp}/out"],
                                          ["'a7'", "available: a1"]),
        "grade-all: --shard not K/N": (["grade-all", "{tmp}", "-a", "a1", "--out", "{tmp}/out", "--shard", "2"],
                                       ["'--shard'", "'2'", "K/N"]),
        "grade-all: --shard K > N": (["grade-all", "{tmp}", "-a", "a1", "--out", "{tmp}/out", "--shard", "3/2"],
                                     ["'--shard'", "'3/2'", "between 1 and N"]),
        "grade-all: bad --workers": (["grade-all", "{tmp}", "-a", "a1", "--out", "{tmp}/out", "--workers", "0"],
                                     ["'--workers'", "0"]),
        "grade-all: bad --lang": (["grade-all", "{tmp}", "-a", "a1", "--out", "{tmp}/out", "--lang", "fr"],
                                  ["'--lang'", "'fr'"]),
        "grade-all: missing --nbgrader": (["grade-all", "{tmp}", "-a", "a1", "--out", "{tmp}/out", "--nbgrader",
                                           MISSING], ["'--nbgrader'", MISSING, "does not exist"]),
        "collect: missing results": (["collect", MISSING, "-a", "a1", "--out", "{tmp}/out"],
                                     ["'RESULTS...'", MISSING, "does not exist"]),
        "collect: unknown assignment": (["collect", "{tmp}", "-a", "a7", "--out", "{tmp}/out"],
                                        ["'a7'", "available: a1"]),
        # export
        "export: unknown platform": (["export", "blackboard"], ["No such command", "'blackboard'"]),
        "export gradescope: unknown assignment": (["export", "gradescope", "a7", "--out", "{tmp}/a7.zip"],
                                                  ["'a7'", "available: a1"]),
        "export gradescope: bad --allow-isolation": (["export", "gradescope", "a1", "--out", "{tmp}/a1.zip",
                                                      "--allow-isolation", "some"], ["'--allow-isolation'", "'some'"]),
        **{f"export {lms}: {what}": case for lms in ("canvas", "moodle") for what, case in {
            "missing results": ([ "export", lms, MISSING, "-a", "a1", "--roster", "{full}/roster.csv",
                                  "--out", "{tmp}/grades.csv"], ["'RESULTS'", MISSING, "does not exist"]),
            "missing roster": (["export", lms, "{tmp}", "-a", "a1", "--roster", MISSING, "--out",
                                "{tmp}/grades.csv"], ["'--roster'", MISSING, "does not exist"]),
            "roster is a folder": (["export", lms, "{tmp}", "-a", "a1", "--roster", "{full}", "--out",
                                    "{tmp}/grades.csv"], ["'--roster'", "{full}", "is a directory"]),
            "unknown assignment": (["export", lms, "{tmp}", "-a", "a7", "--roster", "{full}/roster.csv", "--out",
                                    "{tmp}/grades.csv"], ["'a7'", "available: a1"]),
        }.items()},
    }


USAGE = _usage_cases()


@pytest.fixture
def nothing_graded(monkeypatch):
    """Grading, batch grading, calibration, release and export fail the test if a usage case gets there."""
    from autograder import api, batch, calibrate, gradescope_export, lms_export, release

    def started(*args, **kwargs):
        raise AssertionError("a usage error reached the work it should have stopped before")

    for module, name in ((api, "grade"), (batch, "grade_all"), (batch, "find_submissions"), (batch, "collect"),
                         (calibrate, "run"), (release, "build"), (gradescope_export, "build"),
                         (lms_export, "export_canvas"), (lms_export, "export_moodle")):
        monkeypatch.setattr(module, name, started)


@pytest.mark.parametrize("case", list(USAGE), ids=list(USAGE))
def test_a_usage_error_exits_2_with_the_usage_and_names_the_mistake(case, tmp_path, nothing_graded):
    full = tmp_path / "full"
    full.mkdir()
    (full / "roster.csv").write_text("Student,ID\n", encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    args, words = (
        [part.replace("{tmp}", str(empty)).replace("{full}", str(full)) for part in parts] for parts in USAGE[case])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Usage: " in result.stderr and "Error: " in result.stderr, result.stderr
    message = " ".join(result.stderr.split())  # click may wrap a long message
    for word in words:
        assert word in message, (word, result.stderr)
    assert "Traceback" not in result.output


def test_every_command_has_a_usage_case():
    """A new command gets its row in the table above."""
    def commands(group, prefix=""):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from commands(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}"

    covered = {case.split(":")[0] for case in USAGE}
    assert set(commands(main)) - covered == set()


@pytest.mark.parametrize("args, words", [
    (["grade", str(ROOT / "solutions"), "-a", "a1"], ["no a1 module", "did you mean"]),
    (["check", "a1", "--dir", str(ROOT / "tests")], ["has none of conv_arithmetic.py"]),
], ids=["grade: a folder without the modules", "check: a folder without the modules"])
def test_a_grader_error_exits_1_with_a_one_line_reason(args, words):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, (result.output, result.exception)
    assert "Usage:" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.strip().startswith("autograder: error: ")
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["grade", "--help"], ["export", "canvas", "--help"],
                                  ["generate", "--check"]])
def test_success_exits_0(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
