"""A5 hidden graders: the regularizers on more cases, and the overfitting experiment on the real CIFAR-10.

The probe networks live in the student process (built by autograder/sandbox/helpers/a5.py);
their twins are built and stepped here, and every comparison is made here. The grader calls the
student's functions itself. The experiment's runs are recorded and checked by replaying parts of
them (autograder/graders/a5/proof.py); their accuracies are computed here, by the grader's own LeNet
loaded with the returned weights, on images the student's code never sees.
"""
import math

import numpy as np
import pytest
import torch

from autograder.feedback import T, check_equal, check_raises, fail
from autograder.gradcheck import check_close
from autograder.graders.a5 import checks, measure
from autograder.graders.a5.hidden import oracles
from autograder.graders.cifar_oracles import fresh_seed
from autograder.sandbox.helpers import a5 as local

WEIGHTS_HINT = T("weights are the `weight` tensors of the Conv and Linear layers only: not biases, not BatchNorm's scale.",
                 "los pesos son solo los tensores `weight` de las capas Conv y Linear: ni sesgos ni la escala de BatchNorm.")
DECAY_HINT = T("the gradient of lambda * w^2 is 2 * lambda * w, so weight_decay = 2 * lambda, on the weights only.",
               "el gradiente de lambda * w^2 es 2 * lambda * w, así que weight_decay = 2 * lambda, solo en los pesos.")
RESTORE_HINT = T("when the metric improves, store copy.deepcopy(model.state_dict()) (state_dict() alone shares the tensors "
                 "that keep training); load it with model.load_state_dict when you stop and in restore().",
                 "cuando la métrica mejora, guarda copy.deepcopy(model.state_dict()) (state_dict() a secas comparte los "
                 "tensores que siguen entrenando); cárgalo con model.load_state_dict al parar y en restore().")
PATIENCE_HINT = T("count the epochs in a row without improvement; stop when that count reaches patience "
                  "(patience 1: stop at the first epoch that does not improve).",
                  "cuenta las épocas seguidas sin mejora; para cuando la cuenta llegue a patience "
                  "(patience 1: para en la primera época que no mejora).")


# ---------------------------------------------------------------- 5.1 penalty
@pytest.mark.task("5.1")
def test_weights_exclude_biases_and_batchnorm(reg, probes):
    """weight_parameters: Conv/Linear weights only, with BatchNorm and nested modules present
    es: weight_parameters: solo los pesos de Conv/Linear, con BatchNorm y módulos anidados presentes
    """
    model, twin = probes.small_net(batchnorm=True, nested=True), local.small_net(batchnorm=True, nested=True)
    check_equal(checks.weight_names(reg.weight_parameters(model), twin), oracles.weight_names(twin),
                call="names of weight_parameters(model with BatchNorm)", hint=WEIGHTS_HINT)
    lam = 0.003
    got, _ = checks.penalty_value(reg.l2_penalty(model, lam))
    if got is None:
        fail(T("l2_penalty(model, {l}) did not return a number or a scalar tensor.",
               "l2_penalty(model, {l}) no devolvió un número ni un tensor escalar.").format(l=lam))
    check_close(np.array(got), np.array(lam * sum(float((w.detach() ** 2).sum()) for w in oracles.weights_of(twin))),
                name="penalty", call=f"l2_penalty(model with BatchNorm, {lam})", rtol=1e-9, hint=WEIGHTS_HINT)


@pytest.mark.task("5.1")
def test_penalty_gradient_values(reg, probes):
    """l2_penalty gradients: 2 * lambda * w on weights, zero on biases and BatchNorm, for several lambdas
    es: Gradientes de l2_penalty: 2 * lambda * w en los pesos, cero en los sesgos y en BatchNorm, para varios lambdas
    """
    twin = local.small_net(seed=3, batchnorm=True)
    for lam in (0.0, 1e-3, 0.5):
        report = probes.penalty_report(reg.l2_penalty, probes.small_net(seed=3, batchnorm=True), lam)
        if not report["tensor"] or not report["requires_grad"] and lam > 0:
            fail(T("l2_penalty(model, {l}) is not differentiable (requires_grad is False): it cannot train the weights.",
                   "l2_penalty(model, {l}) no es derivable (requires_grad es False): no puede entrenar los pesos.")
                 .format(l=lam), T("build it from the parameters with torch operations, without .item() or .detach().",
                                   "constrúyela con operaciones de torch sobre los parámetros, sin .item() ni .detach()."))
        for name, p in twin.named_parameters():
            grad = report["grads"].get(name)
            grad = torch.zeros_like(p) if grad is None else grad
            weight = oracles.is_weight(twin, p)
            expected = 2 * lam * p.detach() if weight else torch.zeros_like(p)
            check_close(grad.numpy(), expected.numpy(), name=f"{name}.grad", call=f"l2_penalty(model, {lam}).backward()",
                        rtol=1e-9, atol=1e-15, hint=DECAY_HINT if weight else WEIGHTS_HINT)


