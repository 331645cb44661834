"""``autograder`` command line: a thin click layer over :mod:`autograder.api`.

Exit codes: 0 grading (or the command) completed, whatever the score;
1 the grader itself could not run (the reason is printed on one line);
2 wrong usage.
"""
from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from autograder import api, course, feedback, report

LANG = click.option("--lang", type=click.Choice(["en", "es"]), default="en", show_default=True,
                    help="Language of the feedback.")
JSON = click.option("--json", "json_out", metavar="FILE",
                    help="Also write Gradescope results.json to FILE ('-' for stdout; the table then goes to stderr).")
TEST_TIMEOUT = click.option("--test-timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
                            help="CPU seconds student code may use in one grader test (with a wall-clock "
                                 "backstop several times longer) [default: the assignment's].")
TASK = click.option("--task", "tasks", multiple=True, metavar="ID",
                    help="Grade only the tests of this task, for example 1.2 (repeat the option for more) "
                         "[default: every task].")
TOTAL_TIMEOUT = click.option("--total-timeout", type=click.FloatRange(min=1), metavar="SECONDS",
                             help="Time limit of the whole submission [default: the assignment's].")


def _assignment_id(ctx, param, value):
    if value not in course.available_assignments():
        raise click.BadParameter(f"unknown assignment {value!r}; available: "
                                 f"{', '.join(course.available_assignments()) or 'none'}")
    return value


ASSIGNMENT = click.argument("assignment", callback=_assignment_id)


def _task_ids(assignment: str, tasks) -> tuple[str, ...]:
    """The --task values, each checked against ASSIGNMENT's tasks: an unknown one is a usage error (exit 2).
    Checked in the command, since --task may come before the assignment on the command line."""
    known = course.load_assignment(assignment).tasks
    unknown = [task for task in tasks if task not in known]
    if unknown:
        raise click.BadParameter(f"{assignment} has no task {unknown[0]!r} (its tasks: {', '.join(known)})",
                                 param_hint="'--task'")
    return tuple(tasks)


def _new_or_empty_folder(ctx, param, value):
    """--out of release: a folder that does not exist yet, or an empty one."""
    if value is not None and value.is_dir() and any(value.iterdir()):
        raise click.BadParameter(f"{value} exists and is not empty; choose a new folder")
    return value


@contextmanager
def _exit_on_course_error():
    """A course or grader error inside the block: its one-line reason on stderr, exit code 1."""
    try:
        yield
    except (api.CourseError, api.GraderError) as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)


def _in_course_repository(command: str) -> None:
    """Stop with a one-line error where an instructor command cannot run: a student release ships without
    solutions/, assignments/ and the modules that build releases and calibrate."""
    if course.repo_root() is None:
        click.echo(f"autograder: error: {command} runs in the course repository (solutions/ and assignments/ "
                   f"are not here)", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cnn-course-autograder")
def main():
    """Grade the assignments of the convolutional networks course.

    Students: `autograder check a1` in the assignment folder runs the public tests.
    Instructors: `autograder grade DIR --assignment a1` runs public and hidden tests.
    """


def _table_console(stderr: bool = False) -> Console:
    """The console for result tables: a file or a pipe gets wide rows, nothing folded in the middle of a path."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=200)


@contextmanager
def _progress(console: Console, label: str, total: int | None = None):
    """Progress bars on stderr: finished tests (``total`` as expected until the grader has collected them), and
    steps inside a long test (training epochs)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        tests = bar.add_task(f"{label} (starting the grader)", total=total)
        steps = {}

        def on_test(done, total, outcome):
            bar.update(tests, completed=done, total=total, description=label)

        def on_step(step_label, done, total):
            if step_label not in steps:
                steps[step_label] = bar.add_task(f"  {step_label}", total=total)
            bar.update(steps[step_label], completed=done, total=total)

        yield {"on_progress": on_test, "on_step": on_step}


def _run(submission: Path, assignment: str, suites, lang, json_out, test_timeout, total_timeout,
         min_isolation: str, tasks=(), error_json: str | None = None) -> None:
    console = _table_console(stderr=json_out == "-")
    try:
        with _progress(Console(stderr=True), f"grading {assignment}") as progress:
            result = api.grade(submission, assignment, suites=suites, language=lang, test_timeout=test_timeout,
                               total_timeout=total_timeout, min_isolation=min_isolation, tasks=list(tasks) or None,
                               **progress)
    except (api.CourseError, api.GraderError) as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        if error_json:
            with feedback.language(lang):
                report.write_json(report.ungraded(str(exc), isinstance(exc, api.GraderError)), error_json)
        sys.exit(1)
    with feedback.language(lang):
        report.print_table(result, console)
        if json_out:
            report.write_json(result, json_out)


@main.command()
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--assignment", "-a", "assignment", required=True, callback=_assignment_id,
              help="Assignment id, for example a1.")
