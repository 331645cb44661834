"""What the worst replies a submission can construct cost the trusted side: peak memory and CPU, as multiples
of a normal grading.

Grades A1's reference solution, then ``tests/hostile/huge_replies.py`` in each of its modes (an 8 MB string
from every function; 16 million empty lists; too many values; the most values a reply may hold), each in a
fresh process, and prints the trusted process's peak resident memory, its CPU seconds and the wall time,
with their ratios to the reference's grading. The student process is a child: not counted.

    python bench/worst_reply.py
    python bench/worst_reply.py --modes strings values

Run it on a quiet machine: it prints ratios, never asserts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("strings", "flood", "count", "values")
GRADE = """
import json, resource, sys, time
from autograder import api, report
start = time.perf_counter()
result = api.grade(sys.argv[1], "a1", test_timeout=float(sys.argv[2]) or None)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
                  "peak_mb": usage.ru_maxrss / 1024, "score": result.score,
                  "json_kb": len(json.dumps(report.gradescope(result))) / 1024}))
"""


def grade(folder: Path, test_timeout: float) -> dict:
    done = subprocess.run([sys.executable, "-c", GRADE, str(folder), str(test_timeout)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES), help="which replies to try")
    parser.add_argument("--test-timeout", type=float, default=0, metavar="S",
                        help="CPU seconds per test [default: A1's own limit]; decoding a reply is charged to the "
                             "test, so a reply of the most values a test can afford ends it after about S seconds")
    args = parser.parse_args()
    hostile = (ROOT / "tests" / "hostile" / "huge_replies.py").read_text(encoding="utf-8")
    print(f"{'submission':18} {'wall s':>7} {'cpu s':>6} {'peak MB':>8} {'results KB':>10}  ratios to the reference "
          f"(wall, cpu, peak)")
    normal = grade(ROOT / "solutions" / "a1", args.test_timeout)
    rows = [("reference", normal)]
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            folder = Path(tmp) / mode
            folder.mkdir()
            (folder / "conv_arithmetic.py").write_text(hostile.replace("MODE", mode), encoding="utf-8")
            rows.append((f"huge_replies {mode}", grade(folder, args.test_timeout)))
    for name, row in rows:
        print(f"{name:18} {row['seconds']:7.1f} {row['cpu']:6.1f} {row['peak_mb']:8.0f} {row['json_kb']:10.1f}  "
              f"{row['seconds'] / normal['seconds']:.2f}, {row['cpu'] / normal['cpu']:.2f}, "
              f"{row['peak_mb'] / normal['peak_mb']:.2f}", flush=True)


if __name__ == "__main__":
    main()
