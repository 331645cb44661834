"""One assignment's grades as the CSV files that Canvas and Moodle import into their gradebooks.

The grades come from a ``grade-all`` results folder (:func:`autograder.batch.read_results`); the students
are the rows of a roster the instructor exports from the LMS, matched by one of its columns.

Canvas (guide: https://community.canvaslms.com/t5/Instructor-Guide/How-do-I-import-grades-in-the-Gradebook/ta-p/807;
the behaviour below is read from Canvas's own code, https://github.com/instructure/canvas-lms,
``lib/gradebook_exporter.rb``, ``lib/gradebook_importer.rb`` and
``ui/features/gradebook_uploads/jquery/process_gradebook_upload.js``):

- the export's columns are ``Student, ID, SIS User ID, SIS Login ID, Section`` (the import requires
  ``Student`` then ``ID`` first and ``Section`` last among them), then one column per assignment titled
  ``Title (assignment id)``; a title without an id creates a new assignment; then the total columns;
- a row whose first cell holds ``Points Possible`` gives each assignment's points (a new assignment's);
  a row of ``Manual Posting`` / ``Muted`` cells is skipped; the test student comes last;
- students are found by ``ID`` (Canvas's user id), else ``SIS User ID``, else ``SIS Login ID``, else name;
- an empty cell is "no grade": nothing changes where Canvas has none, but over an existing grade it is
  posted as an empty grade, which removes it. A student absent from the file is left as is. So a grader
  error, or a roster student without a submission, is left out of the file, never written empty or as 0;
- comma or semicolon separated, UTF-8.

Moodle (https://docs.moodle.org/311/en/Grade_import; ``grade/import/csv/classes/load_data.php`` of
https://github.com/moodle/moodle):

- "Import > CSV file": the preview maps one column to the user field (``useridnumber``, ``useremail``,
  ``username``, ``userid``) and each other column to a grade item (an existing one or a new one);
- the grader report's "Export grades" CSV has ``First name, Last name, ID number, Institution, Department,
  Email address``, one column per grade item and ``Last downloaded from this course``;
- a row whose user is not found aborts the whole import; e-mail addresses are compared case-sensitively;
- an empty cell (or ``-``) is "no grade" and removes an existing grade: same rule as for Canvas.

Statuses: ``graded`` exports the score; ``not gradable`` (the submission's fault) exports 0; ``grader
error`` (the grader's fault) is never exported.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder import batch, course
from autograder.course import CourseError

CANVAS_STUDENT_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_MATCH = ("SIS User ID", "SIS Login ID", "ID")
MOODLE_MATCH = ("ID number", "Email address", "Username")
POINTS_POSSIBLE = "    Points Possible"  # as Canvas writes it; the importer looks for "Points Possible"
CANVAS_TEST_STUDENT = {"student, test", "test student"}
# Canvas's importer drops any column whose header contains one of these (totals), and reserves these names
CANVAS_NOT_ASSIGNMENT = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|"
                                   "Final Grade|Override Score|Override Grade|Override Status")
CANVAS_RESERVED = {"Student", "LastName", "FirstName", "ID", "SIS User ID", "SIS Login ID", "Section",
                   "Integration ID", "Root Account"}
CANVAS_TITLE_ID = re.compile(r"\A(.*)\s\((\d+)\)\Z")  # Canvas's Assignment.title_and_id
CANVAS_HIDDEN_CELL = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.IGNORECASE)


class LMSExportError(CourseError):
    """Input that cannot be exported (one line: why)."""


@dataclass
class Roster:
    path: Path
    header: list[str]
    rows: list[list[str]]  # the student rows, each as long as the header
    lines: list[int]  # the line of the file each row ends on
    points: list[str] | None = None  # Canvas's "Points Possible" row


@dataclass
class Export:
    """What an export wrote and what it left out (plain data)."""
    lms: str
    path: Path
    column: str  # the header of the grade column written
    match: str  # the roster column students were matched by
    max_score: float
    existing: bool = False  # Canvas: the column is an assignment already in the roster
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (student of the results, roster id, grade)
    missing_from_roster: list[str] = field(default_factory=list)  # students of the results, not exported
    without_submission: list[str] = field(default_factory=list)  # roster students with no result (left as is)
    grader_errors: list[str] = field(default_factory=list)  # not exported: their grade in the LMS is unchanged
    not_gradable: list[str] = field(default_factory=list)  # exported as 0
    conflicts: list[str] = field(default_factory=list)  # roster rows matched by several results, not exported
    warnings: list[str] = field(default_factory=list)


def read_roster(path: Path) -> Roster:
    """The rows of an LMS's CSV export: UTF-8 (with or without a BOM), comma, semicolon or tab separated."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LMSExportError(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LMSExportError(f"{path} is not UTF-8 text (byte {raw[exc.start]:#04x} at offset {exc.start}): "
                             f"export it again, or save it as CSV UTF-8") from None
    if "\x00" in text:
        raise LMSExportError(f"{path} is not a CSV file (it holds NUL bytes)")
    records = _parse(text, path)
    header = [cell.strip() for cell in records[0][1]]
    width = len(header)
    rows = [(line, (row + [""] * width)[:width]) for line, row in records[1:]]
    return Roster(path, header, [row for _, row in rows], [line for line, _ in rows])


