"""A5 public graders: the penalty, weight decay, dropout, early stopping, augmentation, fit on small data.

Your functions run in a separate process; the probe networks, batches and generators
below are built next to them, and what they return comes back here to be checked.
The hidden graders check the same ideas on more cases (BatchNorm, momentum, several
curves, large samples) and run the overfitting experiment of the PUC deck on the
real CIFAR-10: with the same seed and budget, your regularized fit() must have a
smaller train-test accuracy gap than the plain one.
"""
import math

import numpy as np
import pytest
import torch

from autograder.feedback import T, check_equal, check_raises, fail
from autograder.gradcheck import check_close
from autograder.graders.a5 import checks
from autograder.graders.cifar_checks import check_history
from autograder.sandbox.helpers import a5 as local

LENET_SHAPES = [[6, 3, 5, 5], [6], [16, 6, 5, 5], [16], [120, 400], [120], [84, 120], [84], [10, 84], [10]]
WEIGHT_NAMES = ["0.weight", "3.weight", "5.weight"]  # the Conv2d and the two Linear layers of small_net()
WEIGHTS_HINT = T("weights are the `weight` tensors of the Conv and Linear layers; biases are never penalized.",
                 "los pesos son los tensores `weight` de las capas Conv y Linear; los sesgos nunca se penalizan.")
DECAY_HINT = T("the gradient of lambda * w^2 is 2 * lambda * w, so weight_decay = 2 * lambda, on the weights only.",
               "el gradiente de lambda * w^2 es 2 * lambda * w, así que weight_decay = 2 * lambda, solo en los pesos.")


def check_scalar_tensor(report: dict, call: str) -> None:
    if not report["tensor"] or report["shape"] != [] or report["value"] is None:
        fail(T("{c} returned {g}; expected a scalar tensor (shape ()), so that it can be added to the loss.",
               "{c} devolvió {g}; se esperaba un tensor escalar (forma ()), para sumarlo a la pérdida.")
             .format(c=call, g=report["repr"]))


@pytest.mark.task("5.1")
def test_penalty_of_a_small_network(reg, probes):
    """weight_parameters and l2_penalty on a small CNN: lambda * sum of squared weights, biases excluded
    es: weight_parameters y l2_penalty en una CNN pequeña: lambda * suma de los pesos al cuadrado, sin los sesgos
    """
    model, twin = probes.small_net(), local.small_net()
    check_equal(checks.weight_names(reg.weight_parameters(model), twin), WEIGHT_NAMES,
                call="names of weight_parameters(model)", hint=WEIGHTS_HINT)
    lam = 0.01
    returned = reg.l2_penalty(model, lam)
    value, scalar = checks.penalty_value(returned)
    check_scalar_tensor({"tensor": scalar, "shape": [] if scalar else None, "value": value, "repr": repr(returned)[:200]},
                        f"l2_penalty(model, {lam})")
    squares = {name: float((p.detach() ** 2).sum()) for name, p in twin.named_parameters()}
    expected = lam * sum(squares[name] for name in WEIGHT_NAMES)
    if math.isclose(value, lam * sum(squares.values()), rel_tol=1e-9):
        fail(T("l2_penalty(model, 0.01) = {g:.6f} includes the biases; expected {e:.6f}.",
               "l2_penalty(model, 0.01) = {g:.6f} incluye los sesgos; se esperaba {e:.6f}.")
             .format(g=value, e=expected), WEIGHTS_HINT)
    check_close(np.array(value), np.array(expected), name="penalty", call="l2_penalty(model, 0.01)", rtol=1e-9,
                hint=T("lambda * sum over the weights of w^2 (the PUC deck's Omega(theta) = sum w^2).",
                       "lambda * suma sobre los pesos de w^2 (Omega(theta) = suma de w^2, transparencias de la PUC)."))
    check_equal(checks.penalty_value(reg.l2_penalty(model, 0.0))[0], 0.0, call="float(l2_penalty(model, 0.0))")


