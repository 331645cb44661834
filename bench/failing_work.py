"""Failing work grades as fast as correct work: grading time of the untouched template and of a submission
that raises in every function, as ratios to the reference's, per assignment.

Three submissions per assignment, graded with the public and hidden tests in the same way as ``autograder
grade`` (one after another, alternating, ``--rounds`` times; the fastest run of each counts, so a busy
machine slows all three alike):

- ``reference``: ``solutions/<id>/``;
- ``template``: ``student_template/<id>/`` (every stub raises ``NotImplementedError``);
- ``raises``: the template with every stub raising ``RuntimeError`` instead (a submission whose every
  function fails, which the graders cannot tell from an unfinished one by its type).

The target is a ratio of at most 1.0 for both, on every assignment.

    python bench/failing_work.py                 # a1 a2 a3 (no data set needed)
    python bench/failing_work.py a1 a4 --rounds 2
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import api  # noqa: E402

STUB = "raise NotImplementedError()"
BROKEN = 'raise RuntimeError("this part does not work yet")'


def raising_copy(assignment: str, folder: Path) -> Path:
    """The template of ``assignment`` with every stub raising RuntimeError, written under ``folder``."""
    target = folder / f"{assignment}-raises"
    shutil.copytree(ROOT / "student_template" / assignment, target)
    stubs = 0
    for module in target.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        stubs += text.count(STUB)
        module.write_text(text.replace(STUB, BROKEN), encoding="utf-8")
    if not stubs:
        raise SystemExit(f"bench: no '{STUB}' in student_template/{assignment}")
    return target


def grade_seconds(path: Path, assignment: str, isolation: str) -> tuple[float, float, float]:
    start = time.monotonic()
    report = api.grade(path, assignment, min_isolation=isolation)
    return time.monotonic() - start, report.score, report.max_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", default=["a1", "a2", "a3"])
    parser.add_argument("--rounds", type=int, default=2, help="gradings of each submission (the fastest counts)")
    parser.add_argument("--allow-isolation", default="none", choices=["full", "partial", "none"],
                        help="the lowest isolation accepted (the same for the three submissions)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for assignment in args.assignments:
            submissions = {"reference": ROOT / "solutions" / assignment,
                           "template": ROOT / "student_template" / assignment,
                           "raises": raising_copy(assignment, Path(scratch))}
            best = {name: float("inf") for name in submissions}
            scores = {}
            for round_ in range(args.rounds):
                for name, path in submissions.items():
                    seconds, score, max_score = grade_seconds(path, assignment, args.allow_isolation)
                    best[name] = min(best[name], seconds)
                    scores[name] = f"{score:g}/{max_score:g}"
                    print(f"  {assignment} {name:9} round {round_ + 1}: {seconds:6.1f} s  {scores[name]}",
                          file=sys.stderr, flush=True)
            rows.append((assignment, best, scores))
    print(f"{'assignment':10} {'reference':>14} {'template':>14} {'raises':>14} {'template/ref':>13} "
          f"{'raises/ref':>11}")
    for assignment, best, scores in rows:
        cells = [f"{best[n]:6.1f} s {scores[n]:>6}" for n in ("reference", "template", "raises")]
        print(f"{assignment:10} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} "
              f"{best['template'] / best['reference']:13.2f} {best['raises'] / best['reference']:11.2f}")


if __name__ == "__main__":
    main()