# ---------------------------------------------------------------- 5.2 weight decay
@pytest.mark.task("5.2")
def test_explicit_step_equals_torch_weight_decay_with_momentum(reg, probes):
    """l2_training_step + SGD(momentum 0.9) equals SGD(weight_decay = 2 lambda on weights) for 6 steps
    es: l2_training_step + SGD(momentum 0.9) coincide con SGD(weight_decay = 2 lambda en los pesos) durante 6 pasos
    """
    lam, lr = 0.02, 0.05
    model, twin = probes.small_net(seed=1, batchnorm=True), local.small_net(seed=1, batchnorm=True)
    optimizer = probes.sgd(model, lr, 0.9)
    reference = oracles.torch_weight_decay_sgd(twin, lr, lam, momentum=0.9)
    for step, (xb, yb) in enumerate(local.batches(6, seed=2)):
        reg.l2_training_step(model, xb, yb, optimizer, lam)
        local.plain_step(twin, xb, yb, reference)
        checks.check_same_parameters(
            probes.named_parameters(model), twin,
            call=f"after {step + 1} step(s) of l2_training_step (lambda {lam}, momentum 0.9)",
            hint=T("one step: optimizer.zero_grad(); (cross_entropy + l2_penalty(model, lam)).backward(); optimizer.step().",
                   "un paso: optimizer.zero_grad(); (cross_entropy + l2_penalty(model, lam)).backward(); optimizer.step()."))


@pytest.mark.task("5.2")
def test_weight_decay_optimizer_equals_explicit_penalty(reg, probes):
    """sgd_with_weight_decay(lam) on the plain loss equals SGD on loss + lam * sum w^2, step by step
    es: sgd_with_weight_decay(lam) sobre la pérdida sin penalización coincide con SGD sobre loss + lam * sum w^2, paso a paso
    """
    lam, lr = 0.03, 0.05
    for momentum in (0.0, 0.9):
        model, twin = probes.small_net(seed=4, batchnorm=True), local.small_net(seed=4, batchnorm=True)
        optimizer = reg.sgd_with_weight_decay(model, lr=lr, lam=lam, momentum=momentum)
        reference = torch.optim.SGD(twin.parameters(), lr=lr, momentum=momentum)
        for step, (xb, yb) in enumerate(local.batches(5, seed=3)):
            probes.plain_step(model, xb, yb, optimizer)
            oracles.explicit_penalty_step(twin, xb, yb, reference, lam)
            checks.check_same_parameters(
                probes.named_parameters(model), twin,
                call=f"after {step + 1} step(s) of sgd_with_weight_decay(lr={lr}, lam={lam}, momentum={momentum})",
                hint=DECAY_HINT + T(" Pass momentum and lr on to SGD.", " Pasa momentum y lr a SGD."))


# ---------------------------------------------------------------- 5.3 dropout
@pytest.mark.task("5.3")
def test_dropout_keep_rate_within_the_binomial_bound(reg, probes):
    """Keep rate of dropout over n = 1,000,000 draws within a bound a correct solution misses with probability < 1e-7
    es: Proporción de unidades conservadas por dropout en n = 1.000.000 muestras, dentro de una cota que una solución correcta incumple con probabilidad < 1e-7

    For each p in (0.1, 0.5, 0.8), the number K of kept units of dropout(ones(n), p) is Binomial(n, 1 - p)
    if the units are independent. Hoeffding's inequality gives P(|K/n - (1 - p)| >= t) <= 2 exp(-2 n t^2);
    with n = 1e6 and t = sqrt(ln(2 / 1e-7) / (2n)) = 0.0029 (about 6.3 standard deviations at p = 0.5,
    where sd = sqrt(0.25 / n) = 0.0005) each check fails a correct dropout with probability at most 1e-7,
    so the three together at most 3e-7 < 1e-6. The generator's seed is fixed, so the outcome is also
    reproducible; the bound says that no seed choice made this test pass or fail by luck.
    """
    n = 1_000_000
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * n))
    for p in (0.1, 0.5, 0.8):
        out = checks.tensor_result(reg.dropout(torch.ones(n), p, training=True, generator=probes.generator(7)),
                                   f"dropout(ones(1e6), p={p})", shape=(n,))
        keep = float((out != 0).float().mean())
        if abs(keep - (1 - p)) > bound:
            fail(T("dropout(ones(1e6), p={p}) kept {k:.4f} of the units; expected {e} +- {b:.4f}.",
                   "dropout(ones(1e6), p={p}) conservó {k:.4f} de las unidades; se esperaba {e} +- {b:.4f}.")
                 .format(p=p, k=keep, e=round(1 - p, 2), b=bound),
                 T("p is the drop probability: each unit is kept, independently, with probability 1 - p.",
                   "p es la probabilidad de apagar: cada unidad se conserva, de forma independiente, con probabilidad 1 - p."))


