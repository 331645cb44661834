"""One source of solutions: the generated template and the nbgrader release leak nothing."""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from autograder import course, release, template
from autograder.course import CourseError
from conftest import ROOT

A1 = course.load_assignment("a1")
SOLUTION = (ROOT / "solutions" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")


def test_student_template_is_up_to_date():
    stale = template.sync(check_only=True)
    assert stale == [], f"run `autograder generate`: {stale}"


def test_student_template_has_no_solution_line():
    secrets = set()
    for path in (ROOT / "solutions").rglob("*.py"):
        secrets |= template.solution_lines(path.read_text(encoding="utf-8"))
    assert len(secrets) > 20  # the check itself has something to look for
    for path in (ROOT / "student_template").rglob("*"):
        if path.is_file():
            lines = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
            assert not secrets & lines, f"{path}: {sorted(secrets & lines)[:3]}"


def test_stub_keeps_signature_docstring_task_comment_and_indentation():
    source = '''# Task 9.9: answer (answer)
def answer(x):
    """Return the answer. Shape: (N,)."""
    ### BEGIN SOLUTION
    return 42 * x
    ### END SOLUTION
'''
    assert template.strip_solutions(source) == '''# Task 9.9: answer (answer)
def answer(x):
    """Return the answer. Shape: (N,)."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''


@pytest.mark.parametrize("broken", ["### BEGIN SOLUTION\nx = 1\n",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n"])
def test_unbalanced_markers_are_refused(broken):
    with pytest.raises(CourseError, match="cannot strip solutions"):
        template.strip_solutions(broken)


def test_every_task_has_a_stub_in_the_template():
    stub = (ROOT / "student_template" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")
    for task in A1.tasks.values():
        for function in task.functions:
            assert f"def {function}(" in stub
        assert f"# Task {task.id}:" in stub
    assert stub.count("raise NotImplementedError()") == SOLUTION.count("### BEGIN SOLUTION")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "a1"
    release.build("a1", out)
    return out


@pytest.mark.slow
def test_release_contains_what_students_need(released):
    assert (released / "a1_lab.ipynb").is_file()
    assert (released / "conv_arithmetic.py").read_text() == \
        (ROOT / "student_template" / "a1" / "conv_arithmetic.py").read_text()
    assert (released / "autograder" / "graders" / "a1" / "public" / "test_a1_public.py").is_file()
    assert not (released / "autograder" / "graders" / "a1" / "hidden").exists()
    assert sorted(p.stem for p in (released / "tests").glob("*.py")) == sorted(A1.tasks)  # Otter's test files
    assert not (released / "autograder" / "calibrate.py").exists() and not (released / "autograder" / "release.py").exists()
    assert (released / "README.md").is_file()


@pytest.mark.slow
def test_release_notebook_is_nbgraders_with_answers_cleared(released):
    source = nbformat.read(ROOT / "assignments" / "source" / "a1" / "a1_lab.ipynb", as_version=4)
    notebook = nbformat.read(released / "a1_lab.ipynb", as_version=4)
    graded = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.source.strip() == "YOUR ANSWER HERE" for c in graded)
    model_answers = [c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    text = (released / "a1_lab.ipynb").read_text()
    assert model_answers and not any(answer.strip()[:60] in text for answer in model_answers)
    assert "Español" in text or "español" in text.lower()


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_release_leaks_no_solution_line_and_no_hidden_test_name(assignment_id, tmp_path):
    assignment = course.load_assignment(assignment_id)
    out = tmp_path / assignment_id
    files = release.build(assignment_id, out)
    names = release.hidden_test_names(assignment)
    assert len(names) >= len(assignment.points("hidden"))
    assert release.find_leaks(out, assignment, ROOT) == []
    assert not (out / "autograder" / "graders" / assignment_id / "hidden").exists()
    assert {m + ".py" for m in assignment.modules} <= {f.name for f in files}
    assert list(out.glob("*.ipynb")), "the nbgrader notebook is missing"
    # what a new student needs: the command that works in their venv, the data set, a pinned torch, Jupyter
    readme, requirements = (out / "README.md").read_text(), (out / "requirements.txt").read_text().splitlines()
    assert f"python -m autograder check {assignment_id}" in readme and "download.pytorch.org/whl/cpu" in readme
    assert ("CIFAR10_ROOT" in readme) == ("cifar10" in assignment.datasets)
    assert "torch>=2.14,<2.15" in requirements and "jupyterlab" in requirements
    for notebook in out.glob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        assert "autograder check" not in text.replace("python -m autograder check", ""), notebook.name


def test_leak_check_detects_a_planted_leak(tmp_path):
    hidden_name = sorted(release.hidden_test_names(A1))[0]
    secrets = template.solution_lines(SOLUTION)
    short = min(secrets, key=len)
    long = max(secrets, key=len)
    assert len(short) < release.ENGINE_LINE_MIN <= len(long)
    (tmp_path / "notes.md").write_text(f"see {hidden_name}\n    {short}\n")
    engine = tmp_path / "autograder" / "graders" / "a1"
    engine.mkdir(parents=True)
    (engine / "oracles.py").write_text(f"    {short}\n    {long}\n")
    leaks = release.find_leaks(tmp_path, A1, ROOT)
    assert any(leak.startswith("notes.md: hidden test name") for leak in leaks)
    assert f"notes.md: solution line {short!r}" in leaks
    assert [leak for leak in leaks if leak.startswith("autograder/")] == \
        [f"autograder/graders/a1/oracles.py: solution line {long!r}"]


def test_release_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(CourseError, match="not empty"):
        release.build("a1", tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_check_runs_in_the_release_folder_with_public_tests_only(released, tmp_path):
    out = tmp_path / "check.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "check", "a1", "--json", str(out)],
                          cwd=released, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert len(results["tests"]) == len(A1.points("public")) and results["score"] == 0
    assert all("Not implemented yet" in t["output"] for t in results["tests"])
    assert "Task" in done.stdout and "a1: 0 / " in done.stdout
