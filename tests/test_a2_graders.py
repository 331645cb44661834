"""The A2 graders graded: reference, untouched template, realistic buggy submissions and a torch import."""
from __future__ import annotations

import pytest

from autograder import api, course
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, assert_public_hint_names_the_cause, reference_source)

pytestmark = pytest.mark.slow
REFERENCE = reference_source("a2", "conv_numpy")
A2 = course.load_assignment("a2")
ALL_POINTS = {**A2.points("public"), **A2.points("hidden")}
LOOPS_VS_TORCH = {"test_loops_small_random_matches_torch", "test_loops_agree_with_torch_on_random_configurations"}
VECTORIZED_VS_TORCH = {"test_vectorized_small_random_matches_torch",
                       "test_vectorized_agrees_with_torch_on_random_configurations"}
# The speed test checks both timed results against PyTorch (not only against each other), so a mutant that
# breaks both forward versions alike loses it too.
SPEED = "test_vectorized_is_much_faster_than_loops"

# name -> (mutations applied to the reference, test functions that must fail; all others must pass)
MUTANTS = {
    # True convolution in both forward versions. The deck's kernels are symmetric under a 180-degree
    # rotation, so only the comparisons with PyTorch on random kernels notice.
    "kernel_flipped": (
        [("np.sum(patch * w[f])", "np.sum(patch * w[f, :, ::-1, ::-1])"),
         ("np.tensordot(windows, w, axes=", "np.tensordot(windows, w[:, :, ::-1, ::-1], axes=")],
        LOOPS_VS_TORCH | VECTORIZED_VS_TORCH | {SPEED},
    ),
    "padding_ignored": (
        [("x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))", "x_padded = x")],
        VECTORIZED_VS_TORCH | {"test_classic_kernels_on_a_synthetic_image"},
    ),
    "stride_ignored_in_vectorized": (
        [("windows[:, :, ::sh, ::sw, ::dh, ::dw]", "windows[:, :, :, :, ::dh, ::dw]")],
        VECTORIZED_VS_TORCH,
    ),
    "bias_not_added": (
        [("                out[n, f] += b[f]\n", "                pass\n"),
         ("        out = out + b.reshape(1, -1, 1, 1)\n", "        pass\n")],
        LOOPS_VS_TORCH | VECTORIZED_VS_TORCH | {SPEED},
    ),
    "maxpool_backward_spreads_to_the_whole_window": (
        [("routed = np.where(winner == k, dout, 0.0)", "routed = dout")],
        {"test_maxpool_backward_deck_example", "test_maxpool_backward_agrees_with_autograd",
         "test_maxpool_backward_numerical_gradient"},
    ),
    # The common real bugs of CS231n-style code, each caught by a public test whose hint names the cause
    # (PUBLIC_HINTS below): an unpadding slice that is empty at padding 0, a padding written by slicing into
    # zeros (empty at padding 0 too), and the assert that the stride divides the padded size.
    "padding_zero_slice_in_backward": (
        [("    dx = dx_pad[:, :, ph:ph + H, pw:pw + W]", "    dx = dx_pad[:, :, ph:-ph, pw:-pw]")],
        {"test_conv_backward_small_matches_torch", "test_conv_backward_agrees_with_autograd"},
    ),
    "padding_zero_slice_in_forward": (
        [("    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))\n",
          "    x_padded = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw))\n"
          "    x_padded[:, :, ph:-ph, pw:-pw] = x\n")],
        VECTORIZED_VS_TORCH | {"test_vectorized_convolved_feature_example", "test_classic_kernels_on_a_synthetic_image",
                               SPEED},
    ),
    "stride_must_divide": (
        [("    W_out = (W + 2 * pw - dw * (WW - 1) - 1) // sw + 1\n    xp = ",
          "    W_out = (W + 2 * pw - dw * (WW - 1) - 1) // sw + 1\n"
          "    assert (H + 2 * ph - dh * (HH - 1) - 1) % sh == 0, 'height does not work'\n"
          "    assert (W + 2 * pw - dw * (WW - 1) - 1) % sw == 0, 'width does not work'\n    xp = ")],
        LOOPS_VS_TORCH,
    ),
    "imports_torch": (
        [("import numpy as np\n", "import numpy as np\nimport torch\n")],
        set(ALL_POINTS),
    ),
}

