"""A whole class graded in one command: find the submissions, grade them in parallel, resume, write a gradebook.

Pipeline: :func:`find_submissions` (the layout is detected and named; every entry of the folder becomes a
submission, gradable or not) -> :func:`grade_all` (one worker process per student, at most ``workers`` at
a time; each result written atomically as ``RESULTS/students/<safe name>/results.json``, so an
interrupted batch resumes where it stopped) -> :func:`write_gradebook` (``RESULTS/grades.csv``, one row
per submission, read back from the result files).

Layouts, tried in this order:

- ``gradescope``: Gradescope's "Export Submissions" (the zip, or the folder it unpacks to), whose
  ``submission_metadata.yml`` names the submitters of each ``submission_<id>/`` folder;
- ``nbgrader``: ``submitted/<student>/<assignment>/`` (the folder given, or its ``submitted/``);
- otherwise each entry of the folder: a ``<student>.zip`` (Otter's ``grader.export()`` zip, or any zip of
  the modules), a ``<student>/`` folder (a folder holding no module but one zip: that zip), and anything
  else reported "not gradable" with the reason. Hidden entries (``.name``) are listed and skipped.

Statuses: ``graded``; ``not gradable`` (the submission's fault: nothing to grade, 0 points, final);
``grader error`` (the grader's fault: no data set, a worker killed, a disk full, a grading that never
ended; never final: the next run grades it again, and no gradebook records it as 0).
"""
from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from autograder import course, report
from autograder.runner import zygote
from autograder.course import CourseError

RESULTS_FILE = "results.json"
STUDENTS_FOLDER = "students"
GRADED, NOT_GRADABLE, GRADER_ERROR = "graded", "not gradable", "grader error"
MAX_SLUG = 40


@dataclass(frozen=True)
class Submission:
    student: str  # the id as given: a folder's or zip's name, nbgrader's student id, Gradescope's SIDs
    path: Path  # a folder or a zip (or whatever the entry is, when ``problem`` says why it cannot be graded)
    problem: str | None = None  # why this entry cannot be graded, known before grading
    entry: str = field(default="", compare=False)  # the entry as the instructor sees it, relative to the folder given


def _safe_name(name: str) -> str:
    """A student id usable as a folder name (nothing that climbs out of RESULTS)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.@+" else "_" for c in name).strip(".")
    return cleaned or "_"


def folder_name(student: str) -> str:
    """The folder of ``student``'s results under ``RESULTS/students/``: a readable, bounded prefix of the id and
    a hash of the whole id, so that no two ids share a folder (not even "Ana" and "ana" on a case-insensitive
    disk) and no id can name a file of the run's own (grades.csv, report.html)."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{_safe_name(student)[:MAX_SLUG].lower()}-{digest}"


def result_folder(out: Path, student: str) -> Path:
    """``out/students/<folder_name(student)>``: where ``student``'s results.json and feedback.html live."""
    return Path(out) / STUDENTS_FOLDER / folder_name(student)


def result_path(out: Path, student: str) -> Path:
    return result_folder(out, student) / RESULTS_FILE


GRADESCOPE_METADATA = "submission_metadata.yml"


def find_submissions(root: Path, assignment: course.Assignment, unpack_to: Path | None = None,
                     exclude: tuple[Path, ...] = ()) -> tuple[str, list[Submission]]:
    """(layout name, one submission per entry, sorted by student) under ``root``: a folder, or Gradescope's
    export zip (unpacked into ``unpack_to``, kept there so that a resumed batch finds the same files).
    ``exclude`` (the results folder, when it lies inside ``root``) is never taken for a submission."""
    root = Path(root)
    if root.is_file() and root.suffix == ".zip":
        if unpack_to is None:
            raise CourseError(f"{root} is a zip: give a folder to unpack it into")
        root = _unpack_export(root, Path(unpack_to))
    excluded = {Path(p).resolve() for p in exclude}
    layout, found = _detect(root, assignment, excluded)
    return layout, _unique(found)