@LANG
@JSON
@TASK
@TEST_TIMEOUT
@TOTAL_TIMEOUT
@click.option("--allow-isolation", type=click.Choice(["partial", "none"]), default=None,
              help="Grade even though this machine confines student code only this much "
                   "[default: refuse anything below full isolation].")
@click.option("--error-json", "error_json", default=None, metavar="FILE",
              help="When SUBMISSION cannot be graded, write a Gradescope result saying why to FILE (the reason "
                   "shown to the student only when it is the submission's fault; for run_autograder).")
def grade(submission, assignment, lang, json_out, tasks, test_timeout, total_timeout, allow_isolation, error_json):
    """Grade SUBMISSION with the public and hidden tests.

    SUBMISSION is a folder laid out like student_template/<assignment>/, or a
    zip of one (for example the notebook's grader.export() zip).
    Student code runs in a confined process of its own; grading refuses to
    start where the machine cannot confine it fully (Linux with Landlock and
    seccomp), unless --allow-isolation names the weaker level.
    Exit code 0 means grading completed, whatever the score.
    """
    tasks = _task_ids(assignment, tasks)
    _run(submission, assignment, ("public", "hidden"), lang, json_out, test_timeout, total_timeout,
         allow_isolation or "full", tasks, error_json)


@main.command()
@ASSIGNMENT
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".",
              show_default=True, help="Folder with your modules.")
@LANG
@JSON
@TASK
@TEST_TIMEOUT
def check(assignment, directory, lang, json_out, tasks, test_timeout):
    """Run the public tests of ASSIGNMENT on your work (the folder with your modules).

    In the course repository, without modules in the current folder, it
    checks the reference solution in solutions/ASSIGNMENT. Your code runs in
    a separate process, confined as much as this computer allows (the level
    is shown under the results).
    """
    tasks = _task_ids(assignment, tasks)
    modules = course.load_assignment(assignment).modules
    root = course.repo_root()
    has_modules = any((directory / f"{m}.py").is_file() for m in modules)
    if not has_modules and root is not None and directory.resolve() == root:
        directory = root / "solutions" / assignment
        click.echo(f"checking the reference solution in {directory.relative_to(root)}", err=True)
    elif not has_modules:
        click.echo(f"autograder: error: {directory.resolve()} has none of "
                   f"{', '.join(m + '.py' for m in modules)}; run this in your assignment folder or pass --dir",
                   err=True)
        sys.exit(1)
    _run(directory, assignment, ("public",), lang, json_out, test_timeout, None, "none", tasks)


@main.command("generate")
@click.option("--check", "check_only", is_flag=True,
              help="Only report whether student_template/ is up to date (exit 1 if not).")
def generate(check_only):
    """Regenerate student_template/ from solutions/ (solution regions become stubs)."""
    _in_course_repository("generate")
    from autograder import template

    try:
        changed = template.sync(check_only=check_only)
    except api.CourseError as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)
    for path in changed:
        click.echo(f"{'out of date' if check_only else 'wrote'}: {path}")
    if check_only and changed:
        sys.exit(1)
    if not changed:
        click.echo("student_template/ is up to date")


