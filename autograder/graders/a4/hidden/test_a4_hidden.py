"""A4 hidden graders: loop behaviour, reproducibility, and accuracy on the real CIFAR-10.

Every point rests on a value this side computes or checks against its own oracle: the grader calls the
student's functions itself, reads back weights and outputs for inputs it chose, and compares them with the
statement's loop run here. The training runs in the student process, recorded; the trained weights come back
as plain tensors and are evaluated here, in the grader's own LeNet, on images the student's code never sees,
after the record has been checked by replaying parts of it (``training_proof``).
"""
import numpy as np
import pytest
import torch

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders import trusted_models
from autograder.graders.a4 import measure
from autograder.graders.a4.hidden import oracles
from autograder.graders.cifar_checks import tensor_of
from autograder.graders.cifar_oracles import fresh_seed, reference_tensors
from autograder.sandbox.helpers import a4 as local_probes

ZERO_GRAD_HINT = T("call optimizer.zero_grad() once per batch (before loss.backward() or after optimizer.step()): "
                   "PyTorch adds new gradients to the old ones.",
                   "llama a optimizer.zero_grad() una vez por batch (antes de loss.backward() o después de "
                   "optimizer.step()): PyTorch suma los gradientes nuevos a los anteriores.")
LOOP_HINT = T("each batch: optimizer.zero_grad(), forward, cross-entropy loss, loss.backward(), optimizer.step().",
              "en cada batch: optimizer.zero_grad(), forward, pérdida de entropía cruzada, loss.backward(), "
              "optimizer.step().")


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.task("4.1")
def test_dropout_variant(cnn, probes, common):
    """build_lenet(0.5): the deck's LeNet with Dropout(0.5) before each FC layer, in train and eval mode
    es: build_lenet(0.5): la LeNet de las transparencias con Dropout(0.5) antes de cada capa FC, en modo train y eval
    """
    model = cnn.build_lenet(0.5)
    net = trusted_models.load_state(trusted_models.deck_lenet(0.5), common.state(model), "build_lenet(0.5)",
                                    "the LeNet of the statement")
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    state = torch.random.get_rng_state()
    try:
        for training in (True, False):
            net.train(training)
            torch.manual_seed(5)
            with torch.no_grad():
                expected = net(x)
            got = tensor_of(probes.forward(model, x, 5, training), "build_lenet(0.5)(x)")
            if not same(got, expected):
                fail(T("build_lenet(0.5) in {m} mode gives other outputs than the statement's LeNet with the same weights "
                       "and the same dropout masks.",
                       "build_lenet(0.5) en modo {m} da salidas distintas de la LeNet del enunciado con los mismos pesos "
                       "y las mismas máscaras de dropout.").format(m="train" if training else "eval"),
                     T("nn.Dropout(dropout) just before each of the three nn.Linear layers, nowhere else.",
                       "nn.Dropout(dropout) justo antes de cada una de las tres nn.Linear, en ningún otro sitio."))
    finally:
        torch.random.set_rng_state(state)


@pytest.mark.task("4.2")
def test_to_tensors_exact_on_real_images(cnn, common, small_cifar, note):
    """to_tensors on real images equals the normalization of the statement
    es: to_tensors sobre imágenes reales coincide con la normalización del enunciado
    """
    (images, labels), _ = small_cifar
    seen = common.watch(cnn.to_tensors, images, labels)
    if not (isinstance(seen["result"], tuple) and len(seen["result"]) == 2):
        fail(T("to_tensors returned {v!r}; expected a tuple (x, y).", "to_tensors devolvió {v!r}; se esperaba una tupla (x, y).")
             .format(v=seen["result"]))
    x, y = (tensor_of(v, f"to_tensors(train_images, train_labels)[{i}]") for i, v in enumerate(seen["result"]))
    expected_x, expected_y = reference_tensors(images, labels)
    check_close(x.numpy(), expected_x.numpy(), name="x", call="to_tensors(train_images, train_labels)",
                rtol=1e-5, atol=1e-5, hint=T("(value/255 - MEAN[c]) / STD[c] per channel c, channels first.",
                                             "(valor/255 - MEAN[c]) / STD[c] por canal c, canales primero."))
    check_equal(torch.equal(y, expected_y), True, call="labels of to_tensors(...) equal the input labels")
    if seen["changed"]:  # seen in the student process: feedback, never points
        note(T("to_tensors changed its input arrays: work on a copy, the caller's data must not change.",
               "to_tensors cambió sus arrays de entrada: trabaja sobre una copia, los datos de quien llama no deben "
               "cambiar."))


