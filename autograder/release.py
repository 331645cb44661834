"""The student release of an assignment: nbgrader's notebook, the template, public tests, the engine.

Steps, in order:

1. ``nbgrader generate_assignment`` in a scratch copy of ``assignments/``
   (so no gradebook or release folder is left in the repository); the tasks' ``grader.check`` cells,
   grade cells in the source (:mod:`autograder.nbgrader_gradebook`), stay locked but carry no points.
   When ``out`` is an nbgrader course's own release folder, ``COURSE/release/<id>`` (COURSE holding an
   ``nbgrader_config.py``), it runs there instead (``--force``: the folder is made anew), the course's
   gradebook records the notebook with the checksums of the cells as released, and ``nbgrader
   release_assignment`` then carries the whole release to the students;
2. the generated modules of ``student_template/<id>/`` (refused if stale);
3. a copy of the engine holding only what this assignment's public graders need
   (:func:`shipped_modules`), so ``python -m autograder check <id>`` works in the release folder;
4. ``tests/<task>.py``: Otter-Grader test files for the notebook's ``grader.check`` cells
   (:mod:`autograder.notebook`);
5. a leak check: no solution line and no hidden test name in any file.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder import course, nbgrader_gradebook, notebook, template
from autograder.course import CourseError

STUDENT_README = """# {id}: {title}

1. Install the tools once, in a virtual environment (Python 3.11 or newer):

       python3 -m venv .venv && source .venv/bin/activate
       pip install -r requirements.txt

   On Linux, plain `pip` takes PyTorch's CUDA build, about 4 GB more on disk (NVIDIA's libraries and
   Triton). Without an NVIDIA GPU (most laptops), run these two lines instead (CPU-only PyTorch, then the rest):

       pip install "torch>=2.14,<2.15" "torchvision>=0.29,<0.30" --index-url https://download.pytorch.org/whl/cpu
       pip install -r requirements.txt

   With uv instead of pip: `uv pip install -r requirements.txt --torch-backend cpu`. On macOS and Windows,
   PyPI's PyTorch has no CUDA libraries: `pip install -r requirements.txt` alone is enough there.
{data}
2. Open `{notebook}` (`jupyter lab` in this folder) and follow it; write your code in the `.py` module(s)
   here, where it says `# YOUR CODE HERE`. Keep function names and signatures.
3. Check your work with the public tests. In the notebook, each task has a `grader.check("<task>")` cell
   (Otter-Grader) that grades your `.py` module(s) as saved now; `grader.check_all()` runs them all, and
   `FEEDBACK_LANGUAGE = "es"` in the first cell gives the feedback in Spanish. In a terminal, in this folder:

       python -m autograder check {id}
       python -m autograder check {id} --lang es   # comentarios en español

   Each failed test tells you what was expected, what your code returned and a hint.
   More (hidden) tests run when your submission is graded.
4. Submit the zip that the notebook's last cell, `grader.export(...)`, writes: the notebook and your module(s).
"""

CIFAR10_README = """
   This assignment uses the real CIFAR-10 (170 MB). Either let torchvision download it once, online:

       python -c "from autograder.data import load_cifar10; load_cifar10('train', download=True); load_cifar10('test', download=True)"

   or point `CIFAR10_ROOT` at a copy you already have (torchvision's `cifar-10-batches-py`, or an image
   folder with `train/<class>/` and `test/<class>/`) before you start Jupyter:

       export CIFAR10_ROOT=/path/to/cifar10