@pytest.mark.task("5.3")
def test_dropout_preserves_the_expected_activation(reg, probes):
    """Inverted dropout: kept values are x / (1 - p), the mean activation is preserved, the gradient follows the mask
    es: Dropout invertido: los valores conservados son x / (1 - p), la activación media se conserva y el gradiente sigue la máscara
    """
    p, n = 0.4, 1_000_000
    seen = probes.dropout_gradient(reg.dropout, p, n, 3, 4)
    x = seen["x"]
    out = checks.tensor_result(seen["out"], "dropout(x, p=0.4)", shape=x.shape)
    kept = out != 0
    check_close(out[kept].numpy(), (x[kept] / (1 - p)).numpy(), name="kept values", call="dropout(x, p=0.4)", rtol=1e-6,
                hint=T("scale the kept units by 1 / (1 - p) during training (inverted dropout), so that nothing changes in eval.",
                       "escala las unidades conservadas por 1 / (1 - p) al entrenar (dropout invertido), así nada cambia en eval."))
    # The mean of out is the mean of x * B / (1 - p), B ~ Bernoulli(1 - p): within the Hoeffding bound of the keep
    # rate scaled by max(x) / (1 - p) = 1.5 / 0.6 (same 1e-7 false-failure probability as the keep-rate test).
    bound = math.sqrt(math.log(2 / 1e-7) / (2 * n)) * 1.5 / (1 - p)
    got, expected = float(out.mean()), float(x.mean())
    if abs(got - expected) > bound:
        fail(T("mean of dropout(x, p=0.4) is {g:.4f}; expected the mean of x, {e:.4f} (+- {b:.4f}).",
               "la media de dropout(x, p=0.4) es {g:.4f}; se esperaba la media de x, {e:.4f} (+- {b:.4f}).")
             .format(g=got, e=expected, b=bound),
             T("inverted dropout preserves the expected activation: divide the kept units by (1 - p).",
               "el dropout invertido conserva la activación esperada: divide las unidades conservadas entre (1 - p)."))
    grad_hint = T("build the output with torch operations on x (x * mask / (1 - p)), so autograd follows it.",
                  "construye la salida con operaciones de torch sobre x (x * mask / (1 - p)), para que autograd la siga.")
    if seen["grad"] is None:
        fail(T("dropout(x, 0.4).sum().backward() gave x no gradient; expected the mask / (1 - p).",
               "dropout(x, 0.4).sum().backward() no dio gradiente a x; se esperaba la máscara / (1 - p)."), grad_hint)
    check_close(seen["grad"].numpy(), (kept.double() / (1 - p)).numpy(), name="x.grad",
                call="dropout(x, 0.4).sum().backward()", rtol=1e-6, hint=grad_hint)


@pytest.mark.task("5.3")
def test_dropout_is_the_identity_in_eval(reg):
    """Dropout in eval mode, dropout(training=False) and p = 0 return the input unchanged
    es: Dropout en modo eval, dropout(training=False) y p = 0 devuelven la entrada sin cambios
    """
    x = torch.randn(8, 20, generator=torch.Generator().manual_seed(5))
    layer = reg.Dropout(0.5)
    layer.eval()
    check_equal(torch.equal(checks.tensor_result(layer(x), "Dropout(0.5).eval()(x)"), x), True,
                call="Dropout(0.5).eval()(x) == x",
                hint=T("in eval mode (self.training is False) dropout returns its input: model.eval() must switch it off.",
                       "en modo evaluación (self.training es False) el dropout devuelve su entrada: model.eval() debe apagarlo."))
    for p, training in ((0.7, False), (0.0, True)):
        call = f"dropout(x, {p}, training={training})"
        check_equal(torch.equal(checks.tensor_result(reg.dropout(x, p, training=training), call), x), True, call=call + " == x")
    net = reg.build_lenet(0.5)
    net.eval()
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    first, second = (checks.tensor_result(net(images), "build_lenet(0.5).eval()(images)") for _ in range(2))
    check_equal(torch.equal(first, second), True, call="build_lenet(0.5).eval(): two forward passes agree")
    layer.train()
    if torch.equal(checks.tensor_result(layer(x), "Dropout(0.5).train()(x)"), x):
        fail(T("Dropout(0.5) in training mode returned its input unchanged; expected some units zeroed.",
               "Dropout(0.5) en modo entrenamiento devolvió su entrada sin cambios; se esperaban unidades a cero."))


