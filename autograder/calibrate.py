"""Thresholds measured, never guessed: run the reference over several seeds and write the pass mark.

An assignment that trains has ``graders/<id>/measure.py`` with
``calibration_data()`` and ``calibrate(module, data, seed, on_epoch) -> float``
(the same measurement its hidden grader makes) and a ``[calibration]`` table
in ``assignment.toml`` with ``seeds`` and ``margin``. ``calibrate`` may instead
return a dict with the measured ``"value"`` and other per-seed numbers worth
keeping (for example both sides of a comparison); each of those is written as
a list, one entry per seed, beside the values. Two rules set the pass mark:

- with ``false_failure = alpha`` in ``[calibration]``, a one-sided prediction
  bound: ``threshold = mean - t(1 - alpha, n - 1) * std * sqrt(1 + 1/n)``. If a
  valid submission's value is distributed like the reference's over seeds
  (normal, with the mean and spread estimated from the n seeds), it falls
  below the threshold with probability alpha;
- otherwise ``threshold = (worst seed's value) - margin``.

The result goes to ``graders/<id>/calibration.toml``, which the grader reads.
"""
from __future__ import annotations

import importlib
import importlib.util
import math
import os
import platform
import statistics
from pathlib import Path

import numpy as np
import torch

from autograder import course
from autograder.course import CourseError


def _reference_module(assignment: course.Assignment, mutations=(), tag: str = ""):
    """The reference solution imported here; ``mutations`` ((old, new) source replacements, each found exactly
    once) make a valid variant of it, a design choice the statement leaves open."""
    root = course.repo_root()
    if root is None:
        raise CourseError("calibration runs in the course repository (it trains the reference in solutions/)")
    name = assignment.modules[0]
    path = root / "solutions" / assignment.id / f"{name}.py"
    source = path.read_text(encoding="utf-8")
    for old, new in mutations:
        if source.count(old) != 1:
            raise CourseError(f"calibration variant {tag!r}: {old!r} is not found exactly once in {path}")
        source = source.replace(old, new)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(
        f"reference_{assignment.id}_{name}{'_' + tag if tag else ''}", loader=None))
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def run(assignment_id: str, seeds: list[int] | None = None, on_step=None, curves_only: bool = False) -> dict:
    """Calibrate ``assignment_id``; returns what was written to its calibration.toml (with ``curves_only``,
    only the reference curves are written, and the threshold is left as it is)."""
    assignment = course.load_assignment(assignment_id)
    settings = assignment.calibration
    if not settings or not (assignment.graders_dir / "measure.py").is_file():
        raise CourseError(f"assignment {assignment_id} has nothing to calibrate (no [calibration] and measure.py)")
    seeds = list(seeds or settings["seeds"])
    measure = importlib.import_module(f"autograder.graders.{assignment_id}.measure")
    variants = {} if curves_only else dict(getattr(measure, "CALIBRATION_VARIANTS", {}))
    data = measure.calibration_data()
    epochs = assignment.budget.get("epochs", 0)

    def measure_all(module, prefix: str) -> list:
        measured = []
        for seed in seeds:
            label = f"{prefix}seed {seed}"
            step = (lambda epoch, history, label=label: on_step(label, epoch + 1, epochs)) if on_step else None
            measured.append(measure.calibrate(module, data, seed, on_epoch=step))
        return measured

    measured = measure_all(_reference_module(assignment), "")
    histories = [m.pop("curves", {}) for m in measured if isinstance(m, dict)]
    write_curves(assignment.curves_file, seeds, histories)
    if curves_only:
        return {"seeds": seeds, "curves": str(assignment.curves_file)}
    margin, false_failure = float(settings.get("margin", 0.0)), settings.get("false_failure")
    result = summarize(seeds, measured, margin, false_failure)
    if variants:
        result = with_variants(result, {name: summarize(seeds, _without_curves(measure_all(
            _reference_module(assignment, mutations, name), f"{name}, ")), margin, false_failure)
            for name, mutations in variants.items()})
    write(assignment.calibration_file, assignment, result)
    return result


def _without_curves(measured: list) -> list:
    for m in measured:
        if isinstance(m, dict):
            m.pop("curves", None)
    return measured


def with_variants(reference: dict, variants: dict[str, dict]) -> dict:
    """The calibration record of the reference and of its valid variants: the pass mark is the lowest of their
    thresholds, so that each variant, like the reference, fails with at most the stated probability; each
    variant's values, mean, std and threshold are kept as ``variant_<name>_...``."""
    result = dict(reference)
    result["reference_threshold"] = reference["threshold"]
    for name, summary in variants.items():
        for key in ("values", "mean", "std", "threshold"):
            result[f"variant_{name}_{key}"] = summary[key]
    result["threshold"] = min([reference["threshold"]] + [v["threshold"] for v in variants.values()])
    result["variants"] = sorted(variants)
    return result


