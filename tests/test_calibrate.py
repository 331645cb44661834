"""The calibration rule, independent of any assignment (threshold = worst seed - margin), and the reference
curves that feedback pages draw."""
from __future__ import annotations

import json

import pytest

from autograder import course
from autograder.calibrate import mean_curves, summarize, write_curves


def test_plain_values_give_mean_spread_and_threshold():
    result = summarize([0, 1, 2], [0.5, 0.6, 0.55], margin=0.05)
    assert result["values"] == [0.5, 0.6, 0.55] and result["worst"] == 0.5
    assert result["mean"] == pytest.approx(0.55) and result["std"] == pytest.approx(0.05)
    assert result["threshold"] == pytest.approx(0.45)


def test_dict_measurements_keep_their_details_per_seed():
    measured = [{"value": 0.3, "gap_plain": 0.4, "gap_regularized": 0.1},
                {"value": 0.25, "gap_plain": 0.35, "gap_regularized": 0.1}]
    result = summarize([0, 1], measured, margin=0.1)
    assert result["values"] == [0.3, 0.25] and result["threshold"] == pytest.approx(0.15)
    assert result["gap_plain"] == [0.4, 0.35] and result["gap_regularized"] == [0.1, 0.1]


def test_reference_curves_are_the_per_epoch_mean_over_seeds(tmp_path):
    histories = [{"graded run": {"train_loss": [2.0, 1.0, 0.5], "val_accuracy": [0.3, 0.4, 0.5]}},
                 {"graded run": {"train_loss": [2.2, 1.2], "val_accuracy": [0.1, 0.2]}}]  # stopped early
    assert mean_curves(histories) == {"graded run": {"train_loss": [2.1, 1.1], "val_accuracy": [0.2, 0.3]}}
    write_curves(tmp_path / "reference_curves.json", [0, 1], histories)
    record = json.loads((tmp_path / "reference_curves.json").read_text())
    assert record["seeds"] == [0, 1] and record["runs"] == mean_curves(histories)


@pytest.mark.parametrize("assignment_id", ["a4", "a5", "a6"])
def test_every_training_assignment_has_reference_curves_for_the_runs_its_graders_record(assignment_id):
    runs = course.load_assignment(assignment_id).reference_curves()
    assert set(runs) == ({"plain", "regularized"} if assignment_id == "a5" else {"graded run"})
    epochs = course.load_assignment(assignment_id).budget["epochs"]
    for history in runs.values():
        assert "train_loss" in history and "val_accuracy" in history
        assert {len(values) for values in history.values()} == {epochs}
