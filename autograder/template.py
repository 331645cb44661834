"""Generate ``student_template/`` from ``solutions/`` with nbgrader's solution stripping.

Every ``.py`` file under ``solutions/<assignment>/`` is wrapped in a one-cell
notebook and passed through nbgrader's ``ClearSolutions`` preprocessor, so a
region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
nbgrader's stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) with
the region's indentation, exactly as in a released notebook. Other files are
copied unchanged.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearSolutions

from autograder.course import CourseError, repo_root

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def strip_solutions(source: str) -> str:
    """``source`` with every solution region replaced by nbgrader's code stub."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    try:
        stripped, _ = ClearSolutions(enforce_metadata=False).preprocess(notebook, {})
    except RuntimeError as exc:  # unbalanced or nested markers
        raise CourseError(f"cannot strip solutions: {exc}") from exc
    return stripped.cells[0].source


def solution_lines(source: str) -> set[str]:
    """Distinctive lines inside solution regions: the ones that must never reach students.

    A line counts when it is not blank, not a comment, at least 12 characters
    long once stripped, and does not also appear outside the regions.
    """
    inside, outside, in_region = set(), set(), False
    for line in source.splitlines():
        text = line.strip()
        if BEGIN in text:
            in_region = True
        elif END in text:
            in_region = False
        elif in_region:
            inside.add(text)
        else:
            outside.add(text)
    return {t for t in inside - outside if len(t) >= 12 and not t.startswith("#")}


def _root() -> Path:
    root = repo_root()
    if root is None:
        raise CourseError("solutions/ is not here: templates are generated in the course repository")
    return root


def expected_files(root: Path | None = None) -> dict[Path, bytes]:
    """What ``student_template/`` must contain, path relative to it -> bytes."""
    root = root or _root()
    files = {}
    for path in sorted((root / "solutions").rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(root / "solutions")
        data = path.read_bytes()
        if path.suffix == ".py":
            data = strip_solutions(data.decode("utf-8")).encode("utf-8")
        files[relative] = data
    return files


def sync(check_only: bool = False) -> list[Path]:
    """Make ``student_template/`` match ``solutions/``; returns the paths that differ(ed)."""
    root = _root()
    target = root / "student_template"
    wanted = expected_files(root)
    present = {p.relative_to(target) for p in target.rglob("*") if p.is_file() and "__pycache__" not in p.parts} \
        if target.exists() else set()
    changed = sorted({p for p, data in wanted.items() if not (target / p).is_file()
                      or (target / p).read_bytes() != data} | (present - set(wanted)))
    if not check_only:
        for relative in changed:
            path = target / relative
            if relative in wanted:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(wanted[relative])
            else:
                path.unlink()
    return [Path("student_template") / p for p in changed]
