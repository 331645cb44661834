"""The released lab notebooks, run headless as a student would (nbclient), with Otter's checks in them.

Each release is executed twice, training in quick mode (A4_QUICK, A5_QUICK, A6_QUICK): with the reference
modules every ``grader.check`` passes, showing the task's points; with the untouched template each check reports
"not implemented" for its own task and the notebook still runs to its last cell (``grader.export``), as "Run all"
with errors allowed would. The export zip is a submission ``autograder grade`` accepts. Otter's own
``Notebook.check`` shows the engine's feedback, never the test file's source, in the notebook's language.
"""
from __future__ import annotations

import re
import shutil
import zipfile

import nbformat
import pytest

from autograder import course, notebook, release
from conftest import ROOT, mutate, reference_source

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
        points = f"{task_points(assignment_id, task):g}"
        assert output.strip() == f"{task} passed: {points}/{points} point{'s' * (points != '1')}", output
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


def task_points(assignment_id: str, task: str) -> float:
    """The public points of ``task``, as points.toml gives them."""
    assignment = course.load_assignment(assignment_id)
    points = assignment.points("public")
    return sum(points[function] for function, _ in notebook.public_tests(assignment)[task])


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
    assert otter_check(a1_release, "1.3", "en").summary().startswith("1.3 passed: ")


def test_otter_check_names_a_grading_that_cannot_run(a1_release):
    (a1_release / "conv_arithmetic.py").unlink()
    result = otter_check(a1_release, "1.1", "en")
    assert not result.passed_all and "no a1 module (conv_arithmetic.py)" in result.summary()


@pytest.mark.parametrize("language, shown", [("en", "1.1 passed: {p}/{p} points"),
                                             ("es", "1.1 superada: {p}/{p} puntos")])
def test_a_passing_check_shows_the_tasks_points(a1_release, language, shown):
    shutil.copy(ROOT / "solutions" / "a1" / "conv_arithmetic.py", a1_release)
    result = otter_check(a1_release, "1.1", language)
    points = task_points("a1", "1.1")
    assert result.passed_all and result.score == result.possible == points > 1
    shown = shown.format(p=f"{points:g}")
    assert repr(result) == result.summary() == shown  # the text Jupyter shows without HTML, and check_all's part
    assert shown in result._repr_html_() and "Test case" not in result._repr_html_()


# conv_output_size uses the kernel's height for the width too: the decks' examples (square kernels) still pass
KERNEL_HEIGHT_ONLY = ("    return _per_dimension(one_dimension, input_size, kernel_size, stride, padding, dilation)\n"
                      "    ### END SOLUTION\n\n\n# Task 1.2",
                      "    return _per_dimension(one_dimension, input_size, as_pair(kernel_size, 'k')[0], stride, "
                      "padding, dilation)\n    ### END SOLUTION\n\n\n# Task 1.2")


@pytest.mark.parametrize("language, words", [
    ("en", {"heading": "1.1 results: 2/3 points", "passed": ": 2/2 points", "failed": ": 0/1 point",
            "feedback": ["expected (28, 26)", "Hint: "]}),
    ("es", {"heading": "1.1 resultados: 2/3 puntos", "passed": ": 2/2 puntos", "failed": ": 0/1 punto",
            "feedback": ["se esperaba (28, 26)", "Pista: "]}),
])
def test_a_failing_check_shows_the_engines_feedback_and_nothing_of_the_test_file(a1_release, language, words):
    """One test of task 1.1 passes, the other fails: the points of each, the failed one's feedback (expected, got,
    hint), and none of Otter's report of an exception in the test file (its line, its source, a traceback)."""
    source = mutate(reference_source("a1", "conv_arithmetic"), *KERNEL_HEIGHT_ONLY)
    (a1_release / "conv_arithmetic.py").write_text(source, encoding="utf-8")
    result = otter_check(a1_release, "1.1", language)
    assert not result.passed_all and result.score == 2 and result.possible == task_points("a1", "1.1") == 3
    text, page = repr(result), result._repr_html_()
    lines = text.splitlines()
    titles = [title for _, title in notebook.public_tests(course.load_assignment("a1"))["1.1"]]  # English
    assert lines[0] == words["heading"]
    assert lines[1].startswith("    ✅ ") and lines[1].endswith(words["passed"])
    assert lines[2].startswith("    ❌ ") and lines[2].endswith(words["failed"])
    shown = [line[6:].rsplit(": ", 1)[0] for line in lines[1:3]]  # the tests' titles, in the chosen language
    assert (shown == titles) if language == "en" else (all(shown) and not set(shown) & set(titles))
    assert all(line.startswith(" " * 8) for line in lines[3:]) and len(lines) > 3
    for part in words["feedback"]:
        assert part in text and part in page.replace("&#x27;", "'")
    for internal in ("Error at line", "check.require", "Traceback", "tests/1.1.py", "AssertionError",
                     "Test case failed"):
        assert internal not in text and internal not in page, internal
    assert page.startswith("<p><strong style='color: red;'>") and "<pre>" in page


def test_other_otter_test_files_keep_otters_own_display(a1_release):
    """Only the files the release generates are shown the engine's way; a course's own Otter test keeps Otter's."""
    (a1_release / notebook.TESTS_DIR / "q1.py").write_text(
        "from otter.test_files import test_case\n\nOK_FORMAT = False\nname = 'q1'\n\n\n"
        "@test_case(points=1)\ndef test_x(x):\n    assert x == 1, 'x should be 1'\n", encoding="utf-8")
    notebook.TaskCheck("a1", "1.1")  # a generated test file was loaded before
    result = otter_check(a1_release, "q1", "en")
    assert type(result).__name__ == "ExceptionTestFile" and "Error at line" in result.summary()
