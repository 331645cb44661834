"""Feedback helpers: expected vs got, types, hints, both languages."""
from __future__ import annotations

import pytest

from autograder.feedback import GradingFailure, T, check_equal, check_raises, describe_call, fail


def message_of(function, *args, **kwargs) -> str:
    with pytest.raises(GradingFailure) as info:
        function(*args, **kwargs)
    return str(info.value)


def test_equal_values_of_the_same_type_pass():
    check_equal(8, 8, call="f()")
    check_equal([1, (2, 3)], (1, [2, 3]), call="f()")  # lists and tuples are both sequences
    check_equal(0.1 + 0.2, 0.3, call="f()")


def test_wrong_value_says_call_expected_got_and_hint():
    text = message_of(check_equal, 7, 8, call=describe_call("conv_output_size", 10, 3), hint="count the + 1")
    assert text == "conv_output_size(10, 3) returned 7; expected 8.\nHint: count the + 1"


def test_float_for_int_is_named_as_a_type_error():
    text = message_of(check_equal, 456.0, 456, call="conv2d_num_params(3, 6, 5)")
    assert "returned 456.0 of type float; expected 456 of type int" in text and "//" in text
    assert "bool" in message_of(check_equal, True, 1, call="f()")


def test_spanish_feedback(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_LANG", "es")
    text = message_of(check_equal, 7, 8, call="f()", hint=T("count", "cuenta"))
    assert text == "f() devolvió 7; se esperaba 8.\nPista: cuenta"


def test_check_raises_accepts_the_right_exception_only():
    def boom(x):
        raise ValueError("too big")

    check_raises(ValueError, boom, 1, call="boom(1)")
    assert "raised ValueError: too big; expected a TypeError" in message_of(
        check_raises, TypeError, boom, 1, call="boom(1)")
    assert "returned 3; expected it to raise ValueError" in message_of(
        check_raises, ValueError, lambda: 3, call="f()")


def test_not_implemented_is_not_swallowed_by_check_raises():
    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_raises(ValueError, stub, call="stub()")


def test_fail_without_hint():
    assert message_of(fail, T("broken", "roto")) == "broken"


def test_huge_returned_values_are_cut_before_they_are_formatted():
    """A submission that returns a 20 MB string or a million-element list gets a short message: every value
    formatted into feedback is cut to MAX_FIELD characters, and a whole message to MAX_FEEDBACK."""
    from autograder.feedback import MAX_FEEDBACK, MAX_FIELD
    for huge in ("x" * 20_000_000, list(range(1_000_000)), {i: [i] * 100 for i in range(10_000)},
                 ValueError("y" * 5_000_000), [[[[[[[[1]]]]]]]] * 1000):
        text = message_of(check_equal, huge, 8, call="f()", hint="z" * 100_000)
        assert len(text) < MAX_FEEDBACK + MAX_FIELD + 200, len(text)
        assert "expected 8" in text and "Hint: zzz" in text
    assert message_of(check_equal, [1, 2.5, "a", (3, 4)], 8, call="f()") == \
        "f() returned [1, 2.5, 'a', (3, 4)]; expected 8."  # small values read as before
    assert str(T("{v:.2f} {w}", "").format(v=2.0, w="short")) == "2.00 short"
    assert len(message_of(fail, "m" * 10_000_000)) < MAX_FEEDBACK + 100