def hidden_entries(root: Path) -> list[str]:
    """The hidden entries (``.name``) of a submissions folder, which are skipped."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.is_dir() else []


def _unique(found: list[Submission]) -> list[Submission]:
    """Two entries with the same id (``bob/`` and ``bob.zip``; one SID in two Gradescope submissions) each
    keep a row: the id gains the entry's name."""
    names = [s.student for s in found]
    renamed = [Submission(f"{s.student} ({s.entry})", s.path, s.problem, s.entry) if names.count(s.student) > 1
               else s for s in found]
    return sorted(renamed, key=lambda s: s.student)


def _detect(root: Path, assignment: course.Assignment, excluded: set[Path]) -> tuple[str, list[Submission]]:
    root = Path(root)
    if not root.is_dir():
        raise CourseError(f"{root} is not a folder of submissions")
    metadata = _gradescope_metadata(root)
    if metadata is not None:
        return "gradescope export (submission_metadata.yml)", _gradescope_submissions(metadata, assignment)
    submitted = root / "submitted" if (root / "submitted").is_dir() else root
    entries = _entries(submitted, excluded)
    if any((s / assignment.id).is_dir() for s in entries):
        found = []
        for entry in entries:
            where = f"{submitted.name}/{entry.name}" if submitted != root else entry.name
            if (entry / assignment.id).is_dir():
                found.append(Submission(entry.name, entry / assignment.id, None, f"{where}/{assignment.id}"))
            else:
                found.append(Submission(entry.name, entry, f"no {assignment.id}/ folder in {where}", where))
        return "nbgrader (submitted/<student>/<assignment>/)", found
    entries = _entries(root, excluded)
    if not entries:
        raise CourseError(f"{root} holds no submissions (no submitted/<student>/{assignment.id}/, no zips, "
                          f"no folders)")
    found, kinds = [], {"folders": 0, "zips": 0, "other": 0}
    for entry in entries:
        if entry.is_dir():
            kinds["folders"] += 1
            found.append(Submission(entry.name, _inside(entry, assignment), None, f"{entry.name}/"))
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            kinds["zips"] += 1
            found.append(Submission(entry.stem, entry, None, entry.name))
        else:
            kinds["other"] += 1
            what = "a file" if entry.is_file() else "neither a folder nor a file"
            found.append(Submission(entry.name, entry, f"{entry.name} is {what}, not a folder or a zip of a "
                                                        f"submission", entry.name))
    names = {"folders": "<student>/", "zips": "<student>.zip", "other": "other entries"}
    layout = " + ".join(f"{names[k]}" for k, n in kinds.items() if n)
    parts = [k for k, n in kinds.items() if n]
    return (f"{parts[0]} ({layout})" if len(parts) == 1 else f"mixed ({layout})"), found