"""

# The notebooks, the checks and Jupyter; torch and torchvision in the range the thresholds were calibrated on.
REQUIREMENTS = ("torch>=2.14,<2.15\ntorchvision>=0.29,<0.30\nnumpy\npytest\nhypothesis\nclick\nrich\nmatplotlib\n"
                "jupyterlab\nipykernel\notter-grader>=6,<8\n")


def hidden_test_names(assignment: course.Assignment) -> set[str]:
    """Names of the hidden test functions (from their source, without importing them)."""
    names = set(assignment.points("hidden"))
    for path in assignment.suite_dir("hidden").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}
    return names


ENGINE_LINE_MIN = 40  # in shipped engine and public grader code, only long solution lines count


def find_leaks(folder: Path, assignment: course.Assignment, root: Path) -> list[str]:
    """Solution lines and hidden test names found in the text files under ``folder``.

    Generated student files (modules, notebooks, README) must contain no
    solution line at all. The shipped engine and public graders (under
    ``autograder/``) legitimately use the idioms the statement asks for
    (``model.eval()``, ``torch.manual_seed(seed)``), so there only solution
    lines of at least ENGINE_LINE_MIN characters count. Hidden test names
    count everywhere.
    """
    secrets = set()
    for solution in (root / "solutions" / assignment.id).rglob("*.py"):
        secrets |= template.solution_lines(solution.read_text(encoding="utf-8"))
    long_secrets = {line for line in secrets if len(line) >= ENGINE_LINE_MIN}
    names = hidden_test_names(assignment)
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines = {line.strip() for line in text.splitlines()}
        rel = path.relative_to(folder)
        shown = long_secrets if rel.parts[0] == "autograder" else secrets
        leaks += [f"{rel}: solution line {line!r}" for line in sorted(shown & lines)]
        leaks += [f"{rel}: hidden test name {name!r}" for name in sorted(names) if name in text]
    return leaks


def _run_generate_assignment(assignment_id: str, course_dir: Path) -> Path:
    """``nbgrader generate_assignment <id> --force`` in ``course_dir`` (with this interpreter's bin folder on
    PATH: nbgrader runs ``alembic`` to make a new gradebook); returns ``release/<id>``."""
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment_id, "--force"],
                          cwd=course_dir, env=env, capture_output=True, text=True)
    released = course_dir / "release" / assignment_id
    if done.returncode != 0 or not released.is_dir():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CourseError(f"nbgrader generate_assignment {assignment_id} failed in {course_dir}: {last[0]}")
    return released


def _generate_notebooks(assignment_id: str, root: Path, scratch: Path) -> Path:
    course_dir = scratch / "course"
    shutil.copytree(root / "assignments", course_dir,
                    ignore=shutil.ignore_patterns("release", "submitted", "autograded", "feedback",
                                                  "gradebook.db", ".ipynb_checkpoints", "__pycache__"))
    if not (course_dir / "source" / assignment_id).is_dir():
        raise CourseError(f"assignments/source/{assignment_id}/ does not exist")
    released = _run_generate_assignment(assignment_id, course_dir)
    for path in released.glob("*.ipynb"):
        nbgrader_gradebook.ungrade_task_cells(path)
    return released


def nbgrader_course(out: Path, assignment_id: str) -> Path | None:
    """The nbgrader course directory whose release folder of ``assignment_id`` is ``out``
    (``COURSE/release/<id>``, COURSE holding an ``nbgrader_config.py``), or None."""
    out = Path(out).resolve()
    course_dir = out.parent.parent
    if out.name != assignment_id or out.parent.name != "release" or not (course_dir / "nbgrader_config.py").is_file():
        return None
    return course_dir


def _generate_in_course(assignment_id: str, root: Path, course_dir: Path) -> Path:
    """The release folder of ``assignment_id`` in nbgrader course ``course_dir``, made by ``nbgrader
    generate_assignment`` there (its gradebook then knows the notebook); the source notebook is the course's
    ``source/<id>/``, copied from ``assignments/source/<id>/`` if the course has none."""
    source = course_dir / "source" / assignment_id
    if not source.is_dir():
        if not (root / "assignments" / "source" / assignment_id).is_dir():
            raise CourseError(f"assignments/source/{assignment_id}/ does not exist")
        shutil.copytree(root / "assignments" / "source" / assignment_id, source,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _run_generate_assignment(assignment_id, course_dir)
    return nbgrader_gradebook.ungrade_release(course_dir, assignment_id)


# Engine modules that only the course repository needs: they build releases, calibrate thresholds (calibration
# trains the reference), grade a class and export autograders (cli imports them inside the instructor commands).
INSTRUCTOR_ONLY = {"autograder.release", "autograder.template", "autograder.calibrate", "autograder.answer_audit",
                   "autograder.nbgrader_gradebook", "autograder.batch", "autograder.pages",
                   "autograder.gradescope_export", "autograder.lms_export", "autograder.review"}


def _module_file(name: str) -> Path | None:
    """The file of engine module ``name`` (``autograder.x.y``), or None if it is not a module of the package."""
    base = course.PACKAGE_DIR.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Engine modules that the source of ``path`` (module ``name``) imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] == "autograder" and _module_file(m) is not None}


def shipped_modules(assignment: course.Assignment) -> dict[str, Path]:
    """Engine modules a release of ``assignment`` needs, name -> file: everything that the command line, the
    public graders, their fixtures and the student process's helpers import, transitively, and no more.
    Hidden graders, calibration, trusted oracles that only they use, other assignments' graders: absent."""
    graders = f"autograder.graders.{assignment.id}"
    roots = ["autograder", "autograder.__main__", "autograder.cli", "autograder.notebook", "autograder.runner.plugin",
             "autograder.runner.warden",  # started by name (channel.WARDEN_BOOT)
             "autograder.sandbox.worker", "autograder.sandbox.helpers.common", "autograder.data",
             "autograder.repro", "autograder.backbones", f"autograder.sandbox.helpers.{assignment.id}",
             f"{graders}.conftest"]
    roots += [f"{graders}.public.{p.stem}" for p in assignment.suite_dir("public").glob("*.py")]
    shipped: dict[str, Path] = {}
    pending = [r for r in roots if _module_file(r) is not None]
    while pending:
        name = pending.pop()
        if name in shipped or name in INSTRUCTOR_ONLY:
            continue
        shipped[name] = _module_file(name)
        pending += sorted(_imports(shipped[name], name))
        parent = name.rpartition(".")[0]
        if parent and _module_file(parent) is not None:
            pending.append(parent)  # a package's __init__ runs before its modules
    return shipped


