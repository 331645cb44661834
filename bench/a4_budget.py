"""Where the A4 hidden grading time goes, as shares of one test's CPU limit (``test_timeout``).

    python bench/a4_budget.py            # needs CIFAR10_ROOT (or the default cache)

1. grades solutions/a4 end to end (public + hidden, subprocess) and reads the
   per-test durations;
2. times the stages of the accuracy test in this process: loading the cached
   CIFAR-10, the budgeted training, the logits of the perturbed test images;
3. grader overhead = the end-to-end time minus the time spent inside tests.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import torch

from autograder import api
from autograder.data import load_cifar10
from autograder.graders.a4 import measure
from autograder.graders.cifar_oracles import fresh_seed, perturb
from autograder.repro import seed_everything
from autograder.sandbox.helpers import a4 as probes

BUDGET_SECONDS = measure.ASSIGNMENT.test_timeout
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    start = time.perf_counter()
    report = api.grade(ROOT / "solutions" / "a4", "a4")
    total = time.perf_counter() - start
    in_tests = sum(t.outcome.seconds for t in report.tests)

    spec = importlib.util.spec_from_file_location("reference_a4", ROOT / "solutions" / "a4" / "cifar_cnn.py")
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    t0 = time.perf_counter()
    train, test = load_cifar10("train", progress=False), load_cifar10("test", progress=False)
    t1 = time.perf_counter()
    train_part, val_part = measure.split(train)
    model, _ = measure.train(reference, seed_everything, train_part, val_part, seed=0)
    t2 = time.perf_counter()
    accuracy = measure.score(reference, probes, model, perturb(test[0], fresh_seed(), measure.PERTURBATION), test[1],
                             "test")
    t3 = time.perf_counter()

    rows = [("data load (cached)", t1 - t0), ("training (fit, budget)", t2 - t1),
            ("logits of the perturbed test set", t3 - t2), ("grader overhead (outside tests)", total - in_tests),
            ("end-to-end hidden+public grading", total)]
    print(f"A4 grading on {torch.get_num_threads()} threads, score {report.score:g}/{report.max_score:g}, "
          f"accuracy {accuracy:.4f}")
    print(f"{'stage':36} {'seconds':>8} {'of budget':>10}")
    for name, seconds in rows:
        print(f"{name:36} {seconds:8.1f} {seconds / BUDGET_SECONDS:10.2f}")
    print("slowest tests:")
    for test in sorted(report.tests, key=lambda t: -t.outcome.seconds)[:5]:
        print(f"  {test.outcome.seconds:6.1f} s  {test.name}")
    sys.exit(0 if total < BUDGET_SECONDS else 1)


if __name__ == "__main__":
    main()
