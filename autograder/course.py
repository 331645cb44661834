"""Where the course's pieces live, and each assignment's grading configuration.

Every assignment ``aN`` has a folder ``autograder/graders/aN/`` with:

- ``assignment.toml``: title (``title`` in English, ``title_es`` in Spanish), student modules,
  tasks (each with ``title`` and ``title_es``), limits, thresholds,
  ``requirements``: packages its students need beyond the course's usual ones,
  and ``datasets``: the data sets its notebook and graders read (``cifar10``);
- ``public/``: grader tests shipped to students, with ``points.toml``;
- ``hidden/``: grader tests that never leave the instructors, with ``points.toml``.

``points.toml`` maps a test function's name to its points; the cases of a
parametrized test share them equally. A grader test's docstring gives its title: the first line
in English, and a line ``es: <título>`` in Spanish (:func:`docstring_title`). Assignments with a training budget
also have ``[budget]`` and ``[calibration]`` tables in ``assignment.toml``
and a ``calibration.toml`` written by ``autograder calibrate``.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # student code may import this module (backbones.py), but never autograder.feedback
    from autograder.feedback import T

PACKAGE_DIR = Path(__file__).resolve().parent
GRADERS_DIR = PACKAGE_DIR / "graders"
SUITES = ("public", "hidden")


class CourseError(Exception):
    """A problem the grader cannot work around (unknown assignment, bad config)."""


def repo_root() -> Path | None:
    """The course repository holding this package, or None in a student release."""
    root = PACKAGE_DIR.parent
    return root if (root / "solutions").is_dir() and (root / "assignments").is_dir() else None


SPANISH_TITLE = "es:"  # a grader test's docstring line that gives its Spanish title


def docstring_title(docstring: str | None, fallback: str) -> T:
    """A grader test's title from its docstring: the first paragraph in English, the text after ``es:`` on a line
    of its own in Spanish (the English one where there is none); ``fallback`` (its name) without a docstring::

        def test_conv_deck_examples(conv):
            \"\"\"conv_output_size reproduces the deck's worked examples
            es: conv_output_size reproduce los ejemplos resueltos de las transparencias
            \"\"\"
    """
    from autograder.feedback import T

    lines = [line.strip() for line in (docstring or "").strip().splitlines()]
    if not lines:
        return T(fallback, fallback)
    spanish = next((line[len(SPANISH_TITLE):].strip() for line in lines[1:] if line.startswith(SPANISH_TITLE)), "")
    english = []  # the first paragraph: a title too long for one line goes on over the next ones
    for line in lines:
        if not line or line.startswith(SPANISH_TITLE):
            break
        english.append(line)
    english = " ".join(english)
    return T(english, spanish or english)


def _title(spec: dict, where: str) -> T:
    """``title`` and ``title_es`` of an assignment or task table, as one bilingual text."""
    from autograder.feedback import T

    try:
        english = str(spec["title"])
    except KeyError:
        raise CourseError(f"{where} has no title") from None
    return T(english, str(spec.get("title_es") or english))


@dataclass(frozen=True)
class Task:
    id: str
    title: T  # str() gives it in the language in force
    functions: tuple[str, ...]


@dataclass(frozen=True)
class Assignment:
    id: str
    title: T  # str() gives it in the language in force
    modules: tuple[str, ...]
    tasks: dict[str, Task]
    test_timeout: float  # CPU seconds of the student process per test
    total_timeout: float  # wall-clock seconds for the whole submission
    memory_mb: int
    visibility: dict[str, str]
    wall_factor: float = 4.0  # a test's wall-clock backstop, as a multiple of test_timeout
    threads: int = 1  # OMP/MKL/OpenBLAS threads of the student process
    trusted_threads: int = 0  # PyTorch intra-op threads of the trusted grading process while it grades (0: default)
    preload: tuple[str, ...] = ("numpy",)  # libraries the student process imports before any student code
    budget: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    proof: dict = field(default_factory=dict)  # how a training run's record is checked (training_proof)
    requirements: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()

    @property
    def graders_dir(self) -> Path:
        return GRADERS_DIR / self.id

    def suite_dir(self, suite: str) -> Path:
        return self.graders_dir / suite

    def has_suite(self, suite: str) -> bool:
        return (self.suite_dir(suite) / "points.toml").is_file()

    @property
    def calibration_file(self) -> Path:
        return self.graders_dir / "calibration.toml"

    @property
    def curves_file(self) -> Path:
        return self.graders_dir / "reference_curves.json"

    def reference_curves(self) -> dict[str, dict[str, list[float]]]:
        """The reference solution's per-epoch history of each graded training run (mean over the calibration
        seeds), written by ``autograder calibrate``; {} if never written."""
        import json

        try:
            return json.loads(self.curves_file.read_text(encoding="utf-8"))["runs"]
        except (OSError, ValueError, KeyError):
            return {}

    def calibrated(self) -> dict:
        """What ``autograder calibrate`` measured (threshold included), or {} if never run."""
        return _read_toml(self.calibration_file) if self.calibration_file.is_file() else {}

    def points(self, suite: str) -> dict[str, float]:
        """Points of each test function of ``suite`` (name -> points)."""
        path = self.suite_dir(suite) / "points.toml"
        if not path.is_file():
            return {}
        return {str(k): float(v) for k, v in _read_toml(path).items()}


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CourseError(f"cannot read {path}: {exc}") from exc


def available_assignments() -> list[str]:
    return sorted(p.parent.name for p in GRADERS_DIR.glob("*/assignment.toml"))


def load_assignment(assignment_id: str) -> Assignment:
    """Read ``graders/<id>/assignment.toml``; unknown ids name the known ones."""
    path = GRADERS_DIR / assignment_id / "assignment.toml"
    if not path.is_file():
        known = ", ".join(available_assignments()) or "none"
        raise CourseError(f"unknown assignment {assignment_id!r} (available: {known})")
    data = _read_toml(path)
    limits = data.get("limits", {})
    tasks = {
        str(task_id): Task(str(task_id), _title(spec, f"task {task_id} of {path}"), tuple(spec.get("functions", ())))
        for task_id, spec in data.get("tasks", {}).items()
    }
    return Assignment(
        id=assignment_id,
        title=_title(data, str(path)),
        modules=tuple(data["modules"]),
        tasks=tasks,
        test_timeout=float(limits.get("test_timeout", 60)),
        total_timeout=float(limits.get("total_timeout", 900)),
        memory_mb=int(limits.get("memory_mb", 6144)),
        wall_factor=float(limits.get("wall_factor", 4.0)),
        threads=int(limits.get("threads", 1)),
        trusted_threads=int(limits.get("trusted_threads", 0)),
        preload=tuple(data.get("sandbox", {}).get("preload", ("numpy",))),
        visibility={"public": "visible", "hidden": "after_published", **data.get("visibility", {})},
        budget=data.get("budget", {}),
        calibration=data.get("calibration", {}),
        proof=data.get("proof", {}),
        requirements=tuple(data.get("requirements", ())),
        datasets=tuple(data.get("datasets", ())),
    )
