"""Feedback pages and the class report: what they show and withhold, what they escape, that their figures
read at a glance (scales, captions, legends) and that a real headless browser renders them at their size."""
from __future__ import annotations

import base64
import html.parser
import json
import os
import re
import shutil
import struct

import jinja2
import markupsafe
import numpy as np
import pytest

from autograder import course, pages
from autograder.feedback import language
from autograder.runner.plugin import clean_history

A4, A5, A6 = (course.load_assignment(a) for a in ("a4", "a5", "a6"))
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


DIVERGING = {"graded run": {"train_loss": [2.1, 850.0, 196_000.0], "val_loss": [1.9, 1200.0, 150_000.0],
                            "val_accuracy": [0.21, 0.1, 0.1]}}


def rows(page: str, table: str) -> int:
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return body.count("<tr") - 1  # minus the header


def shown_rows(page: str) -> int:
    """The tests shown in full on a feedback page."""
    return page.split('id="tests"', 1)[1].split("</table>", 1)[0].count('<tr class="test ')


def visible_text(page: str) -> str:
    """A page's text as a reader sees it (tags and figures left out, entities decoded)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "",
                                                                            page, flags=re.S))))


def png_size(uri: str) -> tuple[int, int]:
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_feedback_withholds_tests_by_visibility_until_published():
    page = pages.feedback_page(results(), A4, reference=REFERENCE)
    assert "to_tensors on seeded images" in page and "expected the same order for seed 3" in page
    assert "pass mark is 52.4%" not in page and "secret probe" not in page and "the grader&#39;s secret" not in page
    assert "1 more test (4 points) is withheld until the grades are published" in page
    assert "1 more test (1 point) is withheld from students" in page
    assert "Tests shown here: 2 / 3" in page and shown_rows(page) == 2

    published = pages.feedback_page(results(), A4, published=True, reference=REFERENCE)
    assert "pass mark is 52.4%" in published and "secret probe" not in published  # "hidden" is never shown
    assert shown_rows(published) == 3 and "withheld from students" in published

    nothing_withheld = results(tests=results()["tests"][:2])
    assert "Score: 2 / 8" in pages.feedback_page(nothing_withheld, A4, reference={})


def test_feedback_speaks_the_course_language():
    page = pages.feedback_page(results(curves=CURVES), A4, lang="es", reference=REFERENCE)
    assert '<html lang="es">' in page and "Comentarios para" in page and "hasta que se publiquen las notas" in page
    assert "Tus curvas de entrenamiento" in page and "Pruebas por tarea" in page and "visible ya" in page
    assert "3 épocas" in page and "tasa de aprendizaje 0.02" in page and "45\u00a0000 imágenes de entrenamiento" in page
    text = visible_text(page)
    for english in ("Task", "Test", "Points", "Feedback", "visible now", "hidden", "epochs", "learning rate",
                    "training loss", "Solid", "Dashed", "reference", "points"):
        assert not re.search(rf"\b{english}\b", text), english


def test_training_curves_are_drawn_beside_the_reference():
    page = pages.feedback_page(results(curves=CURVES), A4, reference=REFERENCE)
    images = re.findall(r'<img class="curves" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 and len(images[0]) > 10_000
    text = visible_text(page)
    assert "Left: training loss and validation loss; right: validation accuracy." in text
    assert "Solid lines with a dot per epoch: your run. Dashed: the reference solution's." in text
    assert "training accuracy" not in text  # not drawn, so never mentioned
    assert "<img" not in pages.feedback_page(results(), A4, reference=REFERENCE)  # no curves recorded: no plot


def test_the_text_describes_only_the_curves_drawn():
    only_accuracy = {"graded run": {"val_accuracy": [0.3, 0.4]}}
    text = visible_text(pages.feedback_page(results(curves=only_accuracy), A4, reference={}))
    assert "Validation accuracy. Solid lines with a dot per epoch: your run." in text
    for absent in ("loss", "Dashed", "reference solution", "Left", "overfitting", "training accuracy"):
        assert absent not in text, absent
    with_training = {"plain": {"train_loss": [2.0, 1.0], "train_accuracy": [0.3, 0.6], "val_accuracy": [0.3, 0.4]}}
    reference = {"plain": {"train_loss": [2.0, 1.1], "val_accuracy": [0.3, 0.4]}}
    text = visible_text(pages.feedback_page(results(curves=with_training), A5, reference=reference))
    assert "Left: training loss; right: training accuracy and validation accuracy." in text
    assert "The reference has no training accuracy to compare." in text
    assert "A training accuracy that keeps rising while the validation accuracy stalls is overfitting." in text
    assert "validation loss" not in text


def test_a_diverging_loss_keeps_the_reference_readable():
    """A loss of 196,000 would flatten every other curve into a line at 0: the loss axis stops at twice the
    reference's highest loss (rounded up), the points beyond it are counted and marked, and the figure says so."""
    student, reference = DIVERGING["graded run"], REFERENCE["graded run"]
    scale = pages.loss_scale([student["train_loss"], student["val_loss"]],
                             [reference["train_loss"], reference["val_loss"]])
    assert (scale.kind, scale.low, scale.high, scale.above, scale.highest) == ("linear", 0.0, 4.0, 4, 196_000.0)
    ref_values = reference["train_loss"] + reference["val_loss"]
    assert (max(ref_values) - min(ref_values)) / (scale.high - scale.low) > 0.1  # a curve, not a line at 0
    assert all(scale.low <= v <= scale.high for v in ref_values)

    with language("en"):
        figure, panels = pages.draw_curves(student, reference)
    loss, accuracy = figure.axes[:2]
    assert loss.get_yscale() == "linear" and loss.get_ylim() == (0.0, 4.0)
    assert "values above 4 clipped" in loss.get_title()
    markers = [line for line in loss.get_lines() if line.get_marker() == "^"]
    assert len(markers) == 4 and all(line.get_ydata()[0] == 4.0 for line in markers)  # one per point beyond
    assert accuracy.get_ylim() == (0.0, 1.0) and accuracy.yaxis.get_major_formatter()(0.5, 0) == "50%"
    figure.clf()

    page = visible_text(pages.feedback_page(results(curves=DIVERGING), A4, reference=REFERENCE))
    assert "The loss axis stops at 4, twice the reference's highest loss rounded up: 4 of your values above it " \
           "(up to 196,000), marked ▲ on its top edge." in page
    assert "The accuracy axis runs from 0 to 100%." in page


