"""A Gradescope autograder zip for one assignment: ``autograder export gradescope a4 --out a4-autograder.zip``.

Gradescope unpacks the zip into ``/autograder/source`` of an Ubuntu image and
runs its ``setup.sh`` there once, as root, when it builds the image; it then
copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it once
per submission, with the submission in ``/autograder/submission``, expecting
``/autograder/results/results.json``. The zip holds:

- ``setup.sh``: a virtual environment at ``/autograder/venv`` (CPU builds of
  torch and torchvision, then ``requirements.txt``), the engine installed
  from ``/autograder/source``, the unprivileged user ``student``, and
  :func:`prepare`: the data sets the assignment reads (CIFAR-10 for A4-A6,
  under ``/autograder/data``), their decoded cache, the backbone check (A6),
  and the installed engine closed to every user but root;
- ``run_autograder``: ``autograder grade`` of the submission with the public
  and hidden tests, student code running as ``student``;
- ``requirements.txt``: the course's dependencies pinned to the versions of
  the machine that exported the zip (the ones its thresholds were calibrated with);
- ``pyproject.toml``, ``README.md`` and the engine package ``autograder/``
  with this assignment's graders only.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib
import zipfile
from pathlib import Path

from autograder import course

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the image (Ubuntu 22.04 or 24.04), with this zip
# unpacked into /autograder/source. Python packages go into the virtual environment /autograder/venv
# (Ubuntu's Python refuses system-wide pip installs); run_autograder grades with its python.
set -euo pipefail
ASSIGNMENT=__ASSIGNMENT__
SOURCE=/autograder/source
VENV=/autograder/venv
export DEBIAN_FRONTEND=noninteractive

PYTHON=""
for version in 3.13 3.12 3.11; do
    if command -v "python$version" >/dev/null 2>&1; then PYTHON="python$version"; break; fi
done
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04 has Python 3.10; the engine needs 3.11 or newer
    apt-get update && apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    apt-get update && apt-get install -y "$PYTHON-venv"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --upgrade pip
# CPU builds: Gradescope has no GPU, and they are a fraction of the CUDA builds' size.
"$VENV/bin/pip" install --index-url https://download.pytorch.org/whl/cpu __TORCH__
"$VENV/bin/pip" install -r "$SOURCE/requirements.txt"
"$VENV/bin/pip" install -c "$SOURCE/requirements.txt" "$SOURCE"

id -u student >/dev/null 2>&1 || adduser --disabled-password --gecos "" student
chmod 755 /autograder "$VENV"
# Data sets, their cache, the backbone check, and the installed engine closed to every user but root.
"$VENV/bin/python" -c "from autograder.gradescope_export import prepare; prepare('$ASSIGNMENT', '/autograder')"
# The confinement of student code, checked now: on a kernel or image that cannot give it, the build stops
# here with what is missing, instead of every submission getting a grader error.
AUTOGRADER_STUDENT_USER=student "$VENV/bin/python" -m autograder isolation --require __REQUIRE__
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission, as root: it grades /autograder/submission (the uploaded
# files, or the one zip uploaded) with the public and hidden tests of __ASSIGNMENT__ and writes
# /autograder/results/results.json. Student code runs as the unprivileged user "student" (setup.sh).
# For the project's own test only: AUTOGRADER_GRADESCOPE_ROOT replaces /autograder,
# AUTOGRADER_GRADESCOPE_PYTHON the python of /autograder/venv, AUTOGRADER_STUDENT_USER the user "student"
# (set but empty: no separate user).
set -uo pipefail
ASSIGNMENT=__ASSIGNMENT__
ALLOW_ISOLATION="__ALLOW__"  # empty: refuse to grade below full isolation; "partial": accept it
ROOT="${AUTOGRADER_GRADESCOPE_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_GRADESCOPE_PYTHON:-$ROOT/venv/bin/python}"
export AUTOGRADER_STUDENT_USER="${AUTOGRADER_STUDENT_USER-student}"
export CIFAR10_ROOT="$ROOT/data/cifar10" AUTOGRADER_CACHE="$ROOT/cache"

chown root:root "$ROOT/source" && chmod 700 "$ROOT/source"
mkdir -p "$ROOT/results"
RESULTS="$ROOT/results/results.json"
rm -f "$RESULTS"
SUBMISSION="$ROOT/submission"
if [ -z "$(find "$SUBMISSION" -name '*.py' -print -quit 2>/dev/null)" ]; then
    zips=("$SUBMISSION"/*.zip)
    if [ "${#zips[@]}" -eq 1 ] && [ -f "${zips[0]}" ]; then SUBMISSION="${zips[0]}"; fi
fi
options=()
if [ -n "$ALLOW_ISOLATION" ]; then options=(--allow-isolation "$ALLOW_ISOLATION"); fi
errors="$(mktemp)"
cd "$ROOT"
"$PYTHON" -P -m autograder grade "$SUBMISSION" -a "$ASSIGNMENT" --json "$RESULTS" --error-json "$RESULTS" \
    "${options[@]}" 2>"$errors"
cat "$errors" >&2
if [ ! -s "$RESULTS" ]; then  # the engine writes a result even when it cannot grade; this is a crash
    "$PYTHON" -P - "$RESULTS" "$errors" <<'EOF'
import json, sys
lines = [line for line in open(sys.argv[2], encoding="utf-8", errors="replace").read().splitlines() if line.strip()]
reason = lines[-1] if lines else "grading stopped without a message"
# The student reads only that the problem is the grader's; the reason (often advice for the instructor)
# stays in extra_data and in the autograder output, which Gradescope shows to the staff.
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"score": 0.0, "output": "This submission could not be graded because of a problem of the grading "
               "machine, not of your submission. The course staff can see the details; please tell them.",
               "visibility": "visible", "stdout_visibility": "hidden", "tests": [],
               "extra_data": {"status": "error", "error": reason[-2000:]}}, out, indent=2)
EOF
fi
rm -f "$errors"
"""