@main.command()
@ASSIGNMENT
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              callback=_new_or_empty_folder,
              help="Folder to create with the student release (must not exist or be empty).")
def release(assignment, out):
    """Build the student release of ASSIGNMENT with nbgrader generate_assignment."""
    _in_course_repository("release")
    from autograder import release as release_module

    try:
        files = release_module.build(assignment, out)
    except api.CourseError as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"released {assignment} to {out} ({len(files)} files)")


@main.command()
@click.option("--require", type=click.Choice(["full", "partial", "none"]), default=None,
              help="Exit with status 1 (and say what is missing) unless this machine gives at least this level.")
def isolation(require):
    """Show how confined student code is on this machine: the level, and the mechanism behind each guarantee.

    Run it where grading will happen (as the user that grades, with AUTOGRADER_STUDENT_USER set as it will
    be); the Gradescope setup.sh runs it with --require while the image is built.
    """
    from autograder.runner import isolation as isolation_module
    try:
        found = isolation_module.probe()
    except isolation_module.IsolationError as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"isolation: {found.level}")
    for line in found.mechanisms:
        click.echo(f"  {line}")
    for line in found.missing:
        click.echo(f"  missing: {line}")
    if require and not found.at_least(require):
        click.echo(f"autograder: error: this machine gives student code {found.level} isolation, not {require} "
                   f"(missing: {'; '.join(found.missing)})", err=True)
        sys.exit(1)


def _planned_tests(assignment: course.Assignment) -> int:
    """How many tests grading ``assignment`` runs (public and hidden), counted in the graders' source without
    importing them: each test function, times the cases of its literal ``parametrize`` lists."""
    import ast

    count = 0
    for suite in course.SUITES:
        for path in sorted(assignment.suite_dir(suite).glob("test_*.py")) if assignment.has_suite(suite) else []:
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                    cases = 1
                    for mark in node.decorator_list:
                        if (isinstance(mark, ast.Call) and ast.unparse(mark.func).endswith("parametrize")
                                and len(mark.args) > 1 and isinstance(mark.args[1], (ast.List, ast.Tuple))):
                            cases *= len(mark.args[1].elts)
                    count += cases
    return count


def _planned_points(assignment: course.Assignment) -> float:
    return sum(sum(assignment.points(suite).values()) for suite in course.SUITES)


def _few_words(reason: str, limit: int = 70) -> str:
    """The gist of a one-line error: its first clause (up to a ": " or "; " outside parentheses), at most
    ``limit`` characters."""
    gist = reason.strip().splitlines()[0] if reason.strip() else "no reason given"
    depth = 0
    for at, char in enumerate(gist):
        depth += (char == "(") - (char == ")")
        if depth == 0 and gist[at:at + 2] in (": ", "; ") and at >= 12:
            gist = gist[:at]
            break
    return gist if len(gist) <= limit else gist[:limit - 2].rsplit(" ", 1)[0] + "..."


def selfcheck_verdict(scores: dict[str, tuple[float, float]], ungraded: dict[str, str]) -> tuple[bool, str]:
    """The closing line of ``selfcheck``: (every reference solution got full marks, the line).

    ``scores``: assignment -> (score, maximum) of those graded; ``ungraded``: assignment -> why it could not be.
    """
    full = [a for a, (got, most) in scores.items() if got >= most]
    below = [f"{a} ({got:g}/{most:g})" for a, (got, most) in scores.items() if got < most]
    not_graded = [f"{a} ({_few_words(why)})" for a, why in ungraded.items()]
    if not below and not not_graded:
        return True, (f"selfcheck passed: every reference solution gets full marks "
                      f"({', '.join(f'{a} {got:g}/{most:g}' for a, (got, most) in scores.items())})")
    parts = ([f"below full marks: {', '.join(below)}"] if below else []) + \
            ([f"could not be graded here: {', '.join(not_graded)}"] if not_graded else []) + \
            ([f"full marks: {', '.join(full)}"] if full else [])
    return False, f"selfcheck failed: {'; '.join(parts)}"