def _parse(text: str, path: Path) -> list[tuple[int, list[str]]]:
    """(line, cells) of each non-blank record, with the separator that splits every record alike."""
    best, problem = None, None
    for rank, delimiter in enumerate((",", ";", "\t")):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        try:
            records = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            problem = f"line {reader.line_num}: {exc}"
            continue
        records = [(line, row) for line, row in records if any(cell.strip() for cell in row)]
        if not records or len(records[0][1]) < 2:
            continue
        key = (len({len(row) for _, row in records}) == 1, len(records[0][1]), -rank)
        if best is None or key > best[0]:
            best = (key, records)
    if best is None:
        raise LMSExportError(f"{path} is not a CSV file with a header row of several columns"
                             f"{f' ({problem})' if problem else ''}")
    return best[1]


def _column(roster: Roster, name: str) -> int | None:
    """The index of the roster's column ``name`` (exactly, else case-insensitively), None if it has none."""
    for same in (lambda h: h == name, lambda h: h.casefold() == name.strip().casefold()):
        found = [i for i, header in enumerate(roster.header) if same(header)]
        if len(found) > 1:
            raise LMSExportError(f"{roster.path} has {len(found)} columns named {name!r}")
        if found:
            return found[0]
    return None


def _key(value: str) -> str:
    return value.strip().casefold()


def _members(student: str, ids: set[str]) -> list[str] | None:
    """The roster keys of a results' student: its id, or each submitter of a Gradescope group ``a+b``."""
    if _key(student) in ids:
        return [_key(student)]
    parts = [p for p in student.split("+") if p.strip()]
    if len(parts) > 1 and all(_key(p) in ids for p in parts):
        return list(dict.fromkeys(_key(p) for p in parts))
    return None


def _match(roster: Roster, students: list[str], match: str | None, candidates: tuple[str, ...]) -> int:
    """The roster column to match students by: ``match``, else the candidate column that matches the most
    students of the results (the first of them on a tie)."""
    if match is not None:
        index = _column(roster, match)
        if index is None:
            raise LMSExportError(f"--match {match!r}: {roster.path} has no such column (its columns: "
                                 f"{', '.join(roster.header)})")
        columns = [index]
    else:
        columns = [i for i in (_column(roster, name) for name in candidates) if i is not None]
        if not columns:
            raise LMSExportError(f"{roster.path} has none of the columns {', '.join(candidates)} to match "
                                 f"students by; name one with --match")

    def hits(index: int) -> int:
        ids = {_key(row[index]) for row in roster.rows if row[index].strip()}
        return sum(_members(student, ids) is not None for student in students)

    chosen = max(columns, key=lambda i: (hits(i), -columns.index(i)))
    seen: dict[str, int] = {}
    for line, row in zip(roster.lines, roster.rows):
        key = _key(row[chosen])
        if key and key in seen:
            raise LMSExportError(f"{roster.path}: two rows (lines {seen[key]} and {line}) have the "
                                 f"{roster.header[chosen]} {row[chosen].strip()!r}")
        seen.setdefault(key, line)
    if students and not hits(chosen):
        tried = ", ".join(roster.header[i] for i in columns)
        raise LMSExportError(f"none of the {len(students)} students of the results is in the {tried} column"
                             f"{'s' * (len(columns) > 1)} of {roster.path} (for example {students[0]!r}); "
                             f"choose the column with --match")
    return chosen


def _results(results_dir: Path, assignment: str) -> dict[str, dict]:
    results = batch.read_results(Path(results_dir))
    if not results:
        raise LMSExportError(f"{results_dir} holds no results (run autograder grade-all ... --out {results_dir})")
    others = sorted({str(d["extra_data"]["assignment"]) for d in results.values()
                     if d.get("extra_data", {}).get("assignment") not in (None, assignment)})
    if others:
        raise LMSExportError(f"{results_dir} holds results of {', '.join(others)}, not of {assignment}")
    return results


def _max_score(results: dict[str, dict], assignment: str) -> float:
    found = set()
    for data in results.values():
        value = data.get("extra_data", {}).get("max_score")
        if value is not None:
            try:
                found.add(float(value))
            except (TypeError, ValueError):
                pass
    if len(found) > 1:
        raise LMSExportError(f"the results disagree on the maximum score of {assignment} "
                             f"({', '.join(_number(v) for v in sorted(found))}): were they graded with different "
                             f"points.toml? Grade the class again with --regrade")
    if found:
        return found.pop()
    spec = course.load_assignment(assignment)
    return sum(spec.points("public").values()) + sum(spec.points("hidden").values())