@pytest.mark.task("4.3")
def test_loader_order_is_seeded(cnn, probes, synthetic):
    """make_loader: same seed same order, another seed another order, shuffle=False keeps the order
    es: make_loader: misma semilla, mismo orden; otra semilla, otro orden; shuffle=False conserva el orden
    """
    x, y = reference_tensors(*synthetic)

    def order(**kwargs):
        return torch.cat([yb for _, yb in probes.batches_of(cnn.make_loader(x, y, 8, **kwargs))]).tolist()

    first = order(shuffle=True, seed=5)
    check_equal(order(shuffle=True, seed=5), first, call="make_loader(..., seed=5) twice",
                hint=T("seed the loader's generator (torch.Generator().manual_seed(seed)).",
                       "siembra el generador del loader (torch.Generator().manual_seed(seed))."))
    if order(shuffle=True, seed=6) == first:
        fail(T("make_loader gives the same order for seeds 5 and 6: the seed is not used.",
               "make_loader da el mismo orden con las semillas 5 y 6: no se usa la semilla."))
    check_equal(order(shuffle=False), y.tolist(), call="make_loader(..., shuffle=False)")


@pytest.mark.task("4.4")
def test_epoch_loss_and_weights_follow_the_statement(cnn, probes, synthetic):
    """train_one_epoch: the returned mean loss and the weights after one epoch equal the statement's loop
    es: train_one_epoch: la pérdida media devuelta y los pesos tras una época coinciden con el bucle del enunciado
    """
    images, labels = synthetic
    x, y = reference_tensors(images[:60], labels[:60])  # batches of 16, 16, 16 and 12
    model = probes.small_net()
    result = cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), probes.sgd(model, 0.05, 0.9), "cpu")
    loss, weights = oracles.reference_epoch(x, y, 16, lr=0.05, momentum=0.9)
    if type(result) is not float:
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=result))
    check_close(probes.parameters(model)["values"][0].numpy(), weights[0].numpy(), name="conv.weight after the epoch",
                call="train_one_epoch(model, loader, sgd, 'cpu')", rtol=1e-4, atol=1e-6, hint=LOOP_HINT)
    check_close(np.array(result), np.array(loss), name="mean loss", call="train_one_epoch(model, loader, sgd, 'cpu')",
                rtol=1e-5, atol=1e-6,
                hint=T("the mean over the EXAMPLES of the epoch: add loss.item() * len(yb) per batch, divide by the number "
                       "of images (len(loader.dataset); the last batch has 12, not 16), each loss taken before its "
                       "optimizer.step().",
                       "la media sobre los EJEMPLOS de la época: suma loss.item() * len(yb) por batch y divide entre el "
                       "número de imágenes (len(loader.dataset); el último batch tiene 12, no 16), cada pérdida medida "
                       "antes de su optimizer.step()."))


@pytest.mark.task("4.4")
def test_gradients_are_zeroed_every_step(cnn, probes, synthetic):
    """train_one_epoch: with plain SGD, the weights after 4 batches are those of 4 steps on zeroed gradients
    es: train_one_epoch: con SGD simple, los pesos tras 4 lotes son los de 4 pasos con los gradientes puestos a cero
    """
    x, y = reference_tensors(*synthetic)
    model = probes.small_net()
    cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), probes.sgd(model, 0.1), "cpu")
    got = probes.parameters(model)["values"]
    _, expected = oracles.reference_epoch(x, y, 16, lr=0.1, momentum=0.0)
    if all(same(a, b) for a, b in zip(got, expected)):
        return
    _, summed = oracles.reference_epoch(x, y, 16, lr=0.1, momentum=0.0, zero_grad=False)
    if all(same(a, b) for a, b in zip(got, summed)):
        fail(T("after an epoch of 4 batches the weights are those of steps on gradients summed over the batches.",
               "tras una época de 4 batches los pesos son los de pasos con gradientes sumados de un batch a otro."),
             ZERO_GRAD_HINT)
    untouched = list(local_probes.small_net().parameters())
    if all(torch.equal(a, b.detach()) for a, b in zip(got, untouched)):
        fail(T("train_one_epoch did not change the weights.", "train_one_epoch no cambió los pesos."), LOOP_HINT)
    check_close(got[0].numpy(), expected[0].numpy(), name="conv.weight", call="after train_one_epoch (SGD lr=0.1)",
                rtol=1e-4, atol=1e-6, hint=LOOP_HINT)


