"""Where the A4 grading time goes: end to end, and the graded run's stages across the student process.

    python bench/a4_budget.py            # needs CIFAR10_ROOT (or the default cache)

1. grades solutions/a4 end to end (public + hidden, the sandboxed engine) and reads the
   per-test durations;
2. repeats the graded accuracy run by hand on a student process of its own, timing each
   stage: starting the process and importing the module, sending the training and
   validation images to it, the budgeted training (fit), the logits of the validation
   split and of the perturbed test images coming back, and scoring them here;
3. grader overhead = the end-to-end time minus the time spent inside tests.

Every figure is printed in seconds and as a share of one test's CPU limit (``test_timeout``);
wall seconds and the student process's CPU seconds are both shown for the stages.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from autograder import api
from autograder.data import load_cifar10
from autograder.graders.a4 import measure
from autograder.graders.cifar_oracles import accuracy_of, fresh_seed, perturb
from autograder.runner import isolation
from autograder.runner.channel import Limits
from autograder.runner.remote import Sandbox

ASSIGNMENT = measure.ASSIGNMENT
BUDGET_SECONDS = ASSIGNMENT.test_timeout
ROOT = Path(__file__).resolve().parent.parent


def staged_run() -> tuple[list[tuple[str, float, float]], float]:
    """The graded run by hand: [(stage, wall seconds, student CPU seconds)], and the test accuracy."""
    sandbox = Sandbox(ROOT / "solutions" / "a4", isolation.probe(), Limits(memory_mb=ASSIGNMENT.memory_mb,
                                                                            threads=ASSIGNMENT.threads),
                      test_cpu=10 ** 6, wall_factor=1, total_seconds=10 ** 6, preload=list(ASSIGNMENT.preload))
    stages = []

    def stage(name, call, *args, **kwargs):
        start = time.perf_counter()
        result, cpu = call.timed(*args, **kwargs)
        stages.append((name, time.perf_counter() - start, cpu))
        return result

    try:
        sandbox.begin_test()
        cnn, probes, common = sandbox.module("cifar_cnn"), sandbox.helpers("a4"), sandbox.helpers("common")
        train, (test_images, test_labels) = load_cifar10("train", progress=False), load_cifar10("test", progress=False)
        train_part, val_part = measure.split(train)
        stage("student process start, import", common.seed_everything, 0, threads=measure.BUDGET["threads"])
        stage("images to the student process", common.received, *train_part, *val_part)
        b = measure.BUDGET
        model, _ = stage("training (fit, the budget)", cnn.fit, *train_part, *val_part, epochs=b["epochs"], lr=b["lr"],
                         batch_size=b["batch_size"], device="cpu", seed=0)
        val_logits = stage("logits of the validation split", probes.logits, cnn.to_tensors, model, val_part[0])
        noisy = perturb(test_images, fresh_seed(), measure.PERTURBATION)
        test_logits = stage("logits of the perturbed test set", probes.logits, cnn.to_tensors, model, noisy)
        start = time.perf_counter()
        accuracy_of(val_logits, val_part[1], "validation")
        accuracy = accuracy_of(test_logits, test_labels, "test")
        stages.append(("scoring (trusted side)", time.perf_counter() - start, 0.0))
        return stages, accuracy
    finally:
        sandbox.close()


def main() -> None:
    start = time.perf_counter()
    report = api.grade(ROOT / "solutions" / "a4", "a4")
    total = time.perf_counter() - start
    in_tests = sum(t.outcome.seconds for t in report.tests)
    stages, accuracy = staged_run()

    print(f"A4 reference: {report.score:g}/{report.max_score:g} in {total:.1f} s end to end "
          f"(isolation {report.isolation.level if report.isolation else '?'}); "
          f"graded run by hand: test accuracy {accuracy:.4f}")
    print(f"{'graded run, stage':36} {'wall s':>8} {'CPU s':>8} {'of limit':>9}")
    for name, wall, cpu in stages:
        print(f"{name:36} {wall:8.2f} {cpu:8.2f} {wall / BUDGET_SECONDS:9.3f}")
    print(f"{'grader overhead (outside tests)':36} {total - in_tests:8.2f} {'':8} {(total - in_tests) / BUDGET_SECONDS:9.3f}")
    print("slowest tests of the grading:")
    for test in sorted(report.tests, key=lambda t: -t.outcome.seconds)[:5]:
        print(f"  {test.outcome.seconds:6.1f} s  {test.name}")
    sys.exit(0 if report.score == report.max_score else 1)


if __name__ == "__main__":
    main()
