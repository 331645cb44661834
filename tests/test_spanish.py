"""Spanish throughout: every text a student sees exists in English and in Spanish, chosen by the language in force.

The course is taught in Spanish, so ``--lang es`` (command line), ``FEEDBACK_LANGUAGE = "es"`` (notebook) and
``language="es"`` (:func:`autograder.api.grade`) must give Spanish test names, assignment and task titles, table
headers, summary and isolation lines, not only Spanish feedback. A grader test's title is its docstring's first
line (English) and a line ``es: <título>`` in the same docstring (Spanish)::

    def test_conv_deck_examples(conv):
        \"\"\"conv_output_size reproduces the deck's worked examples
        es: conv_output_size reproduce los ejemplos resueltos de las transparencias
        \"\"\"
"""
from __future__ import annotations

import ast
import io
import re
import tomllib
from pathlib import Path

import pytest
from markupsafe import escape
from rich.console import Console

from autograder import course, report
from autograder.feedback import T, language
from autograder.runner import isolation, results

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autograder"
ASSIGNMENTS = course.available_assignments()
# Words of the English report that must never appear in a Spanish one (the table, summary, isolation line).
ENGLISH_REPORT_WORDS = ("Task", "Test", "Points", "Result", "points", "passed", "failed", "skipped", "Feedback",
                        "feedback 1 below", "student code isolation", "missing", "Skipped")


def english_words_in(text: str) -> list[str]:
    """The words of the English report found (as whole words) in ``text``."""
    return [word for word in ENGLISH_REPORT_WORDS if re.search(rf"\b{re.escape(word)}\b", text)]


def grader_tests() -> list[tuple[Path, ast.FunctionDef]]:
    """Every grader test function of every assignment, public and hidden, from the source (nothing is run)."""
    found = []
    for path in sorted(course.GRADERS_DIR.glob("*/*/test_*.py")):
        if path.parent.name not in course.SUITES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                found.append((path, node))
    return found


def task_of(node: ast.FunctionDef) -> str | None:
    return next((str(ast.literal_eval(d.args[0])) for d in node.decorator_list
                 if isinstance(d, ast.Call) and ast.unparse(d.func).endswith("mark.task") and d.args), None)


# Terms the course's Spanish keeps in English ("la accuracy de validación").
KEPT_TERMS = frozenset({"accuracy", "cpu"})


def code_like(text: str, names=()) -> bool:
    """Whether ``text`` (its ``{placeholders}`` left out) holds no word of prose: only identifiers and names
    (``conv2d_loops``, ``Landlock``, ``RLIMIT_NPROC``, ``5.13+``, any of ``names``), terms the course keeps in
    English, numbers, punctuation and spaces. Such a text may read the same in both languages."""
    words = re.findall(r"[^\W\d_]+[\w.+]*", re.sub(r"\{[^{}]*\}", "", text))
    return all(word in names or word in KEPT_TERMS or any(c in word for c in "_.0123456789") or not word.islower()
               for word in words)


def test_every_grader_test_has_a_spanish_title():
    tests = grader_tests()
    assert len(tests) > 100  # every assignment's graders were found
    problems = []
    for path, node in tests:
        where = f"{path.relative_to(ROOT)}::{node.name}"
        doc = ast.get_docstring(node)
        if not doc:
            problems.append(f"{where}: no docstring (its first line is the test's title)")
            continue
        lines = [line.strip() for line in doc.splitlines()]
        spanish = [line for line in lines[1:] if line.startswith(course.SPANISH_TITLE)]
        title = course.docstring_title(doc, node.name)
        if len(spanish) != 1:
            problems.append(f"{where}: {len(spanish)} 'es:' lines in its docstring; it needs exactly one")
        elif not title.es.strip() or title.es == title.en:
            problems.append(f"{where}: the 'es:' line gives no Spanish title ({title.es!r})")
        elif lines[0].startswith(course.SPANISH_TITLE):
            problems.append(f"{where}: the first line must be the English title, not the Spanish one")
    assert problems == [], "\n".join(problems)


