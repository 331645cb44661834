"""What grading a class costs: throughput per worker count, A4 in parallel against alone, resume overhead.

Prints, from one run:
- grading throughput (submissions per minute) of 12 synthetic A1 submissions (the reference, the
  template and single-point mutants of the reference) for 1, 2, ... workers up to the core count, and
  each as a fraction of linear scaling from one worker, with the cores the batch kept busy (CPU seconds of
  all its processes over wall time): one grading already keeps more than one core busy, which bounds
  the scaling a machine with few cores can show;
- for 4 A4 submissions (the reference), the wall time of grading them with as many workers as cores,
  against the sum of their single-run times (the ratio 1/cores is perfect scaling);
- the time a resumed batch spends on students already graded (the same 12, then 100 copies), per 100;
- for 500 synthetic results (copies of the 12 with varied scores, flags and grading times): the class
  report's build time (target: under 10 s), the re-render of every page for publication, and
  copydetect's similar-pair search over 500 submissions (what `grade-all` runs before its report).

    python bench/batch_throughput.py [--skip-a4]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import batch, course, pages, review  # noqa: E402
from autograder.runner import zygote  # noqa: E402

A1_MUTATIONS = [  # (old, new) in the A1 reference; each makes one single-point bug
    ("return (i + 2 * p - effective_kernel) // s + 1", "return (i + 2 * p - effective_kernel) // s"),
    ("effective_kernel = d * (k - 1) + 1", "effective_kernel = k"),
    ("if ceil_mode:", "if not ceil_mode:"),
    ("(i + 2 * p - effective_kernel) // s + 1", "(i + p - effective_kernel) // s + 1"),
]


def a1_class(folder: Path, count: int = 12) -> list[batch.Submission]:
    reference = (ROOT / "solutions" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")
    sources = [reference, (ROOT / "student_template" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")]
    sources += [reference.replace(old, new, 1) for old, new in A1_MUTATIONS if old in reference]
    students = []
    for i in range(count):
        (folder / f"s{i:02d}").mkdir(parents=True)
        (folder / f"s{i:02d}" / "conv_arithmetic.py").write_text(sources[i % len(sources)], encoding="utf-8")
        students.append(batch.Submission(f"s{i:02d}", folder / f"s{i:02d}"))
    return students


def timed_batch(students, assignment_id: str, out: Path, workers: int) -> float:
    return cpu_timed_batch(students, assignment_id, out, workers)[0]


def cpu_timed_batch(students, assignment_id: str, out: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every process the batch started: its workers and graders (each counts its
    own, ``on_cpu``), the zygote they share and the student processes forked from it (counted here, once the
    zygote has ended))."""
    workers_cpu = []
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.monotonic()
    batch.grade_all(students, assignment_id, out, workers=workers, regrade=True, min_isolation="none",
                    on_cpu=lambda submission, seconds: workers_cpu.append(seconds))
    seconds = time.monotonic() - start
    zygote.close_all()  # the batch's zygote, waited for with the wardens and student processes it reaped
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    here = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))
    return seconds, here + sum(workers_cpu)


def copy_result(out: Path, source: str, student: str, change=None, into: Path | None = None) -> dict:
    """A copy of ``source``'s result stored under ``out`` as ``student``'s, in the folder the batch would use
    under ``into`` (default: ``out``)."""
    data = json.loads(batch.result_path(out, source).read_text(encoding="utf-8"))
    out = into or out
    data["extra_data"].update(student=student, folder=f"{batch.STUDENTS_FOLDER}/{batch.folder_name(student)}")
    if change:
        change(data)
    batch.result_folder(out, student).mkdir(parents=True, exist_ok=True)
    batch.result_path(out, student).write_text(json.dumps(data), encoding="utf-8")
    return data


