"""The calibration rule, independent of any assignment: threshold = worst seed - margin."""
from __future__ import annotations

import pytest

from autograder.calibrate import summarize


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
