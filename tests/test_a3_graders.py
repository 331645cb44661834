"""The A3 graders graded: reference, untouched template, realistic buggy submissions and a torch import."""
from __future__ import annotations

import pytest

from autograder import api, course
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, assert_public_hint_names_the_cause, reference_source)

pytestmark = pytest.mark.slow
REFERENCE = reference_source("a3", "mlp_backprop")
A3 = course.load_assignment("a3")
ALL_POINTS = {**A3.points("public"), **A3.points("hidden")}
OUTPUT_DELTA = "return (d - y) * y * (1 - y)"
# Every test that checks an update numerically (against the reference, finite differences or autograd).
# The error-case tests ("rejects", "checks shapes") check valid calls of the same function first, so a
# mutant that gets those wrong loses them too.
# The tests of properties (arguments left unchanged, a batch of one, a reproducible train) check their results
# against the graders' own answers too (issue 18), so a mutant that gets the values wrong loses them as well.
UPDATE_TESTS = {"test_one_update_step_tiny_network", "test_update_matches_reference_on_random_networks",
                "test_update_is_minus_eta_times_numerical_gradient", "test_update_is_minus_eta_times_autograd_gradient",
                "test_update_rejects_bad_shapes_and_dtypes", "test_update_leaves_its_arguments_unchanged",
                "test_batch_of_one_equals_update_example"}
BATCH_TESTS = {"test_batch_step_on_xor", "test_batch_matches_reference_on_random_batches",
               "test_batch_is_minus_eta_times_gradient_of_batch_error",
               "test_batch_checks_shapes_and_leaves_arguments_unchanged"}
TRAIN_TESTS = {"test_train_matches_reference_for_a_few_epochs", "test_train_is_reproducible_and_leaves_data_unchanged"}
DELTA_TESTS = {"test_deltas_worked_example", "test_deltas_match_reference_on_random_networks",
               "test_deltas_reject_bad_shapes_and_dtypes"}

# name -> (mutations applied to the reference, test functions that must fail; all others must pass)
MUTANTS = {
    "output_delta_sign_reversed": (
        [(OUTPUT_DELTA, "return (y - d) * y * (1 - y)")],
        DELTA_TESTS | UPDATE_TESTS | BATCH_TESTS
        | TRAIN_TESTS | {"test_train_learns_xor"},
    ),
    "derivative_y_instead_of_y_one_minus_y": (  # still learns XOR: only the exact checks catch it
        [(OUTPUT_DELTA, "return (d - y) * y")],
        DELTA_TESTS | UPDATE_TESTS | BATCH_TESTS | TRAIN_TESTS,
    ),
    "hidden_deltas_with_updated_w_jk": (
        [("= hidden_deltas(h, delta_out, W2)", "= hidden_deltas(h, delta_out, W2_new)")],
        UPDATE_TESTS | BATCH_TESTS | TRAIN_TESTS | {"test_train_learns_xor"},
    ),
    "bias_rows_not_updated": (  # still learns XOR: only the exact checks catch it
        [("np.outer(np.append(h, 1.0), delta_out)", "np.outer(np.append(h, 0.0), delta_out)"),
         ("np.outer(np.append(x, 1.0), delta_hidden)", "np.outer(np.append(x, 0.0), delta_hidden)")],
        UPDATE_TESTS | BATCH_TESTS | TRAIN_TESTS | {"test_train_returns_weights_and_error_curve"},
    ),
    "train_never_updates_the_biases": (  # a loop that trains the weights but not the bias rows; still learns XOR
        [("        W1, W2 = update_batch(X, D, W1, W2, eta)\n",
          "        W1_new, W2_new = update_batch(X, D, W1, W2, eta)\n"
          "        W1[:-1], W2[:-1] = W1_new[:-1], W2_new[:-1]\n")],
        {"test_train_returns_weights_and_error_curve"} | TRAIN_TESTS,
    ),
    "batch_mean_instead_of_sum": (  # a batch of one is unaffected
        [("return W1 + dW1, W2 + dW2", "return W1 + dW1 / len(X), W2 + dW2 / len(X)")],
        BATCH_TESTS | TRAIN_TESTS | {"test_train_learns_xor"},
    ),
}

# mutant -> (the public test that catches it, words its hint must contain)
PUBLIC_HINTS = {
    "train_never_updates_the_biases": ("test_train_returns_weights_and_error_curve", ("bias rows", "never changed")),
}


def apply(mutations) -> str:
    return apply_mutations(REFERENCE, mutations)


def test_reference_solution_gets_full_marks():
    report = api.grade(ROOT / "solutions" / "a3", "a3")
    assert_full_marks(report, ALL_POINTS)


def test_untouched_template_gets_zero_with_not_implemented_everywhere():
    report = api.grade(ROOT / "student_template" / "a3", "a3")
    assert_not_implemented_everywhere(report, ALL_POINTS)


def test_untouched_template_feedback_in_spanish():
    report = api.grade(ROOT / "student_template" / "a3", "a3", suites=("public",), language="es")
    assert all(t.outcome.feedback.startswith("Sin implementar: la tarea") for t in report.tests)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    report = grade_files({"mlp_backprop.py": apply(mutations)}, assignment="a3")
    assert_loses_exactly(report, ALL_POINTS, must_fail, feedback_words=("expected", "still gets XOR wrong", "bias row"))
    if name in PUBLIC_HINTS:
        assert_public_hint_names_the_cause(report, *PUBLIC_HINTS[name])


