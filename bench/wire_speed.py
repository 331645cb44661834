"""What the trust boundary costs: the wire's speed, and A1-A3 grading time against the engine without it.

Prints, from one run:
- round trips per second of a small call into the confined student process;
- the round-trip throughput of a (4, 3, 32, 32) float64 array (sent and returned);
- for A1, A2 and A3, the time to grade the reference solution (public + hidden)
  on this engine and on the last engine that imported student code into the
  grading process (git commit OLD_ENGINE, checked out in a temporary worktree),
  and their ratio. Each grading runs in a fresh Python process, best of REPEATS.

    python bench/wire_speed.py [--repeats 2] [--skip-old]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD_ENGINE = "01bbc7e"  # the last commit whose student code ran inside the grading process
GRADE = ("import sys, time; sys.path.insert(0, {root!r}); from autograder import api; "
         "t = time.monotonic(); r = api.grade({root!r} + '/solutions/{a}', '{a}'); "
         "print(time.monotonic() - t, r.score, r.max_score)")


def wire_speed() -> tuple[float, float]:
    """(round trips per second for a small call, MB/s of a (4, 3, 32, 32) float64 array there and back)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from autograder.runner import isolation
    from autograder.runner.channel import Limits
    from autograder.runner.remote import Sandbox

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "echo.py").write_text("def echo(x):\n    return x\n")
        sandbox = Sandbox(Path(folder), isolation.probe(), Limits(), test_cpu=600, wall_factor=4, total_seconds=3600)
        try:
            sandbox.begin_test()
            echo = sandbox.module("echo").echo
            for _ in range(50):
                echo(1)
            count, start = 3000, time.perf_counter()
            for i in range(count):
                echo(i)
            small = count / (time.perf_counter() - start)
            array = np.random.default_rng(0).normal(size=(4, 3, 32, 32))
            count, start = 300, time.perf_counter()
            for _ in range(count):
                echo(array)
            megabytes = 2 * count * array.nbytes / 1e6 / (time.perf_counter() - start)
        finally:
            sandbox.close()
    return small, megabytes


def grading_seconds(root: Path, assignment: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", GRADE.format(root=str(root), a=assignment)], cwd=root,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"grading {assignment} in {root} failed: {done.stderr.strip()[-300:]}")
        seconds, score, max_score = done.stdout.split()
        if float(score) != float(max_score):
            raise RuntimeError(f"{assignment} reference got {score}/{max_score} in {root}")
        best = min(best, float(seconds))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="gradings per engine and assignment, best kept [2]")
    parser.add_argument("--skip-old", action="store_true", help="do not check out and time the old engine")
    args = parser.parse_args()
    small, megabytes = wire_speed()
    print(f"small call: {small:,.0f} round trips per second")
    print(f"(4, 3, 32, 32) float64 array there and back: {megabytes:,.0f} MB/s")
    if args.skip_old:
        return
    with tempfile.TemporaryDirectory(prefix="old-engine-") as folder:
        old = Path(folder) / "engine"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), OLD_ENGINE],
                       check=True, capture_output=True)
        try:
            print(f"{'assignment':<11}{'new (s)':>9}{'old (s)':>9}{'new/old':>9}")
            for assignment in ("a1", "a2", "a3"):
                new = grading_seconds(ROOT, assignment, args.repeats)
                before = grading_seconds(old, assignment, args.repeats)
                print(f"{assignment:<11}{new:>9.1f}{before:>9.1f}{new / before:>9.2f}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)


if __name__ == "__main__":
    main()