@main.command()
@click.argument("assignments", nargs=-1)
@LANG
def selfcheck(assignments, lang):
    """Grade the reference solutions (solutions/<id>/) of ASSIGNMENTS [default: all].

    It first lists the assignments it will grade (tests and points of each)
    and ends with one line: every reference solution at full marks, or which
    are not and which could not be graded here, and why. Exit code 1 unless
    every reference solution gets full marks. An assignment that cannot be
    graded here (CIFAR-10 not configured, for example) is reported with the
    reason, and the others are still graded.
    """
    _in_course_repository("selfcheck")
    root = course.repo_root()
    ids = list(assignments) or course.available_assignments()
    for assignment in ids:
        _assignment_id(None, None, assignment)
    specs = {assignment: course.load_assignment(assignment) for assignment in ids}
    planned = {assignment: _planned_tests(spec) for assignment, spec in specs.items()}
    click.echo(f"selfcheck: grading the reference solutions of {len(ids)} assignment{'s' * (len(ids) > 1)} with "
               "public and hidden tests: " + ", ".join(
                   f"{a} ({planned[a]} tests, {_planned_points(spec):g} points"
                   f"{', needs CIFAR-10' if 'cifar10' in spec.datasets else ''})" for a, spec in specs.items()))
    console, scores, ungraded = _table_console(), {}, {}
    for assignment in ids:
        try:
            with _progress(Console(stderr=True), f"grading solutions/{assignment}", planned[assignment]) as progress:
                result = api.grade(root / "solutions" / assignment, assignment, language=lang,
                                   min_isolation="none", **progress)
        except (api.CourseError, api.GraderError) as exc:
            click.echo(f"autograder: error: {assignment}: {exc}", err=True)
            ungraded[assignment] = str(exc)
            continue
        with feedback.language(lang):
            report.print_table(result, console)
        scores[assignment] = (result.score, result.max_score)
    passed, verdict = selfcheck_verdict(scores, ungraded)
    click.echo(verdict)
    if not passed:
        sys.exit(1)


@main.command()
@ASSIGNMENT
@click.option("--seeds", type=int, multiple=True, help="Seeds to run (repeat the option) [default: the assignment's].")
@click.option("--curves-only", is_flag=True,
              help="Write only the reference curves (reference_curves.json) that feedback pages draw; leave the "
                   "threshold as it is.")
def calibrate(assignment, seeds, curves_only):
    """Train the reference of ASSIGNMENT over several seeds and write its pass mark.

    With false_failure in the assignment's [calibration] table, the
    threshold is a one-sided prediction bound below the seeds' mean
    (mean - t * std * sqrt(1 + 1/n)): a valid solution fails it with that
    probability. Otherwise it is the worst seed's value minus the table's
    margin. It is written to autograder/graders/ASSIGNMENT/calibration.toml,
    with the machine and library versions it was measured on; the mean
    per-epoch history of the seeds goes to reference_curves.json, drawn on
    the students' feedback pages.
    """
    _in_course_repository("calibrate")
    from autograder import calibrate as calibration

    try:
        with _progress(Console(stderr=True), f"calibrating {assignment}") as progress:
            result = calibration.run(assignment, list(seeds) or None, on_step=progress["on_step"],
                                     curves_only=curves_only)
    except api.CourseError as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)
    for key, value in result.items():
        click.echo(f"{key}: {value}")


def _shard(ctx, param, value):
    if value is None:
        return None
    try:
        k, n = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not K/N (for example 2/8)") from None
    if not 1 <= k <= n:
        raise click.BadParameter(f"{value!r}: K must be between 1 and N")
    return k, n


@main.command("grade-all")
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option("--assignment", "-a", "assignment", required=True, callback=_assignment_id,
              help="Assignment id, for example a4.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the results: grades.csv, report.html and students/<name>/.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Gradings at once [default: what the cores and memory allow].")
