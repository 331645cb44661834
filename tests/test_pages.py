"""Feedback pages and the class report: what they show and withhold, what they escape, and that a real
headless browser renders them with their plots."""
from __future__ import annotations

import json
import os
import re
import shutil

import markupsafe
import pytest

from autograder import course, pages
from autograder.runner.plugin import clean_history

A4 = course.load_assignment("a4")
CHROMIUM = next((path for path in (os.environ.get("AUTOGRADER_CHROMIUM"), shutil.which("chromium"),
                                   shutil.which("chromium-browser"), shutil.which("google-chrome")) if path), None)
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def entry(name, task, score, max_score, visibility, output="", status=None, outcome=None):
    made = {"name": name, "number": task, "score": score, "max_score": max_score, "output": output,
            "visibility": visibility, "extra_data": {"outcome": outcome or ("passed" if score else "failed")}}
    made["status"] = status or ("passed" if score == max_score else "failed")
    return made


def results(student="ana", score=None, curves=None, tests=None, status="graded", seconds=12.5):
    tests = tests if tests is not None else [
        entry("to_tensors on seeded images", "4.2", 2, 2, "visible", "to_tensors matches"),
        entry("loader order is seeded", "4.3", 0, 1, "visible", "expected the same order for seed 3"),
        entry("CIFAR-10 accuracy above the pass mark", "4.6", 0, 4, "after_published",
             "test accuracy 31.0% after 3 epochs; the pass mark is 52.4%.", outcome="failed"),
        entry("secret probe", "4.6", 1, 1, "hidden", "the grader's secret"),
    ]
    return {"score": score if score is not None else sum(t["score"] for t in tests), "output": "", "tests": tests,
            "extra_data": {"student": student, "status": status, "seconds": seconds, "max_score": 8,
                           "curves": curves or {}}}


CURVES = {"graded run": {"train_loss": [2.1, 1.7, 1.5], "val_loss": [1.9, 1.6, 1.5],
                         "val_accuracy": [0.31, 0.42, 0.47]}}
REFERENCE = {"graded run": {"train_loss": [1.9, 1.4, 1.2], "val_loss": [1.6, 1.35, 1.25],
                            "val_accuracy": [0.44, 0.52, 0.56]}}


def rows(page: str, table: str) -> int:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return body.count("<tr") - 1  # minus the header


def test_feedback_withholds_tests_by_visibility_until_published():
    page = pages.feedback_page(results(), A4, reference=REFERENCE)
    assert "to_tensors on seeded images" in page and "expected the same order for seed 3" in page
    assert "pass mark is 52.4%" not in page and "secret probe" not in page and "the grader&#39;s secret" not in page
    assert "1 more tests (4 points) are withheld until the grades are published" in page
    assert "1 more tests (1 points) are withheld from students" in page
    assert "Tests shown here: 2 / 3" in page and rows(page, "tests") == 2

    published = pages.feedback_page(results(), A4, published=True, reference=REFERENCE)
    assert "pass mark is 52.4%" in published and "secret probe" not in published  # "hidden" is never shown
    assert rows(published, "tests") == 3 and "withheld from students" in published

    nothing_withheld = results(tests=results()["tests"][:2])
    assert "Score: 2 / 8" in pages.feedback_page(nothing_withheld, A4, reference={})


def test_feedback_speaks_the_course_language():
    page = pages.feedback_page(results(curves=CURVES), A4, lang="es", reference=REFERENCE)
    assert '<html lang="es">' in page and "Comentarios para" in page and "hasta que se publiquen las notas" in page
    assert "Tus curvas de entrenamiento" in page