def test_the_docstring_format_gives_each_language_its_title():
    doc = """Convolution sizes of the deck's worked examples
    es: Tamaños de convolución de los ejemplos resueltos de las transparencias

    A longer explanation, never shown as the title.
    """
    title = course.docstring_title(doc, "test_conv")
    assert (title.en, title.es) == ("Convolution sizes of the deck's worked examples",
                                    "Tamaños de convolución de los ejemplos resueltos de las transparencias")
    assert str(title) == title.en
    with language("es"):
        assert str(title) == title.es
    untranslated = course.docstring_title("Only English", "test_x")
    assert (untranslated.en, untranslated.es) == ("Only English", "Only English")
    assert course.docstring_title(None, "test_x").en == "test_x"


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_every_assignment_and_task_has_a_spanish_title(assignment_id):
    data = tomllib.loads((course.GRADERS_DIR / assignment_id / "assignment.toml").read_text(encoding="utf-8"))
    assert str(data.get("title_es", "")).strip(), f"{assignment_id}: assignment.toml has no title_es"
    assert data["title_es"] != data["title"], f"{assignment_id}: title_es is the English title"
    for task_id, spec in data["tasks"].items():
        spanish = str(spec.get("title_es", "")).strip()
        assert spanish, f"{assignment_id} task {task_id}: no title_es"
        assert spanish != spec["title"] or code_like(spec["title"], spec.get("functions", ())), \
            f"{assignment_id} task {task_id}: title_es {spanish!r} is the English title, which is not only code names"
    assignment = course.load_assignment(assignment_id)
    assert (assignment.title.en, assignment.title.es) == (data["title"], data["title_es"])
    with language("es"):
        assert f"{assignment.title}" == data["title_es"]
        assert [str(task.title) for task in assignment.tasks.values()] == \
            [spec["title_es"] for spec in data["tasks"].values()]
    assert [str(task.title) for task in assignment.tasks.values()] == [spec["title"] for spec in data["tasks"].values()]


