"""A4 hidden graders: loop behaviour, reproducibility, and accuracy on the real CIFAR-10.

The training runs in the student process; the test accuracy is computed here, from logits the
student's model returns for perturbed test images whose labels never leave this process.
"""
import numpy as np
import pytest
import torch

from autograder.feedback import T, check_equal, fail
from autograder.gradcheck import check_close
from autograder.graders.a4 import measure
from autograder.graders.a4.hidden import oracles
from autograder.graders.cifar_checks import tensor_of
from autograder.graders.cifar_oracles import fresh_seed, reference_tensors
from autograder.sandbox.helpers import a4 as local_probes

ZERO_GRAD_HINT = T("call optimizer.zero_grad() before every loss.backward(): PyTorch adds new gradients to the old ones.",
                   "llama a optimizer.zero_grad() antes de cada loss.backward(): PyTorch suma los gradientes nuevos a los anteriores.")
MOVE_HINT = T("move every batch to the device you are given: xb, yb = xb.to(device), yb.to(device).",
              "mueve cada batch al dispositivo recibido: xb, yb = xb.to(device), yb.to(device).")


@pytest.mark.task("4.1")
def test_dropout_variant(cnn, probes):
    """build_lenet(0.5): three Dropout(0.5) before the FC layers, same parameters"""
    model = probes.describe(cnn.build_lenet(0.5))
    check_equal(model["dropout"], [0.5, 0.5, 0.5], call="[d.p for d in build_lenet(0.5) if Dropout]")
    check_equal(model["parameters"], 62006, call="parameters of build_lenet(0.5)",
                hint=T("dropout has no parameters.", "el dropout no tiene parámetros."))


@pytest.mark.task("4.2")
def test_to_tensors_exact_on_real_images(cnn, common, small_cifar):
    """to_tensors on real images equals the normalization of the statement; input untouched"""
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
    check_equal(seen["changed"], [], call="arguments of to_tensors changed by the call",
                hint=T("work on a copy; the caller's data must not change.", "trabaja sobre una copia; los datos de quien llama no deben cambiar."))


@pytest.mark.task("4.3")
def test_loader_order_is_seeded(cnn, probes, synthetic):
    """make_loader: same seed same order, another seed another order, shuffle=False keeps the order"""
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
    """train_one_epoch: the returned mean loss and the weights after one epoch equal the statement's loop"""
    images, labels = synthetic
    x, y = reference_tensors(images[:60], labels[:60])  # batches of 16, 16, 16 and 12
    model = probes.small_net()
    seen = probes.observe_training(cnn.train_one_epoch, model, probes.tracked_batches(x, y, 16),
                                   probes.sgd(model, 0.05, 0.9), "cpu")
    loss, weights = oracles.reference_epoch(x, y, 16, lr=0.05, momentum=0.9)
    if type(seen["result"]) is not float:
        fail(T("train_one_epoch returned {v!r}; expected the mean loss as a Python float (loss.item()).",
               "train_one_epoch devolvió {v!r}; se esperaba la pérdida media como float de Python (loss.item()).")
             .format(v=seen["result"]))
    check_close(np.array(seen["result"]), np.array(loss), name="mean loss", call="train_one_epoch(model, loader, sgd, 'cpu')",
                rtol=1e-5, atol=1e-6,
                hint=T("the mean over the EXAMPLES of the epoch: add loss.item() * len(yb) per batch, divide by the number "
                       "of images (the last batch has 12, not 16), each loss taken before its optimizer.step().",
                       "la media sobre los EJEMPLOS de la época: suma loss.item() * len(yb) por batch y divide entre el "
                       "número de imágenes (el último batch tiene 12, no 16), cada pérdida medida antes de su optimizer.step()."))
    check_close(seen["values"][0].numpy(), weights[0].numpy(), name="conv.weight after the epoch",
                call="train_one_epoch(model, loader, sgd, 'cpu')", rtol=1e-4, atol=1e-6,
                hint=T("each step: optimizer.zero_grad(), forward, cross-entropy loss, loss.backward(), optimizer.step().",
                       "en cada paso: optimizer.zero_grad(), forward, pérdida de entropía cruzada, loss.backward(), "
                       "optimizer.step()."))