@pytest.mark.task("4.4")
def test_training_mode_and_one_step_per_batch(cnn, probes, synthetic, note):
    """train_one_epoch puts the model in train mode: with dropout, one step per batch with the statement's masks
    es: train_one_epoch pone el modelo en modo train: con dropout, un paso por lote con las máscaras del enunciado
    """
    x, y = reference_tensors(*synthetic)
    model = probes.small_net(0.5)
    probes.set_mode(model, False)  # handed over in eval mode: the loop must switch it
    loader = probes.tracked_batches(x, y, 16)
    watch = probes.watch_forward(model)
    probes.seed(11)
    cnn.train_one_epoch(model, loader, probes.sgd(model, 0.05, 0.9), probes.device("cpu"))
    got = probes.parameters(model)["values"]
    seen = probes.forwards_seen(watch)
    _, expected = oracles.reference_epoch(x, y, 16, lr=0.05, momentum=0.9, dropout=0.5, seed=11)
    if not all(same(a, b) for a, b in zip(got, expected)):
        _, without = oracles.reference_epoch(x, y, 16, lr=0.05, momentum=0.9, dropout=0.0)
        if all(same(a, b) for a, b in zip(got, without)):
            fail(T("the weights after the epoch are those of training with dropout switched off: the model stayed "
                   "in evaluation mode.",
                   "los pesos tras la época son los de entrenar con el dropout apagado: el modelo siguió en modo "
                   "evaluación."),
                 T("call model.train() at the start: dropout must be active while training.",
                   "llama a model.train() al empezar: el dropout debe estar activo al entrenar."))
        check_close(got[0].numpy(), expected[0].numpy(), name="conv.weight after the epoch (dropout 0.5)",
                    call="train_one_epoch(model, loader, sgd, torch.device('cpu'))", rtol=1e-4, atol=1e-6,
                    hint=T("model.train() first; then for each batch exactly one forward, zero_grad, backward and step.",
                           "primero model.train(); luego en cada batch exactamente un forward, zero_grad, backward y step."))
    if isinstance(seen, list) and len(seen) != 4:  # seen next to student code: feedback only
        note(T("{n} forward passes for 4 batches.", "{n} pasadas hacia delante para 4 batches.").format(n=len(seen)))