@click.option("--regrade", is_flag=True, help="Grade every student again, even those with a final result in --out.")
@click.option("--shard", callback=_shard, metavar="K/N", default=None,
              help="Grade only the K-th of N deterministic parts of the class (a cluster job array).")
@LANG
@click.option("--published", is_flag=True,
              help="Feedback pages show the tests whose visibility is after_published or after_due_date "
                   "[default: they are withheld, counted in one line]. Every student's page is made again "
                   "from the stored results (no regrading).")
@click.option("--allow-isolation", type=click.Choice(["partial", "none"]), default=None,
              help="Grade even though this machine confines student code only this much.")
@click.option("--nbgrader", "nbgrader_dir", metavar="COURSE_DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Also write each task's points as the autograded score of its grade cell in the gradebook "
                   "of this nbgrader course (manual scores are kept; grader errors are not written).")
def grade_all(submissions, assignment, out, workers, regrade, shard, lang, published, allow_isolation,
              nbgrader_dir):
    """Grade every student's submission in SUBMISSIONS (public and hidden tests).

    The layout is detected and named: nbgrader's submitted/<student>/<assignment>/,
    Gradescope's "Export Submissions" zip (or its unpacked folder; students are
    the submitters' SIDs from submission_metadata.yml), or a folder of
    <student>.zip files and <student>/ folders; any other entry is reported "not
    gradable" with the reason, so grades.csv has one row per entry. Each result
    is written atomically to OUT/students/<name>/results.json as soon as it is
    ready, so running the same command again after an interruption grades only
    the students without a final one. A grader error (no data set, a worker
    killed, a grading that never ended) is never final: it is named, the command
    exits 1 at the end, and the next run grades that student again.
    OUT/grades.csv has the points of each task, the total, a status (graded, not
    gradable, grader error) and the reason. Each student also gets a
    feedback.html, and the class OUT/report.html (a table of every student with
    flags, the score distribution, pass rate of each test, similar pairs of
    submissions, grading times).
    """
    _in_course_repository("grade-all")
    from autograder import batch

    spec = course.load_assignment(assignment)
    with _exit_on_course_error():
        layout, found = batch.find_submissions(submissions, spec, unpack_to=out / ".gradescope-export",
                                               exclude=(out,))
        if nbgrader_dir:  # a gradebook that cannot take the scores is refused before the class is graded
            from autograder import nbgrader_gradebook

            nbgrader_gradebook.record(nbgrader_dir, spec, {})
    if shard:
        found = batch.shard(found, *shard)
    hidden = batch.hidden_entries(submissions) if Path(submissions).is_dir() else []
    if hidden:
        click.echo(f"skipped hidden entries of {submissions}: {', '.join(hidden[:10])}"
                   f"{' ...' if len(hidden) > 10 else ''}", err=True)
    workers = workers or batch.default_workers(spec)
    stored = batch.read_results(out)
    todo = [s for s in found if regrade or not batch.done(out, s.student)]
    again = sum(1 for s in todo if batch.status(stored.get(s.student, {"extra_data": {"status": ""}}))
                == batch.GRADER_ERROR)
    click.echo(f"{len(found)} submissions ({layout}){f', shard {shard[0]}/{shard[1]}' if shard else ''}; "
               f"{len(found) - len(todo)} already graded in {out}, {len(todo)} to grade with {workers} workers"
               f"{f' ({again} after a grader error)' if again and not regrade else ''}", err=True)
    fresh: dict[str, dict] = {}
    with _batch_progress(f"grading {assignment}", len(todo), workers, batch.time_limit(spec)) as progress:
        batch.grade_all(todo, assignment, out, workers=workers, regrade=True, language=lang,
                        min_isolation=allow_isolation or "full", published=published,
                        on_start=progress.start,
                        on_result=lambda submission, data: (fresh.__setitem__(submission.student, data),
                                                            progress.done(submission)))
    written = batch.read_results(out)
    results = {s.student: fresh.get(s.student, written.get(s.student)) for s in found
               if s.student in fresh or s.student in written}
    _finish_batch(out, spec, results, found, lang, published, f"{len(fresh)} feedback pages of the students graded "
                  f"now", nbgrader_dir)