def mean_curves(histories: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Per run and per history key, the mean over seeds of each epoch that every seed reached."""
    runs: dict[str, dict[str, list[float]]] = {}
    for name in histories[0] if histories else {}:
        runs[name] = {}
        for key in histories[0][name]:
            series = [h[name][key] for h in histories if isinstance(h.get(name, {}).get(key), list)]
            epochs = min(len(values) for values in series)
            runs[name][key] = [round(statistics.fmean(float(v[e]) for v in series), 4) for e in range(epochs)]
    return runs


def write_curves(path: Path, seeds: list[int], histories: list[dict]) -> None:
    """``reference_curves.json``: what the student's feedback page draws beside the student's own curves."""
    import json

    runs = mean_curves(histories)
    lines = ['{"about": "the reference solution\'s history under the grader\'s budget, mean over seeds",',
             f' "seeds": {json.dumps(seeds)},', ' "runs": {']
    for number, (run, history) in enumerate(runs.items()):
        items = [f'  {json.dumps(key)}: {json.dumps(values)}' for key, values in history.items()]
        lines.append(f' {json.dumps(run)}: {{\n' + ",\n".join(items) + "}" + ("," if number < len(runs) - 1 else ""))
    path.write_text("\n".join(lines) + "}}\n", encoding="utf-8")


def summarize(seeds: list[int], measured: list, margin: float, false_failure: float | None = None) -> dict:
    """The calibration record: per-seed values, mean, spread, worst, the rule's margin, threshold, details.

    Each entry of ``measured`` is a float, or a dict with ``"value"`` and
    other per-seed numbers, which become lists named after their keys.
    """
    values = [float(m["value"]) if isinstance(m, dict) else float(m) for m in measured]
    keys = [k for k in (measured[0] if isinstance(measured[0], dict) else {}) if k != "value"]
    details = {k: [round(float(m[k]), 4) for m in measured] for k in keys}
    mean, worst = statistics.fmean(values), min(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    if false_failure is not None:
        threshold, quantile = prediction_bound(values, float(false_failure))
        rule = {"rule": "mean - t(1 - false_failure, n - 1) * std * sqrt(1 + 1/n)",
                "false_failure": float(false_failure), "t_quantile": round(quantile, 3),
                "margin": round(mean - threshold, 4)}
    else:
        threshold = worst - margin
        rule = {"rule": "worst - margin", "margin": margin}
    return {
        "seeds": seeds,
        "values": [round(v, 4) for v in values],
        "mean": round(mean, 4),
        "std": round(std, 4),
        "worst": round(worst, 4),
        **rule,
        "threshold": round(threshold, 4),
        **details,
    }


def prediction_bound(values: list[float], false_failure: float) -> tuple[float, float]:
    """(mean - t(1 - false_failure, n - 1) * std * sqrt(1 + 1/n), the t quantile) over ``values`` (n >= 3)."""
    if len(values) < 3:
        raise CourseError("a prediction bound needs at least 3 seeds")
    quantile = t_quantile(1 - false_failure, len(values) - 1)
    return statistics.fmean(values) - quantile * statistics.stdev(values) * math.sqrt(1 + 1 / len(values)), quantile


def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t with ``dof`` degrees of freedom (p >= 0.5), by bisection on its CDF."""
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)

    def cdf(x: float, steps: int = 2000) -> float:  # 0.5 + integral of the density over [0, x], Simpson's rule
        h = x / steps
        density = [math.exp(log_norm - (dof + 1) / 2 * math.log1p((i * h) ** 2 / dof)) for i in range(steps + 1)]
        return 0.5 + h / 3 * (density[0] + density[-1] + 4 * sum(density[1:-1:2]) + 2 * sum(density[2:-1:2]))

    low, high = 0.0, 1000.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < p else (low, middle)
    return (low + high) / 2


def write(path: Path, assignment: course.Assignment, result: dict) -> None:
    budget = ", ".join(f"{k} = {v}" for k, v in assignment.budget.items())
    lines = [
        f"# Written by `autograder calibrate {assignment.id}`: the reference solution under the grader's budget",
        f"# ({budget}), one run per seed. Rule: threshold = {result['rule']}.",
        f"# Measured with torch {torch.__version__}, Python {platform.python_version()}, {torch.get_num_threads()} threads.",
    ]
    result = dict(result, machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
                  versions=f"torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    for key, value in result.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
