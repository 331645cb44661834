"""Self-contained HTML pages from graded results: a student's feedback page and the class report.

Both read only ``results.json`` data (Gradescope's format, as :func:`autograder.batch.grade_one` writes it)
and the reference curves from calibration; they are rendered with Jinja2 (autoescaped: every text a
submission influences, feedback included, is escaped) and embed their plots as PNG data, so a page is one
file that opens anywhere, offline.
"""
from __future__ import annotations

import base64
import functools
import io
import os
import re
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import jinja2

from autograder import course, review
from autograder.feedback import T, language

TEMPLATES = Path(__file__).parent / "templates"
WITHHELD_UNTIL = {"after_published": T("until the grades are published", "hasta que se publiquen las notas"),
                  "after_due_date": T("until after the due date", "hasta después de la fecha de entrega"),
                  "hidden": T("from students", "a los estudiantes")}
LIMIT_OUTCOMES = ("timeout", "crashed")


@functools.lru_cache(maxsize=1)
def _machine_paths() -> re.Pattern:
    """The grading machine's own folders (the engine, Python, the temporary folder, the home folder, the
    working folder, the caches), each followed by the rest of a path."""
    roots = {course.PACKAGE_DIR.parent, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(tempfile.gettempdir()), Path.home(), Path.cwd(), Path("/tmp"), Path("/var/tmp")}
    roots |= {Path(os.environ[v]) for v in ("AUTOGRADER_CACHE", "CIFAR10_ROOT", "TORCH_HOME") if os.environ.get(v)}
    texts = sorted({str(r) for root in roots for r in (root, root.resolve()) if str(r) not in ("/", "")},
                   key=len, reverse=True)
    return re.compile("(?:" + "|".join(map(re.escape, texts)) + r")(?![\w.-])(?:/[^\s\"'<>:,;()\[\]]*)*")


def scrub(text: str) -> str:
    """``text`` with every path under one of the grading machine's folders cut to its last name
    (``/work/course/.venv/lib/python3.11/site-packages/torch/nn/modules/module.py`` -> ``module.py``)."""
    return _machine_paths().sub(lambda m: Path(m.group(0).rstrip("/")).name or "…", text)


def scrubbed(data):
    """``data`` (a results.json) with :func:`scrub` applied to every text in it."""
    if isinstance(data, str):
        return scrub(data)
    if isinstance(data, dict):
        return {key: scrubbed(value) for key, value in data.items()}
    if isinstance(data, list):
        return [scrubbed(value) for value in data]
    return data


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["T"] = T
    env.filters["points"] = lambda x: f"{float(x):g}"
    return env


def _png(figure) -> str:
    """A matplotlib figure as a ``data:`` URI (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def curve_plot(student: dict[str, list[float]], reference: dict[str, list[float]]) -> str:
    """One training run: losses on the left, accuracies on the right; the student's curves solid, the
    reference solution's dashed in the same colour. Returns a ``data:`` URI."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for axis, kind, label in ((axes[0], "loss", T("loss", "pérdida")), (axes[1], "acc", "accuracy")):
        keys = [k for k in dict.fromkeys([*student, *reference]) if kind in k.lower()]
        for number, key in enumerate(keys):
            colour, name = f"C{number}", key.replace("$", r"\$")  # a student's key is text, never mathtext
            if key in student:
                values = student[key]
                axis.plot(range(1, len(values) + 1), values, color=colour, marker="o", markersize=3,
                          label=str(T("{k} (yours)", "{k} (tuya)").format(k=name)))
            if key in reference:
                values = reference[key]
                axis.plot(range(1, len(values) + 1), values, color=colour, linestyle="--",
                          label=str(T("{k} (reference)", "{k} (referencia)").format(k=name)))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(str(T("epoch", "época")))
        axis.set_ylabel(str(label))
        if keys:
            axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    return _png(figure)