README = """# {title} ({id}): Gradescope autograder

Generated by `autograder export gradescope {id}`. Gradescope unpacks this zip into
`/autograder/source`; `setup.sh` builds the image (a virtual environment at
`/autograder/venv`, the engine, the user `student`, the data the assignment reads
under `/autograder/data`), and `run_autograder` grades `/autograder/submission`
into `/autograder/results/results.json`, with student code running as `student`.
"""

TORCH_PACKAGES = ("torch", "torchvision")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]


def requirements(assignment: course.Assignment) -> list[str]:
    """The course's dependencies and the assignment's own, each pinned to the version installed here (its
    public part: ``2.14.1+cu130`` pins ``2.14.1``), or as declared where it is not installed."""
    project = tomllib.loads((course.PACKAGE_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))
    declared = [*project["project"]["dependencies"], *assignment.requirements]
    pinned, seen = [], set()
    for requirement in declared:
        name = _name(requirement)
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        try:
            pinned.append(f"{name}=={importlib.metadata.version(name).split('+')[0]}")
        except importlib.metadata.PackageNotFoundError:
            pinned.append(requirement.strip())
    return pinned


def engine_files(assignment_id: str) -> list[Path]:
    """The engine package's files for one assignment: no other assignment's graders, no caches."""
    package = course.PACKAGE_DIR
    files = []
    for folder, dirs, names in os.walk(package):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")
                         and not (here == course.GRADERS_DIR and d != assignment_id))
        files += [here / n for n in sorted(names) if not n.endswith((".pyc", ".pyo"))]
    return files


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(assignment_id: str, out_zip: str | Path, allow_isolation: str | None = None) -> Path:
    """Write the Gradescope autograder zip of ``assignment_id`` to ``out_zip``; return its path.
    ``allow_isolation="partial"`` lets run_autograder grade where the image confines student code only partly."""
    assignment = course.load_assignment(assignment_id)
    if allow_isolation not in (None, "partial", "none"):
        raise course.CourseError(f"allow_isolation must be partial or none, got {allow_isolation!r}")
    pins = requirements(assignment)
    torch = " ".join(p for p in pins if _name(p) in TORCH_PACKAGES)
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = out_zip.with_name(f".{out_zip.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(partial, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.replace("__ASSIGNMENT__", assignment_id)
             .replace("__TORCH__", torch)
             .replace("__REQUIRE__", allow_isolation or "full").encode(), 0o755)
        _add(archive, "run_autograder", RUN_AUTOGRADER.replace("__ASSIGNMENT__", assignment_id)
             .replace("__ALLOW__", allow_isolation or "").encode(), 0o755)
        _add(archive, "requirements.txt", "".join(f"{p}\n" for p in pins).encode())
        _add(archive, "README.md", README.format(title=assignment.title, id=assignment_id).encode())
        _add(archive, "pyproject.toml", (course.PACKAGE_DIR.parent / "pyproject.toml").read_bytes())
        for path in engine_files(assignment_id):
            _add(archive, path.relative_to(course.PACKAGE_DIR.parent).as_posix(), path.read_bytes())
    os.replace(partial, out_zip)
    return out_zip


# -- on the Gradescope image: what setup.sh runs once the engine is installed ------------------------
def lock_engine(package: Path) -> None:
    """Close the installed engine to every user but root, except what student code may import
    (``runner.isolation.STUDENT_MODULES``): the folder stays listable, those modules readable."""
    from autograder.runner.isolation import STUDENT_MODULES

    for folder, dirs, names in os.walk(package):
        os.chmod(folder, 0o700)
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)
    os.chmod(package, 0o755)
    for name in STUDENT_MODULES:
        if (package / name).is_file():
            os.chmod(package / name, 0o644)


def prepare(assignment_id: str, root: str | Path = "/autograder") -> None:
    """Fetch and decode the data sets the assignment reads (under ``root/data``, cache ``root/cache``), check
    its backbone, then lock the installed engine (:func:`lock_engine`). For the Gradescope image only."""
    if course.repo_root() is not None:
        raise course.CourseError("prepare locks the installed engine; it runs on the Gradescope image, "
                                 "not in the course repository")
    assignment = course.load_assignment(assignment_id)
    root = Path(root)
    private = [root / "data", root / "cache"]
    for folder in private:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    if "cifar10" in assignment.datasets:
        from autograder import data

        for split in data.SPLITS:
            data.load_cifar10(split, root=root / "data" / "cifar10", download=True, cache=root / "cache",
                              progress=False)
        (root / "data" / "cifar10" / "cifar-10-python.tar.gz").unlink(missing_ok=True)
    if any("efficientnet-lite0" in r for r in assignment.requirements):
        from autograder import backbones

        backbones.load_backbone(backbones.OFFLINE)
    lock_engine(course.PACKAGE_DIR)
