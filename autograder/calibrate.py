"""Thresholds measured, never guessed: run the reference over several seeds and write the pass mark.

An assignment that trains has ``graders/<id>/measure.py`` with
``calibration_data()`` and ``calibrate(module, data, seed, on_epoch) -> float``
(the same measurement its hidden grader makes) and a ``[calibration]`` table
in ``assignment.toml`` with ``seeds`` and ``margin``. ``calibrate`` may instead
return a dict with the measured ``"value"`` and other per-seed numbers worth
keeping (for example both sides of a comparison); each of those is written as
a list, one entry per seed, beside the values. The rule:

    threshold = (worst seed's value) - margin

The result goes to ``graders/<id>/calibration.toml``, which the grader reads.
"""
from __future__ import annotations

import importlib
import importlib.util
import platform
import statistics
from pathlib import Path

import torch

from autograder import course
from autograder.course import CourseError


def _reference_module(assignment: course.Assignment):
    root = course.repo_root()
    if root is None:
        raise CourseError("calibration runs in the course repository (it trains the reference in solutions/)")
    name = assignment.modules[0]
    path = root / "solutions" / assignment.id / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"reference_{assignment.id}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(assignment_id: str, seeds: list[int] | None = None, on_step=None) -> dict:
    """Calibrate ``assignment_id``; returns what was written to its calibration.toml."""
    assignment = course.load_assignment(assignment_id)
    settings = assignment.calibration
    if not settings or not (assignment.graders_dir / "measure.py").is_file():
        raise CourseError(f"assignment {assignment_id} has nothing to calibrate (no [calibration] and measure.py)")
    seeds = list(seeds or settings["seeds"])
    measure = importlib.import_module(f"autograder.graders.{assignment_id}.measure")
    reference = _reference_module(assignment)
    data = measure.calibration_data()
    measured = []
    for seed in seeds:
        label = f"seed {seed}"
        epochs = assignment.budget.get("epochs", 0)
        step = (lambda epoch, history, label=label: on_step(label, epoch + 1, epochs)) if on_step else None
        measured.append(measure.calibrate(reference, data, seed, on_epoch=step))
    result = summarize(seeds, measured, float(settings["margin"]))
    write(assignment.calibration_file, assignment, result)
    return result


def summarize(seeds: list[int], measured: list, margin: float) -> dict:
    """The calibration record: per-seed values, mean, spread, worst, margin, threshold, details.

    Each entry of ``measured`` is a float, or a dict with ``"value"`` and
    other per-seed numbers, which become lists named after their keys.
    """
    values = [float(m["value"]) if isinstance(m, dict) else float(m) for m in measured]
    keys = [k for k in (measured[0] if isinstance(measured[0], dict) else {}) if k != "value"]
    details = {k: [round(float(m[k]), 4) for m in measured] for k in keys}
    worst = min(values)
    return {
        "seeds": seeds,
        "values": [round(v, 4) for v in values],
        "mean": round(statistics.fmean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "worst": round(worst, 4),
        "margin": margin,
        "threshold": round(worst - margin, 4),
        **details,
    }


def write(path: Path, assignment: course.Assignment, result: dict) -> None:
    budget = ", ".join(f"{k} = {v}" for k, v in assignment.budget.items())
    lines = [
        f"# Written by `autograder calibrate {assignment.id}`: the reference solution under the grader's budget",
        f"# ({budget}), one run per seed. Rule: threshold = worst - margin.",
        f"# Measured with torch {torch.__version__}, Python {platform.python_version()}, {torch.get_num_threads()} threads.",
    ]
    for key, value in result.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