def test_every_bilingual_text_has_two_languages():
    """Each ``T(en, es)`` of the engine and the graders: two texts, neither empty, and different unless the
    text is code or names only (``T("RLIMIT_NPROC", "RLIMIT_NPROC")``). Texts computed at run time are skipped."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "T"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            arguments = list(node.args) + [keyword.value for keyword in node.keywords]
            if len(arguments) != 2:
                problems.append(f"{where}: T takes an English and a Spanish text, got {len(arguments)} arguments")
                continue
            if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in arguments):
                continue
            english, spanish = (a.value for a in arguments)
            if not english or not spanish:
                problems.append(f"{where}: an empty text in T({english!r}, {spanish!r})")
            elif english == spanish and not code_like(english):
                problems.append(f"{where}: T({english!r}, ...) has no Spanish (both texts are the same)")
    pair = re.compile(r"""\bT\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)""")
    for path in sorted((PACKAGE / "templates").glob("*.j2")):
        for english, spanish in pair.findall(path.read_text(encoding="utf-8")):
            if not english or not spanish or (english == spanish and not code_like(english)):
                problems.append(f"{path.relative_to(ROOT)}: T({english!r}, {spanish!r}) lacks a language")
    assert problems == [], "\n".join(problems)


def test_code_like_texts_are_names_and_punctuation_only():
    for text in ("conv2d_loops", "RLIMIT_NPROC", "Landlock, Linux 5.13+", "{level} ({m})", ").", " ",
                 "conv2d_num_params / linear_num_params"):
        assert code_like(text), text
    assert code_like("sigmoid / forward", names=("sigmoid", "forward")) and not code_like("sigmoid / forward")
    for text in ("inverted dropout", "fit (the overfitting experiment)", "no capabilities", "{n} points"):
        assert not code_like(text), text


# ---------------------------------------------------------------------------- a rendered report
def a1_report(statuses=("passed", "failed", "skipped")) -> report.Report:
    """A report of A1 made from its real grader tests (titles from their docstrings, as the plugin reads them),
    without grading: the tests take turns passing, failing and being skipped."""
    a1 = course.load_assignment("a1")
    outcomes = []
    for number, (path, node) in enumerate(grader_tests_of("a1")):
        title = course.docstring_title(ast.get_docstring(node), node.name)
        info = results.TestInfo(f"a1/{path.parent.name}/{path.name}::{node.name}", node.name, title.en, None, task_of(node),
                        path.parent.name, title_es=title.es)
        status = statuses[number % len(statuses)]
        feedback = {"failed": "f() devolvió 7; se esperaba 8.", "skipped": "sin GPU"}.get(status, "")
        outcomes.append(results.TestOutcome(info, status, feedback, 0.1))
    mechanisms = [T("files: Landlock ABI 6 (files, TCP)", "archivos: Landlock ABI 6 (archivos, TCP)"),
                  T("tree: subreaper warden", "árbol de procesos: guardián subreaper")]
    missing = [T("signals (a separate user)", "señales (un usuario aparte)")]
    found = isolation.Isolation("partial", [m.en for m in mechanisms], [m.en for m in missing],
                                mechanisms_es=[m.es for m in mechanisms], missing_es=[m.es for m in missing])
    return report.score(a1, outcomes, "submission", 4.6, {}, found)


def grader_tests_of(assignment_id: str) -> list[tuple[Path, ast.FunctionDef]]:
    return [(path, node) for path, node in grader_tests() if path.parent.parent.name == assignment_id]


def rendered(result: report.Report, lang: str) -> str:
    console = Console(file=io.StringIO(), width=400, force_terminal=False, color_system=None)
    with language(lang):
        report.print_table(result, console)
    return console.file.getvalue()


def titles(assignment_id: str) -> list[T]:
    return [course.docstring_title(ast.get_docstring(node), node.name) for _, node in grader_tests_of(assignment_id)]


def test_the_table_is_spanish_throughout_in_spanish_and_english_by_default():
    result = a1_report()
    a1 = result.assignment
    spanish, english = rendered(result, "es"), rendered(result, "en")
    for title in titles("a1"):
        assert title.es in spanish and title.en not in spanish, title.en
        assert title.en in english and title.es not in english, title.en
    assert a1.title.es in spanish and a1.title.en not in spanish
    assert a1.title.en in english and a1.title.es not in english
    for word in ("Tarea", "Prueba", "Puntos", "Resultado", "puntos", "superadas", "falladas", "omitidas",
                 "Comentarios:", "comentario 1 abajo", "aislamiento del código del estudiante: parcial",
                 "árbol de procesos: guardián subreaper", "falta: señales"):
        assert word in spanish, word
    assert english_words_in(spanish) == []
    assert "a1: " in english and " points (" in english and "student code isolation: partial (files: " in english


def test_gradescope_results_follow_the_language():
    result = a1_report()
    with language("es"):
        spanish = report.gradescope(result)
    english = report.gradescope(result)
    assert [t["name"] for t in spanish["tests"]] == [t.es for t in titles("a1")]
    assert [t["name"] for t in english["tests"]] == [t.en for t in titles("a1")]
    text = spanish["output"] + "".join(t["output"] for t in spanish["tests"])
    assert "puntos" in spanish["output"] and "aislamiento del código del estudiante" in spanish["output"]
    assert "Omitido: sin GPU" in text
    assert english_words_in(text) == []


def test_the_feedback_page_follows_the_language_of_its_results():
    """The page shows the names results.json was written with, and the assignment's title in the page's language."""
    from autograder import pages

    result = a1_report()
    with language("es"):
        data = report.gradescope(result)
    page = pages.feedback_page(data, result.assignment, "es", published=True)
    assert result.assignment.title.es in page and result.assignment.title.en not in page
    for title in titles("a1"):
        assert str(escape(title.es)) in page and str(escape(title.en)) not in page, title.en


def test_the_task_title_in_not_implemented_feedback_follows_the_language():
    from autograder.runner.plugin import explain
    from autograder.runner.remote import student_exception

    task = course.load_assignment("a5").tasks["5.3"]
    exc = student_exception({"bases": ["NotImplementedError"], "type": "NotImplementedError", "message": ""})
    with language("es"):
        assert "5.3 (dropout invertido)" in explain(exc, task)
    assert "5.3 (inverted dropout)" in explain(exc, task)


@pytest.mark.parametrize("cap", ["full", "partial", "none"])
def test_the_isolation_line_is_spanish(monkeypatch, cap):
    """The mechanisms of this machine's isolation, at each level it can be capped to, in both languages:
    one Spanish text per English one, and the Spanish line free of the English words."""
    monkeypatch.setenv(isolation.CAP_VARIABLE, cap)
    found = isolation.probe()
    assert len(found.mechanisms_es) == len(found.mechanisms) and len(found.missing_es) == len(found.missing)
    with language("es"):
        spanish = found.describe()
    english = found.describe()
    assert english.startswith(found.level + " (")
    assert spanish.startswith(str(isolation.LEVEL_WORDS[found.level].es) + " (")
    for word in ("files:", "signals:", "network:", "tree:", "missing:", "separate process", "warden",
                 "grading as root", "no capabilities", "this kernel"):
        assert word not in spanish, (word, spanish)


@pytest.mark.slow
def test_grading_in_spanish_names_every_test_in_spanish():
    """The whole path: the grading plugin reads both titles, the report shows the language asked for."""
    from autograder import api

    result = api.grade(ROOT / "solutions" / "a1", "a1", language="es", min_isolation="none")
    expected = {(t.en, t.es) for t in titles("a1")}
    assert {(t.outcome.info.title, t.outcome.info.title_es) for t in result.tests} == expected
    spanish = rendered(result, "es")
    for english, title in expected:
        assert title in spanish and english not in spanish, english
    assert english_words_in(spanish) == []
    assert "Aritmética de la convolución" in spanish and "puntos" in spanish


def test_what_a_student_can_fix_is_said_in_their_language(tmp_path):
    """A wrong folder, a folder without the module, an unknown task: errors the student reads (``autograder
    check``, the notebook) come in the language asked for."""
    from autograder import api

    (tmp_path / "a1").mkdir()
    (tmp_path / "a1" / "conv_arithmetic.py").write_text("", encoding="utf-8")
    cases = [(tmp_path / "nowhere", {}, "no existe", "does not exist"),
             (tmp_path, {}, "no hay ningún módulo de a1 (conv_arithmetic.py) en", "did you mean"),
             (tmp_path / "a1", {"tasks": ["9.9"]}, "a1 no tiene la tarea '9.9'", "has no task")]
    for folder, options, spanish, english in cases:
        with pytest.raises(api.CourseError) as raised:
            api.grade(folder, "a1", language="es", min_isolation="none", **options)
        assert spanish in str(raised.value) and english not in str(raised.value)
        with pytest.raises(api.CourseError, match=english):
            api.grade(folder, "a1", min_isolation="none", **options)