@pytest.mark.task("5.3")
def test_dropout_rejects_impossible_probabilities(reg):
    """dropout and Dropout raise ValueError for p outside [0, 1)
    es: dropout y Dropout lanzan ValueError para p fuera de [0, 1)
    """
    x = torch.ones(3)
    for p in (1.0, 1.5, -0.1):
        check_raises(ValueError, reg.dropout, x, p, call=f"dropout(x, p={p})",
                     hint=T("check 0 <= p < 1 first and raise ValueError with a clear message.",
                            "comprueba primero 0 <= p < 1 y lanza ValueError con un mensaje claro."))
    check_raises(ValueError, reg.Dropout, 1.0, call="Dropout(p=1.0)")


@pytest.mark.task("5.3")
def test_dropout_mask_follows_the_generator(reg, probes):
    """The same generator seed gives the same mask, another seed another one; masks are per element
    es: La misma semilla del generador da la misma máscara y otra semilla otra; las máscaras son por elemento
    """
    x = torch.ones(64, 64)
    a, b, c = (checks.tensor_result(reg.dropout(x, 0.5, generator=probes.generator(seed)), f"dropout(x, 0.5), seed {seed}",
                                    shape=x.shape) for seed in (11, 11, 12))
    check_equal(torch.equal(a, b), True, call="dropout(x, 0.5, generator seeded 11) twice",
                hint=T("draw the mask with torch.rand(..., generator=generator).", "genera la máscara con torch.rand(..., generator=generator)."))
    if torch.equal(a, c):
        fail(T("generators seeded 11 and 12 gave the same mask: the generator is not used.",
               "generadores con semillas 11 y 12 dieron la misma máscara: no se usa el generador."))
    rows = {tuple(row.tolist()) for row in (a != 0).int()}
    if len(rows) < 32:
        fail(T("the mask has only {k} different rows out of 64: units must be dropped independently.",
               "la máscara solo tiene {k} filas distintas de 64: las unidades se apagan de forma independiente.").format(k=len(rows)))


# ---------------------------------------------------------------- 5.4 early stopping
CURVES = [  # (curve, patience, mode, stop epoch or None, best epoch)
    ([0.50, 0.60, 0.70, 0.65, 0.68, 0.69, 0.66, 0.75], 3, "max", 5, 2),
    ([0.50, 0.60, 0.70, 0.65, 0.68, 0.69, 0.66, 0.75], 1, "max", 3, 2),
    ([0.50, 0.60, 0.70, 0.65, 0.71, 0.69, 0.66, 0.60], 2, "max", 6, 4),
    ([0.40, 0.40, 0.40, 0.40], 3, "max", 3, 0),                       # equal is not better
    ([0.10, 0.20, 0.30, 0.40, 0.50], 2, "max", None, 4),              # never stops
    ([2.30, 1.90, 1.60, 1.70, 1.50, 1.55, 1.58, 1.62, 1.40], 3, "min", 7, 4),  # validation loss
]


def check_step_results(seen: dict, call: str) -> None:
    """Every EarlyStopping.step returned a bool."""
    strange = [r for r in seen["results"] if not isinstance(r, bool)]
    if strange:
        fail(T("EarlyStopping.step returned {r}; expected True (stop) or False (go on), in {c}.",
               "EarlyStopping.step devolvió {r}; se esperaba True (parar) o False (seguir), en {c}.").format(r=strange[0], c=call))


@pytest.mark.task("5.4")
def test_early_stopping_stops_at_the_right_epoch(reg, probes):
    """EarlyStopping.step returns True exactly at best epoch + patience, on six scripted curves (max and min)
    es: EarlyStopping.step devuelve True justo en la mejor época + patience, en seis curvas predefinidas (max y min)
    """
    for curve, patience, mode, stop, best in CURVES:
        seen = checks.run_curve(reg, probes, curve, patience, mode)
        check_step_results(seen, f"EarlyStopping({patience}, mode={mode!r}) on {curve}")
        check_equal(seen["stopped"], stop, call=f"first epoch with step() True, EarlyStopping({patience}, mode={mode!r}) on {curve}",
                    hint=PATIENCE_HINT + T(" None means it must never stop.", " None significa que nunca debe parar."))
        check_equal(seen["best_epoch"], best, call=f"best_epoch after {curve[:(stop or len(curve) - 1) + 1]}",
                    hint=T("an epoch improves only if strictly better than the best so far ({m}).",
                           "una época mejora solo si es estrictamente mejor que la mejor hasta ahora ({m}).")
                    .format(m="higher" if mode == "max" else "lower"))