@pytest.mark.task("5.1")
def test_penalty_gradients_are_two_lambda_w(reg, probes):
    """The gradient of l2_penalty is 2 * lambda * w for each weight and 0 for each bias
    es: El gradiente de l2_penalty es 2 * lambda * w para cada peso y 0 para cada sesgo
    """
    lam = 0.05
    got = probes.penalty_report(reg.l2_penalty, probes.small_net(), lam)
    check_scalar_tensor(got, f"l2_penalty(model, {lam})")
    for name, p in local.small_net().named_parameters():
        grad = got["grads"].get(name)
        if name in WEIGHT_NAMES:
            if grad is None:
                fail(T("{n} has no gradient after l2_penalty(model, {l}).backward(); expected 2 * lambda * w.",
                       "{n} no tiene gradiente tras l2_penalty(model, {l}).backward(); se esperaba 2 * lambda * w.")
                     .format(n=name, l=lam), WEIGHTS_HINT)
            check_close(grad.numpy(), (2 * lam * p.detach()).numpy(), name=f"{name}.grad",
                        call=f"l2_penalty(model, {lam}).backward()", rtol=1e-9, hint=DECAY_HINT)
        elif grad is not None and torch.any(grad != 0):
            fail(T("{n}.grad is not zero after l2_penalty(model, {l}).backward(); expected 0: the penalty reaches a bias.",
                   "{n}.grad no es cero tras l2_penalty(model, {l}).backward(); se esperaba 0: la penalización llega a un sesgo.")
                 .format(n=name, l=lam), WEIGHTS_HINT)


@pytest.mark.task("5.2")
def test_explicit_penalty_step_matches_weight_decay(reg, probes):
    """l2_training_step with plain SGD equals PyTorch's SGD(weight_decay = 2 * lambda) on the weights, 3 steps
    es: l2_training_step con SGD simple coincide con SGD(weight_decay = 2 * lambda) de PyTorch en los pesos, durante 3 pasos
    """
    lam, lr = 0.05, 0.1
    model, twin = probes.small_net(), local.small_net()
    optimizer = probes.sgd(model, lr)
    parameters = dict(twin.named_parameters())
    reference = torch.optim.SGD([{"params": [parameters[n] for n in WEIGHT_NAMES], "weight_decay": 2 * lam},
                                 {"params": [p for n, p in parameters.items() if n not in WEIGHT_NAMES],
                                  "weight_decay": 0.0}], lr=lr)
    for step, (xb, yb) in enumerate(local.batches(3)):
        with torch.no_grad():
            expected_loss = float(torch.nn.functional.cross_entropy(twin(xb), yb))
        got = reg.l2_training_step(model, xb, yb, optimizer, lam)
        if type(got) is not float:
            fail(T("l2_training_step returned {g!r}; expected the batch's cross-entropy as a Python float (.item()).",
                   "l2_training_step devolvió {g!r}; se esperaba la entropía cruzada del batch como float (.item()).")
                 .format(g=got))
        check_close(np.array(got), np.array(expected_loss), name="returned loss", rtol=1e-9,
                    call=f"l2_training_step(...) at step {step + 1}",
                    hint=T("return the cross-entropy before the step, without the penalty.",
                           "devuelve la entropía cruzada antes del paso, sin la penalización."))
        local.plain_step(twin, xb, yb, reference)
        checks.check_same_parameters(probes.named_parameters(model), twin,
                                     call=f"after {step + 1} step(s) of l2_training_step (lambda {lam})",
                                     hint=T("zero_grad, then backward of cross-entropy + l2_penalty(model, lam), then step.",
                                            "zero_grad, luego backward de entropía cruzada + l2_penalty(model, lam), luego step."))


@pytest.mark.task("5.2")
def test_weight_decay_optimizer_groups(reg, probes):
    """sgd_with_weight_decay: weight_decay = 2 * lambda on the weights, 0 elsewhere, every parameter once
    es: sgd_with_weight_decay: weight_decay = 2 * lambda en los pesos, 0 en el resto, cada parámetro una sola vez
    """
    model = probes.small_net()
    optimizer = reg.sgd_with_weight_decay(model, lr=0.1, lam=0.05)
    groups = probes.param_groups(optimizer, model)
    if not groups["sgd"] or groups["groups"] is None:
        fail(T("sgd_with_weight_decay returned {k}; expected a torch.optim.SGD.",
               "sgd_with_weight_decay devolvió {k}; se esperaba un torch.optim.SGD.").format(k=optimizer))
    decay = {}
    for group in groups["groups"]:
        for name in group["names"] or []:
            decay.setdefault(name, []).append(group.get("weight_decay"))
    expected = {name: [0.1 if name in WEIGHT_NAMES else 0.0] for name, _ in local.small_net().named_parameters()}
    check_equal(decay, expected, call="weight_decay of each parameter in sgd_with_weight_decay(model, lr=0.1, lam=0.05)",
                hint=DECAY_HINT)


