"""The gradient-check helpers: right derivatives, index-level failures."""
import numpy as np
import pytest

from autograder.feedback import GradingFailure
from autograder.gradcheck import check_close, numerical_gradient, numerical_gradient_array


def test_numerical_gradient_of_a_quadratic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), x), 2 * x, rtol=1e-6)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_array_matches_the_chain_rule():
    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(numerical_gradient_array(np.tanh, x, dout), dout * (1 - np.tanh(x) ** 2), rtol=1e-5)


def test_check_close_names_the_worst_index_shape_and_type():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[1, 2] = 0.5
    with pytest.raises(GradingFailure, match=r"dx\[1, 2\] is 0.5, expected 0 \(1 of 6 values differ\)"):
        check_close(got, expected, name="dx", call="conv2d_backward(...)")
    with pytest.raises(GradingFailure, match=r"has shape \(3, 2\), expected \(2, 3\)"):
        check_close(np.zeros((3, 2)), expected, name="dx", call="f()")
    with pytest.raises(GradingFailure, match="is a list"):
        check_close([0.0], expected, name="dx", call="f()")
    got[0, 0] = np.nan
    with pytest.raises(GradingFailure, match="not finite"):
        check_close(got, expected, name="dx", call="f()")
    check_close(expected + 1e-9, expected, name="dx", call="f()")