@pytest.mark.task("4.4")
def test_gradients_are_zeroed_every_step(cnn, probes, synthetic):
    """train_one_epoch zeroes the gradients before each backward pass"""
    x, y = reference_tensors(*synthetic)
    model = probes.small_net()
    cnn.train_one_epoch(model, probes.tracked_batches(x, y, 16), probes.sgd(model, 0.0), "cpu")  # lr=0: weights fixed
    got = probes.parameters(model)["grads"]
    if any(g is None for g in got):
        fail(T("after train_one_epoch the parameters have no gradient: loss.backward() was not called.",
               "tras train_one_epoch los parámetros no tienen gradiente: no se llamó a loss.backward()."))
    accumulated = oracles.grad_of_batch(x, y)
    if torch.allclose(got[0], 4 * accumulated[0], rtol=1e-4, atol=1e-6):
        fail(T("after an epoch of 4 batches the gradient is the sum of all 4 batches' gradients.",
               "tras una época de 4 batches el gradiente es la suma de los gradientes de los 4."), ZERO_GRAD_HINT)
    check_close(got[0].numpy(), oracles.grad_of_batch(x[48:], y[48:])[0].numpy(), name="conv.weight.grad",
                call="after train_one_epoch (lr=0), the gradient of the last batch", rtol=1e-4, atol=1e-6,
                hint=ZERO_GRAD_HINT)


@pytest.mark.task("4.4")
def test_training_mode_steps_and_device_moves(cnn, probes, synthetic):
    """train_one_epoch: train mode, one optimizer step per batch, batches moved to the device"""
    x, y = reference_tensors(*synthetic)
    model = probes.small_net(0.5)
    seen = probes.observe_training(cnn.train_one_epoch, model, probes.tracked_batches(x, y, 16),
                                   probes.sgd(model, 0.01), probes.device("cpu"))
    check_equal(all(seen["modes"]) and len(seen["modes"]) == 4, True, call="model.training during the 4 forward passes",
                hint=T("call model.train() at the start: dropout must be active while training.",
                       "llama a model.train() al empezar: el dropout debe estar activo al entrenar."))
    check_equal(seen["steps"], 4, call="optimizer.step() calls in an epoch of 4 batches")
    untouched = list(local_probes.small_net(0.5).parameters())
    if all(torch.equal(a, b.detach()) for a, b in zip(seen["values"], untouched)):
        fail(T("the weights did not change.", "los pesos no cambiaron."))
    check_equal(seen["moves"].count("cpu") >= 8, True, call="xb.to(device) and yb.to(device) for every batch",
                hint=MOVE_HINT)


@pytest.mark.task("4.5")
def test_evaluate_uses_eval_mode_and_builds_no_graph(cnn, probes, synthetic):
    """evaluate: eval mode (dropout off), torch.no_grad(), batches moved to the device"""
    x, y = reference_tensors(*synthetic)
    seen = probes.observe_evaluation(cnn.evaluate, probes.small_net(0.5), probes.tracked_batches(x, y, 16), "cpu")
    # an evaluate that never runs the model must not pass for "no train mode, no gradients"
    check_equal(len(seen["forward"]), 2 * 4, call="forward passes of the model in two calls of evaluate (4 batches)",
                hint=T("run the model on every batch of the loader.", "ejecuta el modelo en cada batch del loader."))
    if any(training for training, _ in seen["forward"]):
        fail(T("evaluate ran the model in training mode, so dropout changed the predictions (two calls gave {a} and {b}).",
               "evaluate ejecutó el modelo en modo entrenamiento y el dropout cambió las predicciones ({a} y {b}).")
             .format(a=seen["results"][0], b=seen["results"][1]),
             T("call model.eval() before evaluating.", "llama a model.eval() antes de evaluar."))
    if any(grad for _, grad in seen["forward"]):
        fail(T("evaluate built an autograd graph (gradients were enabled in the forward pass).",
               "evaluate construyó un grafo de autograd (los gradientes estaban activos en el forward)."),
             T("wrap the evaluation loop in `with torch.no_grad():`.", "envuelve el bucle de evaluación en `with torch.no_grad():`."))
    check_equal(seen["gradients"], False, call="gradients after evaluate")
    check_equal(seen["moves"].count("cpu") >= 8, True, call="xb.to(device) and yb.to(device) in evaluate", hint=MOVE_HINT)