def report_at_scale(scratch: Path, out: Path, students: list[batch.Submission], count: int = 500) -> None:
    spec, rng = course.load_assignment("a1"), random.Random(0)
    big = scratch / "out500"

    def vary(data):
        data["score"] = round(rng.uniform(0, float(data["extra_data"]["max_score"])), 1)
        data["extra_data"]["seconds"] = round(rng.uniform(5, 60), 1)
        if rng.random() < 0.05:
            data["extra_data"]["flags"] = [review.flag("blob", "conv_arithmetic.py line 9: a str literal")]

    for i in range(count):
        copy_result(out, students[i % len(students)].student, f"student{i:03d}@example.edu", vary, into=big)
    sources = {}
    for i in range(count):  # the 12 sources, each with a helper of its own (a class writes its own code)
        folder = scratch / "a1-500" / f"s{i:03d}"
        folder.mkdir(parents=True)
        extra = "".join(f"\ndef helper_{i}_{j}(x):\n    return x * {rng.randint(2, 99)} + {j}\n" for j in range(3))
        (folder / "conv_arithmetic.py").write_text(
            (students[i % len(students)].path / "conv_arithmetic.py").read_text(encoding="utf-8") + extra)
        sources[f"student{i:03d}@example.edu"] = folder
    start = time.monotonic()
    results = batch.read_results(big)
    read = time.monotonic() - start
    start = time.monotonic()
    similar = review.similar_pairs(sources, spec)
    pairs = time.monotonic() - start
    start = time.monotonic()
    pages.write_report(big, results, spec, "en", similar)
    report = time.monotonic() - start
    start = time.monotonic()
    written = pages.rerender(big, results, spec, "en", True, similar)
    rerender = time.monotonic() - start
    print(f"{len(results)} results: read in {read:.2f} s; report.html built in {report:.2f} s (target: under 10 s); "
          f"{written} pages re-rendered for publication, with the report, in {rerender:.1f} s "
          f"({rerender / written * 1000:.0f} ms per page); similar pairs of {len(sources)} submissions in "
          f"{pairs:.1f} s ({len(similar)} pairs found: every submission here is one of 12 sources, the worst case)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-a4", action="store_true", help="skip the A4 part (about 4 minutes on 2 cores)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        scratch = Path(scratch)
        students = a1_class(scratch / "a1")
        rates = {}
        for workers in range(1, cores + 1):
            seconds, cpu = cpu_timed_batch(students, "a1", scratch / f"out{workers}", workers)
            rates[workers] = len(students) / seconds * 60
            busy = cpu / seconds
            if workers == 1:
                one_grading = busy
            print(f"A1, {len(students)} submissions, {workers} worker(s): {seconds:.1f} s, "
                  f"{rates[workers]:.1f} submissions/min, {rates[workers] / (rates[1] * workers):.0%} of linear; "
                  f"{busy:.2f} cores busy, {cpu / len(students):.1f} CPU s per submission")
        if cores > 1:
            ceiling = min(1.0, cores / (one_grading * cores))
            print(f"one grading keeps {one_grading:.2f} cores busy (the grader and the student process overlap), "
                  f"so {cores} workers on {cores} cores can reach at most {ceiling:.0%} of linear; more CPU seconds "
                  f"per submission with more workers means the cores slow each other down (shared caches, SMT)")

        out = scratch / "out1"
        start = time.monotonic()
        todo = batch.grade_all(students, "a1", out, workers=1)
        resumed = time.monotonic() - start
        many = [batch.Submission(f"c{i:03d}", students[0].path) for i in range(100)]
        for s in many:
            copy_result(out, students[0].student, s.student)
        start = time.monotonic()
        todo += batch.grade_all(many, "a1", out, workers=1)
        skipped = time.monotonic() - start
        start = time.monotonic()
        batch.write_gradebook(out, course.load_assignment("a1"))
        gradebook = time.monotonic() - start
        assert not todo, "a resumed batch graded someone again"
        print(f"resume: {len(students)} already graded skipped in {resumed * 1000:.1f} ms; 100 already graded in "
              f"{skipped * 1000:.1f} ms ({skipped * 1000:.1f} ms per 100); grades.csv of 112 students in "
              f"{gradebook * 1000:.1f} ms")

        report_at_scale(scratch, out, students)

        if not args.skip_a4:
            a4 = []
            for i in range(4):
                shutil.copytree(ROOT / "solutions" / "a4", scratch / "a4" / f"r{i}")
                a4.append(batch.Submission(f"r{i}", scratch / "a4" / f"r{i}"))
            alone = sum(timed_batch([s], "a4", scratch / "a4-alone", 1) for s in a4)
            together = timed_batch(a4, "a4", scratch / "a4-together", cores)
            print(f"A4, 4 reference submissions: alone {alone:.1f} s in all, {cores} workers {together:.1f} s wall, "
                  f"ratio {together / alone:.2f} (perfect: {1 / cores:.2f})")


if __name__ == "__main__":
    main()
