"""A whole class graded in one command: find the submissions, grade them in parallel, resume, write a gradebook.

Pipeline: :func:`find_submissions` (the layout is detected and named) -> :func:`grade_all` (a pool of
worker processes, one self-contained grading run per student, each result written atomically as
``RESULTS/<student>/results.json``, so an interrupted batch resumes where it stopped) ->
:func:`write_gradebook` (``RESULTS/grades.csv``, read back from the result files only).

Layouts, tried in this order:

- ``nbgrader``: ``submitted/<student>/<assignment>/`` (the folder given, or its ``submitted/``);
- ``zips``: a folder of ``<student>.zip`` files (Otter's ``grader.export()`` zip, or any zip of the modules);
- ``gradescope``: Gradescope's "Export Submissions" (the zip, or the folder it unpacks to), whose
  ``submission_metadata.yml`` names the submitters of each ``submission_<id>/`` folder;
- ``folders``: a folder of ``<student>/`` folders (a folder holding no module but one zip: that zip).
"""
from __future__ import annotations

import concurrent.futures
import csv
import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import course, report
from autograder.course import CourseError

RESULTS_FILE = "results.json"
GRADED, NOT_GRADABLE, GRADER_ERROR = "graded", "not gradable", "grader error"


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path  # a folder or a zip


def _safe_name(name: str) -> str:
    """A student id usable as a folder name (nothing that climbs out of RESULTS)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.@+" else "_" for c in name).strip(".")
    return cleaned or "_"


GRADESCOPE_METADATA = "submission_metadata.yml"


def find_submissions(root: Path, assignment: course.Assignment, unpack_to: Path | None = None
                     ) -> tuple[str, list[Submission]]:
    """(layout name, one submission per student, sorted by student) under ``root``: a folder, or Gradescope's
    export zip (unpacked into ``unpack_to``, kept there so that a resumed batch finds the same files)."""
    root = Path(root)
    if root.is_file() and root.suffix == ".zip":
        if unpack_to is None:
            raise CourseError(f"{root} is a zip: give a folder to unpack it into")
        root = _unpack_export(root, Path(unpack_to))
    layout, found = _detect(root, assignment)
    names = [s.student for s in found]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise CourseError(f"two submissions in {root} map to the same student id {clashes[0]!r}; rename one")
    return layout, found


def _detect(root: Path, assignment: course.Assignment) -> tuple[str, list[Submission]]:
    root = Path(root)
    if not root.is_dir():
        raise CourseError(f"{root} is not a folder of submissions")
    metadata = _gradescope_metadata(root)
    if metadata is not None:
        return "gradescope export (submission_metadata.yml)", _gradescope_submissions(metadata, assignment)
    submitted = root / "submitted" if (root / "submitted").is_dir() else root
    nbgrader = [s for s in sorted(submitted.iterdir()) if (s / assignment.id).is_dir()]
    if nbgrader:
        return "nbgrader (submitted/<student>/<assignment>/)", [
            Submission(_safe_name(s.name), s / assignment.id) for s in nbgrader]
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    zips = [p for p in entries if p.is_file() and p.suffix == ".zip"]
    if zips:
        return "zips (<student>.zip)", [Submission(_safe_name(p.stem), p) for p in zips]
    folders = [p for p in entries if p.is_dir()]
    if folders:
        return "folders (<student>/)", [Submission(_safe_name(p.name), _inside(p, assignment)) for p in folders]
    raise CourseError(f"{root} holds no submissions (no submitted/<student>/{assignment.id}/, no zips, no folders)")


def _unpack_export(archive: Path, into: Path) -> Path:
    """Gradescope's export zip, unpacked once into ``into`` (a later run reuses it)."""
    from autograder import archive as archives

    done = into / ".unpacked"
    if not done.is_file() or done.read_text(encoding="utf-8") != f"{archive.resolve()} {archive.stat().st_size}":
        archives.unpack(archive, into, max_files=100 * archives.MAX_FILES, max_bytes=40 * archives.MAX_BYTES)
        done.write_text(f"{archive.resolve()} {archive.stat().st_size}", encoding="utf-8")
    return into


def _gradescope_metadata(root: Path) -> Path | None:
    """``submission_metadata.yml`` in ``root`` or in its one subfolder (``assignment_<id>_export/``)."""
    if (root / GRADESCOPE_METADATA).is_file():
        return root / GRADESCOPE_METADATA
    inner = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(inner) == 1 and (inner[0] / GRADESCOPE_METADATA).is_file():
        return inner[0] / GRADESCOPE_METADATA
    return None


