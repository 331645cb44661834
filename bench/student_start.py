"""What starting student processes costs: the same gradings with student processes forked from the zygote
(``autograder.runner.zygote``) and started with ``exec`` (``AUTOGRADER_ZYGOTE=0``), as ratios.

Each side runs in a fresh process that grades ``--gradings`` submissions one after another, alternating the
untouched template (every test fails at once, so starting the student process is most of its time) and the
reference; the CPU seconds counted are that process's and all of its descendants' (zygote, wardens, student
processes), read once they have all ended. Sides alternate ``--rounds`` times; the fastest round counts.

    python bench/student_start.py                  # a1
    python bench/student_start.py a2 a6 --gradings 4

It prints ratios and never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADE = """
import json, sys, time
from autograder import api
from autograder.runner import zygote
start = time.perf_counter()
scores = []
for i in range(int(sys.argv[2])):
    folder = ("student_template/" if i % 2 == 0 else "solutions/") + sys.argv[1]
    scores.append(api.grade(folder, sys.argv[1]).score)
zygote.close_all()
print(json.dumps({"seconds": time.perf_counter() - start, "scores": scores}))
"""


def run(assignment: str, gradings: int, use_zygote: bool) -> dict:
    """One side: wall seconds, CPU seconds of the whole process tree, scores."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", GRADE, assignment, str(gradings)], cwd=ROOT,
                          env={**os.environ, "AUTOGRADER_ZYGOTE": "1" if use_zygote else "0"},
                          capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"grading {assignment} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["a1"], metavar="ASSIGNMENT")
    parser.add_argument("--gradings", type=int, default=6, help="gradings per side and round (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per side (the fastest counts; default 2)")
    args = parser.parse_args()
    print(f"{'assignment':10} {'exec wall':>9} {'zygote wall':>11} {'ratio':>6} {'exec CPU':>9} {'zygote CPU':>10} "
          f"{'ratio':>6}  per grading")
    for assignment in args.assignments:
        sides = {"exec": [], "zygote": []}
        for _ in range(args.rounds):
            for name in sides:
                sides[name].append(run(assignment, args.gradings, name == "zygote"))
        best = {name: min(runs, key=lambda r: r["cpu"]) for name, runs in sides.items()}
        if best["exec"]["scores"] != best["zygote"]["scores"]:
            sys.exit(f"{assignment}: the scores differ: {best['exec']['scores']} vs {best['zygote']['scores']}")
        wall = {name: min(r["seconds"] for r in runs) for name, runs in sides.items()}
        cpu = {name: best[name]["cpu"] for name in sides}
        saved = (cpu["exec"] - cpu["zygote"]) / args.gradings
        print(f"{assignment:10} {wall['exec']:8.1f}s {wall['zygote']:10.1f}s {wall['zygote'] / wall['exec']:6.2f} "
              f"{cpu['exec']:8.1f}s {cpu['zygote']:9.1f}s {cpu['zygote'] / cpu['exec']:6.2f}  "
              f"{saved:.2f} CPU s saved")


if __name__ == "__main__":
    main()