def test_training_curves_are_drawn_beside_the_reference():
    page = pages.feedback_page(results(curves=CURVES), A4, reference=REFERENCE)
    images = re.findall(r'<img class="curves" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 and len(images[0]) > 10_000
    assert "Dashed lines: the reference solution" in page
    assert "<img" not in pages.feedback_page(results(), A4, reference=REFERENCE)  # no curves recorded: no plot


def test_a_submission_cannot_inject_markup_into_either_page():
    hostile_tests = [entry(HOSTILE, "4.2", 0, 2, "visible", HOSTILE)]
    data = results(student="x" + HOSTILE, tests=hostile_tests,
                   curves={HOSTILE: {"val_accuracy" + HOSTILE[:20]: [0.1, 0.2]}})
    for page in (pages.feedback_page(data, A4, reference={}), pages.class_report({"x": data}, A4)):
        assert "<script>" not in page and "<img src=x" not in page
        assert str(markupsafe.escape(HOSTILE)) in page


def test_a_history_key_written_as_mathtext_is_drawn_as_text():
    keys = {"val_accuracy$\\frac{$": [0.1, 0.2], "train_loss $x^{99999999}$": [2.0, 1.0]}
    page = pages.feedback_page(results(curves={"graded run": keys}), A4, reference=REFERENCE)
    assert page.count('<img class="curves" src="data:image/png;base64,') == 1


def test_only_finite_numbers_of_a_history_are_kept():
    history = {"train_loss": [1.0, float("nan"), float("inf"), 2, True, "3", None], "val_accuracy": "0.5",
               7: [1.0], "x" * 41: [1.0], "nested": [[1.0]], **{f"k{i}": [float(i)] for i in range(20)}}
    kept = clean_history(history)
    assert kept["train_loss"] == [1.0, 2.0] and "val_accuracy" not in kept and "nested" not in kept
    assert len(kept) == 8 and all(type(k) is str and len(k) <= 40 for k in kept)
    assert clean_history([1, 2]) == {} and len(clean_history({"a": [0.5] * 5000})["a"]) == 1000


def class_results():
    slow = results("bea", seconds=301.0, tests=[
        entry("to_tensors on seeded images", "4.2", 0, 2, "visible", "ran out of time", outcome="timeout"),
        entry("loader order is seeded", "4.3", 0, 1, "visible", "crashed", outcome="crashed"),
    ])
    return {"ana": results("ana"), "bea": slow,
            "cid": {"score": 0.0, "output": "no a4 module (cifar_cnn.py) in cid/", "tests": [],
                    "extra_data": {"student": "cid", "status": "not gradable", "seconds": 0.1, "max_score": 8}}}


def test_class_report_shows_distribution_pass_rates_troubles_and_times():
    summary = pages.class_summary(class_results())
    assert summary["students"] == 3 and summary["graded"] == 2 and summary["scores"] == [0.0, 0.0, 3.0]
    assert [row[1:] for row in summary["pass_rates"][:2]] == [  # hardest first; the most failures first
        ("loader order is seeded", 0, 2), ("CIFAR-10 accuracy above the pass mark", 0, 1)]
    assert ("4.2", "to_tensors on seeded images", 1, 2) in summary["pass_rates"]
    assert summary["troubled"] == [("bea", "1 timeout, 1 crashed", []),
                                   ("cid", "not gradable", ["no a4 module (cifar_cnn.py) in cid/"])]
    assert [s for _, s in summary["seconds"]] == ["bea", "ana", "cid"]
    page = pages.class_report(class_results(), A4)
    assert rows(page, "pass-rates") == 4 and rows(page, "troubled") == 2 and rows(page, "times") == 3
    assert rows(page, "students") == 3 and '<p id="similar">None.</p>' in page
    assert 'id="histogram" src="data:image/png;base64,' in page and "3 students, 2 graded" in page


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium; or set "
                                             "AUTOGRADER_CHROMIUM)")
