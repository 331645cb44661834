"""The released lab notebooks, run headless as a student would (nbclient), with Otter's checks in them.

Each release is executed twice, training in quick mode (A4_QUICK, A5_QUICK, A6_QUICK): with the reference
modules every ``grader.check`` passes; with the untouched template each check reports "not implemented" for
its own task and the notebook still runs to its last cell (``grader.export``), as "Run all" with errors
allowed would. The export zip is a submission ``autograder grade`` accepts.
"""
from __future__ import annotations

import re
import shutil
import zipfile

import nbformat
import pytest

from autograder import course, notebook, release
from conftest import ROOT

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("otter")
pytest.importorskip("ipykernel")

CHECK = re.compile(r'^grader\.check\("([0-9.]+)"\)$')
QUICK = {"A4_QUICK": "1", "A5_QUICK": "1", "A6_QUICK": "1"}


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """assignment -> a fresh release folder (built once per module; each test copies it)."""
    built = {}

    def get(assignment_id):
        if assignment_id not in built:
            built[assignment_id] = tmp_path_factory.mktemp("release") / assignment_id
            release.build(assignment_id, built[assignment_id])
        return built[assignment_id]
    return get


def execute(folder, monkeypatch):
    """Run the folder's notebook like "Run all" (errors allowed) in a kernel started in the folder."""
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    (path,) = folder.glob("*.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def text_of(cell) -> str:
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") or
                     f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs)


def checks(nb) -> dict[str, str]:
    """task -> the output of its grader.check cell."""
    found = {}
    for cell in nb.cells:
        match = CHECK.match(cell.source.strip()) if cell.cell_type == "code" else None
        if match:
            found[match.group(1)] = text_of(cell)
    return found


def errors(nb) -> list[tuple[str, str]]:
    return [(o.ename, cell.source.splitlines()[0]) for cell in nb.cells if cell.cell_type == "code"
            for o in cell.outputs if o.output_type == "error"]


def test_every_notebook_starts_with_otter_and_checks_every_task_after_using_it():
    for assignment_id in course.available_assignments():
        assignment = course.load_assignment(assignment_id)
        (path,) = (ROOT / "assignments" / "source" / assignment_id).glob("*.ipynb")
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert "otter.Notebook(" in cells[0].source and "FEEDBACK_LANGUAGE" in cells[0].source, assignment_id
        checked = [CHECK.match(c.source.strip()).group(1) for c in cells if CHECK.match(c.source.strip())]
        assert sorted(checked) == sorted(notebook.public_tests(assignment)) == sorted(assignment.tasks), assignment_id
        assert cells[-2].source == "grader.check_all()" and cells[-1].source.startswith("grader.export(pdf=False")


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_reference_notebook_passes_every_check(assignment_id, releases, tmp_path, monkeypatch):
    folder = tmp_path / assignment_id
    shutil.copytree(releases(assignment_id), folder)
    for module in course.load_assignment(assignment_id).modules:
        shutil.copy(ROOT / "solutions" / assignment_id / f"{module}.py", folder)
    nb = execute(folder, monkeypatch)
    assert errors(nb) == []
    results = checks(nb)
    assert sorted(results) == sorted(course.load_assignment(assignment_id).tasks)
    for task, output in results.items():
        assert output.strip() == f"{task} results: All test cases passed!", output
    (exported,) = folder.glob("*.zip")
    with zipfile.ZipFile(exported) as zf:
        names = set(zf.namelist())
    assert {f"{m}.py" for m in course.load_assignment(assignment_id).modules} <= names
    assert any(n.endswith(".ipynb") for n in names)


@pytest.mark.slow
@pytest.mark.parametrize("assignment_id", course.available_assignments())
def test_template_notebook_runs_to_the_end_each_check_saying_not_implemented(assignment_id, releases, tmp_path,
                                                                           monkeypatch):
    folder = tmp_path / assignment_id
    shutil.copytree(releases(assignment_id), folder)
    nb = execute(folder, monkeypatch)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "a cell did not run"
    # the cells that call an unwritten function fail with its NotImplementedError, and only those
    assert errors(nb) and {name for name, _ in errors(nb)} <= {"NotImplementedError", "NameError"}, errors(nb)
    for task, output in checks(nb).items():
        assert "❌" in output and f"Not implemented yet: task {task} " in output, (task, output[:400])
        others = set(re.findall(r"Not implemented yet: task ([0-9.]+) ", output)) - {task}
        assert not others, (task, others)
    assert list(folder.glob("*.zip")), "grader.export wrote no zip"


@pytest.fixture
def a1_release(releases, tmp_path, monkeypatch):
    folder = tmp_path / "a1"
    shutil.copytree(releases("a1"), folder)
    monkeypatch.chdir(folder)  # where the notebook's kernel runs
    return folder


def otter_check(folder, task: str, language: str):
    """``grader.check(task)`` of Otter's own Notebook, against a notebook's globals that set the language."""
    import otter

    return otter.Notebook(tests_dir=str(folder / notebook.TESTS_DIR)).check(task, {"FEEDBACK_LANGUAGE": language})


def test_otter_check_grades_the_module_as_saved_now_in_the_chosen_language(a1_release):
    first = otter_check(a1_release, "1.3", "es")
    assert not first.passed_all and "Sin implementar: la tarea 1.3" in first.summary()
    assert first.test_cases and all(tc.points for tc in first.test_cases)
    shutil.copy(ROOT / "solutions" / "a1" / "conv_arithmetic.py", a1_release)  # edited after the "kernel" started
    assert otter_check(a1_release, "1.3", "es").passed_all
    assert "All test cases passed" in otter_check(a1_release, "1.3", "en").summary()


def test_otter_check_names_a_grading_that_cannot_run(a1_release):
    (a1_release / "conv_arithmetic.py").unlink()
    result = otter_check(a1_release, "1.1", "en")
    assert not result.passed_all and "no a1 module (conv_arithmetic.py)" in result.summary()