def _entries(folder: Path, excluded: set[Path]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.resolve() not in excluded)


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
    name) joined by ``+`` for a group. A folder of the export that the metadata does not name is listed too,
    not gradable."""
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
        problem = None if path.exists() else f"{folder} is named in {GRADESCOPE_METADATA} but is not in the export"
        found.append(Submission("+".join(ids), _inside(path, assignment) if path.is_dir() else path, problem,
                                str(folder)))
    named = {str(folder) for folder in entries}
    for extra in _entries(metadata.parent, set()):
        if extra.name not in named and extra.name != GRADESCOPE_METADATA:
            found.append(Submission(extra.name, extra, f"{extra.name} is not named in {GRADESCOPE_METADATA}",
                                    extra.name))
    return found


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
    try:
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(partial, path)  # a reader, or a resumed batch, never sees half a result
    finally:
        partial.unlink(missing_ok=True)


def _shown(text: str, submission: Submission) -> str:
    """``text`` with the submission's path on this machine replaced by the entry's name (no page or gradebook
    shows where the grading machine keeps its files)."""
    for path in sorted({str(submission.path), str(Path(submission.path).resolve())}, key=len, reverse=True):
        text = text.replace(path, submission.entry or Path(submission.path).name)
    return text


def _extra(submission: Submission, assignment_id: str, spec: course.Assignment) -> dict:
    return {"student": submission.student, "submission": submission.entry or Path(submission.path).name,
            "folder": f"{STUDENTS_FOLDER}/{folder_name(submission.student)}", "assignment": assignment_id,
            "max_score": sum(spec.points("public").values()) + sum(spec.points("hidden").values())}


def ungraded(submission: Submission, assignment_id: str, status: str, why: str, seconds: float = 0.0) -> dict:
    """The result of a submission that was not graded: ``status`` (not gradable, grader error) and why."""
    spec = course.load_assignment(assignment_id)
    return {"score": 0.0, "output": _shown(why, submission), "tests": [],
            "extra_data": {**_extra(submission, assignment_id, spec), "status": status, "seconds": round(seconds, 2)}}


def grade_one(submission: Submission, assignment_id: str, out: Path, language: str = "en",
              min_isolation: str = "full", published: bool = False) -> dict:
    """Grade one student and write its folder's ``feedback.html``, then ``results.json`` (Gradescope's
    format, with the student, the status and the grading time under ``extra_data``; written last, it marks
    the student done). Never raises for a bad submission; a failure of the grader itself is a result with
    the status ``grader error``."""
    from autograder import api, feedback, pages, review

    start = time.monotonic()
    spec = course.load_assignment(assignment_id)
    problems: dict[str, str] = {}
    if submission.problem:
        data = ungraded(submission, assignment_id, NOT_GRADABLE, submission.problem)
    else:
        try:
            result = api.grade(submission.path, assignment_id, language=language, min_isolation=min_isolation)
            with feedback.language(language):
                data = report.gradescope(result)
            data["extra_data"].update(_extra(submission, assignment_id, spec), status=GRADED,
                                      max_score=result.max_score)
            problems = {m: _shown(why, submission) for m, why in result.problems.items()}
            data["output"] = _shown(data.get("output", ""), submission)
            for test in data.get("tests", []):
                test["output"] = _shown(test.get("output", ""), submission)
        except CourseError as exc:  # nothing gradable in the folder or zip
            data = ungraded(submission, assignment_id, NOT_GRADABLE, str(exc))
        except api.GraderError as exc:
            data = ungraded(submission, assignment_id, GRADER_ERROR, str(exc))
        if data["extra_data"]["status"] == GRADED:
            static = review.static_flags(submission.path, spec)
            data["extra_data"]["flags"] = static + review.import_flags(problems, static)
    data["extra_data"]["seconds"] = round(time.monotonic() - start, 2)
    data["extra_data"]["language"] = language
    folder = result_folder(out, submission.student)
    try:
        pages.write_feedback(folder, data, spec, language, published)
    except Exception as exc:  # a page that cannot be drawn never costs the student's result or the batch
        data["extra_data"]["feedback_page"] = f"not written: {type(exc).__name__}: {str(exc)[:200]}"
    _write_atomically(folder / RESULTS_FILE, data)
    return data


def done(out: Path, student: str) -> bool:
    """Whether ``student`` already has a final result under ``out`` (graded or not gradable; a grader error
    is graded again)."""
    try:
        data = json.loads(result_path(out, student).read_text(encoding="utf-8"))
        return data["extra_data"]["status"] != GRADER_ERROR
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _context():
    """Worker processes start from a fork server that has imported the engine once (Linux), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["autograder.api", "autograder.pages", "autograder.batch"])
        return context
    return multiprocessing.get_context("spawn")


def _shared_zygote(assignment_id: str):
    """The zygote the batch's workers fork their student processes from (started once, here), or None."""
    if not zygote.enabled():
        return None
    from autograder.runner import channel
    spec = course.load_assignment(assignment_id)
    try:
        return channel.student_zygote(spec.preload, spec.threads)
    except zygote.ZygoteUnavailable:
        return None