@pytest.mark.task("5.4")
def test_early_stopping_restores_the_best_weights(reg, probes):
    """After stopping the model holds the best epoch's weights; restore() works when it never stopped
    es: Tras parar, el modelo tiene los pesos de la mejor época; restore() funciona aunque nunca haya parado
    """
    for curve, patience, mode, stop, best in CURVES:
        seen = checks.run_curve(reg, probes, curve, patience, mode, restore_if_never=True)
        check_step_results(seen, f"EarlyStopping({patience}, mode={mode!r}) on {curve}")
        check_equal(seen["marker"], float(best),
                    call=f"weights after EarlyStopping({patience}, mode={mode!r}) on {curve} (set to the epoch number)",
                    hint=RESTORE_HINT)


# ---------------------------------------------------------------- 5.5 augmentation
@pytest.mark.task("5.5")
def test_flips_are_mirrors_at_a_binomial_rate(reg, probes):
    """Each image flipped independently with probability 1/2: the count within a bound missed with probability < 1e-7
    es: Cada imagen se voltea de forma independiente con probabilidad 1/2: el recuento queda dentro de una cota que se incumple con probabilidad < 1e-7

    With n = 4,000 images the number K of flipped ones is Binomial(4000, 1/2): mean 2000, sd sqrt(4000)/2 = 31.6.
    Hoeffding's inequality gives P(|K - 2000| >= t) <= 2 exp(-2 t^2 / n); with t = sqrt(n ln(2 / 1e-7) / 2) = 183
    (5.8 sd) a correct flip falls outside [1817, 2183] with probability at most 1e-7 < 1e-6. The seed is fixed,
    so the outcome is also reproducible. Flipping the whole batch at once gives 0 or 4000.
    """
    n = 4000
    x = checks.distinct_images(n, h=6, w=6, seed=1)
    out = checks.tensor_result(reg.random_horizontal_flip(x, probes.generator(3)), "random_horizontal_flip(x)", shape=x.shape)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    bad = torch.nonzero(~(mirrored | same)).flatten()
    if len(bad):
        fail(T("random_horizontal_flip(x)[{i}] is neither x[{i}] nor x[{i}].flip(-1); expected one of the two.",
               "random_horizontal_flip(x)[{i}] no es ni x[{i}] ni x[{i}].flip(-1); se esperaba una de las dos.").format(i=int(bad[0])),
             T("mirror left-right = reverse the width axis (the last one in NCHW).",
               "reflejar izquierda-derecha = invertir el eje del ancho (el último en NCHW)."))
    flipped = int(mirrored.sum())
    t = math.sqrt(n * math.log(2 / 1e-7) / 2)
    low, high = n / 2 - t, n / 2 + t
    if not low <= flipped <= high:
        fail(T("random_horizontal_flip flipped {k} of {n} images; expected about {h} (between {lo:.0f} and {hi:.0f}).",
               "random_horizontal_flip volteó {k} de {n} imágenes; se esperaban unas {h} (entre {lo:.0f} y {hi:.0f}).")
             .format(k=flipped, n=n, h=n // 2, lo=low, hi=high),
             T("draw one decision per image (torch.rand(N, generator=...) < p), not one for the whole batch.",
               "decide por separado para cada imagen (torch.rand(N, generator=...) < p), no una vez para todo el batch."))


@pytest.mark.task("5.5")
def test_crops_are_windows_of_the_zero_padded_image(reg, probes):
    """Each crop is an HxW window of the zero-padded image; all (2p+1)^2 positions occur (miss probability < 1e-8)
    es: Cada recorte es una ventana HxW de la imagen rellenada con ceros; aparecen las (2p+1)^2 posiciones (probabilidad de que falte alguna < 1e-8)

    With padding 4 there are 81 positions, each drawn with probability 1/81. Over n = 2,000 images the chance that
    some position never occurs is at most 81 (80/81)^2000 = 1.4e-9 (union bound).
    """
    n, padding = 2000, 4
    x = checks.distinct_images(n, h=8, w=8, seed=2)
    out = checks.tensor_result(reg.random_crop(x, probes.generator(5), padding=padding),
                               "random_crop(x of shape (2000, 3, 8, 8), padding=4)", shape=(n, 3, 8, 8))
    seen = set()
    for i in range(n):
        offset = checks.padded_offsets(x[i], out[i], padding)
        if offset is None:
            fail(T("random_crop(x, padding=4)[{i}] is not what was expected: an 8x8 window of x[{i}] padded with 4 zeros on each side.",
                   "random_crop(x, padding=4)[{i}] no es lo esperado: una ventana 8x8 de x[{i}] rellenada con 4 ceros por lado.").format(i=i),
                 T("pad first (F.pad(x, (p, p, p, p)), zeros), then cut windows of the original size.",
                   "rellena primero (F.pad(x, (p, p, p, p)), ceros) y luego corta ventanas del tamaño original."))
        seen.add(offset)
    if len(seen) < (2 * padding + 1) ** 2:
        fail(T("only {k} of the 81 window positions occurred in 2,000 crops; expected all of them.",
               "solo aparecieron {k} de las 81 posiciones de ventana en 2000 recortes; se esperaban todas.").format(k=len(seen)),
             T("draw dy and dx uniformly in 0..2*padding, independently for each image.",
               "elige dy y dx uniformes en 0..2*padding, por separado para cada imagen."))
    same = checks.tensor_result(reg.random_crop(x[:5], probes.generator(0), padding=0), "random_crop(x, padding=0)")
    check_equal(torch.equal(same, x[:5]), True, call="random_crop(x, padding=0) == x")
    check_raises(ValueError, reg.random_crop, x[:2], probes.generator(0), padding=-1, call="random_crop(x, padding=-1)")


@pytest.mark.task("5.5")
def test_augmentation_keeps_its_input_and_follows_the_generator(reg, probes, note):
    """Flips and crops leave the input batch unchanged and depend only on the generator's seed
    es: Los volteos y recortes dejan intacto el lote de entrada y solo dependen de la semilla del generador

    The batch lives next to your code; the grader calls each function on it twice with generators seeded alike
    and reads the batch back afterwards."""
    x = checks.distinct_images(64, h=8, w=8, seed=4)
    for name, function in (("random_horizontal_flip", reg.random_horizontal_flip), ("random_crop", reg.random_crop)):
        kept = probes.keep(x)
        first = checks.tensor_result(probes.plain(function(kept, probes.generator(1))), f"{name}(x, generator)",
                                     shape=x.shape)
        check_equal(torch.equal(probes.plain(kept), x), True, call=f"x after {name}(x, generator) equals x before",
                    hint=T("return a new tensor; the caller's batch must not change.",
                           "devuelve un tensor nuevo; el batch de quien llama no debe cambiar."))
        second = checks.tensor_result(function(x, probes.generator(1)), f"{name}(x, generator)")
        check_equal(torch.equal(first, second), True, call=f"{name}(x, generator seeded 1) twice",
                    hint=T("draw every random number from the generator you receive.",
                           "saca todos los números aleatorios del generador que recibes."))


# ---------------------------------------------------------------- 5.6 fit
@pytest.mark.task("5.6")
def test_fit_early_stopping_keeps_the_best_validation_model(reg, helpers):
    """fit(patience=2): the returned model scores the best validation accuracy of its history, stopping as the rule says
    es: fit(patience=2): el modelo devuelto obtiene la mejor accuracy de validación de su historial y para como dice la regla
    """
    images, labels = checks.synthetic_images(96, seed=1)
    val_images, val_labels = checks.synthetic_images(48, seed=2)
    model, history = measure.fit_result(reg.fit(images, labels, val_images, val_labels, epochs=12, lr=0.1,
                                                batch_size=16, seed=0, patience=2), "fit(..., patience=2)")
    curve = history.get("val_accuracy") if isinstance(history, dict) else None
    if not isinstance(curve, list) or not curve or not all(type(v) in (float, int) for v in curve):
        fail(T("fit(..., patience=2) returned no list of numbers as 'val_accuracy' in its history.",
               "fit(..., patience=2) no devolvió una lista de números como 'val_accuracy' en su historial."))
    got = measure.accuracy(measure.trusted_model(helpers, model, call="fit(..., patience=2)"), val_images, val_labels)
    check_close(np.array(got), np.array(max(curve)), name="validation accuracy of the returned model",
                call=f"fit(..., patience=2) with history val_accuracy {[round(v, 4) for v in curve]}", atol=1e-9,
                hint=RESTORE_HINT)
    best = int(np.argmax(curve))
    if len(curve) < 12 and len(curve) - 1 != best + 2:
        fail(T("fit stopped after epoch {s} but the best validation epoch was {b}: with patience 2 it was expected to stop at epoch {e}.",
               "fit paró tras la época {s} pero la mejor época de validación fue la {b}: con paciencia 2 se esperaba que parase en la {e}.")
             .format(s=len(curve) - 1, b=best, e=best + 2), PATIENCE_HINT)


@pytest.mark.task("5.6")
def test_fit_is_reproducible_with_the_same_seed(reg, helpers, common):
    """fit with L2, dropout and augmentation: the same seed trains bit-identical weights, another seed other
    weights. The first run is checked by replaying parts of its record (so the second, if bit-identical, is
    proven too); the third only has to differ.
    es: fit con L2, dropout y aumento de datos: la misma semilla entrena pesos idénticos bit a bit; otra semilla, otros pesos
    """
    images, labels = checks.synthetic_images(64, seed=3)
    train, val = (images[16:], labels[16:]), (images[:16], labels[:16])
    budget = {"epochs": 2, "lr": 0.05, "batch_size": 16, "l2": 0.001, "dropout": 0.3, "augment": True}
    weights = []
    for run, seed in enumerate((5, 5, 6)):
        common.seed_everything(0, threads=measure.BUDGET["threads"])
        call = f"fit(..., seed={seed}) with L2, dropout and augmentation"
        if run == 0:
            result, record = measure.recorded_fit(reg, helpers, train, val, seed=seed, **budget)
        else:
            result, record = reg.fit(*train, *val, seed=seed, **budget), None
        net = measure.trusted_model(helpers, measure.fit_result(result, call)[0], budget["dropout"], call)
        if record is not None:
            proof = measure.prove(record, net, train, call=call, **budget)
            if not proof.ok:
                fail(proof.why, measure.PROOF_HINT)
        weights.append([p.detach() for p in net.parameters()])
    if not all(torch.equal(a, b) for a, b in zip(weights[0], weights[1])):
        fail(T("two runs with seed 5 trained different weights.", "dos ejecuciones con semilla 5 entrenaron pesos distintos."),
             T("seed torch before building the model and draw shuffling and augmentation from a generator seeded with seed.",
               "siembra torch antes de crear el modelo y saca el barajado y el aumento de un generador sembrado con seed."))
    if all(torch.equal(a, b) for a, b in zip(weights[0], weights[2])):
        fail(T("seeds 5 and 6 trained the same weights: fit ignores its seed.",
               "las semillas 5 y 6 entrenaron los mismos pesos: fit ignora la semilla."))


def graded_experiment(reg, helpers, common, experiment_data, progress, once):
    """The overfitting experiment (plain and regularized fit), done once for the tests that need it."""
    label = f"training ({measure.BUDGET['epochs']} epochs plain, then regularized)"
    done = []

    def train():
        progress(0, 2, label)
        return measure.experiment(reg, helpers, common.seed_everything, experiment_data,
                                  seed=measure.ASSIGNMENT.calibration["grading_seed"], perturbation_seed=fresh_seed(),
                                  on_variant=lambda name: (done.append(name), progress(len(done), 2, label)))

    return once("overfitting experiment", train)


@pytest.mark.task("5.6")
def test_regularization_narrows_the_train_test_gap_on_cifar10(reg, helpers, common, experiment_data, progress, once,
                                                              note):
    """On 1,000 real CIFAR-10 images, the regularized fit's train-test gap is smaller than the plain one's by the calibrated margin
    es: Con 1.000 imágenes reales de CIFAR-10, la diferencia entre entrenamiento y test del fit regularizado es menor que la del fit sin regularizar en el margen calibrado

    Every accuracy is the grader's own, from the returned weights loaded into its LeNet. Rule: (1) each run's
    record replays as the statement's training on the data given (plain SGD; cross-entropy + L2 with inverted
    dropout at rate p and random flips and crops), so neither side of the comparison is a run made worse or
    "regularized" some other way; (2) the plain gap counts at most its calibrated upper prediction bound;
    (3) the reduction (counted plain gap - regularized gap) reaches the calibrated prediction bound; (4) the
    regularized model still learns: its test accuracy reaches the prediction bound of the calibrated seeds'
    regularized test accuracies. Each bound is missed by a run distributed like the reference's with
    probability at most 0.001 (each statistical check of the replay 1e-7): at most about 0.003 in all.
    """
    calibrated = measure.ASSIGNMENT.calibrated()
    if "threshold" not in calibrated:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a5`.")
    runs = graded_experiment(reg, helpers, common, experiment_data, progress, once)
    plain, regularized, b = runs["plain"], runs["regularized"], measure.BUDGET
    summary = T("plain: train {pt:.1%}, test {pe:.1%}, gap {pg:.1%}; regularized (L2 lambda {l2}, dropout {d}, flips and "
                "crops): train {rt:.1%}, test {re:.1%}, gap {rg:.1%}; {e} epochs, lr {lr}, batch {bs}, seed {s}.",
                "sin regularizar: train {pt:.1%}, test {pe:.1%}, brecha {pg:.1%}; regularizado (L2 lambda {l2}, dropout {d}, "
                "volteos y recortes): train {rt:.1%}, test {re:.1%}, brecha {rg:.1%}; {e} épocas, lr {lr}, batch {bs}, semilla {s}.") \
        .format(pt=plain["train"], pe=plain["test"], pg=plain["gap"], rt=regularized["train"], re=regularized["test"],
                rg=regularized["gap"], l2=b["l2"], d=b["dropout"], e=b["epochs"], lr=b["lr"], bs=b["batch_size"],
                s=measure.ASSIGNMENT.calibration["grading_seed"])
    for name in measure.VARIANTS:
        proof = runs[name]["proof"]
        if not proof.ok:
            fail(T("the {v} run of fit could not be verified as the statement's training on the data given: ",
                   "no se pudo verificar que la ejecución {v} de fit fuera el entrenamiento del enunciado con los "
                   "datos dados: ").format(v=name) + proof.why + T(" ", " ") + summary, measure.PROOF_HINT)
    threshold, bands = calibrated["threshold"], measure.bands(calibrated)
    counted = min(plain["gap"], bands["plain_gap_cap"])
    reduction = counted - regularized["gap"]
    if not regularized["gap"] < plain["gap"] or reduction < threshold:
        fail(T("the regularized gap is not clearly smaller: it shrank by {r:.1%}, expected at least {t:.1%}. ",
               "la brecha regularizada no es claramente menor: se redujo {r:.1%}, se esperaba al menos {t:.1%}. ")
             .format(r=reduction, t=threshold) + summary,
             T("the reference shrinks it by about {m:.1%}. Check that fit passes l2 to l2_training_step, builds the "
               "network with build_lenet(dropout), augments only the training batches and measures in eval mode.",
               "la referencia la reduce en torno a {m:.1%}. Comprueba que fit pasa l2 a l2_training_step, construye la "
               "red con build_lenet(dropout), aumenta solo los batches de entrenamiento y mide en modo evaluación.")
             .format(m=calibrated["mean"]))
    floor = bands["test_floor"]
    if regularized["test"] < floor:
        fail(T("the regularized model barely learns: test accuracy {a:.1%}, expected at least {f:.1%}. ",
               "el modelo regularizado apenas aprende: accuracy en test {a:.1%}, se esperaba al menos {f:.1%}. ")
             .format(a=regularized["test"], f=floor) + summary,
             T("a smaller gap must not come from not learning; check the scaling of dropout and the penalty's lambda.",
               "una brecha menor no debe venir de no aprender; revisa el escalado del dropout y el lambda de la penalización."))
    note(T("gap shrank by {r:.1%} (pass mark {t:.1%}); regularized test accuracy {a:.1%} (at least {f:.1%}); both runs "
           "verified by replaying {k} of {n} stretches each. ",
           "la brecha se redujo {r:.1%} (mínimo {t:.1%}); accuracy en test regularizada {a:.1%} (al menos {f:.1%}); "
           "ambas ejecuciones verificadas repitiendo {k} de {n} tramos cada una. ")
         .format(r=reduction, t=threshold, a=regularized["test"], f=floor, k=len(runs["regularized"]["proof"].replayed),
                 n=runs["regularized"]["proof"].segments) + summary)


@pytest.mark.task("5.6")
def test_reported_accuracies_match_the_graders_evaluation(reg, helpers, common, experiment_data, progress, once, curves):
    """The final training and validation accuracies in fit's history equal the grader's evaluation of the returned models
    es: Las accuracies finales de entrenamiento y validación del historial de fit coinciden con la evaluación que hace el corrector de los modelos devueltos
    """
    runs = graded_experiment(reg, helpers, common, experiment_data, progress, once)
    for name in ("plain", "regularized"):
        curves(name, runs[name]["history"])  # drawn on the student's feedback page beside the reference's
    train, val, _ = experiment_data
    for name in ("plain", "regularized"):
        run, history = runs[name], runs[name]["history"]
        for key, value, size in (("train_accuracy", run["train"], len(train[1])), ("val_accuracy", run["val"], len(val[1]))):
            values = history.get(key) if isinstance(history, dict) else None
            reported = values[-1] if isinstance(values, list) and values else None
            tolerance = 2 / size  # two images: ties broken differently by another batch size
            if type(reported) not in (float, int) or abs(reported - value) > tolerance:
                fail(T("the {v} fit reports a final {k} of {r}, but the returned model scores {a:.4f}; expected the same value.",
                       "el fit {v} informa de un {k} final de {r}, pero el modelo devuelto obtiene {a:.4f}; se esperaba el mismo valor.")
                     .format(v=name, k=key, r=reported, a=value),
                     T("measure after each epoch with accuracy(...) in eval mode, on the un-augmented training images and "
                       "on the validation images.",
                       "mide tras cada época con accuracy(...) en modo evaluación, sobre las imágenes de entrenamiento sin "
                       "aumentar y sobre las de validación."))