@pytest.mark.task("5.3")
def test_dropout_train_and_eval(reg, probes):
    """dropout(p=0.25): about 75% kept, kept values scaled by 1/(1-p), identity in eval
    es: dropout(p=0.25): conserva en torno al 75 %, escala los valores conservados por 1/(1-p) y es la identidad en modo eval

    The keep rate of n = 100,000 draws must lie within t = sqrt(ln(2/1e-7) / (2n)) = 0.0092 of 0.75.
    By Hoeffding's inequality a correct dropout falls outside with probability at most
    2 exp(-2 n t^2) = 1e-7, so this test fails a correct solution less than once in ten million seeds.
    """
    p, n = 0.25, 100_000
    out = checks.tensor_result(reg.dropout(torch.ones(n), p, training=True, generator=probes.generator(0)),
                               "dropout(ones(100000), 0.25)", shape=(n,))
    values = sorted({round(float(v), 6) for v in torch.unique(out)})
    check_equal(values, [0.0, round(1 / (1 - p), 6)], call="distinct values of dropout(ones(100000), 0.25)",
                hint=T("inverted dropout: kept units are divided by (1 - p) during training, so the expected value stays.",
                       "dropout invertido: las unidades que se conservan se dividen entre (1 - p) al entrenar, así la esperanza no cambia."))
    keep = float((out != 0).float().mean())
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * n))
    if abs(keep - (1 - p)) > bound:
        fail(T("dropout(ones(100000), p=0.25) kept {k:.4f} of the units; expected 0.75 +- {b:.4f}.",
               "dropout(ones(100000), p=0.25) conservó {k:.4f} de las unidades; se esperaba 0.75 +- {b:.4f}.")
             .format(k=keep, b=bound), T("p is the probability of DROPPING a unit: keep it when rand >= p.",
                                         "p es la probabilidad de APAGAR una unidad: consérvala cuando rand >= p."))
    x = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    check_equal(torch.equal(checks.tensor_result(reg.dropout(x, 0.5, training=False), "dropout(x, 0.5, training=False)"), x),
                True, call="dropout(x, 0.5, training=False) == x",
                hint=T("in evaluation dropout is the identity.", "en evaluación el dropout es la identidad."))
    check_raises(ValueError, reg.dropout, x, 1.0, call="dropout(x, p=1.0)",
                 hint=T("p must be in [0, 1): with p = 1 nothing is kept and 1/(1-p) is infinite.",
                        "p debe estar en [0, 1): con p = 1 no queda nada y 1/(1-p) es infinito."))


def check_step_results(seen: dict, call: str) -> None:
    """Every EarlyStopping.step returned a bool."""
    strange = [r for r in seen["results"] if not isinstance(r, bool)]
    if strange:
        fail(T("EarlyStopping.step returned {r}; expected True (stop) or False (go on), in {c}.",
               "EarlyStopping.step devolvió {r}; se esperaba True (parar) o False (seguir), en {c}.").format(r=strange[0], c=call))


@pytest.mark.task("5.4")
def test_early_stopping_on_a_scripted_curve(reg, probes):
    """EarlyStopping(patience=3) on accuracies 0.50 0.60 0.70 0.65 0.68 0.69: stops at epoch 5 with epoch 2's weights
    es: EarlyStopping(patience=3) con accuracies 0.50 0.60 0.70 0.65 0.68 0.69: para en la época 5 con los pesos de la época 2
    """
    curve = [0.50, 0.60, 0.70, 0.65, 0.68, 0.69, 0.66, 0.75]
    seen = checks.run_curve(reg, probes, curve, 3, "max")
    check_step_results(seen, f"EarlyStopping(3) on {curve}")
    check_equal(seen["stopped"], 5, call="the epoch (0, 1, ...) at which step() first returned True, for " + str(curve),
                hint=T("the best accuracy is 0.70 at epoch 2; epochs 3, 4 and 5 do not improve it, so with patience 3 "
                       "step() returns True at epoch 5.",
                       "la mejor accuracy es 0.70 en la época 2; las épocas 3, 4 y 5 no la mejoran, así que con paciencia 3 "
                       "step() devuelve True en la época 5."))
    check_equal(seen["marker"], 2.0, call="the weights in the model after stopping (set to the epoch number)",
                hint=T("keep a copy of the best weights (copy.deepcopy(model.state_dict())) and load it when you stop.",
                       "guarda una copia de los mejores pesos (copy.deepcopy(model.state_dict())) y cárgala al parar."))


