"""Self-contained HTML pages from graded results: a student's feedback page and the class report.

Both read only ``results.json`` data (Gradescope's format, as :func:`autograder.batch.grade_one` writes it)
and the reference curves from calibration; they are rendered with Jinja2 (autoescaped: every text a
submission influences, feedback included, is escaped) and embed their plots as PNG data, so a page is one
file that opens anywhere, offline.

A feedback page lists the tests task by task (a task's public and hidden tests together, each marked by
its visibility) and draws each training run the graders recorded beside the reference's, captioned with the
run and the grader's budget. Every text is in English and Spanish (:class:`~autograder.feedback.T`), the
figures' included; figures are drawn at the size they are shown (:data:`DPI`), their fonts readable at
100% zoom, and a diverging run never flattens the reference's curves (:func:`loss_scale`).
"""
from __future__ import annotations

import base64
import functools
import io
import json
import math
import os
import re
import statistics
import struct
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import jinja2

from autograder import course, review
from autograder.feedback import T, current_language, language

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
    env.globals["visibility_label"] = lambda visibility: str(VISIBILITY.get(visibility, visibility))
    env.globals["points_text"] = points_text
    env.globals["status_label"] = lambda status: str(STATUS.get(status, status))
    env.filters["points"] = lambda x: f"{float(x):g}"
    return env


# Figures are drawn at DPI dots per inch and shown at their natural size (one PNG pixel per CSS pixel; the
# <img> carries its width and height, and narrower screens scale it down): a font of FONT_PT points is
# FONT_PT * DPI / 72 pixels on screen at 100% zoom (10 pt: about 14 px; the tick labels' 9 pt: 12.5 px).
DPI = 100
FONT_PT = 10.0
SMALL_PT = 9.0
CURVES_WIDTH_IN = 9.0  # 900 px, within the page's column (60rem: 960 px); two panels of 450 px
STYLE = {"font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT, "legend.fontsize": FONT_PT,
         "xtick.labelsize": SMALL_PT, "ytick.labelsize": SMALL_PT, "figure.dpi": DPI, "savefig.dpi": DPI,
         "font.family": "DejaVu Sans"}


@dataclass(frozen=True)
class Image:
    """A rendered figure: its ``data:`` URI and its size in pixels (shown at that size)."""

    uri: str
    width: int
    height: int