def _copy_engine(assignment: course.Assignment, out: Path) -> None:
    """The shipped engine modules, plus the data files of the public graders (points, reference cases)."""
    package = course.PACKAGE_DIR.parent
    files = set(shipped_modules(assignment).values())
    files |= {course.GRADERS_DIR / "pytest.ini", assignment.graders_dir / "assignment.toml"}
    files |= {p for p in assignment.suite_dir("public").iterdir() if p.is_file() and p.suffix != ".pyc"}
    for path in sorted(files):
        target = out / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def build(assignment_id: str, out: Path) -> list[Path]:
    """Write the student release of ``assignment_id`` to ``out``; returns the files written."""
    assignment = course.load_assignment(assignment_id)
    root = course.repo_root()
    if root is None:
        raise CourseError("releases are built in the course repository (solutions/ and assignments/ are needed)")
    out = Path(out)
    course_dir = nbgrader_course(out, assignment_id)
    if course_dir is None and out.exists() and any(out.iterdir()):
        raise CourseError(f"{out} exists and is not empty; choose a new folder")
    stale = template.sync(check_only=True)
    if stale:
        raise CourseError(f"student_template/ is out of date ({stale[0]}); run `autograder generate` first")
    if course_dir is not None:  # nbgrader's own release folder: release_assignment carries all of it
        _generate_in_course(assignment_id, root, course_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="autograder-release-") as scratch:
            released = _generate_notebooks(assignment_id, root, Path(scratch))
            out.mkdir(parents=True, exist_ok=True)
            shutil.copytree(released, out, dirs_exist_ok=True)
    shutil.copytree(root / "student_template" / assignment_id, out, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    _copy_engine(assignment, out)
    notebook.write_otter_tests(assignment, out)
    notebooks = sorted(p.name for p in out.glob("*.ipynb"))
    (out / "README.md").write_text(STUDENT_README.format(
        id=assignment.id, title=assignment.title, notebook=", ".join(notebooks) or "the notebook",
        data=CIFAR10_README if "cifar10" in assignment.datasets else ""), encoding="utf-8")
    (out / "requirements.txt").write_text(REQUIREMENTS + "".join(f"{r}\n" for r in assignment.requirements),
                                          encoding="utf-8")
    leaks = find_leaks(out, assignment, root)
    if leaks:
        shutil.rmtree(out)
        raise CourseError(f"release refused, it would leak: {leaks[0]} ({len(leaks)} in all)")
    return sorted(p for p in out.rglob("*") if p.is_file())