@pytest.mark.task("5.5")
def test_flip_and_crop_shapes_and_content(reg, probes):
    """random_horizontal_flip gives mirrors or originals; random_crop gives windows of the zero-padded image
    es: random_horizontal_flip da imágenes reflejadas u originales; random_crop da ventanas de la imagen rellenada con ceros
    """
    x = checks.distinct_images(200)
    flipped = checks.tensor_result(reg.random_horizontal_flip(x, probes.generator(0)), "random_horizontal_flip(x)",
                                   shape=x.shape)
    mirrored = [bool(torch.equal(f, o.flip(-1))) for f, o in zip(flipped, x)]
    same = [bool(torch.equal(f, o)) for f, o in zip(flipped, x)]
    if not all(m or s for m, s in zip(mirrored, same)):
        fail(T("random_horizontal_flip returned an image that is neither the original nor its left-right mirror; expected one of the two.",
               "random_horizontal_flip devolvió una imagen que no es ni la original ni su reflejo izquierda-derecha; se esperaba una de las dos."),
             T("flip the last axis (width) of the chosen images: x[i].flip(-1).",
               "voltea el último eje (ancho) de las imágenes elegidas: x[i].flip(-1)."))
    if all(mirrored) or all(same):
        fail(T("random_horizontal_flip flipped {k} of 200 images; expected about half, each decided on its own.",
               "random_horizontal_flip volteó {k} de 200 imágenes; se esperaba más o menos la mitad, cada una por separado.")
             .format(k=sum(mirrored)))
    cropped = checks.tensor_result(reg.random_crop(x, probes.generator(0), padding=2), "random_crop(x, padding=2)",
                                   shape=x.shape)
    for i in range(20):
        if checks.padded_offsets(x[i], cropped[i], 2) is None:
            fail(T("random_crop(x, padding=2)[{i}] is not what was expected: an 8x8 window of x[{i}] padded with 2 zeros on each side.",
                   "random_crop(x, padding=2)[{i}] no es lo esperado: una ventana 8x8 de x[{i}] rellenada con 2 ceros por lado.")
                 .format(i=i), T("pad with zeros (F.pad), then cut x_padded[:, dy:dy+H, dx:dx+W] with 0 <= dy, dx <= 2*padding.",
                                 "rellena con ceros (F.pad) y corta x_padded[:, dy:dy+H, dx:dx+W] con 0 <= dy, dx <= 2*padding."))


@pytest.mark.task("5.6")
def test_fit_history_on_a_small_set(reg, probes, common):
    """fit with L2, dropout and augmentation on 64 images: the LeNet (weights moved from the initialization) and a
    history per epoch, on the validation set
    es: fit con L2, dropout y aumento de datos en 64 imágenes: la LeNet (con pesos distintos de los iniciales) y un historial por época en el conjunto de validación
    """
    images, labels = checks.synthetic_images(64)
    result = reg.fit(images[16:], labels[16:], images[:16], labels[:16], epochs=2, lr=0.01, batch_size=16,
                     l2=0.001, dropout=0.3, augment=True, seed=0)
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(T("fit returned {v!r}; expected a tuple (model, history).",
               "fit devolvió {v!r}; se esperaba una tupla (model, history).").format(v=result))
    model, history = result
    check_history(history, ["train_accuracy", "train_loss", "val_accuracy"], 2, "fit(...)")
    state = common.state(model)
    check_equal([list(t.shape) if isinstance(t, torch.Tensor) else None for _, t in state]
                if isinstance(state, list) and all(isinstance(i, list) and len(i) == 2 for i in state) else None,
                LENET_SHAPES, call="[p.shape for p in fit(...)[0].state_dict().values()]",
                hint=T("fit trains build_lenet(dropout): dropout adds no parameters.",
                       "fit entrena build_lenet(dropout): el dropout no añade parámetros."))
    probes.seed(0)  # fit(seed=0) seeds torch so before building its LeNet
    fresh = common.state(reg.build_lenet(0.3))
    if all(isinstance(a[1], torch.Tensor) and torch.equal(a[1], b[1]) for a, b in zip(state, fresh)):
        fail(T("the model fit returned has the weights of a freshly built LeNet: it was not trained.",
               "el modelo que devolvió fit tiene los pesos de una LeNet recién creada: no se entrenó."))