def _number(value: float) -> str:
    """12.5, 10, 0: up to four decimals, never an exponent."""
    text = format(round(float(value), 4), "f").rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _grades(roster: Roster, results: dict[str, dict], index: int, display, skip=lambda row: False):
    """The rows to write: (row, student, grade) in the roster's order, and what is left out, into an
    :class:`Export`'s lists (returned as a dict of them)."""
    ids = {_key(row[index]) for row in roster.rows if row[index].strip()}
    by_key: dict[str, list[str]] = {}
    left: dict[str, list] = {"missing_from_roster": [], "without_submission": [], "grader_errors": [],
                             "not_gradable": [], "conflicts": []}
    for student in sorted(results):
        keys = _members(student, ids)
        if keys is None:
            left["missing_from_roster"].append(student)
        for key in keys or ():
            by_key.setdefault(key, []).append(student)
    grades = []
    for row in roster.rows:
        students = by_key.get(_key(row[index]), []) if row[index].strip() else []
        if not students:
            if not skip(row):
                left["without_submission"].append(display(row))
            continue
        if len(students) > 1:
            left["conflicts"].append(f"{display(row)}: {', '.join(students)}")
            continue
        student = students[0]
        data = results[student]
        status = batch.status(data)
        if status == batch.GRADER_ERROR:
            if student not in left["grader_errors"]:
                left["grader_errors"].append(student)
            continue
        if status == batch.NOT_GRADABLE:
            if student not in left["not_gradable"]:
                left["not_gradable"].append(student)
            score = 0.0
        else:
            try:
                score = float(data["score"])
            except (KeyError, TypeError, ValueError):
                raise LMSExportError(f"the result of {student} has no score") from None
        grades.append((row, student, _number(score)))
    return grades, left


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    """``rows`` as UTF-8 CSV at ``path``, written whole or not at all."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        os.replace(partial, path)
    except OSError as exc:
        raise LMSExportError(f"{path} cannot be written: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)


def _not_the_roster(out: Path, roster: Path) -> None:
    if Path(out).resolve() == Path(roster).resolve():
        raise LMSExportError(f"--out {out} is the roster itself; write the import file elsewhere")


def _canvas_column(roster: Roster, column: str | None, spec: course.Assignment) -> tuple[int | None, str]:
    """(the roster column of the assignment, None if it has none; the header to write). A column is the
    assignment's when its header, or its title before `` (id)``, is ``column`` (default: the assignment's
    title, in English or in Spanish, else its id), exactly or else case-insensitively."""
    names = [column] if column else list(dict.fromkeys([spec.title.en, spec.title.es, spec.id]))
    for name in names:
        for same in (lambda a, b: a == b, lambda a, b: a.casefold() == b.strip().casefold()):
            found = []
            for i, header in enumerate(roster.header):
                if header in CANVAS_RESERVED or CANVAS_NOT_ASSIGNMENT.search(header):
                    continue
                title = CANVAS_TITLE_ID.match(header)
                if same(header, name) or (title and same(title.group(1), name)):
                    found.append(i)
            if len(found) > 1:
                raise LMSExportError(f"{len(found)} columns of {roster.path} are {name!r} "
                                     f"({', '.join(roster.header[i] for i in found)}): name one exactly with --column")
            if found:
                return found[0], roster.header[found[0]]
    header = (column or str(spec.title)).strip()
    if not header or header in CANVAS_RESERVED or CANVAS_NOT_ASSIGNMENT.search(header):
        raise LMSExportError(f"Canvas would not import a column named {header!r} as an assignment; "
                             f"choose another --column")
    return None, header


def export_canvas(results_dir: Path, assignment: str, roster_path: Path, out: Path, *, column: str | None = None,
                  match: str | None = None) -> Export:
    """Write ``out``: Canvas's gradebook import CSV of ``assignment``'s grades in ``results_dir`` for the
    students of ``roster_path`` (Canvas's gradebook export)."""
    _not_the_roster(out, roster_path)
    results = _results(results_dir, assignment)
    spec = course.load_assignment(assignment)
    max_score = _max_score(results, assignment)
    roster = read_roster(roster_path)
    indices = {name: _column(roster, name) for name in CANVAS_STUDENT_COLUMNS}
    if indices["Student"] is None or indices["ID"] is None:
        raise LMSExportError(f"{roster.path} is not a Canvas gradebook export (no Student and ID columns; its "
                             f"columns: {', '.join(roster.header)})")
    points, students = None, []
    for line, row in zip(roster.lines, roster.rows):
        if "Points Possible" in row[0]:
            points = row
        elif not all(CANVAS_HIDDEN_CELL.match(cell) for cell in row):
            students.append((line, row))
    roster = Roster(roster.path, roster.header, [r for _, r in students], [n for n, _ in students], points)
    index = _match(roster, sorted(results), match, CANVAS_MATCH)
    existing, header = _canvas_column(roster, column, spec)
    done = Export("canvas", Path(out), header, roster.header[index], max_score, existing is not None)
    if existing is not None and points is not None and points[existing].strip():
        worth = points[existing].strip()
        if "read only" in worth:
            raise LMSExportError(f"{header} is read only in Canvas (a total, not an assignment); choose the "
                                 f"assignment's column with --column")
        try:
            differs = abs(float(worth.replace(",", ".")) - max_score) > 1e-9
        except ValueError:
            differs = True
        if differs:
            done.warnings.append(f"{header} is worth {worth} points in Canvas, the autograder's maximum is "
                                 f"{_number(max_score)}: the grades written are the autograder's points")

    def cell(row: list[str], name: str) -> str:
        return row[indices[name]] if indices[name] is not None else ""

    def display(row: list[str]) -> str:
        return f"{cell(row, 'Student').strip() or '?'} ({row[index].strip() or 'no ' + roster.header[index]})"

    grades, left = _grades(roster, results, index, display,
                           skip=lambda row: _key(cell(row, "Student")) in CANVAS_TEST_STUDENT)
    lines = [[*CANVAS_STUDENT_COLUMNS, header], [POINTS_POSSIBLE, "", "", "", "", _number(max_score)]]
    for row, student, grade in grades:
        lines.append([*(cell(row, name) for name in CANVAS_STUDENT_COLUMNS), grade])
        done.rows.append((student, row[index].strip(), grade))
    for name, value in left.items():
        setattr(done, name, value)
    _write_csv(out, lines)
    return done


def export_moodle(results_dir: Path, assignment: str, roster_path: Path, out: Path, *, column: str | None = None,
                  match: str | None = None) -> Export:
    """Write ``out``: a CSV for Moodle's "Import > CSV file" of ``assignment``'s grades in ``results_dir``
    for the students of ``roster_path`` (the grader report's export, or any CSV with an identifier column):
    the identifier column, named as in the roster, and one grade column (``column``, default the
    assignment's id)."""
    _not_the_roster(out, roster_path)
    results = _results(results_dir, assignment)
    max_score = _max_score(results, assignment)
    roster = read_roster(roster_path)
    index = _match(roster, sorted(results), match, MOODLE_MATCH)
    header = (column or assignment).strip()
    if not header:
        raise LMSExportError("--column: the grade column needs a name")
    if header == roster.header[index]:
        raise LMSExportError(f"--column {header!r} is the column students are matched by; choose another name")
    first, last = _column(roster, "First name"), _column(roster, "Last name")
    last = last if last is not None else _column(roster, "Surname")

    def display(row: list[str]) -> str:
        name = " ".join(row[i].strip() for i in (first, last) if i is not None and row[i].strip())
        identifier = row[index].strip() or f"no {roster.header[index]}"
        return f"{name} ({identifier})" if name else identifier

    grades, left = _grades(roster, results, index, display)
    done = Export("moodle", Path(out), header, roster.header[index], max_score)
    lines = [[roster.header[index], header]]
    for row, student, grade in grades:
        lines.append([row[index].strip(), grade])
        done.rows.append((student, row[index].strip(), grade))
    for name, value in left.items():
        setattr(done, name, value)
    _write_csv(out, lines)
    return done


def summary(done: Export) -> tuple[str, list[str]]:
    """(the line saying what was written, the lines naming what was left out), for the command line."""
    lms = "Canvas" if done.lms == "canvas" else "Moodle"
    what = ("an existing assignment" if done.existing else "a new assignment") if done.lms == "canvas" else \
        "map it to the grade item in Moodle's import preview"
    wrote = (f"wrote {done.path}: {len(done.rows)} students, column {done.column!r} ({what}; out of "
             f"{_number(done.max_score)}), matched by the roster's {done.match!r}; import it in {lms}")
    notes = [f"warning: {w}" for w in done.warnings]
    lists = [("not exported: grader error (the grade in the LMS is left as is; run grade-all again)",
              done.grader_errors),
             ("exported as 0: not gradable (the submission's fault)", done.not_gradable),
             ("not exported: several results match one roster student", done.conflicts),
             ("in the results but not in the roster (not exported)", done.missing_from_roster),
             ("in the roster without a submission (not in the file: the grade in the LMS is left as is)",
              done.without_submission)]
    notes += [f"{label} ({len(items)}): {', '.join(items)}" for label, items in lists if items]
    return wrote, notes
