"""What the sandbox's confinement costs: grading time of the A1-A3 reference solutions at full isolation,
this checkout against an earlier revision of the engine (default: the one before the default-deny seccomp
filter, the tree-wide memory and CPU budget and the wire's value count).

Grades each reference with both engines, alternately and in fresh processes, ``--repeat`` times each (the
fastest counts), and prints the ratio (target <= 1.05) and this checkout's isolation line.

    python bench/sandbox_cost.py
    python bench/sandbox_cost.py a2 --repeat 5 --baseline HEAD~3

Run it on a quiet machine: it prints ratios, never asserts.
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
ASSIGNMENTS = ("a1", "a2", "a3")
GRADE = """
import json, sys, time
from autograder import api
start = time.perf_counter()
report = api.grade(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "score": report.score, "max": report.max_score,
                  "isolation": report.isolation.describe()}))
"""


def grade(engine: Path, assignment: str) -> dict:
    done = subprocess.run([sys.executable, "-c", GRADE, str(ROOT / "solutions" / assignment), assignment],
                          cwd=engine, env={**os.environ, "PYTHONPATH": str(engine)}, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="a1, a2 or a3 (default: all three)")
    parser.add_argument("--baseline", default="e9bdefb", help="git revision of the engine to compare with")
    parser.add_argument("--repeat", type=int, default=3, help="gradings per side (the fastest counts)")
    args = parser.parse_args()
    unknown = sorted(set(args.assignments) - set(ASSIGNMENTS))
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}: choose from {', '.join(ASSIGNMENTS)}")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            print(f"{'assignment':10} {'baseline s':>10} {'now s':>8} {'ratio':>6}  score then, now")
            isolation = ""
            for assignment in args.assignments or ASSIGNMENTS:
                then, now = [], []
                for _ in range(args.repeat):  # alternately, so that a busy moment falls on both sides
                    then.append(grade(baseline, assignment))
                    now.append(grade(ROOT, assignment))
                best_then = min(then, key=lambda r: r["seconds"])
                best_now = min(now, key=lambda r: r["seconds"])
                isolation = best_now["isolation"]
                print(f"{assignment:10} {best_then['seconds']:10.1f} {best_now['seconds']:8.1f} "
                      f"{best_now['seconds'] / best_then['seconds']:6.2f}  {best_then['score']:g}/{best_then['max']:g}, "
                      f"{best_now['score']:g}/{best_now['max']:g}", flush=True)
            print(f"isolation now: {isolation}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