def test_loss_axes_without_clipping_or_reference():
    within = pages.loss_scale([[2.2, 1.6, 1.4]], [[1.9, 1.4, 1.2]])
    assert (within.kind, within.low, within.high, within.clipped) == ("linear", 0.0, 2.5, False)
    alone = pages.loss_scale([[2.1, 850.0, 196_000.0]], [])  # no reference: a logarithmic axis shows it all
    assert alone.kind == "log" and alone.low < 2.1 and alone.high > 196_000 and not alone.clipped
    with language("en"):
        figure, _ = pages.draw_curves(DIVERGING["graded run"], {})
    assert figure.axes[0].get_yscale() == "log" and "logarithmic axis" in figure.axes[0].get_title()
    figure.clf()
    page = visible_text(pages.feedback_page(results(curves=DIVERGING), A4, reference={}))
    assert "The loss axis is logarithmic: your values go from 1.9 to 196,000." in page
    assert "Dashed" not in page and "reference" not in page.split("Your training curves")[1]
    percent = pages.accuracy_scale([[31.0, 42.0]])  # an accuracy reported in percent
    assert (percent.low, percent.high, percent.above) == (0.0, 1.0, 2)
    page = visible_text(pages.feedback_page(results(curves={"graded run": {"val_accuracy": [31.0, 42.0]}}), A4,
                                            reference=REFERENCE))
    assert "The accuracy axis runs from 0 to 100%. Above it, 2 of your values (up to 42), marked ▲ on its top edge." \
        in page


def test_each_figure_is_captioned_with_its_run_and_budget():
    """Every graded run of a4-a6 (the names their graders give curves(run, history)) is captioned with what the
    run is and the budget the grader gave it, taken from assignment.toml."""
    for assignment in (A4, A5, A6):
        reference = assignment.reference_curves()
        assert reference, f"{assignment.id} has no reference curves"
        page = visible_text(pages.feedback_page(results(curves=reference), assignment))
        budget, seed = assignment.budget, assignment.calibration["grading_seed"]
        train, val = pages.SPLITS[assignment.id](budget)
        assert page.count(f"{train:,} training images ({val:,} more for validation), {budget['epochs']} epochs, "
                          f"learning rate {budget['lr']:g}, batch size {budget['batch_size']}, seed {seed}.") == \
            len(reference)
        seeds = len(json.loads(assignment.curves_file.read_text())["seeds"])
        assert f"the mean of {seeds} runs with different seeds" in page
        for run in reference:
            assert pages.run_title(assignment, run) in page and (assignment.id, run) in pages.RUNS
    assert "your fit() trains the LeNet on CIFAR-10" in pages.run_title(A4, "graded run")
    assert "lambda 0.001), dropout 0.3, flips and crops" in pages.run_title(A5, "regularized")
    assert "frozen efficientnet_lite0 backbone, images resized to 64x64" in pages.run_title(A6, "graded run")
    assert pages.run_title(A4, "another run") == "The training run “another run”"