@pytest.mark.task("4.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(cnn, probes, synthetic, note):
    """evaluate on a dropout model handed over in train mode: the eval-mode loss and accuracy, twice the same
    es: evaluate sobre un modelo con dropout entregado en modo train: la pérdida y la accuracy en modo eval, iguales las dos veces
    """
    x, y = reference_tensors(*synthetic)
    model = probes.small_net(0.5)
    watch = probes.watch_forward(model)
    results = []
    for call in range(2):
        probes.set_mode(model, True)
        probes.seed(20 + call)
        results.append(cnn.evaluate(model, probes.tracked_batches(x, y, 16), "cpu"))
    seen = probes.forwards_seen(watch)
    expected = oracles.eval_values(x, y, 0.5)
    for got in results:
        if not (isinstance(got, tuple) and len(got) == 2 and all(type(v) in (float, int) for v in got)):
            fail(T("evaluate returned {g!r}; expected a (loss, accuracy) tuple of floats.",
                   "evaluate devolvió {g!r}; se esperaba una tupla (loss, accuracy) de floats.").format(g=got))
        if not np.allclose(np.array(got, dtype=float), np.array(expected), rtol=1e-5, atol=1e-7):
            message = T("evaluate returned {g} for a model with dropout; in evaluation mode it scores {e}.",
                        "evaluate devolvió {g} para un modelo con dropout; en modo evaluación obtiene {e}.").format(
                g=tuple(round(v, 5) for v in got), e=tuple(round(v, 5) for v in expected))
            if results[0] != results[1]:
                message = message + T(" Two calls gave different results: dropout was active.",
                                      " Dos llamadas dieron resultados distintos: el dropout estaba activo.")
            fail(message,
                 T("call model.eval() before evaluating; average over examples, not batches.",
                   "llama a model.eval() antes de evaluar; promedia sobre ejemplos, no sobre batches."))
    if isinstance(seen, list) and any(isinstance(s, list) and len(s) == 2 and s[1] for s in seen):
        note(T("evaluate built an autograd graph: wrap it in `with torch.no_grad():` (memory and time).",
               "evaluate construyó un grafo de autograd: envuélvelo en `with torch.no_grad():` (memoria y tiempo)."))


@pytest.mark.task("4.6")
def test_fit_is_bit_identical_with_the_same_seed(cnn, helpers, common, small_cifar):
    """fit twice with the same seed trains bit-identical weights; another seed other weights. The first run is
    proven trained (so the second, if bit-identical, is too); the third only has to differ.
    es: fit dos veces con la misma semilla entrena pesos idénticos bit a bit; otra semilla, otros pesos
    """
    train_part, val_part = small_cifar
    weights = []
    for run, seed in enumerate((3, 3, 4)):
        common.seed_everything(0, threads=measure.BUDGET["threads"])
        fit = lambda: cnn.fit(*train_part, *val_part, epochs=1, lr=0.02, batch_size=64, seed=seed)  # noqa: E731
        result, record = measure.recorded(helpers, train_part[0], fit) if run == 0 else (fit(), None)
        net = measure.trusted_model(helpers, measure.fit_result(result)[0])
        if record is not None:
            proof = measure.prove(record, net, train_part, epochs=1, batch_size=64, lr=0.02)
            if not proof.ok:
                fail(proof.why, measure.PROOF_HINT)
        weights.append([p.detach() for p in net.parameters()])
    if not all(torch.equal(a, b) for a, b in zip(weights[0], weights[1])):
        fail(T("two runs of fit with seed 3 trained different weights.",
               "dos ejecuciones de fit con semilla 3 entrenaron pesos distintos."),
             T("seed torch before building the model (torch.manual_seed(seed)) and seed the loader's shuffling.",
               "siembra torch antes de crear el modelo (torch.manual_seed(seed)) y el barajado del loader."))
    if all(torch.equal(a, b) for a, b in zip(weights[0], weights[2])):
        fail(T("seeds 3 and 4 trained the same weights: fit ignores its seed.",
               "las semillas 3 y 4 entrenaron los mismos pesos: fit ignora la semilla."))


@pytest.mark.task("4.6")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run\n"
                    "es: no hay GPU CUDA aquí: la comparación entre CPU y GPU no se ejecutó")
def test_fit_on_gpu_agrees_with_cpu(cnn, helpers, common, small_cifar):
    """fit(device='cuda') trains on the GPU and its weights agree with the CPU run's within 1e-3
    es: fit(device='cuda') entrena en la GPU y sus pesos coinciden con los de la ejecución en CPU hasta 1e-3
    """
    train_part, val_part = small_cifar
    nets = {}
    for device in ("cpu", "cuda"):
        common.seed_everything(0, threads=measure.BUDGET["threads"])
        model = measure.fit_result(cnn.fit(*train_part, *val_part, epochs=1, lr=0.02, batch_size=64, seed=3,
                                           device=device))[0]
        nets[device] = measure.trusted_model(helpers, model)
    x = reference_tensors(*val_part)[0]
    check_close(trusted_models.logits(nets["cuda"], x).numpy(), trusted_models.logits(nets["cpu"], x).numpy(),
                name="validation logits", call="fit(device='cuda') vs fit(device='cpu')", rtol=1e-3, atol=1e-3,
                hint=T("move the model and every batch to `device`; seed as on the CPU.",
                       "mueve el modelo y cada batch a `device`; siembra igual que en la CPU."))