@pytest.mark.task("4.6")
def test_fit_is_bit_identical_with_the_same_seed(cnn, common, small_cifar):
    """fit twice with the same seed gives bit-identical histories; another seed differs"""
    train_part, val_part = small_cifar
    common.seed_everything(0, threads=measure.BUDGET["threads"])
    runs = [cnn.fit(*train_part, *val_part, epochs=1, lr=0.02, batch_size=64, seed=s)[1] for s in (3, 3, 4)]
    if runs[0] != runs[1]:
        fail(T("two runs with seed 3 gave different histories: {a} and {b}.",
               "dos ejecuciones con semilla 3 dieron historiales distintos: {a} y {b}.").format(a=runs[0], b=runs[1]),
             T("seed torch before building the model (torch.manual_seed(seed)) and seed the loader's shuffling.",
               "siembra torch antes de crear el modelo (torch.manual_seed(seed)) y el barajado del loader."))
    if runs[0] == runs[2]:
        fail(T("seeds 3 and 4 gave the same history: fit ignores its seed.",
               "las semillas 3 y 4 dieron el mismo historial: fit ignora la semilla."))


@pytest.mark.task("4.6")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: the CPU-vs-GPU comparison did not run")
def test_fit_on_gpu_agrees_with_cpu(cnn, probes, common, small_cifar):
    """fit(device='cuda') trains on the GPU and agrees with the CPU run within 1e-3"""
    train_part, val_part = small_cifar
    common.seed_everything(0, threads=measure.BUDGET["threads"])
    cpu = cnn.fit(*train_part, *val_part, epochs=1, lr=0.02, batch_size=64, seed=3, device="cpu")[1]
    model, gpu = cnn.fit(*train_part, *val_part, epochs=1, lr=0.02, batch_size=64, seed=3, device="cuda")
    check_equal(probes.describe(model, (1, 3, 32, 32))["device"], ["cuda:0"], call="device of fit(..., device='cuda')[0]")
    check_close(np.array(gpu["train_loss"]), np.array(cpu["train_loss"]), name="train_loss", call="GPU vs CPU",
                rtol=1e-3, atol=1e-3)


def graded_run(cnn, probes, common, cifar, progress, once):
    """The budgeted training run on the real CIFAR-10, done once for the tests that need it."""
    def train():
        progress(0, 1, f"training ({measure.BUDGET['epochs']} epochs)")
        run = measure.train_and_measure(cnn, probes, common.seed_everything, cifar,
                                        seed=measure.ASSIGNMENT.calibration["grading_seed"], perturbation_seed=fresh_seed())
        progress(1, 1, "trained")
        return run

    return once("graded run", train)


@pytest.mark.task("4.6")
def test_cifar10_accuracy_above_the_calibrated_threshold(cnn, probes, common, cifar, progress, once, note):
    """fit reaches the calibrated test accuracy on the real CIFAR-10 within the grader's budget"""
    threshold = measure.ASSIGNMENT.calibrated().get("threshold")
    if threshold is None:
        fail("grader configuration: no calibrated threshold; run `autograder calibrate a4`.")
    accuracy = graded_run(cnn, probes, common, cifar, progress, once)["test_accuracy"]
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
    note(T("test accuracy {a:.1%}, pass mark {t:.1%}", "accuracy en test {a:.1%}, mínimo {t:.1%}")
         .format(a=accuracy, t=threshold))


@pytest.mark.task("4.6")
def test_reported_history_matches_the_graders_evaluation(cnn, probes, common, cifar, progress, once, note, curves):
    """The validation accuracy fit reports equals the grader's own evaluation of the returned model"""
    run = graded_run(cnn, probes, common, cifar, progress, once)
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