def test_the_captions_image_counts_are_the_graders_splits():
    """The captions' training and validation image counts are those the graders' measure.py give fit."""
    from autograder.graders.a4 import measure as m4
    from autograder.graders.a5 import measure as m5
    from autograder.graders.a6 import measure as m6

    labels = np.repeat(np.arange(10), 5000)
    images = np.arange(len(labels))
    (train, _), (val, _) = m4.split((images, labels))
    assert pages.SPLITS["a4"](A4.budget) == (len(train), len(val))
    tests = np.repeat(np.arange(10), 1000)
    (train, _), (val, _), _ = m5.subsets((images, labels), (np.arange(len(tests)), tests))
    assert pages.SPLITS["a5"](A5.budget) == (len(train), len(val))
    (train, _), _ = m6.split(m6.subset((images, labels), (np.arange(len(tests)), tests))[0])
    assert pages.SPLITS["a6"](A6.budget) == (len(train), len(val))


def test_figures_are_drawn_at_their_size_with_readable_text():
    """At 100% zoom a figure is shown at its natural size (the <img> carries it), and every text in it, from
    tick labels to legends, is at least 12 pixels high."""
    with language("en"):
        figure, _ = pages.draw_curves(CURVES["graded run"], REFERENCE["graded run"])
    figure.canvas.draw()
    texts = [t for t in figure.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_text().strip() and t.get_visible()]
    assert texts and figure.legends and figure.legends[0].get_texts()
    assert min(t.get_fontsize() * figure.dpi / 72 for t in texts) >= 12
    assert figure.legends[0].get_window_extent().width <= figure.bbox.width  # the legend fits the figure
    figure.clf()
    page = pages.feedback_page(results(curves=CURVES), A4, reference=REFERENCE)
    uri, width, height = re.search(r'<img class="curves" src="([^"]+)" width="(\d+)" height="(\d+)"', page).groups()
    assert png_size(uri) == (int(width), int(height)) and int(width) == 900 and 300 < int(height) < 450
    assert len(page) < 150_000  # one figure, a bounded page


def test_tests_are_grouped_by_task_with_their_visibility_and_points():
    tests = results()["tests"] + [entry("fit returns (model, history)", "4.6", 1, 1, "visible", ""),
                                  entry("an untagged check", "", 1, 1, "visible", "")]
    page = pages.feedback_page(results(tests=tests), A4, reference={})
    bodies = re.findall(r'<tbody class="task" id="task-([^"]+)">(.*?)</tbody>', page, flags=re.S)
    assert [task for task, _ in bodies] == ["4.2", "4.3", "4.6", "other"]  # the assignment's order, untagged last
    fit = dict(bodies)["4.6"]
    assert "Task 4.6 · fit" in fit and "1 / 1 points in the tests shown, 6 in all" in fit
    assert fit.count('<tr class="test ') == 1 and fit.count('<tr class="unshown-tests">') == 2
    assert "shown after publication" in fit and "hidden" in fit and "– / 4" in fit and "– / 1" in fit
    assert "secret probe" not in page and "visible now" in dict(bodies)["4.2"] and "2 / 2 points" in dict(bodies)["4.2"]
    published = pages.feedback_page(results(tests=tests), A4, published=True, reference={})
    fit = dict(re.findall(r'<tbody class="task" id="task-([^"]+)">(.*?)</tbody>', published, flags=re.S))["4.6"]
    assert fit.count('<tr class="test ') == 2 and 'data-visibility="after_published"' in fit
    assert "shown after publication" in fit and "CIFAR-10 accuracy above the pass mark" in fit
    assert fit.count('<tr class="unshown-tests">') == 1 and "secret probe" not in published
    only_hidden = pages.feedback_page(results(tests=[tests[3]]), A4, reference={})
    assert "1 point, in tests not shown here" in only_hidden.split("task-4.6")[1]


def test_the_class_histogram_counts_whole_students():
    for scores, max_score in (([0.0, 3.0, 3.0, 8.0], 8.0), ([1.0], 8.0), ([10.0 * i for i in range(40)], 400.0)):
        figure = pages.draw_histogram(scores, max_score)
        axis = figure.axes[0]
        low, high = axis.get_ylim()
        ticks = [t for t in axis.get_yticks() if low <= t <= high]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
        figure.clf()
    figure = pages.draw_histogram([0.0, 3.0, 3.0, 8.0], 8.0)  # a bar per whole score, centred on it
    assert [p.get_height() for p in figure.axes[0].patches] == [1, 0, 0, 2, 0, 0, 0, 0, 1]
    figure.clf()
    page = pages.class_report(class_results(), A4)
    uri, width, height = re.search(r'id="histogram" src="([^"]+)" width="(\d+)" height="(\d+)"', page).groups()
    assert png_size(uri) == (int(width), int(height)) == (720, 320)