def _gradescope_submissions(metadata: Path, assignment: course.Assignment) -> list[Submission]:
    """One submission per ``submission_<id>`` entry; its student is the submitters' SIDs (else e-mail, else
    name) joined by ``+`` for a group."""
    import yaml

    try:
        entries = yaml.safe_load(metadata.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CourseError(f"{metadata} cannot be read: {str(exc).splitlines()[0]}") from None
    if not isinstance(entries, dict):
        raise CourseError(f"{metadata} is not Gradescope's submission metadata (a mapping of submission folders)")
    found = []
    for folder, entry in sorted(entries.items(), key=lambda item: str(item[0])):
        path = metadata.parent / str(folder)
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        if "/" in str(folder) or str(folder).startswith(".") or not isinstance(submitters, list):
            raise CourseError(f"{metadata}: entry {folder!r} is not a submission folder with :submitters")
        ids = [str(next((p.get(k) for k in (":sid", ":email", ":name") if isinstance(p, dict) and p.get(k)),
                        folder)) for p in submitters] or [str(folder)]
        found.append(Submission(_safe_name("+".join(ids)), _inside(path, assignment) if path.is_dir() else path))
    return sorted(found, key=lambda s: s.student)


def _inside(folder: Path, assignment: course.Assignment) -> Path:
    """A student's folder, or the one zip it holds when it has no module of its own (an uploaded export)."""
    if any(next(folder.rglob(f"{m}.py"), None) for m in assignment.modules):
        return folder
    zips = sorted(folder.glob("*.zip"))
    return zips[0] if len(zips) == 1 else folder


def shard(submissions: list[Submission], k: int, n: int) -> list[Submission]:
    """The ``k``-th of ``n`` deterministic parts (1-based): a student always falls in the same shard."""
    import zlib

    return [s for s in submissions if zlib.crc32(s.student.encode()) % n == k - 1]


def default_workers(assignment: course.Assignment) -> int:
    """As many gradings at once as the cores allow, and the memory (each student process may use memory_mb)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        memory_mb = assignment.memory_mb
    return max(1, min(cores, memory_mb // max(assignment.memory_mb, 1)))


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)  # a reader, or a resumed batch, never sees half a result


def grade_one(submission: Submission, assignment_id: str, out: Path, language: str = "en",
              min_isolation: str = "full", published: bool = False) -> dict:
    """Grade one student and write ``out/<student>/feedback.html``, then ``out/<student>/results.json``
    (Gradescope's format, with the student, the status and the grading time under ``extra_data``; written
    last, it marks the student done). Never raises for a bad submission."""
    from autograder import api, feedback, pages

    start = time.monotonic()
    spec = course.load_assignment(assignment_id)
    extra = {"student": submission.student, "submission": str(submission.path), "assignment": assignment_id,
             "max_score": sum(spec.points("public").values()) + sum(spec.points("hidden").values())}
    try:
        result = api.grade(submission.path, assignment_id, language=language, min_isolation=min_isolation)
        with feedback.language(language):
            data = report.gradescope(result)
        data["extra_data"].update(extra, status=GRADED, max_score=result.max_score)
    except CourseError as exc:  # nothing gradable in the folder or zip
        data = {"score": 0.0, "output": str(exc), "tests": [], "extra_data": {**extra, "status": NOT_GRADABLE}}
    except api.GraderError as exc:
        data = {"score": 0.0, "output": str(exc), "tests": [], "extra_data": {**extra, "status": GRADER_ERROR}}
    data["extra_data"]["seconds"] = round(time.monotonic() - start, 2)
    try:
        pages.write_feedback(out, submission.student, data, spec, language, published)
    except Exception as exc:  # a page that cannot be drawn never costs the student's result or the batch
        data["extra_data"]["feedback_page"] = f"not written: {type(exc).__name__}: {str(exc)[:200]}"
    _write_atomically(out / submission.student / RESULTS_FILE, data)
    return data


def done(out: Path, student: str) -> bool:
    """Whether ``student`` already has a complete result under ``out``."""
    try:
        json.loads((out / student / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def grade_all(submissions: list[Submission], assignment_id: str, out: Path, *, workers: int = 1,
              regrade: bool = False, language: str = "en", min_isolation: str = "full", published: bool = False,
              on_result=None) -> list[Submission]:
    """Grade the ``submissions`` that have no result yet (all of them with ``regrade``), ``workers`` at a time,
    each in a process of its own; returns those graded now. ``on_result(submission, data)`` follows progress."""
    out = Path(out)
    todo = [s for s in submissions if regrade or not done(out, s.student)]
    if not todo:
        return []
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs = {pool.submit(grade_one, s, assignment_id, out, language, min_isolation, published): s for s in todo}
        for job in concurrent.futures.as_completed(jobs):
            data = job.result()
            if on_result:
                on_result(jobs[job], data)
    return todo


def read_results(out: Path) -> dict[str, dict]:
    """student -> results.json, for every complete result under ``out``."""
    found = {}
    for path in sorted(Path(out).glob(f"*/{RESULTS_FILE}")):
        try:
            found[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return found


def write_gradebook(out: Path, assignment: course.Assignment, results: dict[str, dict] | None = None) -> Path:
    """``out/grades.csv``: one row per student, one column per task (its points), the total and the status."""
    results = read_results(out) if results is None else results
    path = Path(out) / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".grades.csv.{os.getpid()}.tmp")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *assignment.tasks, "total", "status"])
        for student, data in sorted(results.items()):
            per_task = {task: 0.0 for task in assignment.tasks}
            for test in data.get("tests", []):
                if test.get("number") in per_task:
                    per_task[test["number"]] += float(test.get("score", 0.0))
            writer.writerow([student, *(f"{per_task[t]:g}" for t in assignment.tasks), f"{float(data['score']):g}",
                             data.get("extra_data", {}).get("status", GRADED)])
    os.replace(partial, path)
    return path


def collect(shards: list[Path], out: Path, assignment: course.Assignment) -> tuple[int, Path]:
    """Merge the results of several ``grade-all --shard`` runs into ``out`` (copying each student's folder) and
    write its gradebook; returns (students, grades.csv). A student graded in two shards must agree."""
    import shutil

    out = Path(out)
    merged: dict[str, Path] = {}
    for folder in shards:
        for student in read_results(folder):
            source = Path(folder) / student
            if student in merged and (merged[student] / RESULTS_FILE).read_bytes() != (source / RESULTS_FILE).read_bytes():
                raise CourseError(f"{student} was graded differently in {merged[student].parent} and {folder}")
            merged.setdefault(student, source)
    for student, source in merged.items():
        if source.resolve() != (out / student).resolve():
            shutil.copytree(source, out / student, dirs_exist_ok=True)
    return len(merged), write_gradebook(out, assignment)