def feedback_page(results: dict, assignment: course.Assignment, lang: str = "en", published: bool = False,
                  reference: dict | None = None) -> str:
    """The HTML feedback page of one student's ``results`` (Gradescope's results.json).

    Tests whose visibility is ``visible`` are shown in full; ``after_published`` and ``after_due_date`` ones
    only when ``published``; ``hidden`` ones never: each withheld group is one line with its count and
    points. Training runs the graders recorded are plotted beside ``reference`` (the calibration curves).
    """
    reference = assignment.reference_curves() if reference is None else reference
    results = scrubbed(results)
    shown, withheld = [], Counter()
    withheld_points: dict[str, float] = {}
    for test in results.get("tests", []):
        visibility = test.get("visibility", "visible")
        if visibility == "visible" or (published and visibility in ("after_published", "after_due_date")):
            shown.append(test)
        else:
            withheld[visibility] += 1
            withheld_points[visibility] = withheld_points.get(visibility, 0.0) + float(test.get("max_score", 0))
    curves = results.get("extra_data", {}).get("curves") or {}
    with language(lang):
        plots = [(run, curve_plot(history, reference.get(run, {}))) for run, history in curves.items() if history]
        return _environment().get_template("feedback.html.j2").render(
            lang=lang, assignment=assignment, results=results, extra=results.get("extra_data", {}), tests=shown,
            withheld=[(str(WITHHELD_UNTIL.get(v, v)), n, withheld_points[v]) for v, n in sorted(withheld.items())],
            shown_score=sum(float(t.get("score", 0)) for t in shown),
            shown_max=sum(float(t.get("max_score", 0)) for t in shown),
            max_score=results.get("extra_data", {}).get("max_score",
                                                        sum(float(t.get("max_score", 0)) for t in results.get("tests", []))),
            plots=plots)


def write_feedback(folder: Path, results: dict, assignment: course.Assignment, lang: str = "en",
                   published: bool = False) -> Path:
    """``folder/feedback.html`` (a student's result folder), written atomically."""
    path = Path(folder) / "feedback.html"
    _write(path, feedback_page(results, assignment, lang, published))
    return path


def rerender(out: Path, results: dict[str, dict], assignment: course.Assignment, lang: str = "en",
             published: bool = False, similar: list[dict] | None = None) -> int:
    """Every student's page again from the stored ``results`` (student -> results.json, each in the folder
    its ``extra_data.folder`` names under ``out``), and ``out/report.html``; nothing is graded. Returns the
    number of pages written. A student's stored language wins over ``lang``."""
    written = 0
    for data in results.values():
        folder = str(data.get("extra_data", {}).get("folder", ""))
        target = (Path(out) / folder).resolve()
        if not folder or Path(out).resolve() not in target.parents:
            continue  # a results.json that names no folder of its own is never followed elsewhere
        write_feedback(target, data, assignment, data.get("extra_data", {}).get("language", lang), published)
        written += 1
    write_report(out, results, assignment, lang, similar)
    return written


