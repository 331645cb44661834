"""Property tests end at the first exception of student code (an untouched stub, a function that always
raises), with the feedback that exception alone gives; a wrong value is still shrunk to its smallest input."""
from __future__ import annotations

import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.feedback import GradingFailure, check_equal
from autograder.runner import plugin, property_tests, remote


def student_raised(kind: str):
    return remote.student_exception({"bases": [kind], "type": kind, "message": "not yet",
                                     "where": {"file": "conv_arithmetic.py", "line": 77, "function": "f"}})


def collected(function):
    """``function`` as the grading session's plugin sees it once pytest has collected it."""
    property_tests.pytest_itemcollected(types.SimpleNamespace(obj=function))
    return function


@pytest.mark.parametrize("kind", ["NotImplementedError", "RuntimeError", "ValueError"])
def test_a_student_exception_ends_the_property_test_at_the_first_example(kind):
    calls = []

    @settings(max_examples=100, database=None, deadline=None)
    @given(st.integers(0, 1000))
    def grader_test(i):
        calls.append(i)
        raise student_raised(kind)

    with pytest.raises(property_tests.StudentStop) as stopped:
        collected(grader_test)()
    assert len(calls) == 1 and calls == [0]  # Hypothesis tries the simplest example first: already the minimal one
    feedback = plugin.explain(stopped.value, None)
    assert feedback == plugin.explain(stopped.value.raised, None)  # the same feedback as the exception alone
    assert "conv_arithmetic.py, line 77" in feedback


def test_a_wrong_value_is_still_shrunk_to_its_smallest_input():
    calls = []

    @settings(max_examples=100, database=None, deadline=None)
    @given(st.integers(0, 1000))
    def grader_test(i):
        calls.append(i)
        check_equal(i // 10 if i < 500 else -1, i // 10, call=f"f({i})")

    with pytest.raises(GradingFailure, match=r"f\(500\) returned -1; expected 50"):
        collected(grader_test)()
    assert len(calls) > 1  # found, then shrunk to the boundary


def test_wrapping_twice_changes_nothing():
    @given(st.integers())
    def grader_test(i):
        raise student_raised("ValueError")

    collected(grader_test)
    inner = grader_test.hypothesis.inner_test
    collected(grader_test)
    assert grader_test.hypothesis.inner_test is inner
