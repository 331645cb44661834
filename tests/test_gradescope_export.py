"""`autograder export gradescope`: the zip's contents, then its run_autograder end to end in a stand-in
for /autograder: full marks for the reference, and student code running as a separate user that cannot
read the autograder's source."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import course, gradescope_export
from autograder.runner import isolation

ROOT = Path(__file__).resolve().parents[1]
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
A1 = course.load_assignment("a1")
FULL_MARKS = sum(A1.points("public").values()) + sum(A1.points("hidden").values())
HIDDEN_TEST = "autograder/graders/a1/hidden/test_a1_hidden.py"


@pytest.fixture(scope="module")
def a1_zip(tmp_path_factory) -> Path:
    return gradescope_export.build("a1", tmp_path_factory.mktemp("export") / "a1-autograder.zip")


def test_zip_holds_the_scripts_and_only_a1s_graders(a1_zip):
    with zipfile.ZipFile(a1_zip) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        names = set(infos)
        for script in ("setup.sh", "run_autograder"):
            assert infos[script].external_attr >> 16 & 0o111 == 0o111, f"{script} is not executable"
            assert archive.read(script).startswith(b"#!/usr/bin/env bash\n")
        assert {"pyproject.toml", "requirements.txt", "README.md", "autograder/__init__.py",
                "autograder/runner/warden.py", "autograder/sandbox/worker.py"} <= names
        graders = {n.split("/")[2] for n in names if n.startswith("autograder/graders/")}
        # the modules shared by the graders (the training assignments' trusted evaluation among them) go to every zip
        assert graders == {"a1", "cifar_checks.py", "cifar_oracles.py", "pytest.ini", "trusted_models.py",
                           "training_proof.py"}
        shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "autograder/graders/a1").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert shipped <= names and HIDDEN_TEST in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert not [n for n in names if n.split("/")[0] in ("solutions", "student_template", "assignments", "tests")]
        pins = archive.read("requirements.txt").decode().split()
        assert [p for p in pins if p.startswith("torch==")] and [p for p in pins if p.startswith("torchvision==")]
        run = archive.read("run_autograder").decode()
        assert "ASSIGNMENT=a1\n" in run and "AUTOGRADER_GRADESCOPE_ROOT" in run
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(a1_zip) as archive:
            checked = subprocess.run(["bash", "-n"], input=archive.read(script), capture_output=True)
        assert checked.returncode == 0, checked.stderr.decode()


def test_unknown_assignment_is_refused(tmp_path):
    with pytest.raises(course.CourseError, match="unknown assignment 'a9'"):
        gradescope_export.build("a9", tmp_path / "a9.zip")
    assert not list(tmp_path.iterdir())


def test_lock_engine_leaves_only_the_student_modules_readable(tmp_path):
    package = tmp_path / "autograder"
    shutil.copytree(ROOT / "autograder", package, ignore=shutil.ignore_patterns("graders", "__pycache__"))
    gradescope_export.lock_engine(package)
    readable = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.stat().st_mode & 0o004)
    assert readable == sorted(isolation.STUDENT_MODULES)
    assert package.stat().st_mode & 0o755 == 0o755 and (package / "runner").stat().st_mode & 0o077 == 0


# -- end to end: run_autograder in a stand-in for /autograder ----------------------------------------
def _needs_root_and_full_isolation():
    if os.geteuid() != 0:
        pytest.skip("needs root: run_autograder chowns the source folder and starts student code as another user")
    found = isolation.probe()
    if not found.at_least("full"):
        pytest.skip(f"needs full isolation of the student process; this machine offers {found.describe()}")


def _student_user(monkeypatch, name: str) -> int | None:
    """The uid of ``name``, or skip visibly when it cannot run this interpreter (a pyenv under /root)."""
    if not name:
        return None
    monkeypatch.setenv(isolation.USER_VARIABLE, name)
    try:
        return isolation.student_user(True)[1]
    except isolation.IsolationError as exc:
        pytest.skip(str(exc))


def _autograder_root(a1_zip: Path, root: Path, submission: dict[str, str], as_zip: bool = False) -> Path:
    """``root`` laid out as Gradescope lays out /autograder: source/ (the zip), run_autograder, submission/."""
    with zipfile.ZipFile(a1_zip) as archive:
        archive.extractall(root / "source")
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if as_zip:
        with zipfile.ZipFile(root / "submission" / "a1.zip", "w") as archive:
            for name, text in submission.items():
                archive.writestr(f"a1/{name}", text)
    else:
        for name, text in submission.items():
            (root / "submission" / name).write_text(text, encoding="utf-8")
    return root


def _run_autograder(root: Path, user: str) -> dict:
    env = dict(os.environ, AUTOGRADER_GRADESCOPE_ROOT=str(root), AUTOGRADER_GRADESCOPE_PYTHON=sys.executable,
               AUTOGRADER_STUDENT_USER=user, PYTHONPATH=str(root / "source"))  # the zip's engine, not this one
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (root / "source").stat().st_mode & 0o777 == 0o700
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("user, as_zip", [("", False), ("nobody", True)], ids=["root-folder", "nobody-zip"])
def test_run_autograder_gives_the_reference_full_marks(a1_zip, tmp_path, monkeypatch, user, as_zip):
    _needs_root_and_full_isolation()
    uid = _student_user(monkeypatch, user)
    reference = (ROOT / "solutions" / "a1" / "conv_arithmetic.py").read_text(encoding="utf-8")
    root = _autograder_root(a1_zip, tmp_path, {"conv_arithmetic.py": reference}, as_zip=as_zip)
    results = _run_autograder(root, user)
    assert results["score"] == FULL_MARKS, results["output"]
    assert sum(t["max_score"] for t in results["tests"]) == FULL_MARKS
    assert results["visibility"] in VISIBILITIES
    for test in results["tests"]:
        assert {"name", "score", "max_score", "visibility"} <= set(test)
        assert test["visibility"] in VISIBILITIES
    assert {t["visibility"] for t in results["tests"]} == {A1.visibility["public"], A1.visibility["hidden"]}
    if uid is not None:
        assert f"separate user {user} (uid {uid})" in results["output"]


SPY = '''
import os

HIDDEN = {hidden!r}


def _who():
    try:
        with open(HIDDEN, "rb") as handle:
            seen = repr(handle.read(40))
    except OSError as exc:
        seen = "refused: " + type(exc).__name__
    return f"uid={{os.getuid()}} read={{seen}}"


def conv_output_size(*args, **kwargs):
    raise RuntimeError(_who())


pool_output_size = same_padding = conv2d_num_params = linear_num_params = trace_shapes = conv_output_size
'''


@pytest.mark.slow
def test_student_code_runs_as_the_student_user_and_cannot_read_the_source(a1_zip, tmp_path, monkeypatch):
    _needs_root_and_full_isolation()
    uid = _student_user(monkeypatch, "nobody")
    hidden = tmp_path / "source" / HIDDEN_TEST
    root = _autograder_root(a1_zip, tmp_path, {"conv_arithmetic.py": SPY.format(hidden=str(hidden))})
    first_bytes = hidden.read_bytes()[:40]
    results = _run_autograder(root, "nobody")
    outputs = [t.get("output", "") for t in results["tests"]]
    text = "\n".join(outputs)
    assert f"uid={uid}" in text and uid == pwd.getpwnam("nobody").pw_uid != 0
    assert "uid=0 " not in text
    assert "refused: PermissionError" in text
    assert repr(first_bytes) not in text and "read=b'" not in text
    assert results["score"] == 0


@pytest.mark.slow
def test_a_submission_without_modules_gets_a_result_saying_why(a1_zip, tmp_path):
    _needs_root_and_full_isolation()
    root = _autograder_root(a1_zip, tmp_path, {"notes.txt": "nothing here\n"})
    results = _run_autograder(root, "")
    assert results["score"] == 0 and results["tests"] == []
    assert "could not be graded" in results["output"] and "conv_arithmetic.py" in results["output"]


@pytest.mark.slow
def test_a_grader_problem_shows_the_student_no_advice_meant_for_the_instructor(a1_zip, tmp_path, monkeypatch):
    """Below the required isolation the engine refuses to grade, naming --allow-isolation: that reaches the
    staff (extra_data, the autograder output), while the student reads only that the machine is at fault."""
    _needs_root_and_full_isolation()
    root = _autograder_root(a1_zip, tmp_path, {"conv_arithmetic.py": (ROOT / "solutions/a1/conv_arithmetic.py")
                                               .read_text(encoding="utf-8")})
    monkeypatch.setenv(isolation.CAP_VARIABLE, "partial")
    results = _run_autograder(root, "")
    assert results["score"] == 0 and results["tests"] == []
    assert "problem of the grading machine" in results["output"] and "isolation" not in results["output"]
    assert "--allow-isolation partial" in results["extra_data"]["error"]


def test_setup_sh_stops_the_image_build_below_the_required_isolation(a1_zip):
    with zipfile.ZipFile(a1_zip) as archive:
        setup = archive.read("setup.sh").decode()
    assert "-m autograder isolation --require full" in setup
    done = subprocess.run([sys.executable, "-m", "autograder", "isolation", "--require", "full"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, isolation.CAP_VARIABLE: "partial"})
    assert done.returncode == 1 and "not full (missing:" in done.stderr and "isolation: partial" in done.stdout