def _write(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


SIMILAR_SHOWN = 200  # the most similar pairs listed; the rest are counted
SAFE_FOLDER = re.compile(r"students/[a-z0-9][a-z0-9._-]*")


def flag_text(flag: dict) -> str:
    return f"{flag.get('kind', '')}: {flag.get('detail', '')}"


def class_summary(results: dict[str, dict], similar: list[dict] | None = None) -> dict:
    """What the class report shows, as plain data: scores, each test's pass rate (hardest first), the
    students whose grading hit a limit, crashed, could not run or was flagged (see :mod:`autograder.review`),
    the grading times (slowest first), one row per student, and the ``similar`` pairs."""
    graded = {s: r for s, r in results.items() if r.get("extra_data", {}).get("status") == "graded"}
    rates: dict[tuple[str, str], list[int]] = {}
    for data in graded.values():
        for test in data.get("tests", []):
            if "status" not in test:  # skipped (a GPU test without a GPU): neither passed nor failed
                continue
            counts = rates.setdefault((test.get("number", ""), test["name"]), [0, 0])
            counts[0] += test["status"] == "passed"
            counts[1] += 1
    troubled, students = [], []
    for student, data in sorted(results.items()):
        extra = data.get("extra_data", {})
        flags = [flag_text(f) for f in extra.get("flags", []) if isinstance(f, dict)]
        folder = str(extra.get("folder", ""))
        students.append({"student": student, "score": float(data.get("score", 0.0)),
                         "max_score": float(extra.get("max_score", 0.0)), "status": extra.get("status", ""),
                         "seconds": float(extra.get("seconds", 0.0)), "flags": flags,
                         "page": f"{folder}/feedback.html" if SAFE_FOLDER.fullmatch(folder) else None})
        if extra.get("status") != "graded":
            troubled.append((student, extra.get("status", ""), data.get("output", "").strip().splitlines()[:1]))
            continue
        hits = Counter(t.get("extra_data", {}).get("outcome") for t in data.get("tests", []))
        limits = [f"{hits[o]} {o}" for o in LIMIT_OUTCOMES if hits[o]]
        kinds = list(dict.fromkeys(f.get("kind", "") for f in extra.get("flags", []) if isinstance(f, dict)))
        if limits or kinds:
            troubled.append((student, ", ".join(limits + kinds), flags))
    seconds = sorted(((float(r.get("extra_data", {}).get("seconds", 0.0)), s) for s, r in results.items()), reverse=True)
    return {
        "students": len(results), "graded": len(graded),
        "scores": sorted(float(r.get("score", 0.0)) for r in results.values()),
        "pass_rates": sorted(((task, name, passed, total) for (task, name), (passed, total) in rates.items()),
                             key=lambda row: (row[2] / row[3], row[2] - row[3], row[0], row[1])),
        "troubled": troubled,
        "seconds": seconds,
        "table": students,
        "similar": [p for p in similar or [] if all(s in results for s in p["students"])][:SIMILAR_SHOWN],
        "similar_total": len([p for p in similar or [] if all(s in results for s in p["students"])]),
    }


def score_histogram(scores: list[float], max_score: float) -> str:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3))
    bins = [max_score * i / 10 for i in range(11)] if max_score > 0 else 10
    axis.hist(scores, bins=bins, color="C0", edgecolor="white")
    axis.set_xlabel(str(T("score", "nota")))
    axis.set_ylabel(str(T("students", "estudiantes")))
    axis.grid(alpha=0.3, axis="y")
    return _png(figure)


def class_report(results: dict[str, dict], assignment: course.Assignment, lang: str = "en",
                 similar: list[dict] | None = None) -> str:
    """The instructor's HTML report of a whole class's ``results`` (student -> results.json) and the
    ``similar`` pairs of :func:`autograder.review.similar_pairs`."""
    results = {student: scrubbed(data) for student, data in results.items()}
    summary = class_summary(results, similar)
    max_score = max((float(r.get("extra_data", {}).get("max_score", 0.0)) for r in results.values()), default=0.0)
    scores, seconds = summary["scores"], [s for s, _ in summary["seconds"]]
    with language(lang):
        return _environment().get_template("report.html.j2").render(
            lang=lang, assignment=assignment, summary=summary, max_score=max_score,
            mean=statistics.fmean(scores) if scores else 0.0, median=statistics.median(scores) if scores else 0.0,
            median_seconds=statistics.median(seconds) if seconds else 0.0, total_seconds=sum(seconds),
            histogram=score_histogram(scores, max_score) if scores else None, similar_share=review.SIMILAR)


def write_report(out: Path, results: dict[str, dict], assignment: course.Assignment, lang: str = "en",
                 similar: list[dict] | None = None) -> Path:
    """``out/report.html``, written atomically."""
    path = Path(out) / "report.html"
    _write(path, class_report(results, assignment, lang, similar))
    return path