class _BatchProgress:
    """Progress of a batch and its ETA, worked out again at every refresh of the bar (``clock``: seconds).

    Only the gradings that ran a worker teach anything about time (an entry with nothing to grade is recorded
    at once). A grading in progress for ``e`` seconds still needs, by the gradings done, the median of what
    those that lasted longer than ``e`` took beyond ``e``: that falls second by second as it runs. Once it has
    outlasted every grading done, nothing done says more: it is given as long again as it has run, up to the
    batch's time ``limit``, where it is stopped. Each queued grading takes the median time of those done, on
    whichever worker is free first; the ETA is when the last one would end, so it is never less than what the
    running gradings still need. Before any grading is done there is nothing to go by, and it says so.
    """

    def __init__(self, total: int, workers: int, limit: float | None = None, clock=None):
        import time

        self.total, self.workers, self.limit = total, max(workers, 1), limit
        self.clock = clock or time.monotonic
        self.started: dict[str, float] = {}  # student -> when its grading began (those running a worker)
        self.durations: list[float] = []  # seconds of each grading done that ran a worker
        self.finished = 0
        self.bar = self.task = None

    def start(self, submission, pid=None) -> None:
        if pid is not None:  # None: nothing runs, the entry is recorded at once
            self.started[submission.student] = self.clock()

    def done(self, submission) -> None:
        began = self.started.pop(submission.student, None)
        if began is not None:
            self.durations.append(self.clock() - began)
        self.finished += 1
        if self.bar is not None:
            self.bar.advance(self.task)

    def still_needs(self, elapsed: float) -> float:
        """Seconds a grading running for ``elapsed`` seconds still needs (given at least one is done)."""
        import statistics

        longer = [d - elapsed for d in self.durations if d > elapsed]
        if longer:
            return statistics.median(longer)
        return elapsed if self.limit is None else min(elapsed, max(self.limit - elapsed, 0.0))

    def seconds_left(self) -> float | None:
        """Seconds until the last grading ends; None before any grading is done."""
        import heapq
        import statistics

        left = self.total - self.finished
        if left <= 0:
            return 0.0
        if not self.durations:
            return None
        now = self.clock()
        running = [self.still_needs(now - began) for began in self.started.values()]
        free = running + [0.0] * max(self.workers - len(running), 0)  # when each worker is free
        heapq.heapify(free)
        typical = statistics.median(self.durations)
        for _ in range(max(left - len(running), 0)):
            heapq.heapreplace(free, free[0] + typical)
        return max(free)

    def eta(self) -> str:
        seconds = self.seconds_left()
        if seconds is None:
            return "ETA after the first grading"
        whole = math.ceil(seconds)
        hours, minutes, rest = whole // 3600, whole // 60 % 60, whole % 60
        return f"ETA {hours}:{minutes:02d}:{rest:02d}" if hours else f"ETA {minutes}:{rest:02d}"


@contextmanager
def _batch_progress(label: str, total: int, workers: int, limit: float | None = None):
    from rich.progress import ProgressColumn
    from rich.text import Text

    progress = _BatchProgress(total, workers, limit)

    class Eta(ProgressColumn):
        def render(self, task):
            return Text(progress.eta())

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), Eta(),
                  console=Console(stderr=True), transient=True) as bar:
        progress.bar, progress.task = bar, bar.add_task(label, total=total)
        yield progress