# mutant -> (the public test that catches it, words its hint must contain)
PUBLIC_HINTS = {
    "padding_zero_slice_in_backward": ("test_conv_backward_small_matches_torch", ("padding 0", "p:-p")),
    "padding_zero_slice_in_forward": ("test_vectorized_small_random_matches_torch", ("padding 0", "p:-p")),
    "stride_must_divide": ("test_loops_small_random_matches_torch", ("stride does not divide", "rounds down")),
}


def apply(mutations) -> str:
    return apply_mutations(REFERENCE, mutations)


def test_reference_solution_gets_full_marks():
    report = api.grade(ROOT / "solutions" / "a2", "a2")
    assert_full_marks(report, ALL_POINTS)


def test_untouched_template_gets_zero_with_not_implemented_everywhere():
    report = api.grade(ROOT / "student_template" / "a2", "a2")
    assert_not_implemented_everywhere(report, ALL_POINTS)


def test_untouched_template_feedback_in_spanish():
    report = api.grade(ROOT / "student_template" / "a2", "a2", suites=("public",), language="es")
    assert all(t.outcome.feedback.startswith("Sin implementar: la tarea") for t in report.tests)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    report = grade_files({"conv_numpy.py": apply(mutations)}, assignment="a2")
    assert_loses_exactly(report, ALL_POINTS, must_fail, feedback_words=("expected", "raised", "imports torch"))
    if name in PUBLIC_HINTS:
        assert_public_hint_names_the_cause(report, *PUBLIC_HINTS[name])


@pytest.mark.parametrize("name, words", [
    ("kernel_flipped", "true convolution (kernel flipped)"),
    ("padding_ignored", "has shape"),
    ("stride_ignored_in_vectorized", "has shape"),
    ("bias_not_added", "the bias is missing"),
    ("maxpool_backward_spreads_to_the_whole_window", "only to the element that was the maximum"),
])
def test_mutant_feedback_names_the_mistake(grade_files, name, words):
    report = grade_files({"conv_numpy.py": apply(MUTANTS[name][0])}, assignment="a2", suites=("public",))
    feedback = [t.outcome.feedback for t in report.tests if t.outcome.status == "failed"]
    assert feedback and any(words in f for f in feedback), feedback


def test_torch_import_scores_zero_with_a_clear_message_in_both_languages(grade_files):
    source = apply(MUTANTS["imports_torch"][0])
    report = grade_files({"conv_numpy.py": source}, assignment="a2", suites=("public",), language="es")
    assert report.score == 0
    for test in report.tests:
        assert "conv_numpy.py importa torch (línea 23)" in test.outcome.feedback, test.outcome.feedback
        assert "solo con NumPy" in test.outcome.feedback


@pytest.mark.parametrize("line", ["from scipy import signal", "import scipy.ndimage as nd", "from torch.nn import functional",
                                  "import jax.numpy as jnp", "torch = __import__('torch')"])
def test_other_forbidden_imports_are_refused(grade_files, line):
    source = REFERENCE.replace("import numpy as np\n", f"import numpy as np\n{line}\n", 1)
    report = grade_files({"conv_numpy.py": source}, assignment="a2", suites=("public",))
    assert report.score == 0
    assert all("A2 is NumPy only" in t.outcome.feedback for t in report.tests)


def test_fast_and_slow_versions_that_agree_on_a_wrong_answer_earn_nothing_for_speed(grade_files):
    """Hostile (issue 18): a conv2d and a conv2d_loops that return the same zeros, the loops burning CPU time to
    look 10x slower, used to pass the speed test, which only compared the two results with each other."""
    source = REFERENCE + """

def _zeros(x, w, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = as_pair(stride, "stride"), as_pair(padding, "padding"), as_pair(dilation, "d")
    h = (x.shape[2] + 2 * ph - dh * (w.shape[2] - 1) - 1) // sh + 1
    v = (x.shape[3] + 2 * pw - dw * (w.shape[3] - 1) - 1) // sw + 1
    return np.zeros((x.shape[0], w.shape[0], h, v))


def conv2d(x, w, b, stride=1, padding=0, dilation=1):
    return _zeros(x, w, stride, padding, dilation)


def conv2d_loops(x, w, b, stride=1, padding=0, dilation=1):
    total = 0
    for i in range(3_000_000):
        total += i
    return _zeros(x, w, stride, padding, dilation)
"""
    report = grade_files({"conv_numpy.py": source}, assignment="a2", select=SPEED)
    (test,) = report.tests
    assert test.outcome.status == "failed" and report.score == 0, test.outcome.feedback
    assert "torch.nn.functional.conv2d is the answer key" in test.outcome.feedback
