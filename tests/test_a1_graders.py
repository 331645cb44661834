"""The A1 graders graded: reference, untouched template and realistic buggy submissions."""
from __future__ import annotations

import pytest

from autograder import api, course
from conftest import (ROOT, apply_mutations, assert_full_marks, assert_loses_exactly,
                      assert_not_implemented_everywhere, assert_public_hint_names_the_cause, reference_source)

pytestmark = pytest.mark.slow
REFERENCE = reference_source("a1", "conv_arithmetic")
A1 = course.load_assignment("a1")
ALL_POINTS = {**A1.points("public"), **A1.points("hidden")}
CONV_RETURN = "        return (i + 2 * p - effective_kernel) // s + 1\n"

# name -> (mutations applied to the reference, test functions that must fail; all others must pass).
# The error-case tests check valid calls of the same function first, so a mutant that gets those wrong
# loses them too.
MUTANTS = {
    "off_by_one": (
        [(CONV_RETURN, "        return (i + 2 * p - effective_kernel) // s\n")],
        {"test_conv_deck_examples", "test_conv_height_width_pairs", "test_lenet_trace",
         "test_conv_matches_pytorch_without_dilation", "test_conv_matches_pytorch_with_dilation",
         "test_conv_pairs_match_pytorch", "test_trace_matches_pytorch", "test_trace_does_not_run_the_model",
         "test_conv_impossible_configurations_raise", "test_trace_rejects_inconsistent_networks"},
    ),
    "dilation_ignored": (
        [("        effective_kernel = d * (k - 1) + 1\n", "        effective_kernel = k\n")],
        {"test_conv_height_width_pairs", "test_conv_matches_pytorch_with_dilation", "test_conv_pairs_match_pytorch",
         "test_conv_impossible_configurations_raise", "test_trace_matches_pytorch"},
    ),
    "floor_ceil_swapped": (
        [("        if ceil_mode:\n            o = math.ceil(", "        if not ceil_mode:\n            o = math.ceil(")],
        {"test_pool_matches_pytorch", "test_pool_ceil_mode_matches_pytorch", "test_trace_matches_pytorch",
         "test_pool_impossible_configurations_raise"},
    ),
    "padding_counted_once": (
        [("        if effective_kernel > i + 2 * p:", "        if effective_kernel > i + p:"),
         (CONV_RETURN, "        return (i + p - effective_kernel) // s + 1\n")],
        {"test_conv_deck_examples", "test_conv_matches_pytorch_without_dilation",
         "test_conv_matches_pytorch_with_dilation", "test_conv_pairs_match_pytorch", "test_trace_matches_pytorch",
         "test_conv_impossible_configurations_raise"},
    ),
    "groups_ignored": (
        [("k_h * k_w * in_channels // groups", "k_h * k_w * in_channels")],
        {"test_conv_parameters_match_pytorch", "test_parameter_counts_reject_impossible_layers"},
    ),
    "same_padding_without_dilation": (
        [("d * (k - 1) // 2 for k, d", "(k - 1) // 2 for k, d")],
        {"test_same_padding_keeps_the_size"},
    ),
}

# mutant -> (the public test that catches it, words its hint must contain)
PUBLIC_HINTS = {
    "dilation_ignored": ("test_conv_height_width_pairs", ("dilation", "d*(k - 1) + 1")),
}


def apply(mutations) -> str:
    return apply_mutations(REFERENCE, mutations)


def test_reference_solution_gets_full_marks():
    report = api.grade(ROOT / "solutions" / "a1", "a1")
    assert_full_marks(report, ALL_POINTS)


def test_untouched_template_gets_zero_with_not_implemented_everywhere():
    report = api.grade(ROOT / "student_template" / "a1", "a1")
    assert_not_implemented_everywhere(report, ALL_POINTS)