def _png(figure) -> Image:
    """A matplotlib figure as an :class:`Image` (the figure is closed). The figure keeps its own size: no
    tight bounding box, so the PNG is exactly figsize * DPI pixels."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    data = buffer.getvalue()
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return Image("data:image/png;base64," + base64.b64encode(data).decode("ascii"), width, height)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def number(x: float) -> str:
    """``x`` for a reader: three significant digits, whole thousands grouped (a space in Spanish)."""
    if 1000 <= abs(x) < 1e9:
        text = f"{x:,.0f}"
        return text.replace(",", "\u00a0") if current_language() == "es" else text
    return f"{x:.3g}"


def nice_ceiling(x: float) -> float:
    """The least of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is at least ``x`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(x))
    return next(step * power for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * power >= x * (1 - 1e-9))


@dataclass(frozen=True)
class Scale:
    """How a panel's value axis is drawn: ``linear`` from ``low`` to ``high``, or ``log``; ``above`` and
    ``below`` count the student's points beyond the axis (drawn as ▲ on its top edge, ▼ on its bottom one),
    ``highest`` / ``lowest`` are the student's extreme values."""

    kind: str
    low: float
    high: float
    above: int = 0
    below: int = 0
    highest: float = 0.0
    lowest: float = 0.0

    @property
    def clipped(self) -> bool:
        return bool(self.above or self.below)


CLIP_FACTOR = 2.0  # a loss axis reaches twice the reference's highest loss (rounded up), no further
LOG_SPREAD = 30.0  # without a reference, losses spanning more than this factor are drawn on a log axis


def loss_scale(student: list[list[float]], reference: list[list[float]]) -> Scale:
    """The loss axis of a panel, so that the reference's curves and the student's stay readable together.

    With a reference, the axis runs from 0 to the highest value drawn, unless the student's losses go
    beyond :data:`CLIP_FACTOR` times the reference's highest: then it stops there (rounded up to a round
    number) and the points beyond it are counted (a diverging run, a loss of 196,000, no longer flattens
    the reference's into a line at 0). Without a reference, losses spanning more than :data:`LOG_SPREAD`
    times (all positive) get a logarithmic axis."""
    mine = [v for values in student for v in values]
    theirs = [v for values in reference for v in values]
    every = mine + theirs
    if not every:
        return Scale("linear", 0.0, 1.0)
    highest, lowest = (max(mine), min(mine)) if mine else (0.0, 0.0)
    if theirs and max(theirs) > 0:
        ceiling = nice_ceiling(CLIP_FACTOR * max(theirs))
        above, below = sum(v > ceiling for v in mine), sum(v < -ceiling for v in mine)
        return Scale("linear", -ceiling if below else min(0.0, min(every)),
                     ceiling if above else nice_ceiling(max(every)), above, below, highest, lowest)
    if min(every) > 0 and max(every) / min(every) > LOG_SPREAD:
        return Scale("log", min(every) / 1.5, max(every) * 1.5, 0, 0, highest, lowest)
    low, top = min(0.0, min(every)), max(every)
    return Scale("linear", low, nice_ceiling(top) if top > 0 else low + 1.0, 0, 0, highest, lowest)


def accuracy_scale(student: list[list[float]]) -> Scale:
    """Accuracies are fractions: the axis always runs from 0 to 1 (shown as 0-100%); a student's value
    outside (an accuracy reported in percent, say) is counted as beyond it."""
    mine = [v for values in student for v in values]
    return Scale("linear", 0.0, 1.0, sum(v > 1 for v in mine), sum(v < 0 for v in mine),
                 max(mine, default=0.0), min(mine, default=0.0))


CURVE_NAMES = {"train_loss": T("training loss", "pérdida de entrenamiento"),
               "val_loss": T("validation loss", "pérdida de validación"),
               "test_loss": T("test loss", "pérdida de test"),
               "train_accuracy": T("training accuracy", "accuracy de entrenamiento"),
               "train_acc": T("training accuracy", "accuracy de entrenamiento"),
               "val_accuracy": T("validation accuracy", "accuracy de validación"),
               "val_acc": T("validation accuracy", "accuracy de validación"),
               "test_accuracy": T("test accuracy", "accuracy de test")}
PANELS = (("loss", T("loss", "pérdida")), ("acc", T("accuracy", "accuracy")))


def curve_name(key: str) -> str:
    """A history key as a reader says it (``val_loss`` -> validation loss); an unknown key as it is."""
    return str(CURVE_NAMES.get(key, key))


def _your_values(n: int) -> str:
    return str(T("one of your values", "uno de tus valores") if n == 1 else
               T("{n} of your values", "{n} de tus valores").format(n=n))


@dataclass
class Panel:
    """One panel of a run's figure: its quantity (``loss`` or ``acc``), the keys drawn of the student's
    history and of the reference's, and the axis chosen."""

    kind: str
    title: str
    mine: list[str]
    reference: list[str]
    scale: Scale

    def note(self) -> str:
        """What the panel's axis does, as its title says it."""
        s = self.scale
        if s.kind == "log":
            return str(T("logarithmic axis", "eje logarítmico"))
        if self.kind == "acc":
            if s.clipped:
                return str(T("axis 0–100%, values outside it clipped (▲▼)",
                             "eje 0–100%, valores fuera de él recortados (▲▼)"))
            return str(T("axis 0–100%", "eje 0–100%"))
        said = []
        if s.above:
            said.append(str(T("values above {c} clipped (▲)", "valores por encima de {c} recortados (▲)")
                            .format(c=number(s.high))))
        if s.below:
            said.append(str(T("values below {c} clipped (▼)", "valores por debajo de {c} recortados (▼)")
                            .format(c=number(s.low))))
        return "; ".join(said)

    def sentence(self) -> str:
        """The panel's axis in a sentence under the figure."""
        s = self.scale
        if s.kind == "log":
            return str(T("The {q} axis is logarithmic: your values go from {a} to {b}.",
                         "El eje de {q} es logarítmico: tus valores van de {a} a {b}.")
                       .format(q=self.title, a=number(s.lowest), b=number(s.highest)))
        if self.kind == "acc":
            text = str(T("The accuracy axis runs from 0 to 100%.", "El eje de accuracy va de 0 a 100%."))
            if s.clipped:
                if s.above:
                    text += " " + str(T("Above it, {n} (up to {b}), marked ▲ on its top edge.",
                                        "Por encima, {n} (hasta {b}), con ▲ en su borde superior.")
                                      .format(n=_your_values(s.above), b=number(s.highest)))
                if s.below:
                    text += " " + str(T("Below it, {n} (down to {b}), marked ▼ on its bottom edge.",
                                        "Por debajo, {n} (hasta {b}), con ▼ en su borde inferior.")
                                      .format(n=_your_values(s.below), b=number(s.lowest)))
            return text
        said = []
        if s.above:
            said.append(str(T("The {q} axis stops at {c}, twice the reference's highest {q} rounded up: {n} above it "
                              "(up to {b}), marked ▲ on its top edge.",
                              "El eje de {q} llega hasta {c}, el doble de la mayor {q} de la referencia redondeado: {n} "
                              "por encima (hasta {b}), con ▲ en su borde superior.")
                            .format(q=self.title, c=number(s.high), n=_your_values(s.above), b=number(s.highest))))
        if s.below:
            said.append(str(T("The {q} axis starts at {c}: {n} below it (down to {b}), marked ▼ on its bottom edge.",
                              "El eje de {q} empieza en {c}: {n} por debajo (hasta {b}), con ▼ en su borde inferior.")
                            .format(q=self.title, c=number(s.low), n=_your_values(s.below), b=number(s.lowest))))
        if said:
            return " ".join(said)
        return str(T("The {q} axis is linear, from {a} to {b}.", "El eje de {q} es lineal, de {a} a {b}.")
                   .format(q=self.title, a=number(s.low), b=number(s.high)))


@dataclass
class Plot:
    """A training run's figure: the image and its panels (what each draws, on which axis)."""

    image: Image
    panels: list[Panel]


def draw_curves(student: dict[str, list[float]], reference: dict[str, list[float]]):
    """A training run's matplotlib figure (open) and its :class:`Panel` list: one panel for the losses and
    one for the accuracies (only those with a curve). Each quantity has its colour; the student's curves are
    solid with a dot per epoch, the reference solution's dashed; one legend under the panels names the
    colours and the two styles."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    keys = list(dict.fromkeys([*student, *reference]))
    panels = []
    for kind, title in PANELS:
        chosen = [k for k in keys if kind in k.lower() and not (kind == "acc" and "loss" in k.lower())]
        mine, theirs = [k for k in chosen if k in student], [k for k in chosen if k in reference]
        if not chosen:
            continue
        scale = (loss_scale([student[k] for k in mine], [reference[k] for k in theirs]) if kind == "loss"
                 else accuracy_scale([student[k] for k in mine]))
        panels.append(Panel(kind, str(title), mine, theirs, scale))
    drawn = list(dict.fromkeys(k for p in panels for k in p.mine + p.reference))
    colours = {key: f"C{i % 10}" for i, key in enumerate(drawn)}
    legend = [Line2D([], [], color=colours[k], linewidth=2.5, label=curve_name(k).replace("$", r"\$"))
              for k in drawn]  # a student's key is text, never mathtext
    if any(p.mine for p in panels):
        legend.append(Line2D([], [], color="#555", marker="o", markersize=4, linewidth=2,
                             label=str(T("yours", "tuya"))))
    if any(p.reference for p in panels):
        legend.append(Line2D([], [], color="#555", linestyle="--", linewidth=1.6,
                             label=str(T("reference", "referencia"))))
    if any(p.scale.clipped for p in panels):
        legend.append(Line2D([], [], color="#bbb", marker="^", markersize=9, markeredgecolor="black",
                             linestyle="none", label=str(T("beyond the axis", "fuera del eje"))))
    epochs_drawn = max([len(v) for k in drawn for v in (student.get(k, []), reference.get(k, []))] + [1])
    with plt.rc_context(STYLE):
        figure = plt.figure(figsize=(CURVES_WIDTH_IN, 3.4), dpi=DPI, layout="constrained")
        axes = figure.subplots(1, max(len(panels), 1), squeeze=False)[0]
        for axis, panel in zip(axes, panels):
            s = panel.scale
            beyond_keys = [k for k in panel.mine if any(v > s.high or v < s.low for v in student[k])]
            for key in panel.reference:
                values = reference[key]
                axis.plot(range(1, len(values) + 1), values, color=colours[key], linestyle="--", linewidth=1.6)
            for key in panel.mine:
                values = student[key]
                epochs = range(1, len(values) + 1)
                axis.plot(epochs, values, color=colours[key], marker="o", markersize=4, linewidth=2)
                if s.kind != "linear" or key not in beyond_keys:
                    continue
                shift = 0.12 * (beyond_keys.index(key) - (len(beyond_keys) - 1) / 2)  # side by side, not on top
                for epoch, value in zip(epochs, values):
                    if value > s.high or value < s.low:
                        axis.plot([epoch + shift], [s.high if value > s.high else s.low],
                                  marker="^" if value > s.high else "v", markersize=9, color=colours[key],
                                  markeredgecolor="black", linestyle="none", clip_on=False, zorder=5)
            if s.kind == "log":
                axis.set_yscale("log")
            axis.set_ylim(s.low, s.high)
            if panel.kind == "acc":
                axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set_xlim(0.5, epochs_drawn + 0.5)
            axis.set_xlabel(str(T("epoch", "época")))
            axis.set_ylabel(panel.title)
            axis.set_title(f"{panel.title}: {panel.note()}" if panel.note() else panel.title, pad=10)
            axis.grid(alpha=0.3)
        rows = _legend(figure, legend)
        figure.set_size_inches(CURVES_WIDTH_IN, 3.1 + 0.25 * rows)
    return figure, panels


def _legend(figure, handles: list) -> int:
    """``handles`` as one legend under the figure's panels, read row by row, in as few rows as fit the
    figure's width; returns the number of rows."""
    from matplotlib.lines import Line2D

    blank = Line2D([], [], linestyle="none", label=" ")
    renderer = figure.canvas.get_renderer()
    for columns in range(len(handles), 0, -1):
        rows = -(-len(handles) // columns)
        padded = handles + [blank] * (rows * columns - len(handles))
        ordered = [padded[i * columns + j] for j in range(columns) for i in range(rows)]  # filled by column
        legend = figure.legend(handles=ordered, loc="outside lower center", ncols=columns, frameon=False,
                               handlelength=2.4, columnspacing=1.6)
        if columns == 1 or legend.get_window_extent(renderer).width <= figure.bbox.width - 10:
            return rows
        legend.remove()
    return len(handles)


def curve_plot(student: dict[str, list[float]], reference: dict[str, list[float]]) -> Plot:
    """One training run drawn beside the reference's (:func:`draw_curves`), as a :class:`Plot`."""
    figure, panels = draw_curves(student, reference)
    return Plot(_png(figure), panels)


# What each graded training run is (the name its grader gives ``curves(run, history)``); the budget follows.
RUNS = {
    ("a4", "graded run"): T("The graded run: your fit() trains the LeNet on CIFAR-10",
                            "La ejecución corregida: tu fit() entrena la LeNet con CIFAR-10"),
    ("a5", "plain"): T("The plain run of the overfitting experiment: your fit() with no regularization",
                       "La ejecución sin regularizar del experimento de sobreajuste: tu fit() sin regularización"),
    ("a5", "regularized"): T("The regularized run of the overfitting experiment: your fit() with an L2 penalty "
                             "(lambda {l2}), dropout {dropout}, flips and crops",
                             "La ejecución regularizada del experimento de sobreajuste: tu fit() con penalización L2 "
                             "(lambda {l2}), dropout {dropout}, volteos y recortes"),
    ("a6", "graded run"): T("The graded run: your fit_frozen() trains a new head on the frozen {backbone} backbone, "
                            "images resized to {size}x{size}",
                            "La ejecución corregida: tu fit_frozen() entrena una cabeza nueva sobre la red base "
                            "{backbone} congelada, con las imágenes redimensionadas a {size}x{size}"),
}
CIFAR10_TRAIN = 50_000
# (training images, validation images) of each assignment's graded fit, as its measure.py splits them:
# a4 trains on CIFAR-10's training set less the validation split; a5 on train_per_class images per class with
# val_per_class other ones per class as validation; a6 on train_per_class per class, the validation split
# taken out of them.
SPLITS = {
    "a4": lambda b: (CIFAR10_TRAIN - 10 * b["val_per_class"], 10 * b["val_per_class"]),
    "a5": lambda b: (10 * b["train_per_class"], 10 * b["val_per_class"]),
    "a6": lambda b: (10 * (b["train_per_class"] - b["val_per_class"]), 10 * b["val_per_class"]),
}


def budget_text(assignment: course.Assignment) -> str:
    """The grader's training budget of ``assignment`` in words (images, epochs, learning rate, batch size,
    seed), in the current language; "" for an assignment with no budget."""
    b, parts = assignment.budget, []
    if assignment.id in SPLITS:
        try:
            train, val = SPLITS[assignment.id](b)
        except (KeyError, TypeError):
            pass
        else:
            parts.append(str(T("{t} training images ({v} more for validation)",
                               "{t} imágenes de entrenamiento (y {v} de validación)")
                             .format(t=number(train), v=number(val))))
    if "epochs" in b:
        parts.append(str(T("{e} epochs", "{e} épocas").format(e=b["epochs"])))
    if "lr" in b:
        parts.append(str(T("learning rate {lr:g}", "tasa de aprendizaje {lr:g}").format(lr=float(b["lr"]))))
    if "batch_size" in b:
        parts.append(str(T("batch size {n}", "batches de {n}").format(n=b["batch_size"])))
    if "grading_seed" in assignment.calibration:
        parts.append(str(T("seed {s}", "semilla {s}").format(s=assignment.calibration["grading_seed"])))
    return ", ".join(parts)


def run_title(assignment: course.Assignment, run: str) -> str:
    """What the training run ``run`` of ``assignment`` is, in the current language."""
    known = RUNS.get((assignment.id, run))
    if known is None:
        return str(T("The training run “{r}”", "La ejecución de entrenamiento «{r}»").format(r=run))
    try:
        return str(known.format(**assignment.budget))
    except (KeyError, IndexError, ValueError):
        return str(T("The training run “{r}”", "La ejecución de entrenamiento «{r}»").format(r=run))


def caption(assignment: course.Assignment, run: str, plot: Plot, seeds: int | None) -> str:
    """A figure's caption after the run's title (:func:`run_title`): the run's budget, and the reference drawn
    beside it."""
    budget = budget_text(assignment)
    text = budget[:1].upper() + budget[1:] + "." if budget else ""
    if any(p.reference for p in plot.panels):
        text += " " + (str(T("The reference solution: the same budget, the mean of {n} runs with different seeds.",
                             "La solución de referencia: el mismo presupuesto, la media de {n} ejecuciones con "
                             "semillas distintas.").format(n=seeds)) if seeds else
                       str(T("The reference solution: the same budget, the mean of several runs with different "
                             "seeds.", "La solución de referencia: el mismo presupuesto, la media de varias "
                             "ejecuciones con semillas distintas.")))
    return text.strip()


def axes_text(plot: Plot) -> str:
    """What each axis of a figure does (linear, logarithmic, clipped), in sentences."""
    return " ".join(p.sentence() for p in plot.panels)


def _names(keys: list[str]) -> str:
    names = [curve_name(k) for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + str(T(" and ", " y ")) + names[-1]


def description(plot: Plot) -> str:
    """What a figure draws, panel by panel, and how to read it: only the curves that are there."""
    places = [T("Left", "A la izquierda"), T("right", "a la derecha")] if len(plot.panels) == 2 else [None]
    parts = []
    for place, panel in zip(places, plot.panels):
        drawn = list(dict.fromkeys(panel.mine + panel.reference))
        parts.append(f"{place}: {_names(drawn)}" if place else _names(drawn))
    text = "; ".join(parts) + "."
    text = text[:1].upper() + text[1:]
    mine = [k for p in plot.panels for k in p.mine]
    theirs = [k for p in plot.panels for k in p.reference]
    if mine:
        text += " " + str(T("Solid lines with a dot per epoch: your run.", "Líneas continuas con un punto por época: "
                            "tu ejecución."))
    if theirs:
        text += " " + str(T("Dashed: the reference solution's.", "Discontinuas: la de la solución de referencia."))
    if mine and (missing := [k for k in mine if k not in theirs]) and theirs:
        text += " " + str(T("The reference has no {c} to compare.", "La referencia no tiene {c} con que comparar.")
                          .format(c=_names(missing)))
    if theirs and (missing := [k for k in theirs if k not in mine]):
        text += " " + str(T("Your run reported no {c}.", "Tu ejecución no dio {c}.").format(c=_names(missing)))
    hints = []
    if {"train_loss", "val_loss"} <= set(mine):
        hints.append(T("A validation loss that rises while the training loss keeps falling is overfitting.",
                       "Una pérdida de validación que sube mientras la de entrenamiento sigue bajando es sobreajuste."))
    if {"train_accuracy", "val_accuracy"} <= set(mine):
        hints.append(T("A training accuracy that keeps rising while the validation accuracy stalls is overfitting.",
                       "Una accuracy de entrenamiento que sigue subiendo mientras la de validación se estanca es "
                       "sobreajuste."))
    if any(p.kind == "loss" and p.mine for p in plot.panels):
        hints.append(T("A loss that does not go down means the model is not learning.",
                       "Si la pérdida no baja, el modelo no aprende."))
    return " ".join([text, *map(str, hints)])


def points_text(points: float) -> str:
    """``points`` with its unit, singular or plural."""
    return str(T("1 point", "1 punto") if float(points) == 1 else
               T("{p} points", "{p} puntos").format(p=f"{float(points):g}"))


VISIBILITY = {"visible": T("visible now", "visible ya"),
              "after_published": T("shown after publication", "se muestra al publicar las notas"),
              "after_due_date": T("shown after the due date", "se muestra tras la fecha de entrega"),
              "hidden": T("hidden", "oculta")}
STATUS = {"graded": T("graded", "corregida"), "not gradable": T("not gradable", "no se puede corregir"),
          "grader error": T("grader error", "error del corrector")}


def localized(thing, attribute: str = "title") -> str:
    """``thing.<attribute>`` in the current language: a :class:`T` as such, else ``<attribute>_es`` in Spanish
    where ``thing`` has one, else the text as it is."""
    value = getattr(thing, attribute, "")
    if isinstance(value, T):
        return str(value)
    spanish = getattr(thing, f"{attribute}_es", None)
    return str(spanish) if spanish and current_language() == "es" else str(value)


@dataclass
class TaskGroup:
    """One task's tests on a feedback page: those shown, and one ``(visibility label, count, points, note)``
    per group of tests withheld; ``score`` / ``shown_max`` are the shown tests' points, ``max_score`` all."""

    id: str
    title: str
    shown: list[dict]
    withheld: list[tuple[str, int, float, str]]
    score: float
    shown_max: float
    max_score: float


WITHHELD_NOTE = {"after_published": T("Name and feedback shown when the grades are published.",
                                      "Nombre y comentarios visibles al publicar las notas."),
                 "after_due_date": T("Name and feedback shown after the due date.",
                                     "Nombre y comentarios visibles tras la fecha de entrega."),
                 "hidden": T("Never shown to students.", "Nunca visible para los estudiantes.")}


def shown_to_student(test: dict, published: bool) -> bool:
    """Whether a test of a results.json is shown in full: ``visible`` ones always, ``after_published`` and
    ``after_due_date`` ones once ``published``, ``hidden`` ones (and any other visibility) never."""
    visibility = test.get("visibility", "visible")
    return visibility == "visible" or (published and visibility in ("after_published", "after_due_date"))


def task_groups(tests: list[dict], assignment: course.Assignment, published: bool) -> list[TaskGroup]:
    """``tests`` (a results.json's) grouped by task, in the assignment's order of tasks (tests of no known task
    last): each task's public and hidden tests together."""
    order = list(assignment.tasks)
    by_task: dict[str, list[dict]] = {}
    for test in tests:
        by_task.setdefault(str(test.get("number", "") or ""), []).append(test)
    groups = []
    for task_id in sorted(by_task, key=lambda t: (t not in order, order.index(t) if t in order else 0, t == "", t)):
        shown, counts, points = [], Counter(), Counter()
        for test in by_task[task_id]:
            if shown_to_student(test, published):
                shown.append(test)
            else:
                counts[str(test.get("visibility"))] += 1
                points[str(test.get("visibility"))] += float(test.get("max_score", 0))
        task = assignment.tasks.get(task_id)
        title = localized(task) if task is not None else (task_id or str(T("Other tests", "Otras pruebas")))
        groups.append(TaskGroup(
            task_id, title, shown,
            [(str(VISIBILITY.get(v, v)), n, points[v], str(WITHHELD_NOTE.get(v, "")))
             for v, n in sorted(counts.items())],
            sum(float(t.get("score", 0)) for t in shown), sum(float(t.get("max_score", 0)) for t in shown),
            sum(float(t.get("max_score", 0)) for t in by_task[task_id])))
    return groups


def feedback_page(results: dict, assignment: course.Assignment, lang: str = "en", published: bool = False,
                  reference: dict | None = None) -> str:
    """The HTML feedback page of one student's ``results`` (Gradescope's results.json).

    Tests are grouped by task, each marked by its visibility. Tests whose visibility is ``visible`` are shown
    in full; ``after_published`` and ``after_due_date`` ones only when ``published``; ``hidden`` ones never:
    each withheld group is one line of its task with its count and points. Training runs the graders
    recorded are plotted beside ``reference`` (the calibration curves; the assignment's own by default),
    each captioned with the run and its budget.
    """
    seeds = None
    if reference is None:
        reference, seeds = assignment.reference_curves(), reference_seeds(assignment)
    results = scrubbed(results)
    tests = results.get("tests", [])
    extra = results.get("extra_data", {})
    curves = extra.get("curves") or {}
    with language(lang):
        groups = task_groups(tests, assignment, published)
        withheld, withheld_points = Counter(), Counter()
        for test in tests:
            if not shown_to_student(test, published):
                withheld[str(test.get("visibility"))] += 1
                withheld_points[str(test.get("visibility"))] += float(test.get("max_score", 0))
        figures = []
        for run, history in curves.items():
            if history:
                plot = curve_plot(history, reference.get(run, {}))
                figures.append({"run": run, "title": run_title(assignment, run), "image": plot.image,
                                "caption": caption(assignment, run, plot, seeds),
                                "description": description(plot), "axes": axes_text(plot)})
        shown = [t for g in groups for t in g.shown]
        return _environment().get_template("feedback.html.j2").render(
            lang=lang, assignment=assignment, title=localized(assignment), results=results, extra=extra,
            status=str(STATUS.get(extra.get("status", "graded"), extra.get("status", ""))), groups=groups,
            withheld=[(str(WITHHELD_UNTIL.get(v, v)), n, withheld_points[v]) for v, n in sorted(withheld.items())],
            shown_score=sum(float(t.get("score", 0)) for t in shown),
            shown_max=sum(float(t.get("max_score", 0)) for t in shown),
            max_score=extra.get("max_score", sum(float(t.get("max_score", 0)) for t in tests)),
            figures=figures)


def reference_seeds(assignment: course.Assignment) -> int | None:
    """How many seeds the reference curves of ``assignment`` are the mean of (reference_curves.json), if known."""
    try:
        seeds = json.loads(assignment.curves_file.read_text(encoding="utf-8"))["seeds"]
        return len(seeds) if isinstance(seeds, list) and seeds else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


WHOLE_BINS = 25  # up to this many points, the histogram has a bar per whole score


def score_histogram(scores: list[float], max_score: float) -> Image:
    """:func:`draw_histogram` as an :class:`Image`."""
    return _png(draw_histogram(scores, max_score))


def draw_histogram(scores: list[float], max_score: float):
    """The class's scores, a bar per whole score (up to :data:`WHOLE_BINS` points; a score between two whole
    ones counted with the nearer), else in ten bins from 0 to ``max_score``; the count axis in whole students."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    with plt.rc_context(STYLE):
        figure, axis = plt.subplots(figsize=(7.2, 3.2), dpi=DPI, layout="constrained")
        if 0 < max_score <= WHOLE_BINS:  # one bar per whole score, centred on it
            top = math.ceil(max_score)
            axis.hist(scores, bins=[k - 0.5 for k in range(top + 2)], color="C0", edgecolor="white")
            axis.set_xlim(-0.5, top + 0.5)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            bins = [max_score * i / 10 for i in range(11)] if max_score > 0 else 10
            axis.hist(scores, bins=bins, color="C0", edgecolor="white")
            if max_score > 0:
                axis.set_xlim(0, max_score)
                axis.set_xticks(bins)
                axis.xaxis.set_major_formatter(lambda x, _: f"{x:g}")
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(str(T("score", "nota")))
        axis.set_ylabel(str(T("students", "estudiantes")))
        axis.grid(alpha=0.3, axis="y")
    return figure


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
            lang=lang, assignment=assignment, title=localized(assignment), summary=summary, max_score=max_score,
            mean=statistics.fmean(scores) if scores else 0.0, median=statistics.median(scores) if scores else 0.0,
            median_seconds=statistics.median(seconds) if seconds else 0.0, total_seconds=sum(seconds),
            histogram=score_histogram(scores, max_score) if scores else None, similar_share=review.SIMILAR)


def write_report(out: Path, results: dict[str, dict], assignment: course.Assignment, lang: str = "en",
                 similar: list[dict] | None = None) -> Path:
    """``out/report.html``, written atomically."""
    path = Path(out) / "report.html"
    _write(path, class_report(results, assignment, lang, similar))
    return path