def _worker(connection, shared, *args) -> None:
    """One student's grading in a process of its own: its result (or why the grader failed) goes back on
    ``connection``; a SIGTERM (the batch's time limit) unwinds it, so its student processes are stopped.
    ``shared``: (key, socket) of the batch's zygote, or None. The CPU seconds sent back are this process's and
    those of the processes it waited for: with a shared zygote, not those of its student processes."""
    def stop(signum, frame):  # pytest ends its session on KeyboardInterrupt (a SystemExit would only fail a test)
        raise KeyboardInterrupt(f"stopped by the batch (signal {signum})")

    signal.signal(signal.SIGTERM, stop)
    if shared is not None:
        zygote.adopt(*shared)
    try:
        data = grade_one(*args)
        zygote.close_all()  # waited for, with the wardens and student processes it reaped: their CPU counts below
        used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        connection.send(("done", data, sum(u.ru_utime + u.ru_stime for u in used)))
    except BaseException as exc:  # the grader's own failure (a bug, a disk full): reported, never final
        connection.send(("failed", f"{type(exc).__name__}: {str(exc)[:500]}", 0.0))
    finally:
        connection.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        cause = " (often: the machine ran out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"the grading process was killed by {name}{cause}"
    return f"the grading process exited with status {exitcode} without a result"


def time_limit(assignment: course.Assignment) -> float:
    """Wall seconds one student's grading may take in a batch before it is stopped as a grader error: twice
    the assignment's limit for the student's code, plus ten minutes for the grader's own work."""
    return 2 * assignment.total_timeout + 600


def grade_all(submissions: list[Submission], assignment_id: str, out: Path, *, workers: int = 1,
              regrade: bool = False, language: str = "en", min_isolation: str = "full", published: bool = False,
              on_result=None, on_start=None, on_cpu=None, limit: float | None = None) -> list[Submission]:
    """Grade the ``submissions`` without a final result (all of them with ``regrade``), ``workers`` at a
    time, each in a process of its own; returns those graded now. A worker that dies or runs past ``limit``
    seconds (default :func:`time_limit`) costs only its student a ``grader error``, and the batch goes on.
    ``on_start(submission, pid)`` (the worker's process id; None when nothing runs) and
    ``on_result(submission, data)`` follow progress; ``on_cpu(submission, seconds)`` receives the CPU time of a
    grading's whole process tree (its worker, the grader, the student processes)."""
    out = Path(out)
    todo = [s for s in submissions if regrade or not done(out, s.student)]
    limit = time_limit(course.load_assignment(assignment_id)) if limit is None else limit
    waiting, running = list(todo), {}
    context = _context() if any(not s.problem for s in todo) else None
    shared_zygote = _shared_zygote(assignment_id) if context is not None else None
    shared = (shared_zygote.key, shared_zygote.socket) if shared_zygote is not None else None

    def finish(submission: Submission, data: dict) -> None:
        if on_result:
            on_result(submission, data)

    def fail(submission: Submission, why: str, seconds: float) -> None:
        data = ungraded(submission, assignment_id, GRADER_ERROR, why, seconds)
        try:
            _write_atomically(result_path(out, submission.student), data)
        except OSError as exc:
            data["output"] += f" (and its result could not be written: {exc})"
        finish(submission, data)

    while waiting or running:
        while waiting and len(running) < workers:
            submission = waiting.pop(0)
            if submission.problem:  # nothing to run: recorded here
                if on_start:
                    on_start(submission, None)
                try:
                    finish(submission, grade_one(submission, assignment_id, out, language, min_isolation, published))
                except OSError as exc:
                    fail(submission, f"its result could not be written: {exc}", 0.0)
                continue
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_worker, args=(sender, shared, submission, assignment_id, out, language,
                                                            min_isolation, published), daemon=False)
            process.start()
            sender.close()
            if on_start:
                on_start(submission, process.pid)
            running[receiver] = (process, submission, time.monotonic(), False)
        if not running:
            continue
        for receiver in wait(list(running), timeout=1.0):
            process, submission, started, stopping = running.pop(receiver)
            try:
                kind, payload, cpu = receiver.recv()
            except (EOFError, OSError):
                kind, payload, cpu = "died", None, 0.0
            receiver.close()
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
            seconds = time.monotonic() - started
            # A grading stopped at the time limit may still send what it has (pytest ends its session early and
            # reports the tests it ran): past the limit nothing it sends counts, and the student is graded again.
            if stopping:
                fail(submission, f"the grading did not end within {limit:.0f} s and was stopped", seconds)
            elif kind == "done":
                if on_cpu:
                    on_cpu(submission, cpu)
                finish(submission, payload)
            elif kind == "failed":
                fail(submission, f"the grader failed: {payload}", seconds)
            else:
                fail(submission, _death(process.exitcode), seconds)
        now = time.monotonic()
        for receiver, (process, submission, started, stopping) in list(running.items()):
            if now - started > limit and not stopping:
                process.terminate()  # SIGTERM: the worker unwinds and stops its student processes
                running[receiver] = (process, submission, started, True)
            elif stopping and now - started > limit + 30:
                process.kill()
    return todo