def test_untouched_template_feedback_in_spanish():
    report = api.grade(ROOT / "student_template" / "a1", "a1", suites=("public",), language="es")
    assert all(t.outcome.feedback.startswith("Sin implementar: la tarea") for t in report.tests)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_points(grade_files, name):
    mutations, must_fail = MUTANTS[name]
    report = grade_files({"conv_arithmetic.py": apply(mutations)})
    assert_loses_exactly(report, ALL_POINTS, must_fail, feedback_words=("expected", "raised", "but"))
    if name in PUBLIC_HINTS:
        assert_public_hint_names_the_cause(report, *PUBLIC_HINTS[name])


def test_a_dilation_ignored_in_the_valid_cases_is_named_not_refuse_everything(grade_files):
    """The impossible-configuration test checks valid sizes first: a size that ignores the dilation is named as
    such there, and the impossible case that only its dilation makes impossible says so."""
    report = grade_files({"conv_arithmetic.py": apply(MUTANTS["dilation_ignored"][0])}, select="impossible")
    [test] = [t for t in report.tests if t.outcome.info.function == "test_conv_impossible_configurations_raise"]
    assert "dilation" in test.outcome.feedback and "refuses everything" not in test.outcome.feedback
    fixed_valid = apply([("        effective_kernel = d * (k - 1) + 1\n",
                          "        effective_kernel = k if i + 2 * p < d * (k - 1) + 1 else d * (k - 1) + 1\n")])
    report = grade_files({"conv_arithmetic.py": fixed_valid}, select="test_conv_impossible")
    [test] = report.tests
    assert "spans d*(k - 1) + 1 = 7 pixels" in test.outcome.feedback, test.outcome.feedback


def test_mutant_feedback_names_the_mistake(grade_files):
    report = grade_files({"conv_arithmetic.py": apply(MUTANTS["padding_counted_once"][0])}, suites=("public",))
    feedback = next(t.outcome.feedback for t in report.tests if t.outcome.status == "failed")
    assert "returned (479, 639); expected (480, 640)" in feedback
    assert "use i + 2p, not i + p" in feedback


# trace_shapes that run the network they are given, each in its own way (hostile: issue 18).
RUNNERS = {
    "calls_the_layers": "x = layer(x)",
    "calls_forward": "x = layer.forward(x)",
    "deletes_the_trap_then_calls_the_layers": "vars(layer).pop('forward', None)\n        x = layer(x)",
    "calls_the_whole_model_after_deleting_the_trap": "vars(layer).pop('forward', None)\n        x = model[:index + 1](torch.zeros(1, *input_shape))",
    "deletes_the_trap_and_the_hooks": ("vars(layer).pop('forward', None)\n        layer._forward_hooks.clear()\n"
                                       "        layer._forward_pre_hooks.clear()\n        x = layer(x)"),
}
RUNNER = '''

def trace_shapes(model, input_shape):
    import torch
    x, shapes = torch.zeros(1, *input_shape), []
    with torch.no_grad():
        for index, layer in enumerate(model):
            {run}
            shapes.append(tuple(x.shape[1:]))
    return shapes
'''


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_trace_that_runs_the_model_earns_nothing_for_not_running_it(grade_files, name):
    source = REFERENCE + RUNNER.replace("{run}", RUNNERS[name].replace("\n        ", "\n            "))
    report = grade_files({"conv_arithmetic.py": source}, select="test_trace_does_not_run_the_model or test_lenet_trace")
    outcomes = {t.outcome.info.function: t.outcome for t in report.tests}
    assert outcomes["test_lenet_trace"].status == "passed"  # running an honest network gives the right shapes
    lost = outcomes["test_trace_does_not_run_the_model"]
    assert lost.status == "failed" and report.score == ALL_POINTS["test_lenet_trace"], lost.feedback
    words = "changed the layers" if "hooks" in name else "trace_shapes ran the model"
    assert words in lost.feedback and "Traceback" not in lost.feedback, lost.feedback
