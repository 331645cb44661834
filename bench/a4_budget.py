"""Where the A4 grading time goes: end to end, and the graded run's stages across the student process.

    python bench/a4_budget.py            # needs CIFAR10_ROOT (or the default cache)

1. grades solutions/a4 end to end (public + hidden, the sandboxed engine) and reads the
   per-test durations;
2. repeats the graded accuracy run by hand on a student process of its own, timing each
   stage: starting the process and importing the module, sending the training and
   validation images to it, the recorded training (fit), the record and the trained
   state coming back, the replay of the record and the evaluation here;
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
from autograder.graders import trusted_models
from autograder.graders.cifar_oracles import fresh_seed, perturb, reference_tensors
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
        cnn, common = sandbox.module("cifar_cnn"), sandbox.helpers("common")
        train, (test_images, test_labels) = load_cifar10("train", progress=False), load_cifar10("test", progress=False)
        train_part, val_part = measure.split(train)
        stage("student process start, import", common.seed_everything, 0, threads=measure.BUDGET["threads"])
        stage("images to the student process", common.received, *train_part, *val_part)
        b = measure.BUDGET
        training = sandbox.helpers("training")
        recording = stage("recorder set up (image table)", training.start, train_part[0], measure.MEAN, measure.STD,
                          measure.PROOF.get("every", 8))
        model, _ = stage("training (fit, the budget, recorded)", cnn.fit, *train_part, *val_part, epochs=b["epochs"],
                         lr=b["lr"], batch_size=b["batch_size"], device="cpu", seed=0)
        record = stage("the record to the trusted side", training.finish, recording)
        state = stage("the trained state to the trusted side", common.state, model)
        start = time.perf_counter()
        net = trusted_models.load_state(trusted_models.deck_lenet(), state, "fit", "LeNet")
        proof = measure.prove(record, net, train_part)
        stages.append((f"replaying {len(proof.replayed)} stretches (trusted)", time.perf_counter() - start, 0.0))
        start = time.perf_counter()
        trusted_models.accuracy(net, reference_tensors(*val_part)[0], val_part[1])
        noisy = perturb(test_images, fresh_seed(), measure.PERTURBATION)
        accuracy = trusted_models.accuracy(net, reference_tensors(noisy, test_labels)[0], test_labels)
        stages.append(("evaluation, validation + test (trusted)", time.perf_counter() - start, 0.0))
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