def graded_run(cnn, helpers, common, cifar, progress, once):
    """The budgeted training run on the real CIFAR-10, done once for the tests that need it."""
    def train():
        progress(0, 1, f"training ({measure.BUDGET['epochs']} epochs)")
        run = measure.train_and_measure(cnn, helpers, common.seed_everything, cifar,
                                        seed=measure.ASSIGNMENT.calibration["grading_seed"], perturbation_seed=fresh_seed())
        progress(1, 1, "trained")
        return run

    return once("graded run", train)


@pytest.mark.task("4.6")
def test_cifar10_accuracy_above_the_calibrated_threshold(cnn, helpers, common, cifar, progress, once, note):
    """fit trains the LeNet on the data given to the calibrated test accuracy, measured by the grader's own LeNet
    es: fit entrena la LeNet con los datos dados hasta la accuracy en test calibrada, medida con la propia LeNet del corrector
    """
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a4`.")
    run = graded_run(cnn, helpers, common, cifar, progress, once)
    accuracy, proof = run["test_accuracy"], run["proof"]
    if accuracy < threshold:
        b = measure.BUDGET
        fail(T("test accuracy {a:.1%} after {e} epochs (lr {lr}, batch {bs}); the pass mark is {t:.1%}.",
               "accuracy en test {a:.1%} tras {e} épocas (lr {lr}, batch {bs}); el mínimo es {t:.1%}.")
             .format(a=accuracy, e=b["epochs"], lr=b["lr"], bs=b["batch_size"], t=threshold),
             T("the reference reaches about {m:.1%}. Check the normalization, zero_grad, that shuffling keeps labels "
               "with their images, and that the optimizer gets the model's parameters.",
               "la referencia llega a {m:.1%}. Revisa la normalización, zero_grad, que el barajado mantenga cada "
               "etiqueta con su imagen y que el optimizador reciba los parámetros del modelo.")
             .format(m=measure.ASSIGNMENT.calibrated().get("mean", threshold)))
    if not proof.ok:
        fail(T("test accuracy {a:.1%}, but the weights could not be verified as trained here: ",
               "accuracy en test {a:.1%}, pero no se pudo verificar que los pesos se entrenaran aquí: ")
             .format(a=accuracy) + proof.why, measure.PROOF_HINT)
    note(T("test accuracy {a:.1%}, pass mark {t:.1%}; training verified by replaying {k} of {n} stretches",
           "accuracy en test {a:.1%}, mínimo {t:.1%}; entrenamiento verificado repitiendo {k} de {n} tramos")
         .format(a=accuracy, t=threshold, k=len(proof.replayed), n=proof.segments))


@pytest.mark.task("4.6")
def test_reported_history_matches_the_graders_evaluation(cnn, helpers, common, cifar, progress, once, note, curves):
    """The validation accuracy fit reports equals the grader's own evaluation of the returned model
    es: La accuracy de validación que informa fit coincide con la evaluación que hace el corrector del modelo devuelto
    """
    run = graded_run(cnn, helpers, common, cifar, progress, once)
    curves("graded run", run["history"])  # drawn on the student's feedback page beside the reference's
    history, measured = run["history"], run["val_accuracy"]
    values = history.get("val_accuracy") if isinstance(history, dict) else None
    reported = values[-1] if isinstance(values, list) and values else None
    tolerance = 2 / (measure.BUDGET["val_per_class"] * 10)  # two images: ties broken differently by another batch size
    if type(reported) not in (float, int) or abs(reported - measured) > tolerance:
        fail(T("fit reports a final validation accuracy of {r}, but the returned model scores {a:.4f} on the "
               "validation set.", "fit informa de una accuracy final en validación de {r}, pero el modelo devuelto "
               "obtiene {a:.4f} en validación.").format(r=reported, a=measured),
             T("evaluate on the validation loader (not the training one) after each epoch, in eval mode.",
               "evalúa con el loader de validación (no el de entrenamiento) tras cada época, en modo evaluación."))
    note(T("validation accuracy reported {r:.2%}, measured {a:.2%}", "accuracy en validación informada {r:.2%}, medida {a:.2%}")
         .format(r=reported, a=measured))