@pytest.mark.parametrize("name, phrase", [
    ("output_delta_sign_reversed", "the sign is reversed: it is (d_k - y_k)"),
    ("derivative_y_instead_of_y_one_minus_y", "f'(z) = y_k (1 - y_k), not y_k"),
    ("bias_rows_not_updated", "the bias row (last row) was not updated"),
    ("batch_mean_instead_of_sum", "you averaged the increments"),
])
def test_mutant_feedback_names_the_mistake(grade_files, name, phrase):
    report = grade_files({"mlp_backprop.py": apply(MUTANTS[name][0])}, assignment="a3", suites=("public",))
    feedbacks = [t.outcome.feedback for t in report.tests if t.outcome.status == "failed"]
    assert any(phrase in f for f in feedbacks), feedbacks


def test_importing_torch_scores_zero_with_a_clear_message(grade_files):
    source = REFERENCE.replace("import numpy as np\n", "import numpy as np\nimport torch.nn as nn\n", 1)
    report = grade_files({"mlp_backprop.py": source}, assignment="a3", suites=("public",), language="es")
    assert report.score == 0
    for test in report.tests:
        assert "mlp_backprop.py importa torch (línea " in test.outcome.feedback
        assert "solo con NumPy" in test.outcome.feedback


def test_shape_errors_name_the_expected_shape():
    namespace: dict = {}
    exec(compile(REFERENCE, "mlp_backprop.py", "exec"), namespace)
    np = namespace["np"]
    with pytest.raises(ValueError, match=r"W1 must have shape \(n_in \+ 1, n_hidden\) = \(3, 2\), got \(2, 2\)"):
        namespace["forward"](np.zeros(2), np.zeros((2, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"W2 must have shape \(n_hidden \+ 1, n_out\) = \(3, \?\), got \(2, 1\)"):
        namespace["update_example"](np.zeros(2), np.zeros(1), np.zeros((3, 2)), np.zeros((2, 1)), 0.5)
    with pytest.raises(ValueError, match=r"x must be an array of floats, got dtype int64"):
        namespace["forward"](np.zeros(2, dtype=np.int64), np.zeros((3, 2)), np.zeros((3, 1)))


# Hostile (issue 18): the in-place checks used to rest on helpers("common").watch, which a submission can replace.
BLIND_WATCH = """
import importlib, sys
for _name in list(sys.modules):
    if _name.endswith(".worker") and "sandbox" in _name:
        _common = importlib.import_module(_name.rpartition(".")[0] + ".helpers.common")
        _common.watch = lambda f, *a, **k: {"result": f(*a, **k), "changed": [], "returned_arguments": []}
"""
IN_PLACE = {  # function replaced at the end of the module -> the test that must catch it
    "update_example": ("""
_update_example = update_example
def update_example(x, d, W1, W2, eta):
    W1_new, W2_new = _update_example(x, d, W1.copy(), W2.copy(), eta)
    W1[...], W2[...] = W1_new, W2_new
    return W1, W2
""", "test_update_leaves_its_arguments_unchanged"),
    "update_batch": ("""
_update_batch = update_batch
def update_batch(X, D, W1, W2, eta):
    W1_new, W2_new = _update_batch(X, D, W1.copy(), W2.copy(), eta)
    W1 += W1_new - W1
    W2 += W2_new - W2
    return W1.copy(), W2.copy()
""", "test_batch_checks_shapes_and_leaves_arguments_unchanged"),
    "train": ("""
_train = train
def train(X, D, n_hidden, eta, epochs, seed):
    result = _train(X, D, n_hidden, eta, epochs, seed)
    X *= 0.5
    return result
""", "test_train_is_reproducible_and_leaves_data_unchanged"),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_modifying_arguments_in_place_is_caught_even_with_a_blinded_watch(grade_files, name):
    source, test = IN_PLACE[name]
    report = grade_files({"mlp_backprop.py": REFERENCE + BLIND_WATCH + source}, assignment="a3", select=test)
    (outcome,) = (t.outcome for t in report.tests)
    assert outcome.status == "failed" and report.score == 0, outcome.feedback
    assert "a different one when called again on the very same arrays" in outcome.feedback, outcome.feedback


def test_functions_that_agree_on_a_wrong_answer_earn_nothing_for_agreeing(grade_files):
    """update_batch and update_example that both leave the weights as they are, and a train that always returns
    the same thing, used to pass the tests that only compared the student's results with each other."""
    source = REFERENCE + """
def update_example(x, d, W1, W2, eta):
    return W1.copy(), W2.copy()


def update_batch(X, D, W1, W2, eta):
    return W1.copy(), W2.copy()


def train(X, D, n_hidden, eta, epochs, seed):
    return np.zeros((X.shape[1] + 1, n_hidden)), np.zeros((n_hidden + 1, D.shape[1])), [0.0] * epochs
"""
    tests = ("test_batch_of_one_equals_update_example", "test_train_is_reproducible_and_leaves_data_unchanged")
    report = grade_files({"mlp_backprop.py": source}, assignment="a3", select=" or ".join(tests))
    assert {t.outcome.info.function: t.outcome.status for t in report.tests} == dict.fromkeys(tests, "failed")
    assert report.score == 0