def _finish_batch(out: Path, spec, results: dict, found, lang: str, published: bool, pages_note: str,
                  nbgrader_dir) -> None:
    """Write the gradebook, the class report and (with ``published``) every page again; show the summary;
    exit 1 if a grader error is left."""
    from rich.table import Table

    from autograder import batch, pages, review

    gradable = {s.student: s.path for s in found if not s.problem and s.student in results
                and batch.status(results[s.student]) == batch.GRADED}
    similar = review.similar_pairs(gradable, spec)
    try:
        gradebook = batch.write_gradebook(out, spec, results)
        if published:
            pages_written = pages.rerender(out, results, spec, lang, True, similar)
            what = f"{pages_written} feedback pages (published: every test shown)"
        else:
            class_report = pages.write_report(out, results, spec, lang, similar)
            what = f"{class_report} and {pages_note}"
    except OSError as exc:
        click.echo(f"autograder: error: the results of {out} cannot be written: {exc}", err=True)
        sys.exit(1)
    table = Table(title=f"{spec.id}: {len(results)} submissions", box=None)
    for column in ("status", "students", "mean score"):
        table.add_column(column)
    for status in (batch.GRADED, batch.NOT_GRADABLE, batch.GRADER_ERROR):
        rows = [r for r in results.values() if batch.status(r) == status]
        if rows:
            mean = sum(float(r["score"]) for r in rows) / len(rows)
            table.add_row(status, str(len(rows)), f"{mean:.1f}" if status != batch.GRADER_ERROR else "-")
    _table_console().print(table)
    for student, data in sorted(results.items()):
        if batch.status(data) != batch.GRADED:
            click.echo(f"{student}: {batch.status(data)}: {data['output']}")
    click.echo(f"wrote {gradebook}, {what}" if not published else f"wrote {gradebook}, {out / 'report.html'} "
               f"and {what}")
    if nbgrader_dir:
        from autograder import nbgrader_gradebook

        with _exit_on_course_error():
            count = nbgrader_gradebook.record(nbgrader_dir, spec, results, out=out, echo=click.echo)
        click.echo(f"wrote {count} students' autograded scores to {nbgrader_gradebook.location(nbgrader_dir)}")
    errors = sorted(s for s, d in results.items() if batch.status(d) == batch.GRADER_ERROR)
    if errors:
        click.echo(f"autograder: error: {len(errors)} grader error{'s' * (len(errors) > 1)} "
                   f"({', '.join(errors[:5])}{' ...' if len(errors) > 5 else ''}): not graded, not recorded as 0; "
                   f"run the same command again to grade them", err=True)
        sys.exit(1)


@main.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--assignment", "-a", "assignment", required=True, callback=_assignment_id, help="Assignment id.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the merged results and grades.csv (may be one of RESULTS).")
@LANG
@click.option("--published", is_flag=True,
              help="Make every student's feedback page again showing the after_published and after_due_date "
                   "tests (no regrading).")
@click.option("--nbgrader", "nbgrader_dir", metavar="COURSE_DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Also write the merged scores into the gradebook of this nbgrader course (see grade-all).")
def collect(results, assignment, out, lang, published, nbgrader_dir):
    """Merge the RESULTS folders of `grade-all --shard K/N` runs into one gradebook and class report.

    With a single RESULTS folder and --out the same folder, it only writes the
    gradebook, the report and (with --published) the pages again.
    """
    _in_course_repository("collect")
    from autograder import batch

    spec = course.load_assignment(assignment)
    with _exit_on_course_error():
        count, _ = batch.collect(list(results), out, spec)
    click.echo(f"{count} students from {len(results)} result folders")
    _finish_batch(out, spec, batch.read_results(out), [], lang, published, "the feedback pages of RESULTS",
                  nbgrader_dir)


@main.group()
def export():
    """Export an assignment's autograder (gradescope) or a class's grades (canvas, moodle)."""


@export.command("gradescope")
@ASSIGNMENT
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The zip to write, for example a4-autograder.zip.")
@click.option("--allow-isolation", type=click.Choice(["partial", "none"]), default=None,
              help="Let the autograder grade where the image confines student code only this much "
                   "[default: refuse anything below full isolation].")