def test_pages_render_in_a_headless_browser_and_their_images_load(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    feedback = pages.write_feedback(tmp_path / "ana", results(curves=CURVES), A4, published=True)
    (tmp_path / "ana" / "results.json").write_text(json.dumps(results()))
    report = pages.write_report(tmp_path, class_results(), A4)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page, errors = browser.new_page(), []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for path, title, images in ((feedback, "a4 – ana", 1), (report, "a4 – class report", 1)):
                page.goto(path.as_uri())
                assert page.title() == title
                loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
                sizes = page.evaluate("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
                assert loaded == [True] * images, sizes
                assert all(w > 300 and h > 150 for w, h in sizes), sizes
                assert page.locator("table tr").count() > 3
            page.goto(feedback.as_uri())
            assert page.locator("#tests tr.test").count() == 3 and page.locator("#tests tr.failed").count() == 2
            assert errors == []
        finally:
            browser.close()


def test_class_report_lists_every_student_with_flags_similar_pairs_and_a_link_to_each_page():
    data = class_results()
    data["ana"]["extra_data"].update(folder="students/ana-0123456789ab", flags=[
        {"kind": "syntax error", "detail": "cifar_cnn.py line 3: invalid syntax"}])
    data["bea"]["extra_data"]["folder"] = "../../etc"  # never linked: not a result folder of this run
    data["cid"]["extra_data"]["status"] = "grader error"
    similar = [{"students": ("ana", "bea"), "similarity": (0.97, 0.9), "tokens": 420},
               {"students": ("ana", "zed"), "similarity": (1.0, 1.0), "tokens": 420}]  # zed is not in this run
    page = pages.class_report(data, A4, similar=similar)
    assert rows(page, "students") == 3 and rows(page, "similar") == 1 and "97% / 90%" in page
    assert page.count('<a href="students/ana-0123456789ab/feedback.html">') == 1 and "../../etc" not in page
    troubled = page.split('id="troubled"', 1)[1].split("</table>", 1)[0]
    assert "syntax error" in troubled and "cifar_cnn.py line 3: invalid syntax" in troubled  # graded, yet flagged
    row = page.split('<tr class="student grader-error">', 1)[1].split("</tr>", 1)[0]
    assert "<td class=\"num\">–</td>" in row  # a grader error shows no score, not 0


def test_no_page_shows_a_path_of_the_grading_machine(tmp_path):
    from autograder import course as engine

    inside = f"{engine.PACKAGE_DIR}/runner/session.py"
    venv = f"{os.__file__}"
    tests = [entry("t", "4.2", 0, 2, "visible", f'File "{inside}", line 3\n  File "{venv}", line 9\n'
                                               f"in {tmp_path}/sub/cifar_cnn.py")]
    data = results(tests=tests)
    data["output"] = f"isolation note from {engine.PACKAGE_DIR.parent}/assignments"
    for page in (pages.feedback_page(data, A4, reference={}), pages.class_report({"ana": data}, A4)):
        for path in (str(engine.PACKAGE_DIR.parent), os.path.dirname(venv), str(tmp_path)):
            assert path not in page
    page = pages.feedback_page(data, A4, reference={})
    assert "session.py" in page and "cifar_cnn.py" in page and os.path.basename(venv) in page


def test_publishing_rerenders_every_page_from_the_stored_results(tmp_path):
    stored = {}
    for name in ("ana", "bea"):
        data = results(name)
        data["extra_data"].update(folder=f"students/{name}", language="es" if name == "bea" else "en")
        stored[name] = data
        pages.write_feedback(tmp_path / "students" / name, data, A4)
    stored["evil"] = results("evil")
    stored["evil"]["extra_data"]["folder"] = "../outside"
    before = (tmp_path / "students" / "ana" / "feedback.html").read_text()
    assert "withheld until the grades are published" in before and "pass mark is 52.4%" not in before
    assert pages.rerender(tmp_path, stored, A4, "en", published=True) == 2
    after = (tmp_path / "students" / "ana" / "feedback.html").read_text()
    assert "pass mark is 52.4%" in after and "until the grades are published" not in after
    assert '<html lang="es">' in (tmp_path / "students" / "bea" / "feedback.html").read_text()  # its own language
    assert (tmp_path / "report.html").is_file() and not (tmp_path.parent / "outside").exists()
