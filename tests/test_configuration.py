"""Every grader test is tagged with a known task and has points; every points entry has a test."""
from __future__ import annotations

import ast

import pytest

from autograder import course
from conftest import ROOT


def grader_tests(assignment: course.Assignment, suite: str) -> dict[str, str | None]:
    """test function name -> task id of its @pytest.mark.task(...) marker (None if absent)."""
    found = {}
    for path in sorted(assignment.suite_dir(suite).glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                task = None
                for decorator in node.decorator_list:
                    if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                            and decorator.func.attr == "task" and decorator.args):
                        task = decorator.args[0].value
                found[node.name] = task
    return found


@pytest.mark.parametrize("assignment_id", course.available_assignments())
@pytest.mark.parametrize("suite", course.SUITES)
def test_points_match_tests_and_tasks_are_known(assignment_id, suite):
    assignment = course.load_assignment(assignment_id)
    tests = grader_tests(assignment, suite)
    points = assignment.points(suite)
    assert tests, f"{assignment_id}/{suite} has no grader tests"
    assert set(points) == set(tests), "points.toml and the test functions differ"
    assert all(p > 0 for p in points.values())
    unknown = {name: task for name, task in tests.items() if task not in assignment.tasks}
    assert unknown == {}, "tests without a known task marker"


@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_every_task_is_graded_publicly_and_in_hidden(assignment_id):
    assignment = course.load_assignment(assignment_id)
    for suite in course.SUITES:
        assert set(grader_tests(assignment, suite).values()) == set(assignment.tasks), suite


@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_task_functions_exist_in_the_solution(assignment_id):
    assignment = course.load_assignment(assignment_id)
    defined = set()
    for module in assignment.modules:
        tree = ast.parse((ROOT / "solutions" / assignment_id / f"{module}.py").read_text(encoding="utf-8"))
        defined |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for task in assignment.tasks.values():
        assert set(task.functions) <= defined, task


def test_unknown_assignment_names_the_available_ones():
    with pytest.raises(course.CourseError, match="available: a1"):
        course.load_assignment("a9")