def read_results(out: Path) -> dict[str, dict]:
    """student (the id as given) -> results.json, for every result under ``out``."""
    found = {}
    for path in sorted((Path(out) / STUDENTS_FOLDER).glob(f"*/{RESULTS_FILE}")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            student = data["extra_data"]["student"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(student, str) and path.parent.name == folder_name(student):
            found[student] = data
    return found


def status(data: dict) -> str:
    return data.get("extra_data", {}).get("status", GRADED)


def task_scores(data: dict, assignment: course.Assignment) -> dict[str, float]:
    """task -> points of one result (0 for each task of an ungraded one)."""
    per_task = {task: 0.0 for task in assignment.tasks}
    for test in data.get("tests", []):
        if test.get("number") in per_task:
            per_task[test["number"]] += float(test.get("score", 0.0))
    return per_task


def write_gradebook(out: Path, assignment: course.Assignment, results: dict[str, dict] | None = None) -> Path:
    """``out/grades.csv``: one row per submission, one column per task (its points), the total and the
    status; a grader error has empty points (it is no grade) and the reason."""
    results = read_results(out) if results is None else results
    path = Path(out) / "grades.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".grades.csv.{os.getpid()}.tmp")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *assignment.tasks, "total", "status", "reason"])
        for student, data in sorted(results.items()):
            why = "" if status(data) == GRADED else " ".join(str(data.get("output", "")).split())[:300]
            if status(data) == GRADER_ERROR:
                writer.writerow([student, *("" for _ in assignment.tasks), "", GRADER_ERROR, why])
                continue
            per_task = task_scores(data, assignment)
            writer.writerow([student, *(f"{per_task[t]:g}" for t in assignment.tasks), f"{float(data['score']):g}",
                             status(data), why])
    os.replace(partial, path)
    return path


def collect(shards: list[Path], out: Path, assignment: course.Assignment) -> tuple[int, Path]:
    """Merge the results of several ``grade-all --shard`` runs into ``out`` (copying each student's folder) and
    write its gradebook; returns (students, grades.csv). A student graded in two shards must agree; a grader
    error gives way to a result."""
    import shutil

    out = Path(out)
    merged: dict[str, tuple[Path, dict]] = {}
    for folder in shards:
        for student, data in read_results(folder).items():
            source = result_folder(folder, student)
            if student in merged:
                kept_source, kept = merged[student]
                if status(kept) == GRADER_ERROR or status(data) == GRADER_ERROR:
                    if status(kept) == GRADER_ERROR:
                        merged[student] = (source, data)
                    continue
                if (kept_source / RESULTS_FILE).read_bytes() != (source / RESULTS_FILE).read_bytes():
                    raise CourseError(f"{student} was graded differently in {kept_source.parent.parent} and "
                                      f"{folder}")
            merged.setdefault(student, (source, data))
    for student, (source, _) in merged.items():
        if source.resolve() != result_folder(out, student).resolve():
            shutil.copytree(source, result_folder(out, student), dirs_exist_ok=True)
    return len(merged), write_gradebook(out, assignment, {s: d for s, (_, d) in merged.items()})