# Text a template may show without translation: symbols, numbers and punctuation.
UNTRANSLATED_OK = re.compile(r"[\s\d✔✘·–—:/%().,;!?|\-]*")
SHOWN_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder", "value")


class _TextNodes(html.parser.HTMLParser):
    """The text a reader sees in a template's literal parts (``text``) and in its shown attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("style", "script")
        self.found += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]

    def handle_endtag(self, tag):
        self.skipping -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skipping:
            self.found.append(data)


def untranslated_text(source: str) -> list[str]:
    """The literal texts of a Jinja2 template that a reader would see and that no ``T(en, es)`` wraps: its
    ``data`` tokens (outside ``{{ }}`` and ``{% %}``) parsed as HTML, an expression standing for one mark."""
    environment = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    literal = "".join(value if kind == "data" else "\ue000" if kind == "variable_begin" else ""
                      for _, kind, value in environment.lex(source))
    parser = _TextNodes()
    parser.feed(literal)
    parser.close()
    texts = [t.replace("\ue000", " ").strip() for t in parser.found]
    return [t for t in texts if not UNTRANSLATED_OK.fullmatch(t)]


def test_no_template_shows_text_without_its_translation():
    assert untranslated_text('<p title="Tip">Score: {{ T("a", "b") }}</p><img alt="{{ x }}"><style>p {}</style>') \
        == ["Tip", "Score:"]  # the check itself sees bare text, in text and in shown attributes
    for template in sorted(pages.TEMPLATES.glob("*.j2")):
        assert untranslated_text(template.read_text(encoding="utf-8")) == [], template.name


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
    """Chromium opens both pages without errors; at 100% zoom in a 1280-pixel window every figure is displayed
    at its natural size (a screenshot of it is exactly that many pixels), its text at least 12 px; in a narrow
    window it shrinks with its aspect ratio kept."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    feedback = pages.write_feedback(tmp_path / "ana", results(curves=CURVES), A4, published=True)
    diverging = pages.write_feedback(tmp_path / "bea", results("bea", curves=DIVERGING), A4)
    (tmp_path / "ana" / "results.json").write_text(json.dumps(results()))
    report = pages.write_report(tmp_path, class_results(), A4)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
    sizes_js = ("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, "
                "i.getBoundingClientRect().width, i.getBoundingClientRect().height])")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page, errors = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1), []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for path, title, expected in ((feedback, "a4 – ana", [(900, None)]), (diverging, "a4 – bea", [(900, None)]),
                                          (report, "a4 – class report", [(720, 320)])):
                page.goto(path.as_uri())
                assert page.title() == title
                sizes = page.evaluate(sizes_js)
                assert len(sizes) == len(expected), sizes
                for (complete, width, height, shown_width, shown_height), (want_w, want_h) in zip(sizes, expected):
                    assert complete and width == want_w and (want_h is None or height == want_h), sizes
                    assert (shown_width, shown_height) == (width, height), sizes  # shown at its natural size
                shot = tmp_path / f"{path.parent.name}-{path.stem}.png"
                page.locator("img").first.screenshot(path=str(shot))
                shot_width, shot_height = struct.unpack(">II", shot.read_bytes()[16:24])
                assert abs(shot_width - sizes[0][1]) <= 1 and abs(shot_height - sizes[0][2]) <= 1  # subpixel placement
                full = tmp_path / f"{path.parent.name}-{path.stem}-page.png"
                page.screenshot(path=str(full), full_page=True)
                page_width, page_height = struct.unpack(">II", full.read_bytes()[16:24])
                assert page_width == 1280 and page_height >= sizes[0][2] + 200
                assert page.locator("table tr").count() > 3
                assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 14
            page.goto(feedback.as_uri())
            assert page.locator("#tests tr.test").count() == 3 and page.locator("#tests tr.failed").count() == 2
            assert page.locator("#tests tbody.task").count() == 3
            page.set_viewport_size({"width": 480, "height": 900})  # a phone: the figure shrinks, undistorted
            _, width, height, shown_width, shown_height = page.evaluate(sizes_js)[0]
            assert shown_width < 480 and abs(shown_height / shown_width - height / width) < 0.01
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