def export_gradescope(assignment, out, allow_isolation):
    """Write a Gradescope autograder zip for ASSIGNMENT (setup.sh, run_autograder, the engine with
    ASSIGNMENT's graders only); upload it as the assignment's autograder."""
    _in_course_repository("export gradescope")
    from autograder import gradescope_export

    try:
        path = gradescope_export.build(assignment, out, allow_isolation=allow_isolation)
    except (api.CourseError, OSError) as exc:
        click.echo(f"autograder: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


def _lms_export(lms: str, results, assignment, roster, out, column, match) -> None:
    """Run a Canvas or Moodle export: what it wrote on stdout, what it left out on stderr."""
    _in_course_repository(f"export {lms}")  # results come from grade-all, which releases do not ship
    from autograder import lms_export

    run = lms_export.export_canvas if lms == "canvas" else lms_export.export_moodle
    with _exit_on_course_error():
        done = run(results, assignment, roster, out, column=column, match=match)
    wrote, notes = lms_export.summary(done)
    click.echo(wrote)
    for note in notes:
        click.echo(note, err=True)


LMS_RESULTS = click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
LMS_ASSIGNMENT = click.option("--assignment", "-a", "assignment", required=True, callback=_assignment_id,
                              help="Assignment id.")
LMS_OUT = click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                       help="The CSV file to write.")


@export.command("canvas")
@LMS_RESULTS
@LMS_ASSIGNMENT
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Canvas's gradebook export of the course (Grades > Export > Export Entire Gradebook).")
@LMS_OUT
@click.option("--column", metavar="NAME", default=None,
              help="The Canvas assignment: a roster column titled NAME or 'NAME (id)' is updated, else a new "
                   "assignment NAME is created [default: the assignment's title, or its id].")
@click.option("--match", metavar="COLUMN", default=None,
              help="The roster column holding the ids of RESULTS' students, compared case-insensitively "
                   "[default: whichever of SIS User ID, SIS Login ID, ID matches the most].")
def export_canvas(results, assignment, roster, out, column, match):
    """Write ASSIGNMENT's grades in RESULTS (a grade-all --out folder) as a CSV for Canvas's gradebook import.

    The file has Canvas's columns Student, ID, SIS User ID, SIS Login ID and
    Section, copied from the roster, the assignment's column ("Title (id)" when
    the roster has it, so Canvas updates that assignment) and the Points
    Possible row (the autograder's maximum). A not gradable submission is 0. A
    grader error, or a roster student without a submission, gets no row (an
    empty cell would remove a grade already in Canvas), so Canvas keeps what it
    has; both are listed on stderr, with the students missing from the roster.
    Import the file in Canvas with Grades > Import.
    """
    _lms_export("canvas", results, assignment, roster, out, column, match)


@export.command("moodle")
@LMS_RESULTS
@LMS_ASSIGNMENT
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Moodle's grade export (Grades > Export > Plain text file), or any CSV with the "
                   "identifier column.")
@LMS_OUT
@click.option("--column", metavar="NAME", default=None, help="Name of the grade column [default: ASSIGNMENT].")
@click.option("--match", metavar="COLUMN", default=None,
              help="The roster column holding the ids of RESULTS' students, compared case-insensitively "
                   "[default: whichever of ID number, Email address, Username matches the most].")
def export_moodle(results, assignment, roster, out, column, match):
    """Write ASSIGNMENT's grades in RESULTS (a grade-all --out folder) as a CSV for Moodle's grade import.

    The file has two columns: the roster's identifier column (for example
    Email address, with the roster's values) and the grade. In Moodle, Grades >
    Import > CSV file, map that column to the user field (Email address to
    useremail, ID number to useridnumber) and the grade column to the grade
    item. A not gradable submission is 0. A grader error, or a roster student
    without a submission, gets no row (an empty cell would remove a grade
    already in Moodle); both are listed on stderr, with the students missing
    from the roster (Moodle would refuse a row it cannot match).
    """
    _lms_export("moodle", results, assignment, roster, out, column, match)
