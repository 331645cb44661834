"""Which system calls the student process makes: strace the grading of reference solutions and templates.

Grades each assignment's reference solution and untouched template at partial isolation (no seccomp filter,
so nothing is refused) under ``strace -f``, keeps the calls of the student process and its descendants
(threads included) after it started, and prints them with the group of ``autograder.runner.syscalls``
they belong to, or ``MISSING`` for a call the allow-list lacks. Run it after upgrading Python, NumPy or
PyTorch, and add what it reports to the table with its reason.

    python tools/trace_syscalls.py              # all six assignments, reference and template
    python tools/trace_syscalls.py a2 --select conv

Needs ``strace`` and, for a4-a6, CIFAR-10 (CIFAR10_ROOT).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from autograder.runner import syscalls  # noqa: E402

LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
RESULT = re.compile(r"=\s+(-?\d+)(?:\s|$)")
WORKER_MARK = "from sandbox import worker"
GRADE = "import sys; from autograder import api; api.grade(sys.argv[1], sys.argv[2], min_isolation='partial', " \
        "select=sys.argv[3] or None)"


def student_calls(trace: Path) -> Counter:
    """System calls (name -> count) of every student process in the strace log and of their descendants."""
    tree, counts = set(), Counter()
    for line in trace.read_text(errors="replace").splitlines():
        match = LINE.match(line)
        if not match:
            continue
        pid, name, rest = int(match.group(1)), match.group(2) or match.group(3), match.group(4)
        if name == "execve" and WORKER_MARK in rest:
            tree.add(pid)
        if pid not in tree:
            continue
        if "<unfinished" not in rest or match.group(2):
            counts[name] += 1
        result = RESULT.search(rest)
        if name in ("clone", "clone3", "fork", "vfork") and result and int(result.group(1)) > 0:
            tree.add(int(result.group(1)))
    return counts


def trace(submission: Path, assignment: str, select: str) -> Counter:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "strace.log"
        env = {**os.environ, "AUTOGRADER_ISOLATION": "partial", "PYTHONPATH": str(ROOT)}
        subprocess.run(["strace", "-f", "-qq", "-s", "100", "-o", str(log), sys.executable, "-c", GRADE,
                        str(submission), assignment, select], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return student_calls(log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="a1 ... a6 (default: all six)")
    parser.add_argument("--select", default="", help="a pytest -k expression: trace only those tests")
    args = parser.parse_args()
    if shutil.which("strace") is None:
        parser.error("strace is not installed (apt-get install strace)")
    assignments = args.assignments or [f"a{i}" for i in range(1, 7)]
    total = Counter()
    for assignment in assignments:
        for kind in ("solutions", "student_template"):
            folder = ROOT / kind / assignment
            if not folder.is_dir():
                parser.error(f"no folder {folder}")
            counts = trace(folder, assignment, args.select)
            print(f"{assignment} {kind}: {len(counts)} distinct system calls", flush=True)
            total.update(counts)
    groups = {name: group for group, (_, names) in syscalls.ALLOWED.items() for name in names}
    groups.update({name: "allowed after a check of its first argument" for name in syscalls.CHECKED})
    groups.update({name: f"refused ({error})" for name, error in syscalls.REFUSED.items()})
    for name, count in sorted(total.items(), key=lambda item: -item[1]):
        print(f"{name:24} {count:>10}  {groups.get(name, 'MISSING')}")
    missing = sorted(name for name in total if name not in groups or name in syscalls.REFUSED)
    print(f"\n{len(total)} system calls made, {len(missing)} not allowed: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main()
