"""What evaluating trained models on the trusted side costs: grading time and the trusted process's peak memory.

For each training assignment, grades the reference solution (every test, or with --graded-run-only the tests of
the budgeted training run) with this checkout and with an earlier revision of the engine (default: the commit
before trusted-side evaluation), one after the other, in fresh processes, and prints the time ratio (target
<= 1.1) and both peak resident sizes of the trusted process (the student process is a child: not counted).

    python bench/trusted_eval_cost.py                  # a4 a5 a6 against 5f86c43, whole gradings
    python bench/trusted_eval_cost.py a4 --graded-run-only --baseline HEAD~1 --repeat 2

Both sides grade at partial isolation (see ``grade``). Needs CIFAR-10 (CIFAR10_ROOT) and, for a6, the
offline backbone. Run it on a quiet machine: it prints ratios, never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELECT = {"a4": "cifar10_accuracy or reported_history",
          "a5": "narrows_the_train_test_gap or reported_accuracies",
          "a6": "accuracy_above or beats_training_from_scratch or bit_identical_after_the_graded_run or reported_history"}
GRADE = """
import json, resource, sys, time
from autograder import api
start = time.perf_counter()
report = api.grade(sys.argv[1], sys.argv[2], select=sys.argv[3] or None, min_isolation="partial")
print(json.dumps({"seconds": time.perf_counter() - start, "score": report.score, "max": report.max_score,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def grade(engine: Path, assignment: str, graded_run_only: bool) -> dict:
    # Both sides at partial isolation (no Landlock): the virtual environment's editable install points at this
    # checkout, so under Landlock a baseline worktree's student process could not import the public loader
    # (A6's ``from autograder.backbones import load_backbone``). What is compared is the trusted side's work.
    env = {**os.environ, "PYTHONPATH": str(engine), "AUTOGRADER_ISOLATION": "partial"}
    out = subprocess.run([sys.executable, "-c", GRADE, str(ROOT / "solutions" / assignment), assignment,
                          SELECT[assignment] if graded_run_only else ""], cwd=engine, env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="a4, a5 or a6 (default: all three)")
    parser.add_argument("--baseline", default="5f86c43", help="git revision of the engine to compare with")
    parser.add_argument("--repeat", type=int, default=1, help="gradings per side (the fastest counts)")
    parser.add_argument("--graded-run-only", action="store_true", help="only the tests of the budgeted training run")
    args = parser.parse_args()
    unknown = sorted(set(args.assignments) - set(SELECT))
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}: choose from {', '.join(sorted(SELECT))}")
    args.assignments = args.assignments or sorted(SELECT)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            print(f"{'assignment':10} {'baseline s':>10} {'now s':>8} {'ratio':>6} {'peak MB then':>12} "
                  f"{'peak MB now':>11}  score then, now")
            for assignment in args.assignments:
                then = min((grade(baseline, assignment, args.graded_run_only) for _ in range(args.repeat)),
                           key=lambda r: r["seconds"])
                now = min((grade(ROOT, assignment, args.graded_run_only) for _ in range(args.repeat)),
                          key=lambda r: r["seconds"])
                print(f"{assignment:10} {then['seconds']:10.1f} {now['seconds']:8.1f} "
                      f"{now['seconds'] / then['seconds']:6.2f} {then['peak_mb']:12.0f} {now['peak_mb']:11.0f}  "
                      f"{then['score']:g}/{then['max']:g}, {now['score']:g}/{now['max']:g}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
